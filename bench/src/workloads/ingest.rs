//! Workload 1, ingest: BanyanDB's benchmark against the raw disk, okaywal
//! and raft-engine, in rounds.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use wal_core::Config;
use wal_fs::FsStorage;

use super::{human, median, spread_by_round, tmp};
use crate::baselines;
use crate::measure::{
    peak_rss_mb, percentile_us, reset_peak_rss, rss_mb, settle, warm_page_cache, Counting,
};
use crate::records::{ingest_count, IngestGen};
use crate::row::{Paired, Row};

/// A baseline run over records in synced batches: seconds taken.
type BatchRun = fn(&Path, &[(u64, &[u8])], usize) -> std::io::Result<f64>;

/// Per-record completion latencies of the ingest runs, one table for all of
/// them: a table per run behind an `Arc` cost every record a reference
/// count taken on the writer's CPU and dropped on the syncer's, harness
/// work that the baselines (no callbacks) did not pay.
static LATENCIES: std::sync::OnceLock<Box<[AtomicU64]>> = std::sync::OnceLock::new();

/// Workload 1: BanyanDB's ingest. One writer, callbacks, sync on every
/// flush, until every completion fired. Returns our row and the pattern
/// of writes and syncs it made (for the raw-disk baselines). `timed`: the
/// ingest workload's run (per-record latencies kept, the page cache warmed
/// first, as for every system it is compared with); the memory workload
/// measures only the peak RSS, and leaves both out.
pub(super) fn ingest_ours(
    bytes: u64,
    buffer: usize,
    dir: &Path,
    timed: bool,
) -> (Row, Vec<(usize, bool)>, u64) {
    let n = ingest_count(bytes);
    let storage = Counting::new(FsStorage::open(dir).unwrap());
    let pattern = storage.pattern.clone();
    pattern.lock().unwrap().quiet = !timed;
    let cfg = Config::default().with_buffer_size(buffer);
    settle();
    if timed {
        warm_page_cache(dir, bytes * 11 / 10);
    }
    reset_peak_rss();
    let rss_at_start = rss_mb();
    let wal = wal_host_std::Wal::with_storage(storage, cfg).unwrap();
    pattern.lock().unwrap().reset_idle();
    let epoch = Instant::now();
    // Per-record latencies (off for the memory workload: the table would
    // grow with the data and hide what the WAL itself holds).
    let lat: &'static [AtomicU64] = if timed {
        let table = LATENCIES.get_or_init(|| {
            (0..ingest_count(1 << 30))
                .map(|_| AtomicU64::new(0))
                .collect()
        });
        assert!(n <= table.len(), "the latency table covers 1 GiB of ingest");
        table[..n]
            .iter()
            .for_each(|a| a.store(0, Ordering::Relaxed));
        &table[..n]
    } else {
        &[]
    };
    let mut gen = IngestGen::new(1);
    let mut payload = 0u64;
    // The longest the writer was held inside one `write_with` (a stall:
    // waiting for room in the bounded queue of sealed buffers).
    let mut max_stall = 0u64;
    let t = Instant::now();
    for i in 0..n {
        let (s, v) = gen.next_record();
        payload += v.len() as u64;
        let t0 = epoch.elapsed().as_nanos() as u64;
        wal.write_with(s, i as i64, v, move |r| {
            r.unwrap();
            if let Some(slot) = lat.get(i) {
                slot.store(epoch.elapsed().as_nanos() as u64 - t0, Ordering::Relaxed);
            }
        })
        .unwrap();
        max_stall = max_stall.max(epoch.elapsed().as_nanos() as u64 - t0);
    }
    wal.flush().unwrap(); // every completion has fired
    let secs = t.elapsed().as_secs_f64();
    wal.close().unwrap();
    let rss = peak_rss_mb();
    let p = pattern.lock().unwrap();
    let (disk, syncs) = (
        p.bytes.load(Ordering::Relaxed),
        p.syncs.load(Ordering::Relaxed),
    );
    let mut nanos: Vec<u64> = lat.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    let mut r = Row::new("ingest", format!("buffer {}", human(buffer as u64)), "wal");
    r.threads = Some(1);
    r.records_per_s = Some(n as f64 / secs);
    r.payload_mb_per_s = Some(payload as f64 / secs / 1e6);
    r.disk_mb_per_s = Some(disk as f64 / secs / 1e6);
    r.fsyncs_per_s = Some(syncs as f64 / secs);
    r.p50_us = percentile_us(&mut nanos, 50.0);
    r.p99_us = percentile_us(&mut nanos, 99.0);
    r.peak_rss_mb = rss;
    r.note = format!(
        "{} MB of log and {} MB of reserved zeros written",
        disk / 1_000_000,
        p.zero_bytes.load(Ordering::Relaxed) / 1_000_000
    );
    if let Some(start) = rss_at_start {
        // The peak includes what the process held already.
        r.note += &format!(", RSS at start {start:.0} MB");
    }
    if let Some(max) = nanos.last() {
        r.note += &format!(", max completion latency {:.1} ms", *max as f64 / 1e6);
    }
    let max_sync = p.max_sync_ns.load(Ordering::Relaxed);
    let max_idle = p.max_idle_ns.load(Ordering::Relaxed);
    r.note += &format!(
        ", longest write call {:.2} ms, longest disk idle {:.2} ms, longest sync {:.2} ms",
        max_stall as f64 / 1e6,
        max_idle as f64 / 1e6,
        max_sync as f64 / 1e6
    );
    r.max_stall_ms = Some(max_stall as f64 / 1e6);
    r.max_idle_ms = Some(max_idle as f64 / 1e6);
    r.max_sync_ms = Some(max_sync as f64 / 1e6);
    (r, p.writes.clone(), disk)
}

