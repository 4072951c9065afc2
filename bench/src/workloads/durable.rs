//! Workload 2, durable-small: small records, each thread waiting for
//! durability, every system in interleaved slices.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wal_core::Config;
use wal_fs::FsStorage;

use super::{median, tmp};
use crate::baselines;
use crate::measure::{percentile_us, settle, Counting};
use crate::row::{Paired, Row};

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
        let lat = run_threads(self.threads, dur, self.op);
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
    let ours_op = |t: usize| {
        wal.write(t as u64, 0, value).unwrap().wait().unwrap();
    };
    let okay_op = |_: usize| baselines::okaywal_commit(&okay, value);
    let raft_op = |t: usize| {
        let k = key.fetch_add(1, Ordering::Relaxed);
        baselines::raft_engine_commit(&raft, t as u64, k, value)
    };
    // A first slice of ours, not counted, gives the frames (bytes per
    // sync, with snappy as configured) that the raw loops replay.
    let bytes = || pattern.lock().unwrap().bytes.load(Ordering::Relaxed);
    let (s0, b0) = (syncs(), bytes());
    run_threads(threads, slice, ours_op);
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

/// Latencies of a timed multi-threaded run.
pub(super) struct Latencies {
    /// Each call's time, in nanoseconds.
    pub(super) nanos: Vec<u64>,
    /// How long the run took.
    pub(super) secs: f64,
}

/// Runs `op` on `threads` threads, over and over, for `dur`; times each call.
pub(super) fn run_threads(threads: usize, dur: Duration, op: impl Fn(usize) + Sync) -> Latencies {
    let op = &op;
    let start = Instant::now();
    let nanos = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut v = Vec::new();
                    while start.elapsed() < dur {
                        let t0 = Instant::now();
                        op(t);
                        v.push(t0.elapsed().as_nanos() as u64);
                    }
                    v
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<u64>>()
    });
    Latencies {
        nanos,
        secs: start.elapsed().as_secs_f64(),
    }
}
