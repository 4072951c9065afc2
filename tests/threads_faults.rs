//! The thread-safe WAL when things go wrong around its threads: a panic in
//! its storage at any operation, callbacks that call back into the WAL
//! (every method, from inside one), a failed background sync. Every test
//! runs its body on a thread and fails if that has not returned within
//! [`TIMEOUT`]: a hang is a failure, never a stuck test run. Interleavings
//! are forced with channels and counters and checked, never timed with
//! sleeps. (Native only: WASI preview 1 has no threads.)
#![cfg(not(target_os = "wasi"))]

mod faults;
mod harness;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::{Duration, Instant};

use faults::Faulty;
use wal_core::testing::MemStorage;
use wal_core::{Config, Error, ErrorKind};
use wal_host_std::MAX_SEALED;

type Wal = wal_host_std::Wal<Faulty>;

/// How long any test body may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `body` on its own thread (named `test body: {what}`); fails the
/// test if it has not returned within [`TIMEOUT`], and passes its panic on.
fn within<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    harness::within(TIMEOUT, what, body)
}

/// Keeps the injected panics out of the test output (every other panic
/// is printed as usual).
fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let p = info.payload();
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.starts_with("injected panic") {
                default(info);
            }
        }));
    });
}

/// The name of the current thread.
fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Every (series, timestamp) in what a power cut would leave of `mem`,
/// reopened by the single-threaded WAL.
fn durable_records(mem: &MemStorage, cfg: Config) -> HashSet<(u64, i64)> {
    let mut wal = wal_core::Wal::open(mem.crash(), cfg).unwrap();
    let mut found = HashSet::new();
    for id in wal.segments() {
        for e in wal.read(id).unwrap() {
            let e = e.unwrap();
            found.extend(e.timestamps.iter().map(|t| (e.series_id, *t)));
        }
    }
    found
}

/// What one run of the fault workload saw.
struct Run {
    /// Storage operations after open.
    ops: u64,
    fired: Option<faults::Fired>,
    close: Result<(), Error>,
}

/// Records with callbacks, waits, a rotation, a flush, a segment's info and
/// a close on the thread-safe WAL, with a panic at storage operation
/// `panic_at` (counted from the end of open), if given. Checks that every
/// callback fired exactly once, and that every record acknowledged (a
/// callback or a wait said `Ok`) is durable.
fn fault_workload(panic_at: Option<u64>) -> Run {
    let (storage, _released) = Faulty::new();
    let cfg = Config::default()
        .with_buffer_size(256)
        .with_file_size(4096)
        .with_compression(false)
        .with_flush_interval(None);
    let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
    let base = storage.ops();
    storage.panic_at(panic_at.map(|n| base + n));
    const RECORDS: usize = 44;
    let fired: Arc<Vec<AtomicU32>> = Arc::new((0..RECORDS).map(|_| AtomicU32::new(0)).collect());
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let call_back = |i: usize| {
        let (fired, acked) = (fired.clone(), acked.clone());
        let value = vec![b'a' + (i % 26) as u8; 40 + (i * 37) % 80];
        let _ = wal.write_with((i % 3) as u64, i as i64, &value, move |r| {
            fired[i].fetch_add(1, Ordering::SeqCst);
            if r.is_ok() {
                acked.lock().unwrap().insert(((i % 3) as u64, i as i64));
            }
        });
    };
    let wait = |t: i64| {
        if let Ok(h) = wal.write(9, t, b"waited for") {
            if h.wait().is_ok() {
                acked.lock().unwrap().insert((9, t));
            }
        }
    };
    (0..20).for_each(call_back);
    (0..3).for_each(wait);
    let _ = wal.rotate();
    (20..RECORDS).for_each(call_back);
    (3..5).for_each(wait);
    let _ = wal.flush();
    let _ = wal.info(1);
    let close = wal.close();
    drop(wal);
    for (i, f) in fired.iter().enumerate() {
        assert_eq!(
            f.load(Ordering::SeqCst),
            1,
            "panic at {panic_at:?}: record {i}'s callback"
        );
    }
    let durable = durable_records(&storage.mem, cfg);
    let lost: Vec<_> = acked
        .lock()
        .unwrap()
        .difference(&durable)
        .copied()
        .collect();
    assert!(
        lost.is_empty(),
        "panic at {panic_at:?} ({:?}): acknowledged, not durable: {lost:?}",
        storage.fired()
    );
    Run {
        ops: storage.ops() - base,
        fired: storage.fired(),
        close,
    }
}

