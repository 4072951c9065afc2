//! The thread-safe WAL's readers, admin calls and reserve of zeros keep off
//! the writers' path: a segment scanned or read, or a file being removed,
//! never holds the lock the flusher needs; zeros are reserved on the syncer
//! thread, never inside an append, and never under `SyncPolicy::Never`.
//! Slow storage is simulated by holding one operation on one thread (a
//! gate, released by the test), never by timing. Every test fails after a
//! timeout instead of hanging. (Native only.)
#![cfg(not(target_os = "wasi"))]

mod faults;
mod harness;

use std::time::{Duration, Instant};

use faults::Faulty;
use wal_core::testing::{Fault, MemStorage};
use wal_core::{Config, Error, FileName, SyncPolicy};

type Wal = wal_host_std::Wal<Faulty>;

/// How long any test body may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `body` on its own thread (named `test body: {what}`); fails the
/// test if it has not returned within [`TIMEOUT`], and passes its panic on.
fn within<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    harness::within(TIMEOUT, what, body)
}

/// Waits (yielding) until `done`, failing after [`TIMEOUT`].
fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: never happened");
        std::thread::yield_now();
    }
}

fn small() -> Config {
    Config::default()
        .with_buffer_size(256)
        .with_compression(false)
        .with_flush_interval(None)
}

/// A WAL over a fresh `Faulty` storage with segment 1 closed (one record).
fn with_a_closed_segment() -> (Wal, Faulty) {
    let (storage, _) = Faulty::new();
    let wal = Wal::with_storage(storage.clone(), small()).unwrap();
    wal.write(0, 0, b"in segment 1").unwrap().wait().unwrap();
    wal.rotate().unwrap();
    (wal, storage)
}

/// Holds every `op` that `call` makes on a thread of its own (named
/// `admin`), and while one is held (the storage stalled in the middle of
/// the call), durable writers write and wait: they must get through.
/// Then lets the call finish and returns its result.
fn writers_pass_a_stalled<T: Send + 'static>(
    what: &'static str,
    op: &'static str,
    call: impl FnOnce(&Wal) -> T + Send + 'static,
) -> T {
    within(what, move || {
        let (wal, storage) = with_a_closed_segment();
        storage.hold(op, "admin");
        let w = wal.clone();
        let admin = std::thread::Builder::new()
            .name("admin".into())
            .spawn(move || call(&w))
            .unwrap();
        until("the call reaches the storage", || storage.held() > 0);
        for i in 0..20 {
            let h = wal
                .write(5, i, b"durable while the call is stalled")
                .unwrap();
            assert_eq!(h.wait().map(drop), Ok(()), "{what}: write {i}");
        }
        wal.flush().unwrap();
        assert!(storage.held() > 0, "{what}: the call was held all along");
        storage.release();
        let out = admin.join().unwrap();
        wal.close().unwrap();
        out
    })
}

#[test]
fn writers_are_not_held_up_by_info_scanning_a_closed_segment() {
    let info = writers_pass_a_stalled("info", "read", |w| w.info(1)).unwrap();
    assert_eq!((info.id, info.records), (1, 1));
}

#[test]
fn writers_are_not_held_up_by_read_of_a_closed_segment() {
    let records = writers_pass_a_stalled("read", "read", |w| {
        w.read(1)
            .map(|r| r.map(|e| e.unwrap().timestamps.len()).sum::<usize>())
    });
    assert_eq!(records, Ok(1));
}

#[test]
fn writers_are_not_held_up_by_delete_removing_a_file() {
    let (deleted, segments) =
        writers_pass_a_stalled("delete", "remove", |w| (w.delete(1), w.segments()));
    assert_eq!(deleted, Ok(()));
    assert_eq!(segments, vec![2]);
}

/// A removal that fails leaves the file, so the segment stays listed and
/// readable, and a second delete removes it.
#[test]
fn a_failed_removal_keeps_the_segment_listed() {
    within("a failed removal", || {
        let (wal, storage) = with_a_closed_segment();
        // The next mutating operation on the disk is the removal.
        storage.mem.inject(storage.mem.mutating_ops(), Fault::Fail);
        let e = wal.delete(1).unwrap_err();
        assert!(matches!(&e, Error::Storage(s) if s.op == "remove"), "{e}");
        assert_eq!(wal.segments(), vec![1, 2]);
        assert_eq!(wal.info(1).unwrap().records, 1);
        assert!(storage.mem.files().contains(&FileName::Segment(1)));
        wal.delete(1).unwrap();
        assert_eq!(wal.segments(), vec![2]);
        assert!(!storage.mem.files().contains(&FileName::Segment(1)));
        assert_eq!(wal.delete(1), Err(Error::UnknownSegment { id: 1 }));
        wal.close().unwrap();
    });
}

/// Durable writers and callbacks on a WAL that reserves space: every run of
/// zeros is written by the syncer thread (off the write path, never inside
/// an append a writer waits for), and a closed segment ends with its last
/// frame.
#[test]
fn reserved_zeros_are_written_by_the_syncer_and_released_at_close() {
    within("reserve", || {
        let (storage, _) = Faulty::new();
        let cfg = small().with_reserve(16 * 1024).with_file_size(64 * 1024);
        let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
        for i in 0..300i64 {
            if i % 3 == 0 {
                wal.write(1, i, &[1u8; 60]).unwrap().wait().unwrap();
            } else {
                wal.write_with(2, i, &[2u8; 60], |r| {
                    r.unwrap();
                })
                .unwrap();
            }
        }
        let closed = wal.rotate().unwrap();
        wal.close().unwrap();
        let writers = storage.zero_writers();
        assert!(!writers.is_empty(), "nothing was reserved");
        assert_eq!(
            writers.into_iter().collect::<Vec<_>>(),
            vec!["wal-syncer".to_string()],
            "zeros written elsewhere than on the syncer"
        );
        let seg1 = storage.mem.contents(FileName::Segment(1)).unwrap();
        assert_eq!(
            seg1.len() as u64,
            closed.bytes,
            "a closed segment ends with its last frame"
        );
        let reopened = wal_core::Wal::open(storage.mem.clone(), cfg).unwrap();
        assert_eq!(reopened.recovery().released_zero_bytes, 0);
    });
}

/// Under `SyncPolicy::Never` nothing is reserved at all, by either WAL:
/// no sync is on the write path for it to speed up.
#[test]
fn nothing_is_reserved_under_sync_never() {
    within("reserve under Never", || {
        let cfg = small().with_sync(SyncPolicy::Never);
        let (storage, _) = Faulty::new();
        let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
        for i in 0..200i64 {
            wal.write(1, i, &[1u8; 60]).unwrap().wait().unwrap();
        }
        wal.flush().unwrap();
        let active = wal.info(1).unwrap();
        assert_eq!(
            storage.mem.contents(FileName::Segment(1)).unwrap().len() as u64,
            active.bytes
        );
        wal.close().unwrap();
        assert!(storage.zero_writers().is_empty(), "zeros were reserved");

        let mem = MemStorage::new();
        let mut single = wal_core::Wal::open(mem.clone(), cfg).unwrap();
        for i in 0..200i64 {
            single.write(1, i, &[1u8; 60], Duration::ZERO).unwrap();
            single.flush().unwrap();
        }
        let len = mem.contents(FileName::Segment(1)).unwrap().len() as u64;
        assert_eq!(
            len,
            single.active().bytes,
            "the single-threaded WAL reserved"
        );
        single.close().unwrap();
    });
}
