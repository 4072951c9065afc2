//! Interleavings of the thread-safe WAL's threads that a test must hold
//! in place to see: a waiter writing its own batch while the flusher is
//! held in a callback, and writers held back while no sync can end. Each
//! step is waited for (a channel, a gate on the storage's syncs), never
//! slept through, and every wait has a time limit that fails the test.
//! (Native only: WASI preview 1 has no threads.)
#![cfg(not(target_os = "wasi"))]

mod harness;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use harness::gate::GatedStorage;
use harness::{read_all, recv_within, until, within};
use wal::{Config, Error, Position, Wal};
use wal_host_std::MAX_SEALED;

#[test]
fn a_waiter_writing_its_own_batch_completes_after_the_batch_before_it() {
    // The flusher completes a batch it synced itself (flushed on time) and
    // is held in that batch's callback; meanwhile a waiter finds the WAL
    // idle and writes the next batch itself. It must not complete before
    // the batch before it: the callbacks of one writer fire in write order
    // across the two. Every step is waited for, none is slept through.
    within(Duration::from_secs(60), "waiter after a held batch", || {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default().with_flush_interval(Some(Duration::from_millis(1)));
        let wal = Wal::open(dir.path(), cfg).unwrap();
        // The syncer gets its handle on the segment with the first frame.
        wal.write(9, 0, b"warm-up").unwrap().wait().unwrap();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let (entered, in_callback) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let f = fired.clone();
        wal.write_with(1, 1, b"first", move |r| {
            r.unwrap();
            let thread = std::thread::current().name().map(String::from);
            entered.send(thread).unwrap();
            // Held until the test lets go (a minute at most: never hangs).
            let _ = released.recv_timeout(Duration::from_secs(60));
            f.lock().unwrap().push(1);
        })
        .unwrap();
        let thread = recv_within(&in_callback, Duration::from_secs(20), "first's callback");
        assert_eq!(
            thread.as_deref(),
            Some("wal-flusher"),
            "the flusher took `first` on time, synced it and runs its callback"
        );
        let f = fired.clone();
        wal.write_with(1, 2, b"second", move |r| {
            r.unwrap();
            f.lock().unwrap().push(2);
        })
        .unwrap();
        let (done, waited) = mpsc::channel();
        let w = wal.clone();
        let waiter = std::thread::spawn(move || {
            done.send(w.write(2, 1, b"waiter").unwrap().wait()).unwrap();
        });
        // The flusher sits in the callback: only the waiter can write the
        // batch holding "second" and "waiter". Once it is in the segment,
        // it was written (and synced) by the waiter's own thread.
        let written = |all: &[(u64, i64, Vec<u8>)]| {
            all.contains(&(1, 2, b"second".to_vec())) && all.contains(&(2, 1, b"waiter".to_vec()))
        };
        until(
            Duration::from_secs(20),
            "the waiter writes its batch",
            || written(&read_all(&wal)),
        );
        // Written, but its completions wait for the batch before it.
        assert_eq!(
            waited.try_recv(),
            Err(mpsc::TryRecvError::Empty),
            "the waiter returned before the batch before it completed"
        );
        assert!(
            fired.lock().unwrap().is_empty(),
            "a callback fired out of order"
        );
        release.send(()).unwrap();
        let result = recv_within(&waited, Duration::from_secs(20), "the waiter's wait");
        assert_eq!(result.map(drop), Ok(()));
        waiter.join().unwrap();
        wal.flush().unwrap();
        assert_eq!(*fired.lock().unwrap(), vec![1, 2]);
        wal.close().unwrap();
    });
}

/// A thread-safe WAL whose syncs wait at a gate (open until shut), with
/// buffers of 64 bytes (a record of 100 fills one), no compression and no
/// timer; one record written and synced, so that the syncer holds its
/// handle on the segment.
fn gated_wal() -> (Wal<GatedStorage>, Arc<harness::gate::Gate>) {
    let storage = GatedStorage::new();
    let gate = storage.gate.clone();
    let cfg = Config::default()
        .with_buffer_size(64)
        .with_compression(false)
        .with_flush_interval(None);
    let wal = wal_host_std::Wal::with_storage(storage, cfg).unwrap();
    wal.write(9, 0, b"warm-up").unwrap().wait().unwrap();
    (wal, gate)
}