/// A panic in the storage at every operation in turn, on whichever thread
/// makes it (the flusher, the syncer, the caller's): every callback fires
/// exactly once, every wait and the close return, nothing acknowledged is
/// lost, and a panic while the storage was being changed, or on one of the
/// WAL's own threads, poisons the WAL (the close reports it).
#[test]
fn a_panic_at_any_storage_operation_hangs_nobody_and_fires_every_callback_once() {
    quiet_injected_panics();
    let clean = within("the clean run", || fault_workload(None));
    assert!(clean.fired.is_none());
    assert_eq!(clean.close, Ok(()));
    assert!(clean.ops > 30, "only {} storage operations", clean.ops);
    let mut threads = BTreeSet::new();
    for n in 0..clean.ops + 5 {
        let run = within(&format!("a panic at storage operation {n}"), move || {
            fault_workload(Some(n))
        });
        let Some(fired) = run.fired else { continue };
        threads.insert(fired.thread.clone());
        let changes = matches!(
            fired.what,
            "write" | "sync" | "truncate" | "create" | "remove" | "dup"
        );
        let wal_thread = fired.thread.starts_with("wal-");
        if changes || wal_thread {
            let e = run.close.as_ref().expect_err(&format!("{fired:?}: close"));
            assert_eq!(e.kind(), ErrorKind::Poisoned, "{fired:?}: {e}");
            assert!(
                matches!(e.cause(), Error::Panicked { .. }),
                "{fired:?}: {e}"
            );
        }
        if let Err(e) = &run.close {
            assert!(
                matches!(e.cause(), Error::Panicked { .. }),
                "{fired:?}: {e}"
            );
        }
    }
    for t in ["wal-flusher", "wal-syncer", "test body"] {
        assert!(
            threads.iter().any(|name| name.starts_with(t)),
            "no panic hit {t}: {threads:?}"
        );
    }
}

/// A WAL over a fresh `Faulty` storage: small buffers, no compression, no
/// timer, no reserve (every data write is a frame), and the syncer holding
/// a handle on the active segment.
fn open_small() -> (Wal, Faulty) {
    let (storage, _) = Faulty::new();
    let cfg = Config::default()
        .with_buffer_size(256)
        .with_compression(false)
        .with_flush_interval(None)
        .with_reserve(0);
    let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
    wal.write(0, 0, b"warm-up").unwrap().wait().unwrap();
    (wal, storage)
}

/// Runs `call` from inside a callback that the flusher thread completes
/// (a partly filled buffer, flushed on request while the syncer is idle);
/// returns the callback's thread and what `call` returned.
fn from_a_flusher_callback<T: Send + 'static>(
    wal: &Wal,
    call: impl FnOnce(&Wal) -> T + Send + 'static,
) -> (String, T) {
    let (tx, rx) = mpsc::channel();
    let w = wal.clone();
    wal.write_with(1, 1, b"calls back", move |r| {
        r.unwrap();
        let out = call(&w);
        tx.send((thread_name(), out)).unwrap();
    })
    .unwrap();
    wal.flush().unwrap();
    rx.recv_timeout(TIMEOUT).expect("the callback ran")
}

#[test]
fn a_write_from_a_callback_is_let_through_past_backpressure() {
    within("write from a callback", || {
        let (wal, _) = open_small();
        // More full buffers than the sealed queue holds, written by the
        // thread that would otherwise have to drain it.
        let (thread, handles) = from_a_flusher_callback(&wal, |w| {
            (0..4 * MAX_SEALED as i64)
                .map(|i| w.write(2, i, &[2u8; 300]))
                .collect::<Result<Vec<_>, _>>()
        });
        assert_eq!(thread, "wal-flusher");
        let handles = handles.unwrap();
        assert_eq!(handles.len(), 4 * MAX_SEALED);
        for h in handles {
            assert_eq!(h.wait().map(drop), Ok(()));
        }
        wal.close().unwrap();
    });
}

