//! Workload 3, cpu: the CPU path on in-memory storage, against `snap`
//! compressing the same frames.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wal_core::host::WriteBuffer;
use wal_core::testing::MemStorage;
use wal_core::{Config, SyncPolicy};

use super::{median, spread_by_round};
use crate::baselines;
use crate::row::Row;

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
    let cfg = Config::default()
        .with_compression(compression)
        .with_sync(SyncPolicy::Never)
        .with_flush_interval(None)
        .with_file_size(4 << 20)
        .with_reserve(0);
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
