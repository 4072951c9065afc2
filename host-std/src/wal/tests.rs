//! The threaded WAL's unit tests: what needs its private hooks.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wal_core::testing::{CrashModel, MemStorage};
use wal_core::Config;

use super::signal::lock;
use super::Wal;

/// A crowd of durable writers that yield rather than block (forced, so
/// that the machine's load cannot turn it off): waits end while
/// yielding, every write completes, and no power cut taken after a wait
/// said `Ok` loses that record.
#[test]
fn a_crowd_of_waiters_yields_and_loses_nothing_acknowledged() {
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_buffer_size(2048)
        .with_file_size(64 * 1024);
    let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
    let waits = || &wal.handle.shared.waits;
    waits().force_yield(Duration::from_millis(2));
    let threads = 48;
    const PER: i64 = 60;
    let acked = Mutex::new(HashSet::new());
    let mut images = vec![];
    std::thread::scope(|s| {
        for t in 0..threads {
            let (wal, acked) = (&wal, &acked);
            s.spawn(move || {
                for i in 0..PER {
                    let value = format!("thread {t} record {i}");
                    wal.write(t, i, value.as_bytes()).unwrap().wait().unwrap();
                    lock(acked).insert((t, i));
                }
            });
        }
        for k in 0..10 {
            std::thread::sleep(Duration::from_millis(2));
            let before = lock(&acked).clone();
            let model = [CrashModel::PREFIX, CrashModel::HARSH, CrashModel::EXT4][k % 3];
            images.push((before, storage.crash_image(k as u64, model)));
        }
    });
    assert!(waits().yield_hits() > 0, "no wait ended while yielding");
    assert_eq!(lock(&acked).len() as u64, threads * PER as u64);
    assert!(
        images.iter().any(|(before, _)| !before.is_empty()),
        "every power cut came before the first acknowledgement"
    );
    for (k, (before, image)) in images.into_iter().enumerate() {
        let mut reopened = wal_core::Wal::open(image, cfg).unwrap();
        let mut found = HashSet::new();
        for id in reopened.segments() {
            for e in reopened.read(id).unwrap() {
                let e = e.unwrap_or_else(|e| panic!("image {k}: {e}"));
                found.extend(e.timestamps.iter().map(|t| (e.series_id, *t)));
            }
        }
        let lost: Vec<_> = before.difference(&found).take(5).collect();
        assert!(
            lost.is_empty(),
            "image {k}: acknowledged records lost: {lost:?}"
        );
    }
    wal.close().unwrap();
}

/// A writer that is slow to queue the buffer it filled and encoded,
/// while another writer fills and queues the next two: the flusher
/// writes them in order all the same, and their records complete in
/// that order.
#[test]
fn a_batch_encoded_late_is_still_written_and_completed_first() {
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_buffer_size(256)
        .with_compression(false)
        .with_flush_interval(None);
    let wal = Wal::with_storage(storage, cfg).unwrap();
    let shared = &wal.handle.shared;
    shared.buffers.hooks.slow_encode.store(1, Ordering::Relaxed);
    let order = Arc::new(Mutex::new(Vec::new()));
    let write = |series: u64, i: i64| {
        let order = order.clone();
        wal.write_with(series, i, &[series as u8; 40], move |r| {
            r.unwrap();
            lock(&order).push((series, i));
        })
        .unwrap();
    };
    let filled = || lock(&shared.buffers.state).last_seq;
    let (a, b) = std::thread::scope(|s| {
        let b = s.spawn(|| {
            // Once the first batch is being encoded, fill two more.
            let start = Instant::now();
            while lock(&shared.buffers.state).encoding == 0 {
                assert!(start.elapsed() < Duration::from_secs(10), "never encoding");
                std::thread::yield_now();
            }
            let mut n = 0;
            while filled() < 3 {
                write(2, n);
                n += 1;
            }
            n
        });
        // Until a write fills the first buffer (and encodes it, and
        // holds it until the next one is queued).
        let mut n = 0;
        while filled() < 1 {
            write(1, n);
            n += 1;
        }
        (n, b.join().unwrap())
    });
    assert_eq!(
        shared.buffers.hooks.queued_behind.load(Ordering::Relaxed),
        1
    );
    wal.flush().unwrap();
    let mut read = vec![];
    for id in wal.segments() {
        for e in wal.read(id).unwrap() {
            let e = e.unwrap();
            read.extend(e.timestamps.iter().map(|t| (e.series_id, *t)));
        }
    }
    let want: Vec<(u64, i64)> = (0..a)
        .map(|i| (1, i))
        .chain((0..b).map(|i| (2, i)))
        .collect();
    assert_eq!(read, want, "frames in the order their buffers filled");
    assert_eq!(*lock(&order), want, "completions in write order");
    wal.close().unwrap();
}
