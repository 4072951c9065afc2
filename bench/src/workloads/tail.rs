//! Workload 9, tail: how soon an in-process `Tail` on another thread hands
//! out a record after its completion fired, at a paced 10,000 records/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wal_core::{Config, Position};

use super::tmp;
use crate::measure::{percentile_us, settle};
use crate::row::Row;

/// Records per second the writer is paced at.
const RATE: f64 = 10_000.0;

/// Workload 9: one writer writes 128-byte records at 10,000 a second
/// (each at its due time; one that falls behind is written at once), each
/// with a callback that notes when its completion fired; a `Tail` from
/// `Position::START` on another thread notes when it hands each record
/// out. With the default config and with `flush_interval` 1 ms. Target:
/// p99 from completion to tail at most 1 ms.
pub fn tail(quick: bool) -> Vec<Row> {
    let dur = Duration::from_secs(if quick { 3 } else { 10 });
    [None, Some(Duration::from_millis(1))]
        .into_iter()
        .map(|flush| tail_at(flush, dur))
        .collect()
}

/// Nanoseconds since `epoch`, never 0 (0 marks "not yet").
fn ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64 + 1
}

fn tail_at(flush: Option<Duration>, dur: Duration) -> Row {
    let dir = tmp();
    let mut cfg = Config::default();
    if let Some(f) = flush {
        cfg = cfg.with_flush_interval(Some(f));
    }
    let interval = cfg.flush_interval.map_or(0, |d| d.as_micros());
    settle();
    let wal = wal_host_std::Wal::open(dir.path(), cfg).unwrap();
    let n = (RATE * dur.as_secs_f64()) as usize;
    let table = || Arc::new((0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
    let (completed, tailed) = (table(), table());
    let mut written = vec![0u64; n];
    let value = [b'v'; 128];
    let tail = wal.tail(Position::START).unwrap();
    let epoch = Instant::now();
    let start = Instant::now();
    let (tail_records, secs) = std::thread::scope(|s| {
        let tailed = &tailed;
        let reader = s.spawn(move || {
            let mut count = 0u64;
            for item in tail {
                let (_, e) = item.unwrap();
                let now = ns(epoch);
                for &ts in &e.timestamps {
                    tailed[ts as usize].store(now, Ordering::Relaxed);
                }
                count += e.len() as u64;
            }
            count
        });
        for (i, w) in written.iter_mut().enumerate() {
            let due = start + Duration::from_secs_f64(i as f64 / RATE);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            *w = ns(epoch);
            let completed = completed.clone();
            wal.write_with(i as u64 % 100, i as i64, &value, move |r| {
                r.unwrap();
                completed[i].store(ns(epoch), Ordering::Relaxed);
            })
            .unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        wal.flush().unwrap();
        wal.close().unwrap();
        (reader.join().unwrap(), secs)
    });
    assert_eq!(tail_records, n as u64, "the tail handed out every record");
    let mut to_tail = Vec::with_capacity(n);
    let (mut write_to_done, mut write_to_tail) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut tail_first = 0;
    for i in 0..n {
        let (w, c, t) = (
            written[i],
            completed[i].load(Ordering::Relaxed),
            tailed[i].load(Ordering::Relaxed),
        );
        assert!(c > 0 && t > 0, "record {i} completed and tailed");
        if t < c {
            tail_first += 1;
        }
        to_tail.push(t.saturating_sub(c));
        write_to_done.push(c - w);
        write_to_tail.push(t - w);
    }
    let mut r = Row::new(
        "tail",
        format!(
            "10,000 records/s, flush_interval {} ms{}",
            interval / 1000,
            if flush.is_none() { " (default)" } else { "" }
        ),
        "wal",
    );
    r.threads = Some(2);
    r.records_per_s = Some(n as f64 / secs);
    r.payload_mb_per_s = Some(n as f64 * value.len() as f64 / secs / 1e6);
    r.p50_us = percentile_us(&mut to_tail, 50.0);
    r.p99_us = percentile_us(&mut to_tail, 99.0);
    let max_us = percentile_us(&mut to_tail, 100.0).unwrap();
    let pct = |v: &mut Vec<u64>, p| percentile_us(v, p).unwrap() / 1000.0;
    r.figures = vec![
        ("max_us", max_us),
        ("write_to_completion_p99_ms", pct(&mut write_to_done, 99.0)),
        ("write_to_tail_p99_ms", pct(&mut write_to_tail, 99.0)),
        ("flush_interval_ms", interval as f64 / 1000.0),
    ];
    r.note = format!(
        "completion to tail: p50 {:.0} us, p99 {:.0} us, max {max_us:.0} us ({tail_first} of {n} records handed out before their callback ran, counted as 0); write to completion p50 {:.2} ms, p99 {:.2} ms; write to tail p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.p50_us.unwrap(),
        r.p99_us.unwrap(),
        pct(&mut write_to_done, 50.0),
        pct(&mut write_to_done, 99.0),
        pct(&mut write_to_tail, 50.0),
        pct(&mut write_to_tail, 99.0),
        pct(&mut write_to_tail, 100.0),
    );
    r
}
