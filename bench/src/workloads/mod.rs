//! The workloads of the harness, one file each. Each returns rows for
//! our WAL and for every baseline that applies, measured in the same run.
//! This file holds what they share: temporary directories, medians, the
//! spread of ratios by round, logs written for reading back, and sizes
//! for the table.

mod admin;
mod cpu;
mod durable;
mod ingest;
mod memory;
mod open;
#[cfg(feature = "raft")]
mod raft;
mod recycle;
mod replay;
mod retention;
mod rotation;
mod tail;
mod wasi;

pub use admin::admin;
pub use cpu::cpu;
pub use durable::durable_small;
pub use ingest::ingest;
pub use memory::memory;
pub use open::open;
#[cfg(feature = "raft")]
pub use raft::{raft, verdicts as raft_verdicts};
pub use recycle::{recycle, verdicts as recycle_verdicts};
pub use replay::replay;
pub use retention::retention;
pub use rotation::rotation;
pub use tail::tail;
pub use wasi::wasi;

use std::path::Path;
use std::time::Duration;

use wal_core::{Config, SyncPolicy};
use wal_fs::FsStorage;

use crate::records::IngestGen;

/// A temporary directory in `$WAL_BENCH_DIR` (default: the system's).
fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in(
        std::env::var("WAL_BENCH_DIR")
            .unwrap_or_else(|_| std::env::temp_dir().display().to_string()),
    )
    .expect("a temporary directory for the benchmark")
}

/// The median (the upper one of an even count).
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

/// Writes a log of about `bytes` of values into `dir` (no sync); returns the
/// value bytes written. `text` values are time-series-like text that snappy
/// compresses (about 3x); otherwise the ingest workload's random
/// alphanumeric values, which it cannot shrink by an eighth.
fn write_log(dir: &Path, bytes: u64, compression: bool, buffer: usize, text: bool) -> u64 {
    let cfg = Config::default()
        .with_compression(compression)
        .with_buffer_size(buffer)
        .with_sync(SyncPolicy::Never)
        .with_flush_interval(None);
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

pub fn human(b: u64) -> String {
    if b >= 1 << 30 && b.is_multiple_of(1 << 30) {
        format!("{} GiB", b >> 30)
    } else if b >= 1 << 20 {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}
