//! Workload 12, recycle: ingest in the steady state of a checkpointing
//! user, segments recycled, against the raw overwrite loop.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use wal_core::Config;
use wal_fs::FsStorage;

use super::{human, median, tmp};
use crate::baselines;
use crate::measure::{settle, warm_page_cache, Counting};
use crate::records::{ingest_count, IngestGen};
use crate::row::{Paired, Row};

/// Free files kept: enough that a checkpoint after each rotation always
/// leaves one to recycle.
const RECYCLE: usize = 4;

/// Segments of 16 MiB: many rotations (each one recycled) in a run.
const FILE_SIZE: u64 = 16 << 20;

/// One run: `bytes` of BanyanDB's ingest through the thread-safe WAL with
/// recycling on, a checkpoint at the durable end whenever a rotation
/// closed a segment (so every rotation after the first few reuses a
/// file). Before the timed part the same ingest fills the pool. Returns
/// the row, the writes and syncs it made (for the raw loop) and the bytes
/// written.
fn recycle_ours(bytes: u64, buffer: usize, dir: &Path) -> (Row, Vec<(usize, bool)>, u64) {
    let n = ingest_count(bytes);
    let storage = Counting::new(FsStorage::open(dir).unwrap());
    let pattern = storage.pattern.clone();
    let cfg = Config::default()
        .with_buffer_size(buffer)
        .with_file_size(FILE_SIZE)
        .with_recycle(RECYCLE);
    let wal = wal_host_std::Wal::with_storage(storage, cfg).unwrap();
    let mut gen = IngestGen::new(1);
    let mut write = |count: usize, from: usize| {
        for i in from..from + count {
            let (s, v) = gen.next_record();
            wal.write_with(s, i as i64, v, |r| {
                r.unwrap();
            })
            .unwrap();
            if i % 4096 == 0 && wal.segments().len() > 2 {
                let through = wal.durable().unwrap();
                wal.checkpoint(through).unwrap();
            }
        }
        wal.flush().unwrap();
        let through = wal.durable().unwrap();
        wal.checkpoint(through).unwrap();
    };
    // Fill the pool: RECYCLE + 1 segments' worth.
    let warm = ingest_count(FILE_SIZE * (RECYCLE as u64 + 1));
    write(warm, 0);
    settle();
    pattern.lock().unwrap().reset();
    let t = Instant::now();
    write(n, warm);
    let secs = t.elapsed().as_secs_f64();
    let stats = wal.stats().unwrap();
    wal.close().unwrap();
    let p = pattern.lock().unwrap();
    let (disk, syncs) = (
        p.bytes.load(Ordering::Relaxed),
        p.syncs.load(Ordering::Relaxed),
    );
    let mut r = Row::new("recycle", format!("buffer {}", human(buffer as u64)), "wal");
    r.threads = Some(1);
    r.records_per_s = Some(n as f64 / secs);
    r.disk_mb_per_s = Some(disk as f64 / secs / 1e6);
    r.fsyncs_per_s = Some(syncs as f64 / secs);
    r.note = format!(
        "{} MB of log into {} MiB segments, checkpointed as it goes; {} files recycled since open, {} MB of reserved zeros",
        disk / 1_000_000,
        FILE_SIZE >> 20,
        stats.recycled,
        p.zero_bytes.load(Ordering::Relaxed) / 1_000_000
    );
    (r, p.writes.clone(), disk)
}

/// Workload 12 at 64 KiB and 1 MiB buffers, rounds of ours then the raw
/// overwrite loop replaying our writes and syncs into a pre-written file;
/// the ratio of seconds round by round.
pub fn recycle(quick: bool) -> Vec<Row> {
    let bytes: u64 = if quick { 64 << 20 } else { 512 << 20 };
    let rounds = if quick { 1 } else { 3 };
    let mut rows = vec![];
    for buffer in [64 << 10, 1 << 20] {
        let (mut secs_ours, mut secs_raw) = (vec![], vec![]);
        let mut ours_rows = vec![];
        for _ in 0..rounds {
            let dir = tmp();
            let (ours, pattern, disk) = recycle_ours(bytes, buffer, dir.path());
            drop(dir);
            secs_ours.push(disk as f64 / 1e6 / ours.disk_mb_per_s.unwrap());
            let dir = tmp();
            settle();
            warm_page_cache(dir.path(), disk);
            let (t, _) = baselines::raw_disk(dir.path(), &pattern, true).unwrap();
            secs_raw.push(t);
            ours_rows.push(ours);
        }
        let m = median(&secs_ours);
        let at = secs_ours.iter().position(|x| *x == m).unwrap();
        let mut ours = ours_rows.swap_remove(at);
        ours.paired = Some(Paired {
            against: format!("raw-disk, {}, overwrite", ours.variant),
            ratios: secs_raw
                .iter()
                .zip(&secs_ours)
                .map(|(r, o)| r / o)
                .collect(),
        });
        let mut raw = Row::new(
            "recycle",
            format!("{}, overwrite", ours.variant),
            "raw-disk",
        );
        raw.disk_mb_per_s = ours
            .disk_mb_per_s
            .map(|mb| mb * median(&secs_ours) / median(&secs_raw));
        raw.note = "the same writes and fdatasyncs as the WAL, over a pre-written file".into();
        rows.push(ours);
        rows.push(raw);
    }
    rows
}

/// The verdicts: disk MB/s at least 0.8x the overwrite loop.
pub fn verdicts(rows: &[Row]) {
    for r in rows
        .iter()
        .filter(|r| r.name == "recycle" && r.system == "wal")
    {
        if let Some(p) = &r.paired {
            crate::paired_line(
                &format!("recycle {}: disk MB/s vs the raw overwrite loop", r.variant),
                p,
                None,
                0.8,
            );
        }
    }
}
