//! The crash-point and fault sweeps, written once over a WAL [`MemFront`].
//!
//! One workload writes many series, flushes by size and on demand, rotates
//! by size and by call, and deletes a segment. Counting its mutating storage
//! operations (in a reference run: the thread-safe WAL's threads may order
//! them a little differently each time) gives the points to sweep:
//!
//! - crash sweep: for every operation, cut the power there (it and all later
//!   operations fail, whichever thread runs them), take several crash images
//!   ([`IMAGES`]: an in-order prefix of the unsynced bytes with names durable
//!   on return; any subset of the 512-byte sectors written since each sync
//!   with names durable only on a directory sync; the same with ext4's
//!   names; the first unsynced sector of each file lost and the rest
//!   landed), reopen each and check the invariants; then write a few
//!   records, take the harshest image, write more, take another, and reopen
//!   and check both;
//! - fault sweep: for every operation, make it fail (an I/O error, a torn
//!   write, storage full), let the workload go on, check that a failed
//!   write or sync poisoned the WAL with a clear error, and check as above
//!   what a power cut would leave (only the synced bytes; a harsh image)
//!   and what a restart without one finds (the disk as it is).
//!
//! The invariants: every record whose completion said `Ok` is present
//! (unless its segment was deleted), in order per series, exactly once;
//! nothing is returned that was not written whole; open never fails on a
//! crash image (a torn tail holding valid frames written after a lost
//! sector is cut: `scan::search::lost_writes` in the core); the reopened
//! WAL accepts writes. Where a crash leaves something ambiguous (a record
//! in flight, a delete in flight), the test reads the image to decide,
//! never guesses.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wal_core::testing::{CrashModel, MemStorage, NamesDurable, Unsynced};
use wal_core::FileName;
use wal_core::{Config, Error, Position, SegmentId};

use crate::front::MemFront;

pub mod sweeps;

const T0: Duration = Duration::ZERO;

/// A kind of crash image.
#[derive(Clone, Copy, Debug)]
pub enum Image {
    /// Seeded under a model.
    Seeded(CrashModel),
    /// Names only on a directory sync; of each file's unsynced writes, the
    /// first 512-byte sector lost and all the others landed: the hole in
    /// front of valid frames that recovery must tell from damage.
    FirstSectorLost,
}

impl Image {
    /// The image of `storage` (`seed` makes the choices a model leaves).
    pub fn take(self, storage: &MemStorage, seed: u64) -> MemStorage {
        match self {
            Image::Seeded(model) => storage.crash_image(seed, model),
            Image::FirstSectorLost => {
                let mut first: Option<FileName> = None;
                storage.crash_image_with(512, NamesDurable::OnDirSync, |name, u| match u {
                    Unsynced::Length => true,
                    Unsynced::Block(_) => first.replace(name) == Some(name),
                })
            }
        }
    }
}

/// The crash images taken at every crash point, in this order.
pub const IMAGES: [Image; 5] = [
    Image::Seeded(CrashModel::PREFIX),
    Image::Seeded(CrashModel::HARSH),
    Image::Seeded(CrashModel::HARSH),
    Image::Seeded(CrashModel::EXT4),
    Image::FirstSectorLost,
];

/// Record `i` of the workload: series, timestamp (= i), value.
pub fn record(i: usize) -> (u64, i64, Vec<u8>) {
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

/// A sweep's configuration.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Snappy on.
    pub compression: bool,
    /// A (long) flush interval: the core WAL then writes full buffers at
    /// once and lets them share a sync, so several frames wait unsynced.
    pub shared_syncs: bool,
    /// Recycled segments: the workload checkpoints instead of deleting, so
    /// the two oldest segments become free files, which the rotations
    /// after it reuse.
    pub recycle: bool,
}

impl Setup {
    /// The WAL's configuration: 1 KiB buffers, 4 KiB segments.
    pub fn config(self) -> Config {
        Config::default()
            .with_compression(self.compression)
            .with_buffer_size(1024)
            .with_file_size(4096)
            .with_flush_interval(self.shared_syncs.then_some(Duration::from_secs(3600)))
            .with_recycle(if self.recycle { 2 } else { 0 })
    }
}

/// What one run of the workload did.
#[derive(Default)]
pub struct Run {
    /// How many records were handed to `write_with`.
    pub written: usize,
    /// Records whose completion said Ok (by index).
    pub acked: Arc<Mutex<HashSet<usize>>>,
    /// The errors completions reported.
    pub failed: Arc<Mutex<Vec<Error>>>,
    /// The segments the workload deleted (or checkpointed away), the
    /// records each held, and whether the call returned Ok.
    pub deleted: Vec<(SegmentId, HashSet<usize>, bool)>,
    /// Every error a WAL call returned, in order.
    pub errors: Vec<Error>,
}

impl Run {
    fn write<F: MemFront>(&mut self, wal: &mut F, i: usize) {
        let (s, t, v) = record(i);
        let (acked, failed) = (self.acked.clone(), self.failed.clone());
        self.written = self.written.max(i + 1);
        let r = wal.write_with(s, t, &v, T0, move |r| match r {
            Ok(_) => drop(acked.lock().unwrap().insert(i)),
            Err(e) => failed.lock().unwrap().push(e),
        });
        self.note(r);
    }

