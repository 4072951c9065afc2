//! The thread-safe native WAL: many writers at once, waitable and awaitable
//! handles, callbacks, poisoning, and close on drop. (Native only: WASI
//! preview 1 has no threads.)
#![cfg(not(target_os = "wasi"))]

mod harness;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use harness::{block_on, read_all};
use wal::core::testing::{CrashModel, MemStorage};
use wal::{Config, Error, Wal};

#[test]
fn many_threads_writing_and_waiting_lose_nothing_and_keep_each_threads_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default()
        .with_file_size(256 * 1024)
        .with_buffer_size(4096)
        .with_compression(false);
    let wal = Wal::open(dir.path(), cfg).unwrap();
    let callbacks = Arc::new(AtomicUsize::new(0));
    const THREADS: u64 = 8;
    const PER: i64 = 2000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let wal = wal.clone();
            let callbacks = callbacks.clone();
            s.spawn(move || {
                for i in 0..PER {
                    let value = format!("thread {t} record {i}");
                    // Thread t writes to series t and t + 100; odd records wait, even ones call back.
                    let series = t + 100 * (i as u64 % 2);
                    if i % 2 == 1 {
                        if i % 50 == 1 {
                            wal.write(series, i, value.as_bytes())
                                .unwrap()
                                .wait()
                                .unwrap();
                        } else {
                            drop(wal.write(series, i, value.as_bytes()).unwrap());
                        }
                    } else {
                        let c = callbacks.clone();
                        wal.write_with(series, i, value.as_bytes(), move |r| {
                            r.unwrap();
                            c.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                    }
                }
            });
        }
    });
    wal.flush().unwrap();
    assert_eq!(
        callbacks.load(Ordering::SeqCst),
        (THREADS as i64 * PER / 2) as usize,
        "exactly once each"
    );
    assert!(
        wal.segments().len() > 1,
        "rotated by size while threads wrote"
    );
    let all = read_all(&wal);
    assert_eq!(all.len(), (THREADS as i64 * PER) as usize);
    let mut per_series: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for (s, t, v) in &all {
        let thread = s % 100;
        assert_eq!(v, format!("thread {thread} record {t}").as_bytes());
        per_series.entry(*s).or_default().push(*t);
    }
    for (s, ts) in per_series {
        let want: Vec<i64> = (0..PER).filter(|i| (i % 2) as u64 == s / 100).collect();
        assert_eq!(ts, want, "series {s} keeps its writer's order");
    }
    wal.close().unwrap();
}

#[test]
fn a_lone_waiting_writer_is_not_held_back_by_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default().with_flush_interval(Some(Duration::from_secs(3600)));
    let wal = Wal::open(dir.path(), cfg).unwrap();
    let h = wal.write(1, 1, b"now").unwrap();
    // With an hour-long interval only the wait's flush request can complete it.
    assert_eq!(
        h.wait_timeout(Duration::from_secs(30)).map(|r| r.map(drop)),
        Some(Ok(()))
    );
    wal.write(1, 2, b"again").unwrap().wait().unwrap();
    assert_eq!(read_all(&wal).len(), 2);
}

#[test]
fn flush_soon_writes_now_without_waiting() {
    // With an hour-long interval only `flush_soon`'s request can complete
    // the record; the callback says when (a channel with a time limit).
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default().with_flush_interval(Some(Duration::from_secs(3600)));
    let wal = Wal::open(dir.path(), cfg).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    wal.write_with(1, 1, b"soon", move |r| tx.send(r.map(drop)).unwrap())
        .unwrap();
    wal.flush_soon().unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(Ok(())));
    wal.flush_soon().unwrap(); // nothing buffered: nothing to do
    assert_eq!(read_all(&wal).len(), 1);
    wal.close().unwrap();
    assert!(matches!(wal.flush_soon(), Err(wal::Error::Closed)));
}

#[test]
fn a_timeout_too_long_for_the_clock_waits_as_long_as_it_takes() {
    let wal = on_memory(Config::default());
    let h = wal.write(1, 1, b"v").unwrap();
    // Instant + Duration::MAX overflows: this once panicked.
    assert_eq!(
        h.wait_timeout(Duration::MAX).map(|r| r.map(drop)),
        Some(Ok(()))
    );
    assert_eq!(read_all(&wal).len(), 1);
}

#[test]
fn many_waiters_are_all_flushed_by_their_requests_alone() {
    // With no timer, only the waiters' flush requests move the flusher, and
    // a request while one is pending does not wake it again: every wait
    // must still end (a lost wake-up would leave one hanging here).
    for flush_interval in [None, Some(Duration::from_secs(3600))] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default().with_flush_interval(flush_interval);
        let wal = Wal::open(dir.path(), cfg).unwrap();
        const THREADS: u64 = 16;
        const PER: i64 = 300;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let wal = wal.clone();
                s.spawn(move || {
                    for i in 0..PER {
                        let h = wal.write(t, i, b"durable").unwrap();
                        assert_eq!(
                            h.wait_timeout(Duration::from_secs(30)).map(|r| r.map(drop)),
                            Some(Ok(())),
                            "thread {t} record {i} ({flush_interval:?})"
                        );
                    }
                });
            }
        });
        assert_eq!(read_all(&wal).len(), (THREADS as i64 * PER) as usize);
        wal.close().unwrap();
    }
}