#[test]
fn a_write_with_from_a_callback_is_let_through_and_calls_back_later() {
    within("write_with from a callback", || {
        let (wal, _) = open_small();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let (thread, written) = from_a_flusher_callback(&wal, move |w| {
            (0..4 * MAX_SEALED as i64)
                .map(|i| {
                    let d = d.clone();
                    w.write_with(2, i, &[2u8; 300], move |r| {
                        r.unwrap();
                        d.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect::<Result<Vec<()>, _>>()
        });
        assert_eq!(thread, "wal-flusher");
        assert_eq!(written.unwrap().len(), 4 * MAX_SEALED);
        wal.flush().unwrap();
        assert_eq!(done.load(Ordering::SeqCst), 4 * MAX_SEALED);
        wal.close().unwrap();
    });
}

#[test]
fn a_flush_from_a_callback_returns_would_deadlock() {
    within("flush from a callback", || {
        let (wal, _) = open_small();
        let (thread, (written, flushed)) = from_a_flusher_callback(&wal, |w| {
            let h = w.write(2, 1, b"buffered in the callback").unwrap();
            (h, w.flush())
        });
        assert!(thread.starts_with("wal-"), "{thread}");
        assert_eq!(flushed, Err(Error::WouldDeadlock));
        assert_eq!(Error::WouldDeadlock.kind(), ErrorKind::InvalidInput);
        // The record was buffered all the same, and a flush from outside
        // writes it.
        wal.flush().unwrap();
        assert_eq!(written.try_result().map(|r| r.map(drop)), Some(Ok(())));
        wal.close().unwrap();
    });
}

#[test]
fn a_wait_from_a_callback_returns_would_deadlock() {
    within("wait from a callback", || {
        let (wal, _) = open_small();
        let (thread, (timed, waited, again)) = from_a_flusher_callback(&wal, |w| {
            let h = w.write(2, 1, b"waited for in the callback").unwrap();
            let timed = h.wait_timeout(Duration::from_secs(3600));
            let again = w.write(2, 2, b"the handle kept").unwrap();
            (timed, h.wait(), again)
        });
        assert!(thread.starts_with("wal-"), "{thread}");
        assert_eq!(timed, Some(Err(Error::WouldDeadlock)));
        assert_eq!(waited, Err(Error::WouldDeadlock));
        // Outside the callback the same kind of wait ends as usual.
        assert_eq!(again.wait().map(drop), Ok(()));
        wal.close().unwrap();
    });
}

/// Runs `call` from inside a callback on the syncer thread while the queue
/// of frames waiting for it is full: once the callback runs, another thread
/// writes more full buffers than the queue and the sealed queue hold, and
/// `call` runs only when the flusher has written a whole queue's worth of
/// frames and taken the next batch (the writer got that many writes
/// through, and no more). Under the log lock, a flusher waiting for the
/// syncer would then never let `call` have it. Returns `call`'s result and
/// the frames written since the callback began, before and after `call`.
fn from_a_syncer_callback_with_the_queue_full<T: Send + 'static>(
    what: &'static str,
    call: impl FnOnce(&Wal) -> T + Send + 'static,
) -> (T, u64, u64) {
    within(what, move || {
        let (wal, storage) = open_small();
        // A closed segment (1) to read, inspect or delete; the syncer's
        // handle on segment 2.
        wal.rotate().unwrap();
        wal.write(0, 1, b"warm-up 2").unwrap().wait().unwrap();
        const FRAMES: u64 = 32; // the sync queue's bound
        let (go_tx, go_rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel();
        let returned = Arc::new(AtomicUsize::new(0));
        let (w, st, ret) = (wal.clone(), storage.clone(), returned.clone());
        // A full buffer: written by the flusher, synced and completed by
        // the syncer.
        wal.write_with(1, 0, &[1u8; 300], move |r| {
            r.unwrap();
            let thread = thread_name();
            let start = st.data_writes();
            go_tx.send(()).unwrap();
            let deadline = Instant::now() + TIMEOUT;
            let through = FRAMES as usize + 1 + MAX_SEALED;
            while st.data_writes() < start + FRAMES || ret.load(Ordering::SeqCst) < through {
                if Instant::now() > deadline {
                    out_tx.send(Err(thread)).unwrap();
                    return;
                }
                std::thread::yield_now();
            }
            let before = st.data_writes() - start;
            let out = call(&w);
            let after = st.data_writes() - start;
            out_tx.send(Ok((thread, out, before, after))).unwrap();
        })
        .unwrap();
        let w = wal.clone();
        let writer = std::thread::spawn(move || {
            go_rx.recv().unwrap();
            (0..48)
                .map(|i| {
                    let h = w.write(3, i, &[3u8; 300]).unwrap();
                    returned.fetch_add(1, Ordering::SeqCst);
                    h
                })
                .collect::<Vec<_>>()
        });
        let (thread, out, before, after) = match out_rx.recv_timeout(TIMEOUT).expect("callback") {
            Ok(r) => r,
            Err(thread) => panic!("{what}: the queue never filled (callback on {thread})"),
        };
        assert_eq!(thread, "wal-syncer");
        assert!(before >= FRAMES, "{what}: {before} frames");
        for h in writer.join().unwrap() {
            assert_eq!(h.wait().map(drop), Ok(()));
        }
        wal.close().unwrap();
        (out, before, after)
    })
}

#[test]
fn a_read_from_a_callback_does_not_wait_for_the_flusher() {
    let (entries, before, after) =
        from_a_syncer_callback_with_the_queue_full("read from a callback", |w| {
            w.read(1)
                .map(|r| r.map(|e| e.unwrap().timestamps.len()).sum::<usize>())
        });
    assert_eq!(entries, Ok(1));
    assert_eq!(before, after, "the flusher stood still meanwhile");
}

#[test]
fn an_info_from_a_callback_does_not_wait_for_the_flusher() {
    let (info, before, after) =
        from_a_syncer_callback_with_the_queue_full("info from a callback", |w| w.info(1));
    let info = info.unwrap();
    assert_eq!((info.id, info.records), (1, 1));
    assert_eq!(before, after, "the flusher stood still meanwhile");
}

#[test]
fn segments_from_a_callback_does_not_wait_for_the_flusher() {
    let (segments, before, after) =
        from_a_syncer_callback_with_the_queue_full("segments from a callback", |w| w.segments());
    assert_eq!(segments, vec![1, 2]);
    assert_eq!(before, after, "the flusher stood still meanwhile");
}

#[test]
fn a_delete_from_a_callback_does_not_wait_for_the_flusher() {
    let (deleted, before, after) =
        from_a_syncer_callback_with_the_queue_full("delete from a callback", |w| {
            (w.delete(1), w.segments())
        });
    assert_eq!(deleted, (Ok(()), vec![2]));
    assert_eq!(before, after, "the flusher stood still meanwhile");
}

#[test]
fn a_rotate_from_a_callback_closes_the_segment_without_waiting() {
    let ((rotated, segments), before, after) =
        from_a_syncer_callback_with_the_queue_full("rotate from a callback", |w| {
            (w.rotate(), w.segments())
        });
    let closed = rotated.unwrap();
    assert_eq!(closed.id, 2);
    // It holds what was written before the call: the warm-up, the
    // callback's own record and the queue's worth of frames.
    assert_eq!(closed.frames, 2 + before);
    assert_eq!(segments, vec![1, 2, 3]);
    assert_eq!(
        after,
        before + 1,
        "only the new segment's header was written"
    );
}

/// A close from inside a callback starts the close and returns at once; the
/// WAL finishes it (records buffered then included) once the callback
/// returns, and a close from outside waits for that.
#[test]
fn a_close_from_a_callback_returns_at_once_and_the_close_finishes() {
    within("close from a callback", || {
        let (wal, storage) = open_small();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        let w = wal.clone();
        wal.write_with(1, 1, &[1u8; 300], move |r| {
            r.unwrap();
            go_rx.recv().unwrap();
            tx.send((thread_name(), w.close())).unwrap();
        })
        .unwrap();
        // Buffered when the close starts.
        let (btx, brx) = mpsc::channel();
        wal.write_with(2, 1, b"buffered", move |r| btx.send(r.map(drop)).unwrap())
            .unwrap();
        go_tx.send(()).unwrap();
        let (thread, closed) = rx.recv_timeout(TIMEOUT).expect("the callback returned");
        assert!(thread.starts_with("wal-"), "{thread}");
        assert_eq!(closed, Err(Error::WouldDeadlock));
        assert_eq!(brx.recv_timeout(TIMEOUT), Ok(Ok(())));
        assert_eq!(wal.close(), Ok(()));
        assert_eq!(wal.write(3, 1, b"late").err(), Some(Error::Closed));
        let cfg = *wal.config();
        let durable = durable_records(&storage.mem, cfg);
        assert!(durable.contains(&(1, 1)) && durable.contains(&(2, 1)));
    });
}

/// The last clone dropped inside a callback: the WAL closes itself once the
/// callback returns (no thread joins itself), writes what was buffered,
/// releases the reserved space and then the storage.
#[test]
fn dropping_the_last_clone_in_a_callback_closes_the_wal() {
    within("drop of the last clone in a callback", || {
        let (storage, released) = Faulty::new();
        let mem = storage.mem.clone();
        let cfg = Config::default()
            .with_buffer_size(256)
            .with_flush_interval(None);
        let wal = Wal::with_storage(storage, cfg).unwrap();
        wal.write(0, 0, b"warm-up").unwrap().wait().unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (tx, rx) = mpsc::channel();
        let last = wal.clone();
        wal.write_with(1, 1, &[1u8; 300], move |r| {
            go_rx.recv().unwrap();
            drop(last); // the last clone
            tx.send((thread_name(), r)).unwrap();
        })
        .unwrap();
        let (btx, brx) = mpsc::channel();
        wal.write_with(2, 1, b"buffered", move |r| btx.send(r.map(drop)).unwrap())
            .unwrap();
        drop(wal);
        go_tx.send(()).unwrap();
        let (thread, r) = rx.recv_timeout(TIMEOUT).expect("the callback returned");
        assert!(thread.starts_with("wal-"), "{thread}");
        assert_eq!(r.map(drop), Ok(()));
        assert_eq!(brx.recv_timeout(TIMEOUT), Ok(Ok(())));
        released
            .recv_timeout(TIMEOUT)
            .expect("the storage is released");
        let reopened = wal_core::Wal::open(mem.clone(), cfg).unwrap();
        assert!(reopened.recovery().cut.is_none());
        assert_eq!(
            reopened.recovery().released_zero_bytes,
            0,
            "the close released the reserved space"
        );
        let durable = durable_records(&mem, cfg);
        assert!(durable.contains(&(1, 1)) && durable.contains(&(2, 1)));
    });
}

/// A sync that fails on the syncer's thread poisons the whole WAL: a
/// rotation, a flush and the close after it report the poison with the
/// sync failure as its cause, even once syncs would succeed again (as a
/// second fsync after a failed one may on Linux), and no completion says
/// `Ok` after it.
#[test]
fn a_failed_background_sync_reaches_rotate_flush_close_and_every_completion() {
    within("a failed background sync", || {
        let (wal, storage) = open_small();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        storage.mem.fail_syncs(true);
        for i in 0..8 {
            let outcomes = outcomes.clone();
            // Full buffers: written by the flusher, synced by the syncer.
            let _ = wal.write_with(1, i, &[1u8; 300], move |r| {
                outcomes.lock().unwrap().push((thread_name(), r));
            });
        }
        // Every callback fires: the syncer's with the sync's failure, and
        // any write refused once it poisoned the WAL at once, with the poison.
        let deadline = Instant::now() + TIMEOUT;
        while outcomes.lock().unwrap().len() < 8 {
            assert!(Instant::now() < deadline, "not every callback fired");
            std::thread::yield_now();
        }
        let (_, first) = outcomes
            .lock()
            .unwrap()
            .iter()
            .find(|(thread, _)| thread == "wal-syncer")
            .cloned()
            .expect("the syncer completed a batch");
        let failure = first.unwrap_err();
        assert!(
            matches!(&failure, Error::Storage(s) if s.op == "sync"),
            "{failure}"
        );
        storage.mem.fail_syncs(false);
        let poisoned = |what: &str, r: Result<(), Error>| {
            let e = r.expect_err(what);
            assert_eq!(e.kind(), ErrorKind::Poisoned, "{what}: {e}");
            assert_eq!(e.cause(), &failure, "{what}: {e}");
        };
        poisoned("rotate", wal.rotate().map(|_| ()));
        poisoned("flush", wal.flush());
        poisoned("write", wal.write(2, 1, b"later").map(|_| ()));
        poisoned("close", wal.close());
        let outcomes = outcomes.lock().unwrap();
        assert_eq!(outcomes.len(), 8, "every callback fired once");
        for (thread, r) in outcomes.iter() {
            let e = r.as_ref().expect_err("no Ok after the failed sync");
            assert_eq!(e.cause(), &failure, "{thread}: {e}");
        }
        assert_eq!(wal.segments(), vec![1], "no rotation happened");
    });
}
