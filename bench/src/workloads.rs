//! The six workloads of the harness. Each returns rows for our WAL and for
//! every baseline that applies, measured in the same run.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wal_core::buffer::WriteBuffer;
use wal_core::codec::Codec;
use wal_core::mem::MemStorage;
use wal_core::{Config, SyncPolicy};
use wal_host_std::FsStorage;

use crate::baselines;
use crate::measure::{
    peak_rss_mb, percentile_us, reset_peak_rss, rss_mb, settle, warm_page_cache, Counting,
};
use crate::records::{ingest_count, IngestGen};
use crate::row::{Paired, Row};

/// A baseline run over records in synced batches: seconds taken.
type BatchRun = fn(&Path, &[(u64, &[u8])], usize) -> std::io::Result<f64>;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(
        std::env::var("WAL_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .expect("a temporary directory for the benchmark")
}

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
fn ingest_ours(
    bytes: u64,
    buffer: usize,
    dir: &Path,
    timed: bool,
) -> (Row, Vec<(usize, bool)>, u64) {
    let n = ingest_count(bytes);
    let storage = Counting::new(FsStorage::open(dir).unwrap());
    let pattern = storage.pattern.clone();
    pattern.lock().unwrap().quiet = !timed;
    let cfg = Config {
        buffer_size: buffer,
        ..Config::default()
    };
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

/// Memory: peak RSS of the ingest workload at two sizes (it must not grow
/// with the data written).
pub fn memory(quick: bool) -> Vec<Row> {
    let sizes: [u64; 2] = if quick {
        [32 << 20, 128 << 20]
    } else {
        [1 << 30, 4 << 30]
    };
    sizes
        .iter()
        .map(|&b| {
            let dir = tmp();
            let (mut r, _, _) = ingest_ours(b, 64 << 10, dir.path(), false);
            r.name = "memory".into();
            r.variant = format!("ingest {} at 64 KiB", human(b));
            r
        })
        .collect()
}

/// One system of the durable workload, open for the whole run, and what
/// its slices measured.
struct Contender<'a> {
    system: &'static str,
    variant: String,
    threads: usize,
    /// Writes one record on thread `t` and waits until it is durable.
    op: &'a (dyn Fn(usize) + Sync),
    nanos: Vec<u64>,
    /// Records per second in each slice.
    rates: Vec<f64>,
}

impl<'a> Contender<'a> {
    fn new(
        system: &'static str,
        variant: String,
        threads: usize,
        op: &'a (dyn Fn(usize) + Sync),
    ) -> Self {
        Contender {
            system,
            variant,
            threads,
            op,
            nanos: vec![],
            rates: vec![],
        }
    }

    /// Runs one slice of `dur`.
    fn slice(&mut self, dur: Duration) {
        let lat = baselines::run_threads(self.threads, dur, self.op);
        self.rates.push(lat.nanos.len() as f64 / lat.secs);
        self.nanos.extend(lat.nanos);
    }

    /// Its row: the median slice's rate, latencies over every slice.
    fn row(mut self, threads: usize, value_len: usize) -> Row {
        let rate = median(&self.rates);
        let mut r = Row::new("durable-small", self.variant, self.system);
        r.threads = Some(threads as u64);
        r.records_per_s = Some(rate);
        r.payload_mb_per_s = Some(rate * value_len as f64 / 1e6);
        r.p50_us = percentile_us(&mut self.nanos, 50.0);
        r.p99_us = percentile_us(&mut self.nanos, 99.0);
        r
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `a[i] / b[i]` round by round, as "min .., median .., max ..".
fn spread_by_round(a: &[f64], b: &[f64]) -> String {
    let mut r: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    r.sort_by(|x, y| x.partial_cmp(y).unwrap());
    format!(
        "min {:.2}, median {:.2}, max {:.2}",
        r[0],
        median(&r),
        r[r.len() - 1]
    )
}

/// Workload 2: small durable writes: each thread writes a 128-byte record
/// and waits until it is durable, over and over.
///
/// Every system is open for the whole run and they take turns in short
/// slices (which one goes first turns from slice to slice), and each row
/// is its median slice: this disk has bursts of slow syncs a few hundred
/// milliseconds long every few seconds, which in whole-run rounds fell on
/// one system or another and moved the 1-thread ratios by 5-10%; here they
/// spoil a few slices of each system, which the median leaves out.
pub fn durable_small(quick: bool) -> Vec<Row> {
    let value = [b'v'; 128];
    let mut rows = vec![];
    for threads in [1usize, 8, 64] {
        // One thread is where every system sits at the disk's sync rate and
        // the gaps are smallest: more slices there.
        let (slice, slices) = match (quick, threads) {
            (true, _) => (Duration::from_millis(100), 3),
            (false, 1) => (Duration::from_millis(250), 40),
            (false, _) => (Duration::from_millis(500), 12),
        };
        rows.extend(durable_at(threads, &value, slice, slices));
    }
    rows
}

/// Workload 2 at one thread count: ours, okaywal, raft-engine, and the raw
/// disk's sync loop (appending, then overwriting) writing frames the size
/// of ours, in interleaved slices.
fn durable_at(threads: usize, value: &[u8], slice: Duration, slices: usize) -> Vec<Row> {
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tmp()).collect();
    settle();
    let storage = Counting::new(FsStorage::open(dirs[0].path()).unwrap());
    let pattern = storage.pattern.clone();
    let syncs = || pattern.lock().unwrap().syncs.load(Ordering::Relaxed);
    let wal = wal_host_std::Wal::with_storage(storage, Config::default()).unwrap();
    let okay = baselines::open_okaywal(dirs[1].path()).unwrap();
    let raft = baselines::open_raft_engine(dirs[2].path()).unwrap();
    let key = AtomicU64::new(0);
    let ours_op = |t: usize| wal.write(t as u64, 0, value).unwrap().wait().unwrap();
    let okay_op = |_: usize| baselines::okaywal_commit(&okay, value);
    let raft_op = |t: usize| {
        let k = key.fetch_add(1, Ordering::Relaxed);
        baselines::raft_engine_commit(&raft, t as u64, k, value)
    };
    // A first slice of ours, not counted, gives the frames (bytes per
    // sync, with snappy as configured) that the raw loops replay.
    let bytes = || pattern.lock().unwrap().bytes.load(Ordering::Relaxed);
    let (s0, b0) = (syncs(), bytes());
    baselines::run_threads(threads, slice, ours_op);
    let frame = ((bytes() - b0) / (syncs() - s0).max(1)).max(1) as usize;
    let raw: Vec<std::sync::Mutex<baselines::RawLoop>> = [false, true]
        .into_iter()
        .map(|overwrite| {
            let name = if overwrite { "overwrite" } else { "append" };
            std::sync::Mutex::new(
                baselines::RawLoop::new(dirs[3].path(), name, frame, overwrite).unwrap(),
            )
        })
        .collect();
    let raw_ops: Vec<_> = raw
        .iter()
        .map(|r| move |_: usize| r.lock().unwrap().once().unwrap())
        .collect();
    let mut cs = vec![
        Contender::new("wal", format!("{threads} threads"), threads, &ours_op),
        Contender::new(
            "raw-disk",
            format!("{threads} threads, append"),
            1,
            &raw_ops[0],
        ),
        Contender::new(
            "raw-disk",
            format!("{threads} threads, overwrite"),
            1,
            &raw_ops[1],
        ),
        Contender::new("okaywal", format!("{threads} threads"), threads, &okay_op),
        Contender::new(
            "raft-engine",
            format!("{threads} threads"),
            threads,
            &raft_op,
        ),
    ];
    let (mut our_records, mut our_syncs, mut our_secs) = (0usize, 0u64, 0.0);
    let n = cs.len();
    for s in 0..slices {
        for k in 0..n {
            let c = &mut cs[(k + s) % n];
            if c.system == "wal" {
                let (n, before, t) = (c.nanos.len(), syncs(), Instant::now());
                c.slice(slice);
                our_secs += t.elapsed().as_secs_f64();
                our_records += c.nanos.len() - n;
                our_syncs += syncs() - before;
            } else {
                c.slice(slice);
            }
        }
    }
    let batch_run = our_records as f64 / our_syncs.max(1) as f64;
    // Ours against okaywal slice by slice: the spread of the comparison.
    let by_slice: Vec<f64> = cs[0]
        .rates
        .iter()
        .zip(&cs[3].rates)
        .map(|(w, o)| w / o)
        .collect();
    let mut paired = by_slice.clone();
    paired.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| paired[((paired.len() - 1) as f64 * p).round() as usize];
    let how = format!(
        "median of {slices} interleaved {} ms slices",
        slice.as_millis()
    );
    let rows: Vec<Row> = cs
        .into_iter()
        .map(|c| {
            let system = c.system;
            let mut r = c.row(threads, value.len());
            if system == "wal" {
                r.fsyncs_per_s = Some(our_syncs as f64 / our_secs);
                r.paired = Some(Paired {
                    against: format!("okaywal {threads} threads"),
                    ratios: by_slice.clone(),
                });
                r.note = format!(
                    "{batch_run:.1} records per fsync; vs okaywal by slice: p10 {:.2}, median {:.2}, p90 {:.2} ({how})",
                    q(0.1),
                    q(0.5),
                    q(0.9)
                );
            } else if system == "raw-disk" {
                let rate = r.records_per_s.unwrap();
                r.fsyncs_per_s = Some(rate);
                r.records_per_s = Some(rate * batch_run);
                r.payload_mb_per_s = None;
                r.p50_us = None;
                r.p99_us = None;
                r.note =
                    format!("fdatasync rate of {frame}-byte writes x {batch_run:.1} records ({how})");
            } else {
                r.note = format!("({how})");
            }
            r
        })
        .collect();
    wal.close().unwrap();
    okay.shutdown().unwrap();
    drop(raft);
    rows
}

/// Workload 3: the CPU path: in-memory storage, no sync, 128-byte values,
/// one thread; with and without a callback per record; compression off and on.
///
/// The four runs of ours and `snap` alone on the same frames take turns,
/// round after round, and each row is its median round: a CPU-bound ratio
/// measured once each, one after the other, moved by 30% from run to run on
/// these shared machines.
pub fn cpu(quick: bool) -> Vec<Row> {
    let n: usize = if quick { 1_000_000 } else { 4_000_000 };
    let rounds = if quick { 3 } else { 7 };
    let values: Vec<Vec<u8>> = (0..1024)
        .map(|i| {
            format!(
                "{:0<128}",
                format!(
                    "host=web{:03} cpu=0.{:02} mem={} ",
                    i % 97,
                    i % 100,
                    i * 7919
                )
            )
            .into_bytes()
        })
        .collect();
    // snap alone compresses the same frames (16 KiB buffers of the same
    // records), as our runs seal them.
    let mut buf = WriteBuffer::<()>::new();
    let mut frames = vec![];
    let mut frame = Vec::new();
    for i in 0..n {
        let b = buf
            .push(
                (i % 1000) as u64,
                i as i64,
                &values[i & 1023],
                Duration::ZERO,
                None,
            )
            .unwrap();
        if b >= Config::default().buffer_size || i + 1 == n {
            buf.seal_into(&mut frame);
            frames.push(frame[16..].to_vec());
        }
    }
    let runs = [(false, false), (false, true), (true, false), (true, true)];
    let mut secs: Vec<Vec<f64>> = vec![vec![]; runs.len() + 1];
    for _ in 0..rounds {
        for (k, &(compression, callbacks)) in runs.iter().enumerate() {
            secs[k].push(cpu_once(&values, n, compression, callbacks));
        }
        secs[runs.len()].push(baselines::snap_compress(&frames));
    }
    let mut rows = vec![];
    for (k, &(compression, callbacks)) in runs.iter().enumerate() {
        let variant = format!(
            "{}, {}",
            if compression { "snappy" } else { "raw" },
            if callbacks {
                "callback each"
            } else {
                "no callbacks"
            }
        );
        let secs = median(&secs[k]);
        let mut r = Row::new("cpu", variant, "wal");
        r.threads = Some(1);
        r.records_per_s = Some(n as f64 / secs);
        r.payload_mb_per_s = Some((n * 128) as f64 / secs / 1e6);
        r.note = format!("median of {rounds} interleaved rounds");
        rows.push(r);
    }
    let c = median(&secs[runs.len()]);
    // Ours (snappy, no callbacks) against snap round by round: how much
    // the ratio moves between neighbouring runs.
    let mut r = Row::new("cpu", "snappy compress only", "snap");
    r.records_per_s = Some(n as f64 / c);
    r.payload_mb_per_s = Some((n * 128) as f64 / c / 1e6);
    r.note = format!(
        "{} frames, median of {rounds} interleaved rounds; snappy ours/snap by round: {}",
        frames.len(),
        // Seconds of snap over seconds of ours (snappy, no callbacks).
        spread_by_round(&secs[runs.len()], &secs[2])
    );
    rows.push(r);
    rows
}

/// One run of the CPU workload: `n` records through a WAL on in-memory
/// storage; seconds.
fn cpu_once(values: &[Vec<u8>], n: usize, compression: bool, callbacks: bool) -> f64 {
    // 4 MiB segments, deleted as they close: the in-memory disk stays small
    // and its memory is reused (this workload measures the WAL's CPU path,
    // not page faults of a growing heap). No reserved space: it only pays
    // off where syncs cost something.
    let cfg = Config {
        compression,
        sync: SyncPolicy::Never,
        flush_interval: None,
        file_size: 4 << 20,
        reserve: 0,
        ..Config::default()
    };
    let mut wal = wal_core::Wal::open(MemStorage::new(), cfg).unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    for i in 0..n {
        let v = &values[i & 1023];
        if callbacks {
            let d = done.clone();
            wal.write_with((i % 1000) as u64, i as i64, v, Duration::ZERO, move |_| {
                d.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap();
        } else {
            wal.write((i % 1000) as u64, i as i64, v, Duration::ZERO)
                .unwrap();
        }
        // Keep memory flat: drop closed segments as they appear.
        if i % 8192 == 0 {
            for id in wal.segments().iter().rev().skip(1) {
                wal.delete(*id).unwrap();
            }
        }
    }
    wal.flush().unwrap();
    let secs = t.elapsed().as_secs_f64();
    if callbacks {
        assert_eq!(done.load(Ordering::Relaxed), n as u64);
    }
    secs
}

/// Writes a log of about `bytes` of values into `dir` (no sync); returns the
/// value bytes written. `text` values are time-series-like text that snappy
/// compresses (about 3x); otherwise the ingest workload's random
/// alphanumeric values, which it cannot shrink by an eighth.
fn write_log(dir: &Path, bytes: u64, compression: bool, buffer: usize, text: bool) -> u64 {
    let cfg = Config {
        compression,
        buffer_size: buffer,
        sync: SyncPolicy::Never,
        flush_interval: None,
        ..Config::default()
    };
    let mut wal = wal_core::Wal::open(FsStorage::open(dir).unwrap(), cfg).unwrap();
    let mut gen = IngestGen::new(2);
    let mut total = 0;
    let mut i = 0i64;
    let mut line = String::new();
    while total < bytes {
        let (s, v) = gen.next_record();
        let v: &[u8] = if text {
            use std::fmt::Write as _;
            line.clear();
            let _ = write!(
                line,
                "host=web{:03} region=eu-{} cpu={:.3} mem={} disk={} net={} status=ok",
                s % 300,
                s % 7,
                (i % 1000) as f64 / 1000.0,
                i % 65536,
                i % 9973,
                i % 4096
            );
            line.as_bytes()
        } else {
            v
        };
        total += v.len() as u64;
        wal.write(s, i, v, Duration::ZERO).unwrap();
        i += 1;
    }
    wal.close().unwrap();
    total
}

/// Workload 4: replay a log from the page cache, raw and snappy.
pub fn replay(quick: bool) -> Vec<Row> {
    let bytes: u64 = if quick { 128 << 20 } else { 1 << 30 };
    let mut rows = vec![];
    for compression in [false, true] {
        let dir = tmp();
        let values = write_log(dir.path(), bytes, compression, 16 << 10, compression);
        let mut wal =
            wal_core::Wal::open(FsStorage::open(dir.path()).unwrap(), Config::default()).unwrap();
        let mut best = f64::MAX;
        let (mut payload, mut records) = (0u64, 0u64);
        let mut snappy_frames: Vec<Vec<u8>> = vec![];
        for round in 0..3 {
            // Round 0 warms the page cache (and collects frames for snap).
            let t = Instant::now();
            let (mut p, mut n) = (0u64, 0u64);
            for id in wal.segments() {
                let mut reader = wal.read(id).unwrap();
                while reader
                    .next_frame_with(|e| {
                        n += e.len() as u64;
                        for v in e.values() {
                            p += v.len() as u64;
                        }
                    })
                    .unwrap()
                {}
            }
            let secs = t.elapsed().as_secs_f64();
            if round > 0 {
                best = best.min(secs);
            }
            (payload, records) = (p, n);
        }
        if compression {
            // The stored snappy payloads, for snap's own decompression rate.
            for id in wal.segments() {
                let f = wal_core::Storage::open(wal.storage_mut().unwrap(), id).unwrap();
                let mut sc = wal_core::segment::FrameScanner::new(id, f, None)
                    .unwrap()
                    .unwrap();
                while let Ok(Some(fr)) = sc.next_frame().unwrap() {
                    if fr.codec == Codec::Snappy {
                        snappy_frames
                            .push(snap::raw::Encoder::new().compress_vec(fr.payload).unwrap());
                    }
                }
            }
        }
        assert_eq!(payload, values);
        let variant = if compression { "snappy" } else { "raw" };
        let mut r = Row::new("replay", format!("{variant}, {}", human(bytes)), "wal");
        r.records_per_s = Some(records as f64 / best);
        r.payload_mb_per_s = Some(payload as f64 / best / 1e6);
        rows.push(r);
        if compression {
            let secs = baselines::snap_decompress(&snappy_frames);
            let mut r = Row::new("replay", format!("{variant}, {}", human(bytes)), "snap");
            r.payload_mb_per_s = Some(payload as f64 / secs / 1e6);
            r.note = format!("decompress only, {} snappy frames", snappy_frames.len());
            rows.push(r);
        }
    }
    rows
}

/// Workload 5: open a log of two sizes (many segments).
pub fn open(quick: bool) -> Vec<Row> {
    let sizes: [u64; 2] = if quick {
        [256 << 20, 1 << 30]
    } else {
        [1 << 30, 8 << 30]
    };
    let mut rows = vec![];
    for bytes in sizes {
        let dir = tmp();
        write_log(dir.path(), bytes, false, 1 << 20, false);
        let mut times = vec![];
        let mut segments = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let wal = wal_core::Wal::open(FsStorage::open(dir.path()).unwrap(), Config::default())
                .unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            segments = wal.segments().len();
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut r = Row::new("open", human(bytes), "wal");
        r.p50_us = Some(times[2] * 1000.0);
        r.p99_us = Some(times[4] * 1000.0);
        r.note = format!(
            "{segments} segments; median open {:.1} ms, worst {:.1} ms",
            times[2], times[4]
        );
        rows.push(r);
    }
    rows
}

/// Workload 6: workload 1's records written by one thread through `append`,
/// natively and as the WASI guest under wasmtime, side by side.
pub fn wasi(quick: bool) -> Vec<Row> {
    let n = if quick { 20_000 } else { 200_000 };
    let guest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip1/release/wal-wasi.wasm");
    if !guest.exists() {
        eprintln!(
            "wal-bench: {} is missing; build it first: cargo build --release --target wasm32-wasip1 -p wal-host-wasi --bin wal-wasi",
            guest.display()
        );
        std::process::exit(1);
    }
    let mut input = String::new();
    let mut gen = IngestGen::new(3);
    for i in 0..n {
        let (s, v) = gen.next_record();
        input.push_str(&format!(
            "{{\"series_id\": {s}, \"timestamp\": {i}, \"value_hex\": \"{}\"}}\n",
            hex::encode(v)
        ));
    }
    let launcher = wal_host_wasi::launcher::Launcher::new().unwrap();
    let module = launcher.load(&guest).unwrap();
    // The three runs take turns, round after round, each in a fresh
    // directory, and each row is its median round: run once each, one
    // after the other, the ratio moved by a third with the disk's mood.
    let rounds = if quick { 1 } else { 5 };
    let (mut natives, mut same_natives, mut wasis) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (a, b, c) = (tmp(), tmp(), tmp());
        let t = Instant::now();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let args = ["wal", "append", a.path().to_str().unwrap()];
        let code = wal_host_std::tool::run(
            args.map(Into::into),
            &mut std::io::Cursor::new(input.as_bytes()),
            out,
            &mut std::io::sink(),
        );
        natives.push(t.elapsed().as_secs_f64());
        assert_eq!(code, 0);
        // The guest's own program (single-threaded driver, no background
        // threads) built natively: what wasmtime itself costs.
        let t = Instant::now();
        let io = wal_tool::Io {
            stdin: &mut std::io::Cursor::new(input.as_bytes()),
            stdout: Arc::new(std::sync::Mutex::new(std::io::sink())),
            stderr: &mut std::io::sink(),
            stderr_is_terminal: false,
        };
        let code = wal_tool::run(
            &wal_host_wasi::tool::WasiHost,
            ["wal-wasi", "append", c.path().to_str().unwrap()].map(std::ffi::OsString::from),
            io,
        );
        same_natives.push(t.elapsed().as_secs_f64());
        assert_eq!(code, 0);
        let spec = wal_host_wasi::launcher::RunSpec {
            preopens: vec![(b.path().to_path_buf(), "/data".into())],
            args: ["wal-wasi", "append", "/data"].map(String::from).to_vec(),
            stdin: input.as_bytes().to_vec().into(),
            ..Default::default()
        };
        let t = Instant::now();
        let o = launcher.run(&module, &spec).unwrap();
        wasis.push(t.elapsed().as_secs_f64());
        assert_eq!(o.code, 0);
    }
    let (native, same_native, wasi) = (median(&natives), median(&same_natives), median(&wasis));
    let mut rn = Row::new("wasi", "append, native", "wal");
    rn.records_per_s = Some(n as f64 / native);
    rn.threads = Some(1);
    rn.note = "thread-safe WAL: background flusher and syncer".into();
    let mut rs = Row::new("wasi", "append, guest code natively", "wal");
    rs.records_per_s = Some(n as f64 / same_native);
    rs.threads = Some(1);
    rs.note = "the single-threaded WASI driver, built natively".into();
    let mut rw = Row::new("wasi", "append, wasmtime", "wal");
    rw.records_per_s = Some(n as f64 / wasi);
    rw.threads = Some(1);
    rw.note = format!(
        "wasmtime/native time {:.2}x (same code), {:.2}x (thread-safe WAL); median of {rounds} interleaved rounds; same code by round: {}",
        wasi / same_native,
        wasi / native,
        spread_by_round(&wasis, &same_natives)
    );
    vec![rn, rs, rw]
}

pub fn human(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{} GiB", b >> 30)
    } else if b >= 1 << 20 {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}