#[test]
fn time_based_flush_completes_callbacks_without_any_request() {
    let wal = wal_host_std::Wal::with_storage(
        MemStorage::new(),
        Config::default().with_flush_interval(Some(Duration::from_millis(5))),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    wal.write_with(1, 1, b"x", move |r| tx.send(r.map(drop)).unwrap())
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(Ok(())));
}

#[test]
fn a_write_handle_can_be_awaited_without_a_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config::default().with_flush_interval(None)).unwrap();
    let handles: Vec<_> = (0..10)
        .map(|i| wal.write(i, i as i64, b"async").unwrap())
        .collect();
    for h in handles {
        assert_eq!(block_on(h).map(drop), Ok(()));
    }
    assert_eq!(read_all(&wal).len(), 10);
}

#[test]
fn a_failed_sync_poisons_every_pending_write_and_later_ones() {
    let storage = MemStorage::new();
    let wal = wal_host_std::Wal::with_storage(
        storage.clone(),
        Config::default().with_flush_interval(None),
    )
    .unwrap();
    wal.write(1, 1, b"fine").unwrap().wait().unwrap();
    storage.fail_syncs(true);
    let errors = Arc::new(AtomicUsize::new(0));
    let e2 = errors.clone();
    wal.write_with(1, 2, b"doomed", move |r| {
        assert!(r.is_err());
        e2.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let h = wal.write(1, 3, b"doomed too").unwrap();
    let err = h.wait().unwrap_err();
    assert!(matches!(&err, Error::Storage(s) if s.op == "sync"), "{err}");
    assert_eq!(errors.load(Ordering::SeqCst), 1);
    let later = wal.write(1, 4, b"later").err().unwrap();
    assert!(matches!(later, Error::Poisoned { .. }), "{later}");
    assert!(matches!(wal.close(), Err(Error::Poisoned { .. })));
}

#[test]
fn dropping_the_last_handle_closes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    {
        let wal = Wal::open(dir.path(), Config::default().with_flush_interval(None)).unwrap();
        let clone = wal.clone();
        for i in 0..100 {
            let d = done.clone();
            clone
                .write_with(i % 3, i as i64, b"buffered at drop", move |r| {
                    r.unwrap();
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        drop(clone);
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "still buffered: no flush was due"
        );
    }
    assert_eq!(
        done.load(Ordering::SeqCst),
        100,
        "the drop wrote, synced and completed them"
    );
    let wal = Wal::open(dir.path(), Config::default()).unwrap();
    assert!(wal.recovery().cut.is_none());
    assert_eq!(read_all(&wal).len(), 100);
}

#[test]
fn writes_after_close_are_refused_and_their_callbacks_fire() {
    let dir = tempfile::tempdir().unwrap();
    let wal = Wal::open(dir.path(), Config::default()).unwrap();
    wal.close().unwrap();
    assert_eq!(wal.write(1, 1, b"x").err(), Some(Error::Closed));
    let (tx, rx) = std::sync::mpsc::channel();
    assert_eq!(
        wal.write_with(1, 1, b"x", move |r| tx.send(r.map(drop)).unwrap()),
        Err(Error::Closed)
    );
    assert_eq!(rx.recv().unwrap(), Err(Error::Closed));
    assert!(matches!(wal.read(1), Err(Error::Closed)));
    assert_eq!(wal.close(), Ok(()));
    // The lock was released at close: the directory can be opened again at once.
    Wal::open(dir.path(), Config::default())
        .unwrap()
        .close()
        .unwrap();
}

#[test]
fn a_panicking_callback_does_not_stop_the_flusher() {
    let wal = on_memory(Config::default().with_flush_interval(None));
    wal.write_with(1, 1, b"x", |_| panic!("user bug")).unwrap();
    wal.flush().unwrap();
    wal.write(1, 2, b"y").unwrap().wait().unwrap();
    assert_eq!(read_all(&wal).len(), 2);
}

#[test]
fn power_cuts_while_many_threads_write_lose_no_acknowledged_record() {
    // The thread-safe WAL syncs on a second thread while the next frames
    // are written. Whenever a record's callback has said `Ok`, a power cut
    // from then on must keep it: take crash images while four writers run
    // (small buffers and segments, so frames, syncs and rotations overlap)
    // and check every record acknowledged before each image is in it.
    for round in 0..4u64 {
        let storage = MemStorage::new();
        let cfg = Config::default()
            .with_buffer_size(512)
            .with_file_size(16 * 1024)
            .with_compression(round % 2 == 0)
            .with_flush_interval(Some(Duration::from_millis(1)));
        let wal = wal_host_std::Wal::with_storage(storage.clone(), cfg).unwrap();
        let acked = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut images = vec![];
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (wal, acked, stop) = (wal.clone(), acked.clone(), stop.clone());
                s.spawn(move || {
                    let mut i = 0i64;
                    while !stop.load(Ordering::SeqCst) {
                        let acked = acked.clone();
                        let value = format!("t{t} r{i} {}", "v".repeat((i % 40) as usize));
                        wal.write_with(t, i, value.as_bytes(), move |r| {
                            if r.is_ok() {
                                acked.lock().unwrap().insert((t, i));
                            }
                        })
                        .unwrap();
                        if i % 50 == 49 {
                            // Now and then wait, as a synchronous caller would.
                            wal.write(t, -i, b"sync").unwrap().wait().unwrap();
                        }
                        i += 1;
                    }
                });
            }
            for k in 0..25u64 {
                std::thread::sleep(Duration::from_millis(4));
                let before: std::collections::HashSet<(u64, i64)> = acked.lock().unwrap().clone();
                // In turn: an in-order prefix, any subset of sectors
                // (names only on a directory sync), and ext4's names.
                let model =
                    [CrashModel::PREFIX, CrashModel::HARSH, CrashModel::EXT4][k as usize % 3];
                images.push((before, storage.crash_image(round * 100 + k, model)));
            }
            stop.store(true, Ordering::SeqCst);
        });
        wal.close().unwrap();
        assert!(
            wal.segments().len() > 2,
            "round {round}: no rotation happened"
        );
        let mut checked = 0;
        for (k, (before, image)) in images.into_iter().enumerate() {
            let mut reopened = wal::core::Wal::open(image, cfg).unwrap();
            let mut found = std::collections::HashSet::new();
            for id in reopened.segments() {
                for e in reopened.read(id).unwrap() {
                    let e = e.unwrap_or_else(|e| panic!("round {round} image {k}: {e}"));
                    for t in &e.timestamps {
                        found.insert((e.series_id, *t));
                    }
                }
            }
            let lost: Vec<_> = before.difference(&found).take(5).collect();
            assert!(
                lost.is_empty(),
                "round {round} image {k}: acknowledged records lost: {lost:?}"
            );
            checked += before.len();
        }
        assert!(
            checked > 1000,
            "round {round}: too few acknowledged records checked ({checked})"
        );
    }
}