#[test]
fn backpressure_holds_writers_back_without_losing_anything() {
    // Every sync waits at a shut gate: frames pile up (written and unsynced,
    // then sealed) until the sealed queue holds `MAX_SEALED` buffers and
    // the writers must wait. None of them gets through before the gate
    // opens; then all do, and every record is there, in each writer's
    // order, acknowledged once.
    within(Duration::from_secs(60), "backpressure", || {
        let (wal, gate) = gated_wal();
        let shut = gate.shut_until_dropped();
        const WRITERS: u64 = 2;
        const PER: i64 = 100; // each record fills a buffer: 200 frames
        let returned = Arc::new(AtomicUsize::new(0));
        let acked = Arc::new(AtomicUsize::new(0));
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                let (wal, returned, acked) = (wal.clone(), returned.clone(), acked.clone());
                std::thread::spawn(move || {
                    for i in 0..PER {
                        let acked = acked.clone();
                        let callback = move |r: Result<Position, Error>| {
                            r.unwrap();
                            acked.fetch_add(1, Ordering::SeqCst);
                        };
                        wal.write_with(t, i, &[t as u8; 100], callback).unwrap();
                        returned.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        assert!(
            gate.wait_held(1, Duration::from_secs(20)),
            "no sync reached the gate"
        );
        // Wait until the writers stop getting through (held back), or
        // finish (not held back: fails below).
        let mut last = (returned.load(Ordering::SeqCst), std::time::Instant::now());
        while !writers.iter().any(|w| w.is_finished())
            && last.1.elapsed() < Duration::from_millis(300)
        {
            std::thread::sleep(Duration::from_millis(5));
            let now = returned.load(Ordering::SeqCst);
            if now != last.0 {
                last = (now, std::time::Instant::now());
            }
        }
        let through = returned.load(Ordering::SeqCst);
        eprintln!("{through} writes returned before the writers stopped");
        assert!(
            writers.iter().all(|w| !w.is_finished()),
            "a writer wrote all its {PER} records while no sync could end: nothing held it back ({through} writes returned)"
        );
        assert!(
            through > MAX_SEALED && through < (WRITERS as i64 * PER) as usize,
            "{through} writes returned before the writers were held back"
        );
        assert_eq!(
            acked.load(Ordering::SeqCst),
            0,
            "acknowledged before any sync of its frame ended"
        );
        assert_eq!(gate.held(), 1, "the syncer is the one sync at the gate");
        drop(shut); // opens the gate
        for w in writers {
            w.join().unwrap();
        }
        wal.flush().unwrap();
        let all = WRITERS as usize * PER as usize;
        assert_eq!(acked.load(Ordering::SeqCst), all, "each acknowledged once");
        let records = read_all(&wal);
        assert_eq!(records.len(), all + 1, "nothing dropped");
        for t in 0..WRITERS {
            let mine: Vec<_> = records.iter().filter(|r| r.0 == t).collect();
            assert!(mine.iter().all(|r| r.2 == [t as u8; 100]));
            let ts: Vec<i64> = mine.iter().map(|r| r.1).collect();
            assert_eq!(ts, (0..PER).collect::<Vec<_>>(), "writer {t}'s order");
        }
        wal.close().unwrap();
    });
}

#[test]
fn try_writes_refuse_under_backpressure_and_hand_the_callback_back() {
    // As above, every sync waits at a shut gate, so the sealed queue
    // fills; then `try_write_with` buffers nothing and hands its callback
    // back uncalled, and `try_write` returns no handle, both at once. Once
    // the gate opens, the callback handed back is written after all, and
    // every record is there once, in order.
    within(
        Duration::from_secs(60),
        "try_write under backpressure",
        || {
            let (wal, gate) = gated_wal();
            let shut = gate.shut_until_dropped();
            let acked = Arc::new(Mutex::new(Vec::new()));
            let callback = |i: i64| {
                let acked = acked.clone();
                move |r: Result<Position, Error>| {
                    r.unwrap();
                    acked.lock().unwrap().push(i);
                }
            };
            // Each record fills a buffer: the queue is full within a bounded
            // number of writes, or nothing holds writers back (fails).
            let mut i = 0;
            let back = loop {
                assert!(i < 100 * MAX_SEALED as i64, "{i} try_writes never refused");
                if let Some(cb) = wal.try_write_with(1, i, &[1; 100], callback(i)).unwrap() {
                    break cb;
                }
                i += 1;
            };
            assert!(i as usize >= MAX_SEALED, "refused after only {i} writes");
            assert!(wal.try_write(1, i, &[1; 100]).unwrap().is_none());
            assert!(
                acked.lock().unwrap().is_empty(),
                "acknowledged before a sync ended"
            );
            drop(shut);
            wal.write_with(1, i, &[1; 100], back).unwrap();
            wal.flush().unwrap();
            let want: Vec<i64> = (0..=i).collect();
            assert_eq!(*acked.lock().unwrap(), want, "each callback once, in order");
            let ts: Vec<i64> = read_all(&wal)
                .iter()
                .filter(|r| r.0 == 1)
                .map(|r| r.1)
                .collect();
            assert_eq!(ts, want, "every record once, in order");
            wal.close().unwrap();
        },
    );
}
