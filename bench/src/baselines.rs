//! The baselines, run in the same process as our WAL: the disk itself (two
//! ways), okaywal, raft-engine, and the `snap` crate alone.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::measure::{percentile_us, Row};

/// A fresh file at `path` holding `prewrite` synced zero bytes, positioned
/// at 0 (so the writes that follow overwrite allocated space).
fn raw_file(path: &Path, prewrite: usize) -> std::io::Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    if prewrite > 0 {
        let zeros = vec![0u8; 1 << 20];
        let mut left = prewrite;
        while left > 0 {
            let n = left.min(zeros.len());
            f.write_all(&zeros[..n])?;
            left -= n;
        }
        f.sync_all()?;
        f.seek(SeekFrom::Start(0))?;
    }
    Ok(f)
}

/// Replays a write pattern (bytes per write call, and whether a sync
/// followed) against one file with `fdatasync`: appending to a fresh file,
/// or overwriting a pre-written zero-filled one (the disk's real limit).
/// Returns (seconds, syncs).
pub fn raw_disk(
    dir: &Path,
    pattern: &[(usize, bool)],
    overwrite: bool,
) -> std::io::Result<(f64, u64)> {
    let path = dir.join(if overwrite {
        "raw-overwrite"
    } else {
        "raw-append"
    });
    let total: usize = pattern.iter().map(|p| p.0).sum();
    let max = pattern.iter().map(|p| p.0).max().unwrap_or(0);
    let mut f = raw_file(&path, if overwrite { total } else { 0 })?;
    let buf: Vec<u8> = (0..max).map(|i| (i * 31 % 251) as u8).collect();
    let mut syncs = 0;
    let t = Instant::now();
    for &(n, sync) in pattern {
        f.write_all(&buf[..n])?;
        if sync {
            f.sync_data()?;
            syncs += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok((secs, syncs))
}

/// Raw fdatasync rate for `chunk`-byte writes over `dur`, appending or
/// overwriting pre-written space: syncs per second.
pub fn raw_sync_rate(
    dir: &Path,
    chunk: usize,
    dur: Duration,
    overwrite: bool,
) -> std::io::Result<f64> {
    let path = dir.join("raw-rate");
    // Overwriting: enough pre-written space for the run (generous: 20k syncs).
    let mut f = raw_file(&path, if overwrite { chunk * 20_000 } else { 0 })?;
    let buf = vec![7u8; chunk];
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < dur {
        f.write_all(&buf)?;
        f.sync_data()?;
        n += 1;
        if overwrite && n.is_multiple_of(20_000) {
            f.seek(SeekFrom::Start(0))?;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(n as f64 / secs)
}

/// okaywal: `batch` records per entry (one chunk each), one commit per entry.
pub fn okaywal_batches(
    dir: &Path,
    records: &[(u64, Vec<u8>)],
    batch: usize,
) -> std::io::Result<f64> {
    let log = okaywal::WriteAheadLog::recover(dir, okaywal::LogVoid)?;
    let t = Instant::now();
    for chunk in records.chunks(batch.max(1)) {
        let mut w = log.begin_entry()?;
        for (_, v) in chunk {
            w.write_chunk(v)?;
        }
        w.commit()?;
    }
    let secs = t.elapsed().as_secs_f64();
    log.shutdown()?;
    Ok(secs)
}

/// raft-engine: `batch` records per log batch (series as region, one key
/// per record), each batch written with sync.
pub fn raft_engine_batches(
    dir: &Path,
    records: &[(u64, Vec<u8>)],
    batch: usize,
) -> std::io::Result<f64> {
    let engine = open_raft_engine(dir)?;
    let t = Instant::now();
    let mut key = 0u64;
    for chunk in records.chunks(batch.max(1)) {
        let mut b = raft_engine::LogBatch::default();
        for (s, v) in chunk {
            key += 1;
            b.put(*s + 1, key.to_be_bytes().to_vec(), v.clone())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        engine
            .write(&mut b, true)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Durable small writes on okaywal: each of `threads` threads writes a
/// `value` and commits (okaywal groups concurrent commits), for `dur`.
pub fn okaywal_durable(
    dir: &Path,
    threads: usize,
    value: &[u8],
    dur: Duration,
) -> std::io::Result<Row> {
    let log = okaywal::WriteAheadLog::recover(dir, okaywal::LogVoid)?;
    let lat = run_threads(threads, dur, |_| {
        let mut w = log.begin_entry().unwrap();
        w.write_chunk(value).unwrap();
        w.commit().unwrap();
    });
    log.shutdown()?;
    Ok(lat.row("durable-small", threads, "okaywal", value.len()))
}

/// raft-engine in `dir`, default settings.
fn open_raft_engine(dir: &Path) -> std::io::Result<raft_engine::Engine> {
    let cfg = raft_engine::Config {
        dir: dir.to_string_lossy().into_owned(),
        ..Default::default()
    };
    raft_engine::Engine::open(cfg).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Durable small writes on raft-engine: each thread writes one record per
/// batch with sync (raft-engine groups concurrent writers).
pub fn raft_engine_durable(
    dir: &Path,
    threads: usize,
    value: &[u8],
    dur: Duration,
) -> std::io::Result<Row> {
    let engine = open_raft_engine(dir)?;
    let counter = std::sync::atomic::AtomicU64::new(0);
    let lat = run_threads(threads, dur, |t| {
        let k = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut b = raft_engine::LogBatch::default();
        b.put(t as u64 + 1, k.to_be_bytes().to_vec(), value.to_vec())
            .unwrap();
        engine.write(&mut b, true).unwrap();
    });
    Ok(lat.row("durable-small", threads, "raft-engine", value.len()))
}

/// Latencies of a timed multi-threaded run.
pub struct Latencies {
    pub nanos: Vec<u64>,
    pub secs: f64,
}

impl Latencies {
    pub fn row(
        mut self,
        name: &str,
        threads: usize,
        system: &'static str,
        value_len: usize,
    ) -> Row {
        let n = self.nanos.len() as f64;
        let mut r = Row::new(name, format!("{threads} threads"), system);
        r.threads = Some(threads as u64);
        r.records_per_s = Some(n / self.secs);
        r.payload_mb_per_s = Some(n * value_len as f64 / self.secs / 1e6);
        r.p50_us = percentile_us(&mut self.nanos, 50.0);
        r.p99_us = percentile_us(&mut self.nanos, 99.0);
        r
    }
}

/// Runs `op` on `threads` threads, over and over, for `dur`; times each call.
pub fn run_threads(threads: usize, dur: Duration, op: impl Fn(usize) + Sync) -> Latencies {
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

/// The `snap` crate alone on the same frames: (compress seconds, decompress
/// seconds) for all of `payloads`.
pub fn snap_alone(payloads: &[Vec<u8>]) -> (f64, f64) {
    // Output buffers are reused, as the WAL reuses its own.
    let mut enc = snap::raw::Encoder::new();
    let max = payloads
        .iter()
        .map(|p| snap::raw::max_compress_len(p.len()))
        .max()
        .unwrap_or(0);
    let mut out = vec![0u8; max];
    let t = Instant::now();
    let mut compressed: Vec<Vec<u8>> = Vec::with_capacity(payloads.len());
    let mut total = 0;
    for p in payloads {
        let n = enc.compress(p, &mut out).unwrap();
        total += n;
        compressed.push(out[..n].to_vec());
    }
    let c = t.elapsed().as_secs_f64();
    std::hint::black_box(total);
    (c, snap_decompress(&compressed))
}

/// The `snap` crate decompressing `frames` (snappy blocks), reusing one
/// output buffer: seconds.
pub fn snap_decompress(frames: &[Vec<u8>]) -> f64 {
    let mut dec = snap::raw::Decoder::new();
    let max = frames
        .iter()
        .map(|f| snap::raw::decompress_len(f).unwrap())
        .max()
        .unwrap_or(0);
    let mut out = vec![0u8; max];
    let t = Instant::now();
    let mut n = 0;
    for f in frames {
        n += dec.decompress(f, &mut out).unwrap();
    }
    std::hint::black_box(n);
    t.elapsed().as_secs_f64()
}
