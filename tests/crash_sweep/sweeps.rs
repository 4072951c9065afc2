//! The two sweeps, and the reference run that counts the points.

use wal_core::testing::{CrashModel, Fault, MemStorage, Op};
use wal_core::{Error, FileName};

use super::{reopen_and_check_twice, workload, Reopened, Setup, IMAGES};
use crate::front::MemFront;

/// What a sweep did, printed at its end.
#[derive(Debug, Default)]
pub struct Tally {
    /// Crash points (or faults) swept.
    pub points: usize,
    /// The most mutating operations a reference run counted.
    pub max_ops: u64,
    /// What reopening the images showed.
    pub reopened: Reopened,
    /// Images whose names differ from the directory at the power cut (a
    /// create not yet synced into the directory lost, a remove undone).
    pub names_differ: usize,
}

/// Runs the workload once with nothing going wrong, checks that it does
/// what it claims (every record acknowledged, rotations by size and by
/// call, a delete), and returns its count of mutating operations.
pub fn op_count<F: MemFront>(setup: Setup) -> u64 {
    let storage = MemStorage::new();
    let run = workload::<F>(storage.clone(), setup.config());
    assert!(
        run.errors.is_empty(),
        "{}: the clean workload fails: {:?}",
        F::NAME,
        run.errors
    );
    assert_eq!(run.acked.lock().unwrap().len(), 260, "{}", F::NAME);
    let ops = storage.op_log();
    let creates = ops
        .iter()
        .filter(|o| matches!(o, Op::Create(FileName::Segment(_))))
        .count();
    let recycled = ops
        .iter()
        .filter(|o| matches!(o, Op::Rename(FileName::Free(_), FileName::Segment(_))))
        .count();
    if setup.recycle {
        assert!(recycled >= 1, "{recycled} files recycled with {setup:?}");
        assert!(creates >= 2, "{creates} segments created with {setup:?}");
    } else {
        assert!(creates >= 4, "{creates} segments with {setup:?}");
        assert!(ops.iter().any(|o| matches!(o, Op::Remove(_))));
    }
    assert!(ops.iter().any(|o| matches!(o, Op::SyncDir)));
    storage.mutating_ops()
}

/// Cuts the power at every mutating operation of the workload (up to the
/// reference run's count, plus `slack` for a run that takes more), takes
/// every image of [`IMAGES`] there, and checks each reopened twice.
pub fn crash_sweep<F: MemFront>(setups: &[Setup], slack: u64) -> Tally {
    let mut tally = Tally::default();
    for &setup in setups {
        let cfg = setup.config();
        let n = op_count::<F>(setup);
        tally.max_ops = tally.max_ops.max(n);
        for op in 0..=n + slack {
            let storage = MemStorage::new();
            storage.cut_power_at(op);
            let run = workload::<F>(storage.clone(), cfg);
            for (k, &kind) in IMAGES.iter().enumerate() {
                let seed = op * 131 + k as u64;
                let image = kind.take(&storage, seed);
                tally.names_differ += usize::from(image.files() != storage.files());
                let ctx = format!(
                    "{} WAL, {setup:?}, power cut at op {op}/{n}, image {k} ({kind:?}, seed {seed})",
                    F::NAME
                );
                reopen_and_check_twice::<F>(image, &run, cfg, seed, &ctx, &mut tally.reopened);
            }
            tally.points += 1;
        }
    }
    tally
}

/// Injects each fault at every mutating operation of the workload (up to
/// the reference run's count), lets it run on, and checks what a power cut
/// then would leave (the synced bytes alone, and a harsh image), and that a
/// failed segment write or sync poisoned the WAL with a clear error.
pub fn fault_sweep<F: MemFront>(setups: &[Setup]) -> Tally {
    let mut tally = Tally::default();
    for &setup in setups {
        let cfg = setup.config();
        let n = op_count::<F>(setup);
        tally.max_ops = tally.max_ops.max(n);
        for op in 0..n {
            for fault in [Fault::Fail, Fault::TearWrite(7), Fault::Full] {
                let storage = MemStorage::new();
                storage.inject(op, fault);
                let run = workload::<F>(storage.clone(), cfg);
                let kind = storage.op_log().get(op as usize).copied();
                let ctx = format!(
                    "{} WAL, {setup:?}, {fault:?} at op {op} ({kind:?})",
                    F::NAME
                );
                if matches!(
                    kind,
                    Some(Op::Write(FileName::Segment(_)) | Op::Sync(FileName::Segment(_)))
                ) {
                    check_poisoned::<F>(&run, &ctx);
                }
                // Nothing acknowledged that a power cut right now would lose;
                // and after a restart without one (the disk as it is, names
                // not yet synced into the directory included), nothing the
                // restarted WAL acknowledges that a later power cut would.
                let mut images = vec![storage.crash(), storage.crash_image(op, CrashModel::HARSH)];
                // (Unless the run took fewer operations than the reference
                // and never reached the fault: it would hit the restart.)
                if op < storage.mutating_ops() {
                    images.push(storage.clone());
                }
                for image in images {
                    tally.names_differ += usize::from(image.files() != storage.files());
                    reopen_and_check_twice::<F>(image, &run, cfg, op, &ctx, &mut tally.reopened);
                }
                tally.points += 1;
            }
        }
    }
    tally
}

/// A failed write or sync of a segment poisons the WAL: the failure is
/// reported as a storage error naming the write or sync (to a call or to
/// the completions of the records it took; the thread-safe WAL's syncer,
/// which reserves space off the write path, reports a failed reserve as
/// the poison it causes, with that error as its cause), the core WAL's
/// first error is that one, and every other error a call returns is that
/// failure again or says poisoned (or closed).
fn check_poisoned<F: MemFront>(run: &super::Run, ctx: &str) {
    let failed = run.failed.lock().unwrap().clone();
    let storage_err = run
        .errors
        .iter()
        .chain(&failed)
        .map(Error::cause)
        .find(|e| matches!(e, Error::Storage(_)))
        .unwrap_or_else(|| panic!("{ctx}: no storage error reported: {:?}", run.errors));
    let msg = storage_err.to_string();
    assert!(
        msg.contains("write") || msg.contains("sync"),
        "{ctx}: {msg}"
    );
    if F::NAME == "core" {
        assert_eq!(run.errors.first(), Some(storage_err), "{ctx}: first error");
    }
    for e in &run.errors {
        assert!(
            e.cause() == storage_err || matches!(e, Error::Poisoned { .. } | Error::Closed),
            "{ctx}: after the failure, got {e}"
        );
    }
}
