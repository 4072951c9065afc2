//! Workload 10, retention: an ingest under a hard cap (`max_bytes`),
//! sampling what the directory holds, against the same ingest uncapped.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wal_core::Config;

use super::{human, median, tmp};
use crate::measure::{settle, warm_page_cache};
use crate::records::{ingest_count, IngestGen};
use crate::row::{Paired, Row};

/// Workload 10: the ingest workload's records (one writer, a callback per
/// record, 1 MiB buffers, sync per flush) into 64 MiB segments, 1 GiB
/// (`WAL_BENCH_RETENTION_GIB` sets another size), with `max_bytes` of
/// 256 MiB and without, in alternating rounds (3; 1 with `--quick`, which
/// scales sizes down 4x). A sampler thread reads `stats()` and the
/// directory's allocated size every 2 ms, both runs alike. Target: the
/// most held at most cap + one segment; the ingest MB/s against the
/// uncapped run is reported (no target).
pub fn retention(quick: bool) -> Vec<Row> {
    let gib: u64 = std::env::var("WAL_BENCH_RETENTION_GIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let scale = if quick { 4 } else { 1 };
    let (bytes, cap, segment) = ((gib << 30) / scale, (256 << 20) / scale, (64 << 20) / scale);
    let rounds = if quick { 1 } else { 3 };
    let mut runs: [Vec<Run>; 2] = Default::default();
    for round in 0..rounds {
        for k in 0..2 {
            let capped = (round + k) % 2 == 0;
            runs[capped as usize].push(run(bytes, segment, capped.then_some(cap)));
        }
    }
    let secs = |v: &[Run]| v.iter().map(|r| r.secs).collect::<Vec<f64>>();
    let (free, capped) = (secs(&runs[0]), secs(&runs[1]));
    let variant = format!("{} ingest, {} segments", human(bytes), human(segment));
    let mut rows = vec![];
    for (k, v) in runs.iter_mut().enumerate() {
        let m = median(&secs(v));
        let r = v.swap_remove(v.iter().position(|r| r.secs == m).unwrap());
        let mut row = Row::new(
            "retention",
            if k == 1 {
                format!("{variant}, max_bytes {}", human(cap))
            } else {
                format!("{variant}, no retention")
            },
            "wal",
        );
        row.threads = Some(1);
        row.records_per_s = Some(r.records as f64 / r.secs);
        row.payload_mb_per_s = Some(r.payload as f64 / r.secs / 1e6);
        row.disk_mb_per_s = Some(r.stored as f64 / r.secs / 1e6);
        row.fsyncs_per_s = Some(r.syncs as f64 / r.secs);
        let max = r.max_stats.max(r.max_dir);
        row.figures = vec![
            ("max_held_bytes", max as f64),
            ("max_stats_bytes_on_disk", r.max_stats as f64),
            ("max_dir_bytes", r.max_dir as f64),
            ("max_at_rotation_bytes", r.max_at_rotation as f64),
            ("bound_bytes", (cap + segment) as f64),
            ("rotations", r.rotations as f64),
            ("removed", r.removed as f64),
        ];
        row.note = format!(
            "most held: {:.1} MiB by stats().bytes_on_disk, {:.1} MiB allocated in the directory; at rotations (sampled after {} of {}) {:.1} MiB; {} segments removed; median of {rounds} alternating rounds",
            r.max_stats as f64 / (1 << 20) as f64,
            r.max_dir as f64 / (1 << 20) as f64,
            r.sampled_rotations,
            r.rotations,
            r.max_at_rotation as f64 / (1 << 20) as f64,
            r.removed,
        );
        if k == 1 {
            row.paired = Some(Paired {
                against: format!("wal, {variant}, no retention"),
                ratios: free.iter().zip(&capped).map(|(f, c)| f / c).collect(),
            });
        }
        rows.push(row);
    }
    rows.reverse();
    rows
}

/// What one ingest run measured.
#[derive(Default)]
struct Run {
    secs: f64,
    records: usize,
    payload: u64,
    stored: u64,
    syncs: u64,
    rotations: u64,
    removed: u64,
    /// Rotations the sampler saw (it samples every 2 ms).
    sampled_rotations: u64,
    max_stats: u64,
    max_dir: u64,
    max_at_rotation: u64,
}

/// Bytes the directory's files take on disk (allocated blocks).
fn dir_allocated(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

fn run(bytes: u64, segment: u64, cap: Option<u64>) -> Run {
    let dir = tmp();
    let cfg = Config::default()
        .with_buffer_size(1 << 20)
        .with_file_size(segment)
        .with_max_bytes(cap);
    settle();
    // As the ingest workload does; the warm-up file must stay in memory.
    warm_page_cache(dir.path(), bytes.min(2 << 30) * 11 / 10);
    let wal = wal_host_std::Wal::open(dir.path(), cfg).unwrap();
    let n = ingest_count(bytes);
    let mut gen = IngestGen::new(1);
    let stop = AtomicBool::new(false);
    let mut out = Run {
        records: n,
        ..Run::default()
    };
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let (mut max_stats, mut max_dir, mut at_rotation) = (0u64, 0u64, 0u64);
            let (mut rotations, mut sampled) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let st = wal.stats().unwrap();
                let held = dir_allocated(dir.path());
                max_stats = max_stats.max(st.bytes_on_disk);
                max_dir = max_dir.max(held);
                if st.rotations != rotations {
                    rotations = st.rotations;
                    sampled += 1;
                    at_rotation = at_rotation.max(st.bytes_on_disk.max(held));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            (max_stats, max_dir, at_rotation, sampled)
        });
        let t = Instant::now();
        for i in 0..n {
            let (s, v) = gen.next_record();
            out.payload += v.len() as u64;
            wal.write_with(s, i as i64, v, |r| {
                r.unwrap();
            })
            .unwrap();
        }
        wal.flush().unwrap();
        out.secs = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        (
            out.max_stats,
            out.max_dir,
            out.max_at_rotation,
            out.sampled_rotations,
        ) = sampler.join().unwrap();
    });
    let st = wal.stats().unwrap();
    out.stored = st.stored_bytes;
    out.syncs = st.syncs;
    out.rotations = st.rotations;
    out.removed = st.removed_by_retention;
    out.max_stats = out.max_stats.max(st.bytes_on_disk);
    out.max_dir = out.max_dir.max(dir_allocated(dir.path()));
    wal.close().unwrap();
    out
}