/// The ingest workload at 64 KiB and 1 MiB buffers. Every system runs once
/// per round (ours, the raw loops replaying that round's writes and syncs,
/// okaywal, raft-engine), 5 rounds (1 with `--quick`), and each row is its
/// system's median round: this disk has slow spells of a second or more,
/// and a system measured once fell into one or not (ours at 0.66x the raw
/// append loop in one full run, 1.8x-3.8x in the others). Our row also
/// keeps its ratio to the raw append loop round by round (`Row::paired`):
/// the raw loop runs right after ours in each round, so a slow spell moves
/// both, where the medians of the two columns can come from different
/// spells (0.82x from the medians in one run whose rounds read 0.80, 0.99
/// and 1.05).
pub fn ingest(quick: bool) -> Vec<Row> {
    let bytes: u64 = if quick { 48 << 20 } else { 1 << 30 };
    let rounds = if quick { 1 } else { 5 };
    let n = ingest_count(bytes);
    let mut payload = 0;
    let mut rows = vec![];
    for buffer in [64 << 10, 1 << 20] {
        // Seconds by round: ours, raw append, raw overwrite, okaywal,
        // raft-engine; and our rows and the raw loops' rows.
        let mut secs: [Vec<f64>; 5] = Default::default();
        let mut ours_rows = vec![];
        let mut raw_rows: [Vec<Row>; 2] = Default::default();
        let batch = (buffer as u64 / 621).max(1) as usize;
        for _ in 0..rounds {
            let dir = tmp();
            let (ours, pattern, disk) = ingest_ours(bytes, buffer, dir.path(), true);
            drop(dir);
            let secs_ours = disk as f64 / 1e6 / ours.disk_mb_per_s.unwrap();
            secs[0].push(secs_ours);
            for (k, overwrite) in [false, true].into_iter().enumerate() {
                let dir = tmp();
                settle();
                warm_page_cache(dir.path(), disk);
                let (t, syncs) = baselines::raw_disk(dir.path(), &pattern, overwrite).unwrap();
                let how = if overwrite { "overwrite" } else { "append" };
                let mut r = Row::new("ingest", format!("{}, {how}", ours.variant), "raw-disk");
                r.disk_mb_per_s = Some(disk as f64 / t / 1e6);
                r.fsyncs_per_s = Some(syncs as f64 / t);
                r.note = format!(
                    "same {} writes and {syncs} fdatasyncs as the WAL; WAL took {secs_ours:.2} s, this {t:.2} s",
                    pattern.len(),
                );
                secs[1 + k].push(t);
                raw_rows[k].push(r);
            }
            // The same records, synced as often (one batch per buffer's
            // worth); made after our run, so that they are not in memory
            // during it.
            let mut gen = IngestGen::new(1);
            let records = gen.take(n);
            payload = records.iter().map(|r| r.1.len() as u64).sum();
            let systems: [BatchRun; 2] =
                [baselines::okaywal_batches, baselines::raft_engine_batches];
            for (k, run) in systems.into_iter().enumerate() {
                let dir = tmp();
                settle();
                warm_page_cache(dir.path(), bytes * 11 / 10);
                secs[3 + k].push(run(dir.path(), &records, batch).unwrap());
            }
            ours_rows.push(ours);
        }
        // Each row from its system's median round.
        let pick = |v: &[f64]| {
            let m = median(v);
            v.iter().position(|x| *x == m).unwrap()
        };
        let idle_by_round: Vec<String> = ours_rows
            .iter()
            .map(|r| {
                format!(
                    "{:.2}/{:.2}",
                    r.max_idle_ms.unwrap_or(0.0),
                    r.max_sync_ms.unwrap_or(0.0)
                )
            })
            .collect();
        let mut ours = ours_rows.swap_remove(pick(&secs[0]));
        let variant = ours.variant.clone();
        if rounds > 1 {
            ours.note += &format!(
                "; median of {rounds} interleaved rounds; disk MB/s vs raw append by round: {}; longest idle/longest sync (ms) by round: {}",
                spread_by_round(&secs[1], &secs[0]),
                idle_by_round.join(", ")
            );
        }
        // The same bytes each round: the ratio of MB/s is that of seconds.
        ours.paired = Some(Paired {
            against: format!("raw-disk, {variant}, append"),
            ratios: secs[1].iter().zip(&secs[0]).map(|(r, o)| r / o).collect(),
        });
        rows.push(ours);
        for (k, mut raw) in raw_rows.into_iter().enumerate() {
            rows.push(raw.swap_remove(pick(&secs[1 + k])));
        }
        for (k, name) in ["okaywal", "raft-engine"].into_iter().enumerate() {
            let t = median(&secs[3 + k]);
            let mut r = Row::new("ingest", variant.clone(), name);
            r.threads = Some(1);
            r.records_per_s = Some(n as f64 / t);
            r.payload_mb_per_s = Some(payload as f64 / t / 1e6);
            r.note = format!("{batch} records per synced batch");
            if rounds > 1 {
                r.note += &format!(", median of {rounds} interleaved rounds");
            }
            rows.push(r);
        }
    }
    rows
}