    fn note<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        r.map_err(|e| self.errors.push(e)).ok()
    }
}

/// The workload. Never panics on WAL errors: after a power cut or a fault,
/// calls fail, and that is what is being tested.
pub fn workload<F: MemFront>(storage: MemStorage, cfg: Config) -> Run {
    let mut run = Run::default();
    let Some(mut wal) = run.note(F::open(storage, cfg)) else {
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
    // Delete the oldest closed segment (or, recycling, checkpoint the two
    // oldest away), remembering what each held.
    let ids = wal.segments();
    let n = if cfg.recycle > 0 { 2 } else { 1 };
    if ids.len() > n {
        let held = |wal: &mut F, id| -> HashSet<usize> {
            match wal.read(id) {
                Ok(reader) => reader
                    .filter_map(Result::ok)
                    .flat_map(|e| e.timestamps.into_iter().map(|t| t as usize))
                    .collect(),
                Err(_) => HashSet::new(),
            }
        };
        let held: Vec<HashSet<usize>> = ids[..n].iter().map(|&id| held(&mut wal, id)).collect();
        let ok = if cfg.recycle > 0 {
            wal.checkpoint(Position::first_frame(ids[n])).is_ok()
        } else {
            wal.delete(ids[0]).is_ok()
        };
        for (id, held) in ids.into_iter().zip(held) {
            run.deleted.push((id, held, ok));
        }
    }
    for i in 150..260 {
        run.write(&mut wal, i);
    }
    let r = wal.close();
    run.note(r);
    run
}

/// Every record in the WAL, in read order, as indexes; checks that each is
/// whole and was written, and that no segment fails to read.
fn read_back<F: MemFront>(wal: &mut F, written: usize, ctx: &str) -> Vec<usize> {
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

/// Checks the invariants of a WAL reopened on `image` against what the run
/// did; returns the records found.
fn check<F: MemFront>(wal: &mut F, image: &MemStorage, run: &Run, ctx: &str) -> HashSet<usize> {
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
    // still there (the image decides, when the delete was in flight); a
    // segment gone holds none of them (a recycled file's stale frames are
    // never read as records of the segment it became).
    let mut gone: HashSet<usize> = HashSet::new();
    for (id, held, ok) in &run.deleted {
        let present = image.files().contains(&FileName::Segment(*id));
        assert!(
            !(*ok && present),
            "{ctx}: segment {id} was deleted but came back"
        );
        if !present {
            gone.extend(held);
        }
    }
    let stale: Vec<usize> = gone.iter().filter(|i| set.contains(i)).copied().collect();
    assert!(
        stale.is_empty(),
        "{ctx}: records of deleted segments read back: {stale:?}"
    );
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

/// What reopening crash images showed.
#[derive(Debug, Default)]
pub struct Reopened {
    /// Images reopened (each twice: after the crash, and after writing more
    /// and crashing again).
    pub images: usize,
    /// Reopens that cut a torn tail.
    pub cut: usize,
    /// Of those, the ones whose tail held valid frames written after a
    /// sector the power cut lost (open refused these before the rule in
    /// `scan::search::lost_writes`).
    pub cut_frames_after: usize,
}

/// Reopens crash image `image`, checks it, then writes more, crashes again
/// (the harshest image) twice, after a few records and after more, and
/// reopens and checks each.
pub fn reopen_and_check_twice<F: MemFront>(
    image: MemStorage,
    run: &Run,
    cfg: Config,
    seed: u64,
    ctx: &str,
    tally: &mut Reopened,
) {
    let mut wal = F::open(image.clone(), cfg).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    tally.images += 1;
    if let Some(cut) = wal.recovery().cut {
        tally.cut += 1;
        tally.cut_frames_after += usize::from(cut.frames_after > 0);
    }
    let before = check(&mut wal, &image, run, ctx);
    // The reopened WAL accepts writes; a crash after a few (before anything
    // else syncs the directory) and one after more also hold.
    let acked2 = Arc::new(Mutex::new(vec![]));
    let mut images2 = vec![];
    for (from, to) in [(0, 5), (5, 40)] {
        for k in from..to {
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
        wal.flush()
            .unwrap_or_else(|e| panic!("{ctx}: flush after reopen: {e}"));
        // The harshest image: whatever the first crash left durable by luck
        // (a name never synced into the directory), the reopened WAL must
        // have made durable before it acknowledged anything.
        let acked = acked2.lock().unwrap().clone();
        images2.push((
            acked,
            image.crash_image(seed ^ (0xABCD + to as u64), CrashModel::HARSH),
        ));
    }
    // The process died again: what the old WAL does from here on reaches
    // only the first image, not the later ones.
    drop(wal);
    for (acked2, image2) in images2 {
        let mut wal = F::open(image2, cfg).unwrap_or_else(|e| panic!("{ctx}: second reopen: {e}"));
        let found = read_back(&mut wal, 10_040, ctx);
        let set: HashSet<usize> = found.iter().copied().collect();
        assert_eq!(set.len(), found.len(), "{ctx}: a record appears twice");
        for i in &acked2 {
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
        wal.close()
            .unwrap_or_else(|e| panic!("{ctx}: close after the second reopen: {e}"));
    }
}
