//! The log store against the raw WAL: the same key-value writes appended
//! as openraft entries through `wal_raft::LogStore` (one
//! `blocking_append` of a batch, waited for its flushed callback), or
//! written as plain records (key and value bytes) through the thread-safe
//! WAL, learning of durability by a callback as the store does (the
//! baseline of the target), or by waiting on a handle (the floor). All
//! synced, default config, a fresh directory each run.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use openraft::storage::RaftLogStorageExt;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId};
use wal_core::Config;
use wal_fs::FsStorage;
use wal_host_std::Wal;
use wal_raft::{KvConfig, LogStore, Request};

use crate::measure::{percentile_us, settle, Counting, Pattern};
use crate::records::IngestGen;
use crate::row::{Paired, Row};
use crate::workloads::{median, tmp};

/// One round's figures: seconds, the latency of each batch (ns), the
/// payload, and what the disk saw.
struct Run {
    secs: f64,
    latencies_ns: Vec<u64>,
    payload: u64,
    disk: u64,
    syncs: u64,
}

/// A thread-safe WAL in a fresh directory, its storage counting syncs and
/// bytes.
fn counted_wal(dir: &Path) -> (Wal<Counting<FsStorage>>, Arc<Mutex<Pattern>>) {
    let storage = Counting::new(FsStorage::open(dir).expect("the directory"));
    storage.pattern.lock().unwrap().quiet = true;
    let pattern = storage.pattern.clone();
    let wal = Wal::with_storage(storage, Config::default()).expect("open the WAL");
    (wal, pattern)
}

impl Run {
    /// A finished run: its time, latencies, the payload of `reqs`, and
    /// the bytes written and syncs made as the storage saw them.
    fn new(secs: f64, latencies_ns: Vec<u64>, reqs: &[Request], pattern: &Mutex<Pattern>) -> Run {
        let p = pattern.lock().unwrap();
        Run {
            secs,
            latencies_ns,
            payload: reqs
                .iter()
                .map(|r| (r.key.len() + r.value.len()) as u64)
                .sum(),
            disk: p.bytes.load(Ordering::Relaxed),
            syncs: p.syncs.load(Ordering::Relaxed),
        }
    }
}

/// The key-value writes of a run: BanyanDB's ingest records, the series
/// as the key.
fn requests(n: usize) -> Vec<Request> {
    let mut gen = IngestGen::new(7);
    (0..n)
        .map(|_| {
            let (s, v) = gen.next_record();
            Request {
                key: format!("series-{s}"),
                value: v.to_vec(),
            }
        })
        .collect()
}

fn entry(index: u64, req: &Request) -> Entry<KvConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(req.clone()),
    }
}

/// Appends `reqs` in batches of `batch` through the log store.
fn ours(reqs: &[Request], batch: usize) -> Run {
    let dir = tmp();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let (wal, pattern) = counted_wal(dir.path());
    let mut store: LogStore<KvConfig, _> = LogStore::with_wal(wal).expect("open the log store");
    let mut latencies_ns = Vec::with_capacity(reqs.len() / batch + 1);
    // The entries as openraft hands them over, made before the clock
    // starts (the raw WAL is given its records ready-made too).
    let batches: Vec<Vec<_>> = reqs
        .chunks(batch)
        .enumerate()
        .map(|(b, chunk)| {
            let first = (b * batch) as u64 + 1;
            chunk
                .iter()
                .enumerate()
                .map(|(k, r)| entry(first + k as u64, r))
                .collect()
        })
        .collect();
    let t = Instant::now();
    rt.block_on(async {
        for entries in batches {
            let t = Instant::now();
            store.blocking_append(entries).await.expect("append");
            latencies_ns.push(t.elapsed().as_nanos() as u64);
        }
    });
    let secs = t.elapsed().as_secs_f64();
    store.close().expect("close");
    Run::new(secs, latencies_ns, reqs, &pattern)
}

/// How the raw WAL's writer learns that a batch is durable.
#[derive(Clone, Copy, PartialEq)]
enum Done {
    /// The batch's last record has a completion callback, and the writer
    /// asks for the flush without waiting (`flush_soon`): what openraft
    /// asks of a log store (the append returns, a callback says flushed).
    Callback,
    /// The writer waits on the last record's handle (and so may write and
    /// sync the frame itself, with no other thread woken): the floor.
    Waiting,
}

