//! Crash-point and fault sweeps on the in-memory backend.
//!
//! One workload writes many series, flushes by size and on demand, rotates
//! by size and by call, and deletes a segment. Counting its mutating storage
//! operations gives the points to sweep:
//!
//! - crash sweep: for every operation, cut the power there (it and all later
//!   operations do nothing), take a power-cut image that keeps a seeded
//!   prefix of each file's unsynced bytes, reopen, and check the invariants;
//!   then write more, crash again, reopen, and check again;
//! - fault sweep: for every operation, make it fail (an I/O error, a torn
//!   write, storage full), let the workload go on, and check that nothing was
//!   acknowledged that is not durable, that the WAL is poisoned with a clear
//!   error, and that reopening recovers.
//!
//! The invariants: every record whose completion said `Ok` is present (unless
//! its segment was deleted), in order, exactly once; nothing is returned that
//! was not written whole; the reopened WAL accepts writes. Where a crash
//! leaves something ambiguous (a record in flight, a delete in flight), the
//! test reads the storage to decide, never guesses.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wal_core::testing::{Fault, MemStorage, Op};
use wal_core::FileName;
use wal_core::{Config, Error, SegmentId, Wal};

const T0: Duration = Duration::ZERO;

/// Record `i` of the workload: series, timestamp (= i), value.
fn record(i: usize) -> (u64, i64, Vec<u8>) {
    let mut v = format!("record {i} ").into_bytes();
    // Pseudo-random padding, so that compression does not shrink the log
    // below a few segments.
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for _ in 0..(i * 7) % 90 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    ((i % 7) as u64, i as i64, v)
}

/// What one run of the workload did.
#[derive(Default)]
struct Run {
    /// How many records were handed to `write_with`.
    written: usize,
    /// Records whose completion said Ok (by index).
    acked: Arc<Mutex<HashSet<usize>>>,
    /// The segment the workload deleted, the records it held, and whether
    /// `delete` returned Ok.
    deleted: Option<(SegmentId, HashSet<usize>, bool)>,
    /// Every error a WAL call returned, in order.
    errors: Vec<Error>,
}

fn config(compression: bool) -> Config {
    Config::default()
        .with_compression(compression)
        .with_buffer_size(1024)
        .with_file_size(4096)
        .with_flush_interval(None)
}

impl Run {
    fn write(&mut self, wal: &mut Wal<MemStorage>, i: usize) {
        let (s, t, v) = record(i);
        let acked = self.acked.clone();
        self.written = self.written.max(i + 1);
        let r = wal.write_with(s, t, &v, T0, move |r| {
            if r.is_ok() {
                acked.lock().unwrap().insert(i);
            }
        });
        self.note(r);
    }

    fn note<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }
}

/// The workload. Never panics on WAL errors: after a power cut or a fault,
/// calls fail, and that is what is being tested.
fn workload(storage: MemStorage, cfg: Config) -> Run {
    let mut run = Run::default();
    let Some(mut wal) = run.note(Wal::open(storage, cfg)) else {
        return run;
    };
    for i in 0..120 {
        run.write(&mut wal, i); // flushes by size, rotates by size
    }
    let r = wal.flush();
    run.note(r);
    for i in 120..150 {
        run.write(&mut wal, i);
    }
    let r = wal.rotate(); // flush + rotate by call
    run.note(r);
    // Delete the oldest closed segment, remembering what it held.
    if let Some(&first) = wal.segments().first() {
        if first != *wal.segments().last().unwrap() {
            let held: HashSet<usize> = match wal.read(first) {
                Ok(reader) => reader
                    .filter_map(Result::ok)
                    .flat_map(|e| e.timestamps.into_iter().map(|t| t as usize))
                    .collect(),
                Err(_) => HashSet::new(),
            };
            let ok = wal.delete(first).is_ok();
            run.deleted = Some((first, held, ok));
        }
    }
    for i in 150..260 {
        run.write(&mut wal, i);
    }
    let r = wal.close();
    run.note(r);
    run
}

/// Every record in the storage, in read order, as indexes; checks that each
/// is whole and was written, and that no segment fails to read.
fn read_back(wal: &mut Wal<MemStorage>, written: usize, ctx: &str) -> Vec<usize> {
    let mut found = vec![];
    for id in wal.segments() {
        for e in wal
            .read(id)
            .unwrap_or_else(|e| panic!("{ctx}: read {id}: {e}"))
        {
            let e = e.unwrap_or_else(|e| panic!("{ctx}: segment {id}: {e}"));
            for (t, v) in e.timestamps.iter().zip(&e.values) {
                let i = *t as usize;
                assert!(i < written, "{ctx}: record {i} was never written");
                let (s, _, value) = record(i);
                assert_eq!(
                    (e.series_id, v),
                    (s, &value),
                    "{ctx}: record {i} is not what was written"
                );
                found.push(i);
            }
        }
    }
    found
}