/// The thread-safe WAL over a fresh in-memory storage.
fn on_memory(config: Config) -> wal_host_std::Wal<MemStorage> {
    wal_host_std::Wal::with_storage(MemStorage::new(), config).unwrap()
}

#[test]
fn callbacks_fire_in_write_order_for_one_writer() {
    let wal = on_memory(
        Config::default()
            .with_buffer_size(256)
            .with_file_size(8 * 1024),
    );
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..5_000i64 {
        let seen = seen.clone();
        wal.write_with((i % 7) as u64, i, &[7u8; 30], move |r| {
            r.unwrap();
            seen.lock().unwrap().push(i);
        })
        .unwrap();
    }
    wal.close().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5_000);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "completions out of order"
    );
}

#[test]
fn flushes_between_full_buffers_complete_without_a_timer() {
    // No time-based flushing: a flush request that finds the syncer busy
    // with full buffers must still be served once it is free (no timer
    // will wake the flusher), and every record completes.
    let wal = on_memory(
        Config::default()
            .with_buffer_size(1024)
            .with_flush_interval(None),
    );
    let done = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for t in 0..3u64 {
            let (wal, done) = (wal.clone(), done.clone());
            s.spawn(move || {
                for i in 0..2_000i64 {
                    let done = done.clone();
                    wal.write_with(t, i, &[t as u8; 90], move |r| {
                        r.unwrap();
                        done.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                    if i % 97 == 0 {
                        wal.flush().unwrap();
                    }
                }
            });
        }
    });
    wal.flush().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 6_000);
    assert_eq!(read_all(&wal).len(), 6_000);
    wal.close().unwrap();
}

#[test]
fn callbacks_complete_on_time_while_a_waiter_writes_its_own_batches() {
    // A waiter on an idle WAL writes its own batch; meanwhile the flusher
    // must still flush other writers' records on time (it sleeps through
    // those writes instead of being woken after each one).
    let wal = on_memory(Config::default().with_flush_interval(Some(Duration::from_millis(5))));
    let done = Arc::new(AtomicUsize::new(0));
    let n = 400;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                wal.write(1, i, b"waited").unwrap().wait().unwrap();
                if i % 4 == 0 {
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        });
        s.spawn(|| {
            for i in 0..n {
                let done = done.clone();
                wal.write_with(2, i, b"called back", move |r| {
                    r.unwrap();
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
    });
    // No flush, no close: only the interval can complete the last ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < n as usize && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(done.load(Ordering::SeqCst), n as usize);
    let all = read_all(&wal);
    assert_eq!(all.len(), 2 * n as usize);
}