/// Writes `reqs` in batches of `batch` as plain records (key then value
/// bytes), learning that each batch is durable as `done` says.
fn raw(reqs: &[Request], batch: usize, done: Done) -> Run {
    let dir = tmp();
    let (wal, pattern) = counted_wal(dir.path());
    let mut latencies_ns = Vec::with_capacity(reqs.len() / batch + 1);
    // Key then value bytes, made before the clock starts.
    let records: Vec<Vec<u8>> = reqs
        .iter()
        .map(|r| [r.key.as_bytes(), &r.value].concat())
        .collect();
    let t = Instant::now();
    for chunk in records.chunks(batch) {
        let t = Instant::now();
        let (value, rest) = chunk.split_last().expect("a batch");
        for r in rest {
            drop(wal.write(1, 3, r).expect("write"));
        }
        match done {
            Done::Callback => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                wal.write_with(1, 3, value, move |r| {
                    let _ = tx.send(r.is_ok());
                })
                .expect("write");
                wal.flush_soon().expect("flush");
                assert!(rx.recv().expect("a completion"), "a batch failed");
            }
            Done::Waiting => {
                wal.write(1, 3, value)
                    .expect("write")
                    .wait()
                    .expect("durable");
            }
        }
        latencies_ns.push(t.elapsed().as_nanos() as u64);
    }
    let secs = t.elapsed().as_secs_f64();
    wal.close().expect("close");
    Run::new(secs, latencies_ns, reqs, &pattern)
}

fn row(system: &'static str, batch: usize, n: usize, mut runs: Vec<Run>) -> Row {
    let secs: Vec<f64> = runs.iter().map(|r| r.secs).collect();
    let m = median(&secs);
    let at = secs.iter().position(|s| *s == m).expect("the median run");
    let mut run = runs.swap_remove(at);
    let mut r = Row::new("raft", format!("append, batch {batch}"), system);
    r.threads = Some(1);
    r.records_per_s = Some(n as f64 / run.secs);
    r.payload_mb_per_s = Some(run.payload as f64 / run.secs / 1e6);
    r.disk_mb_per_s = Some(run.disk as f64 / run.secs / 1e6);
    r.fsyncs_per_s = Some(run.syncs as f64 / run.secs);
    r.p50_us = percentile_us(&mut run.latencies_ns, 50.0);
    r.p99_us = percentile_us(&mut run.latencies_ns, 99.0);
    r
}

/// Batches of 1 (each append synced alone: the latency of a lone write)
/// and of 64 (a leader replicating a burst); rounds of ours, the raw WAL
/// with a callback, the raw WAL waiting.
pub fn log_store(quick: bool) -> Vec<Row> {
    let rounds = if quick { 1 } else { 5 };
    let mut rows = vec![];
    let sizes = [
        (1, if quick { 500 } else { 3_000 }),
        (64, if quick { 16_384 } else { 65_536 }),
    ];
    for (batch, n) in sizes {
        let reqs = requests(n);
        let (mut mine, mut called, mut waited) = (vec![], vec![], vec![]);
        for _ in 0..rounds {
            settle();
            mine.push(ours(&reqs, batch));
            settle();
            called.push(raw(&reqs, batch, Done::Callback));
            settle();
            waited.push(raw(&reqs, batch, Done::Waiting));
        }
        let ratios = mine
            .iter()
            .zip(&called)
            .map(|(o, r)| r.secs / o.secs)
            .collect();
        let mut o = row("wal-raft", batch, n, mine);
        o.paired = Some(Paired {
            against: format!("wal, append, batch {batch}, callback"),
            ratios,
        });
        o.note = format!(
            "{n} key-value entries as openraft entries, each batch's flushed callback waited for; p50/p99: one batch"
        );
        let mut c = row("wal", batch, n, called);
        c.variant.push_str(", callback");
        c.note = "the same keys and values as plain records, the batch's last one with a callback, flush_soon".into();
        let mut w = row("wal", batch, n, waited);
        w.variant.push_str(", waiting");
        w.note =
            "the same, the writer waiting on the last handle (no thread woken: the floor)".into();
        rows.extend([o, c, w]);
    }
    rows
}