/// Checks the invariants of a reopened WAL against what the run did.
fn check(wal: &mut Wal<MemStorage>, storage: &MemStorage, run: &Run, ctx: &str) -> HashSet<usize> {
    let found = read_back(wal, run.written, ctx);
    let set: HashSet<usize> = found.iter().copied().collect();
    assert_eq!(set.len(), found.len(), "{ctx}: a record appears twice");
    let mut last: BTreeMap<u64, usize> = BTreeMap::new();
    for &i in &found {
        let s = record(i).0;
        if let Some(p) = last.insert(s, i) {
            assert!(p < i, "{ctx}: series {s} out of order ({p} before {i})");
        }
    }
    // A deleted segment's records are expected exactly when the segment is
    // still there (the storage decides, when the delete was in flight).
    let gone: HashSet<usize> = match &run.deleted {
        Some((id, held, ok)) => {
            let present = storage.files().contains(&FileName::Segment(*id));
            assert!(
                !(*ok && present),
                "{ctx}: segment {id} was deleted but came back"
            );
            if present {
                HashSet::new()
            } else {
                held.clone()
            }
        }
        None => HashSet::new(),
    };
    let acked = run.acked.lock().unwrap().clone();
    let mut lost: Vec<usize> = acked
        .iter()
        .filter(|i| !gone.contains(i) && !set.contains(i))
        .copied()
        .collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "{ctx}: acknowledged records lost: {lost:?}"
    );
    set
}

/// Reopens a crash image, checks it, then writes more, crashes again and checks again.
fn reopen_and_check_twice(image: MemStorage, run: &Run, cfg: Config, seed: u64, ctx: &str) {
    let mut wal = Wal::open(image.clone(), cfg).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let before = check(&mut wal, &image, run, ctx);
    // The reopened WAL accepts writes; a second crash and reopen also holds.
    let acked2 = Arc::new(Mutex::new(vec![]));
    for k in 0..40usize {
        let i = 10_000 + k;
        let (s, t, v) = record(i);
        let a = acked2.clone();
        wal.write_with(s, t, &v, T0, move |r| {
            if r.is_ok() {
                a.lock().unwrap().push(i)
            }
        })
        .unwrap_or_else(|e| panic!("{ctx}: write after reopen: {e}"));
    }
    wal.flush().unwrap();
    let image2 = image.crash_seeded(seed ^ 0xABCD);
    std::mem::forget(wal); // the process died again
    let mut wal =
        Wal::open(image2.clone(), cfg).unwrap_or_else(|e| panic!("{ctx}: second reopen: {e}"));
    let found = read_back(&mut wal, 10_040, ctx);
    let set: HashSet<usize> = found.iter().copied().collect();
    for i in acked2.lock().unwrap().iter() {
        assert!(
            set.contains(i),
            "{ctx}: record {i} acknowledged after the first reopen is lost"
        );
    }
    for i in &before {
        assert!(
            set.contains(i),
            "{ctx}: record {i} present after the first reopen is lost after the second"
        );
    }
}

fn op_count(cfg: Config) -> u64 {
    let storage = MemStorage::new();
    let run = workload(storage.clone(), cfg);
    assert!(
        run.errors.is_empty(),
        "the clean workload fails: {:?}",
        run.errors
    );
    assert_eq!(run.acked.lock().unwrap().len(), 260);
    let ops = storage.op_log();
    // The workload does what it claims: rotations by size and by call, a delete.
    let creates = ops
        .iter()
        .filter(|o| matches!(o, Op::Create(FileName::Segment(_))))
        .count();
    assert!(creates >= 4, "{creates} segments with {cfg:?}");
    assert!(ops.iter().any(|o| matches!(o, Op::Remove(_))));
    storage.mutating_ops()
}

#[test]
fn crash_at_every_operation_loses_no_acknowledged_record() {
    let mut points = 0;
    for compression in [false, true] {
        let cfg = config(compression);
        let n = op_count(cfg);
        for op in 0..=n {
            for seed in [1u64, 2, 3, 4, 5] {
                let storage = MemStorage::new();
                storage.cut_power_at(op);
                let run = workload(storage.clone(), cfg);
                let image = storage.crash_seeded(op * 131 + seed);
                let ctx =
                    format!("compression {compression}, power cut at op {op}/{n}, seed {seed}");
                reopen_and_check_twice(image, &run, cfg, seed, &ctx);
                points += 1;
            }
        }
    }
    eprintln!("crash sweep: {points} crash points checked");
    assert!(points > 300);
}

#[test]
fn a_fault_at_every_operation_acknowledges_nothing_that_is_not_durable() {
    let mut injected = 0;
    for compression in [false, true] {
        let cfg = config(compression);
        let n = op_count(cfg);
        for op in 0..n {
            for fault in [Fault::Fail, Fault::TearWrite(7), Fault::Full] {
                let storage = MemStorage::new();
                storage.inject(op, fault);
                let run = workload(storage.clone(), cfg);
                let kind = storage.op_log()[op as usize];
                let ctx = format!("compression {compression}, {fault:?} at op {op} ({kind:?})");
                // Nothing acknowledged that a power cut right now would lose.
                reopen_and_check_twice(storage.crash(), &run, cfg, op, &ctx);
                // A failed write or sync of a segment poisons the WAL: the
                // first error names the storage failure, every later write
                // error says poisoned, and the count of errors shows it.
                if matches!(
                    kind,
                    Op::Write(FileName::Segment(_)) | Op::Sync(FileName::Segment(_))
                ) {
                    let first = run
                        .errors
                        .first()
                        .unwrap_or_else(|| panic!("{ctx}: no error reported"));
                    assert!(
                        matches!(first, Error::Storage(_)),
                        "{ctx}: first error {first}"
                    );
                    let msg = first.to_string();
                    assert!(
                        msg.contains("write") || msg.contains("sync"),
                        "{ctx}: {msg}"
                    );
                    for e in &run.errors[1..] {
                        assert!(
                            matches!(e, Error::Poisoned { .. } | Error::Closed),
                            "{ctx}: after the failure, got {e}"
                        );
                    }
                }
                injected += 1;
            }
        }
    }
    eprintln!("fault sweep: {injected} faults injected");
    assert!(injected > 300);
}
