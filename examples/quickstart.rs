//! The main job, end to end: open a WAL in a directory, write a million
//! records over a thousand series with a completion callback each, rotate,
//! read the closed segment back, delete it, close, and report.
//!
//! `cargo run --release --example quickstart [DIR]` (a temporary directory
//! when DIR is not given).

#![cfg_attr(target_os = "wasi", allow(unused))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wal::Config;
#[cfg(not(target_os = "wasi"))]
use wal::Wal;

const RECORDS: u64 = 1_000_000;
const SERIES: u64 = 1_000;

#[cfg(target_os = "wasi")]
fn main() {
    eprintln!(
        "the quickstart uses the native host (threads); under WASI run the wal-wasi tool instead"
    );
}

#[cfg(not(target_os = "wasi"))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("wal"));

    let config = Config::default();
    let wal = Wal::open(&dir, config)?;
    println!("opened {}: {}", dir.display(), wal.recovery());

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut payload = 0u64;
    let start = Instant::now();
    for i in 0..RECORDS {
        let series = i % SERIES;
        let value = format!(
            "host=web{:03} cpu={:.2} mem={}",
            series,
            (i % 100) as f64 / 100.0,
            i % 7919
        );
        payload += value.len() as u64;
        let (ok, failed) = (ok.clone(), failed.clone());
        wal.write_with(
            series,
            1_700_000_000_000_000_000 + i as i64,
            value.as_bytes(),
            move |r| {
                match r {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            },
        )?;
    }
    let closed = wal.rotate()?; // flushes, syncs, and completes everything written so far
    let secs = start.elapsed().as_secs_f64();
    println!(
        "wrote {} records over {SERIES} series in {secs:.2} s: {:.0} records/s, {:.1} MB/s of values; {} completions ok, {} failed",
        RECORDS,
        RECORDS as f64 / secs,
        payload as f64 / secs / 1e6,
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    println!(
        "rotated: segment {} holds {} frames, {} entries, {} records, {} bytes ({:.1}x compression), timestamps {:?}..={:?}",
        closed.id,
        closed.frames,
        closed.entries,
        closed.records,
        closed.bytes,
        closed.payload_bytes as f64 / closed.bytes as f64,
        closed.min_timestamp,
        closed.max_timestamp,
    );

    let segments = wal.segments();
    let first = segments[0];
    let start = Instant::now();
    let (mut entries, mut records, mut bytes) = (0u64, 0u64, 0u64);
    for entry in wal.read(first)? {
        let entry = entry?;
        entries += 1;
        records += entry.len() as u64;
        bytes += entry.values.iter().map(|v| v.len() as u64).sum::<u64>();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "read segment {first} back: {entries} entries, {records} records, {:.1} MB of values in {secs:.2} s ({:.0} records/s)",
        bytes as f64 / 1e6,
        records as f64 / secs
    );

    wal.delete(first)?;
    println!("deleted segment {first}; segments now {:?}", wal.segments());
    wal.close()?;
    println!("closed cleanly");
    assert_eq!(
        ok.load(Ordering::Relaxed),
        RECORDS,
        "every completion fired ok"
    );
    Ok(())
}
