//! The baselines, run in the same process as our WAL: the disk itself (two
//! ways), okaywal, raft-engine, and the `snap` crate alone.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Instant;

/// A fresh file at `path` holding `prewrite` synced zero bytes, written
/// `chunk` bytes per call, positioned at 0 (so the writes that follow
/// overwrite allocated space).
///
/// The chunk size matters for small synced writes: the page cache keeps a
/// file written in 1 MiB calls in large folios, and each `fdatasync` then
/// walks a large folio's blocks; 41-byte write + `fdatasync` loops measured
/// here ran 3-5% slower over a file pre-written in one 1 MiB call than over
/// one pre-written 4 KiB at a time (as the WAL writes its reserve).
fn raw_file(path: &Path, prewrite: usize, chunk: usize) -> std::io::Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    if prewrite > 0 {
        let zeros = vec![0u8; chunk];
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
    let mut f = raw_file(&path, if overwrite { total } else { 0 }, 1 << 20)?;
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

/// The disk's own durable-write loop: `chunk`-byte writes, each followed
/// by `fdatasync`, appending to a fresh file or overwriting pre-written
/// zeros (the disk's real limit).
pub struct RawLoop {
    file: File,
    path: std::path::PathBuf,
    buf: Vec<u8>,
    overwrite: bool,
    n: u64,
}

/// Syncs an overwriting [`RawLoop`] makes before it starts again at the
/// beginning of its pre-written space.
const RAW_WRAP: u64 = 20_000;

impl RawLoop {
    /// A loop on a new file `dir/name`.
    pub fn new(dir: &Path, name: &str, chunk: usize, overwrite: bool) -> std::io::Result<Self> {
        let path = dir.join(name);
        let prewrite = if overwrite {
            chunk * RAW_WRAP as usize
        } else {
            0
        };
        Ok(RawLoop {
            file: raw_file(&path, prewrite, 4096)?,
            path,
            buf: vec![7u8; chunk],
            overwrite,
            n: 0,
        })
    }

    /// One write and its sync.
    pub fn once(&mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.file.sync_data()?;
        self.n += 1;
        if self.overwrite && self.n.is_multiple_of(RAW_WRAP) {
            self.file.seek(SeekFrom::Start(0))?;
        }
        Ok(())
    }
}

impl Drop for RawLoop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// okaywal: `batch` records per entry (one chunk each), one commit per entry.
pub fn okaywal_batches(dir: &Path, records: &[(u64, &[u8])], batch: usize) -> std::io::Result<f64> {
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
    records: &[(u64, &[u8])],
    batch: usize,
) -> std::io::Result<f64> {
    let engine = open_raft_engine(dir)?;
    let t = Instant::now();
    let mut key = 0u64;
    for chunk in records.chunks(batch.max(1)) {
        let mut b = raft_engine::LogBatch::default();
        for (s, v) in chunk {
            key += 1;
            b.put(*s + 1, key.to_be_bytes().to_vec(), v.to_vec())
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        engine
            .write(&mut b, true)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// okaywal in `dir`, default settings.
pub fn open_okaywal(dir: &Path) -> std::io::Result<okaywal::WriteAheadLog> {
    okaywal::WriteAheadLog::recover(dir, okaywal::LogVoid)
}

/// One durable record on okaywal: an entry of one chunk, committed
/// (okaywal groups concurrent commits).
pub fn okaywal_commit(log: &okaywal::WriteAheadLog, value: &[u8]) {
    let mut w = log.begin_entry().unwrap();
    w.write_chunk(value).unwrap();
    w.commit().unwrap();
}

/// raft-engine in `dir`, default settings.
pub fn open_raft_engine(dir: &Path) -> std::io::Result<raft_engine::Engine> {
    let cfg = raft_engine::Config {
        dir: dir.to_string_lossy().into_owned(),
        ..Default::default()
    };
    raft_engine::Engine::open(cfg).map_err(|e| std::io::Error::other(e.to_string()))
}

/// One durable record on raft-engine: a batch of one record (region
/// `region`, key `key`) written with sync (raft-engine groups concurrent
/// writers).
pub fn raft_engine_commit(engine: &raft_engine::Engine, region: u64, key: u64, value: &[u8]) {
    let mut b = raft_engine::LogBatch::default();
    b.put(region + 1, key.to_be_bytes().to_vec(), value.to_vec())
        .unwrap();
    engine.write(&mut b, true).unwrap();
}

/// The `snap` crate alone compressing `payloads` into one reused output
/// buffer (as the WAL reuses its own): seconds, compression only.
pub fn snap_compress(payloads: &[Vec<u8>]) -> f64 {
    let mut enc = snap::raw::Encoder::new();
    let max = payloads
        .iter()
        .map(|p| snap::raw::max_compress_len(p.len()))
        .max()
        .unwrap_or(0);
    let mut out = vec![0u8; max];
    let t = Instant::now();
    let mut total = 0;
    for p in payloads {
        total += enc.compress(p, &mut out).unwrap();
    }
    let c = t.elapsed().as_secs_f64();
    std::hint::black_box(total);
    c
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
