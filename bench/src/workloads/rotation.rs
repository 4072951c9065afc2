//! Workload 11, rotation: how long durable writers wait across a segment
//! rotation, against the median sync.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use wal_core::Config;

use super::{median, tmp};
use crate::measure::settle;
use crate::row::Row;

/// Segments of 64 KiB: small, for many rotations in a short run even when
/// one thread gets only a few hundred syncs a second (slow spells of this
/// disk). What a rotation costs does not depend on the segment's size.
const FILE_SIZE: u64 = 64 << 10;

/// Workload 11: 1 and 8 threads write 128-byte records, each waiting until
/// durable, into 64 KiB segments, uncompressed (the values are all alike:
/// snappy would shrink the frames to nothing and rotations with them); each completion's time and position are
/// kept. In time order, a completion whose position is in a later segment
/// than the one before marks a rotation, and the gap between them (the
/// last completion in the old segment to the first in the new) is the
/// rotation's gap. The verdict: the longest such gap, less the usual gap
/// between two syncs' completions, at most one median sync
/// (`stats().sync_latency`).
pub fn rotation(quick: bool) -> Vec<Row> {
    let dur = Duration::from_secs(if quick { 3 } else { 10 });
    [1usize, 8]
        .into_iter()
        .map(|threads| rotation_at(threads, dur))
        .collect()
}

fn rotation_at(threads: usize, dur: Duration) -> Row {
    let dir = tmp();
    settle();
    let cfg = Config::default()
        .with_file_size(FILE_SIZE)
        .with_compression(false);
    let wal = wal_host_std::Wal::open(dir.path(), cfg).unwrap();
    let value = [b'v'; 128];
    let epoch = Instant::now();
    // (nanoseconds since epoch, segment) of every completion, per thread.
    let done: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let (wal, value) = (&wal, &value);
                s.spawn(move || {
                    let mut v = Vec::new();
                    while epoch.elapsed() < dur {
                        let pos = wal.write(t as u64, 0, value).unwrap().wait().unwrap();
                        v.push((epoch.elapsed().as_nanos() as u64, pos.segment));
                    }
                    v
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let stats = wal.stats().unwrap();
    wal.close().unwrap();
    let mut all: Vec<(u64, u64)> = done.into_iter().flatten().collect();
    all.sort_unstable();
    let records = all.len();
    // The last completion in each segment and the first in each.
    let (mut first, mut last) = (BTreeMap::new(), BTreeMap::new());
    for &(t, seg) in &all {
        first.entry(seg).or_insert(t);
        last.insert(seg, t);
    }
    let rotation_gaps: Vec<f64> = first
        .iter()
        .skip(1)
        .filter_map(|(seg, &t)| {
            last.get(&(seg - 1))
                .map(|&l| t.saturating_sub(l) as f64 / 1e6)
        })
        .collect();
    // The usual gap between two syncs' completions: a sync completes a
    // batch within microseconds (wake-ups), and the next batch comes a sync
    // later; gaps under a quarter of the median sync are within a batch.
    let sync_p50 = stats
        .sync_latency
        .as_ref()
        .map_or(0.0, |l| l.p50.as_secs_f64() * 1e3);
    let between: Vec<f64> = all
        .windows(2)
        .filter(|w| w[0].1 == w[1].1)
        .map(|w| (w[1].0 - w[0].0) as f64 / 1e6)
        .filter(|&g| g >= sync_p50 / 4.0)
        .collect();
    let usual = if between.is_empty() {
        0.0
    } else {
        median(&between)
    };
    let longest = rotation_gaps.iter().copied().fold(0.0, f64::max);
    let mut r = Row::new(
        "rotation",
        format!("{threads} threads, {} KiB segments", FILE_SIZE >> 10),
        "wal",
    );
    r.threads = Some(threads as u64);
    r.records_per_s = Some(records as f64 / dur.as_secs_f64());
    r.fsyncs_per_s = Some(stats.syncs as f64 / dur.as_secs_f64());
    let (p99, max) = stats.sync_latency.as_ref().map_or((0.0, 0.0), |l| {
        (l.p99.as_secs_f64() * 1e3, l.max.as_secs_f64() * 1e3)
    });
    r.figures = vec![
        ("longest_rotation_gap_ms", longest),
        (
            "median_rotation_gap_ms",
            if rotation_gaps.is_empty() {
                0.0
            } else {
                median(&rotation_gaps)
            },
        ),
        ("usual_gap_ms", usual),
        ("sync_p50_ms", sync_p50),
        ("sync_p99_ms", p99),
        ("sync_max_ms", max),
        ("rotations", rotation_gaps.len() as f64),
    ];
    r.max_stall_ms = Some(longest);
    r.note = format!(
        "{} rotations seen by the writers ({} by stats): gap across a rotation median {:.2} ms, longest {longest:.2} ms; usual gap between syncs' completions {usual:.2} ms; sync p50 {sync_p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        rotation_gaps.len(),
        stats.rotations,
        r.figure("median_rotation_gap_ms").unwrap(),
    );
    r
}
