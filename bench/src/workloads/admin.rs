//! Workload 8, admin: durable writers while another thread reads closed
//! segments over and over (`info`, which scans and checks a whole segment,
//! then `read`, every entry), against the same writers alone, in
//! alternating slices on one open WAL.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wal_core::Config;

use super::durable::run_threads;
use super::{median, tmp};
use crate::measure::{percentile_us, settle};
use crate::row::{Paired, Row};

/// Writer threads, each writing a record and waiting until it is durable.
const THREADS: usize = 8;

/// Workload 8: do readers and admin calls stall writers? Eight threads
/// write 128-byte records and wait for each to be durable; in every other
/// slice a ninth thread loops over the closed segments (4 MiB each,
/// compressed), calling `info` and then reading every entry. Slices take
/// turns (which one goes first alternates), and each round's ratio is
/// "with the reader" to "alone". Target: at least 0.9x (the lock writers'
/// frames need is held only to open a segment, never for the scan).
pub fn admin(quick: bool) -> Vec<Row> {
    let (slice, rounds) = if quick {
        (Duration::from_millis(300), 4)
    } else {
        (Duration::from_millis(1000), 12)
    };
    let dir = tmp();
    let cfg = Config::default().with_file_size(4 << 20);
    let wal = wal_host_std::Wal::open(dir.path(), cfg).unwrap();
    // Closed segments for the reader: about 24 MiB of time-series text.
    let mut i = 0i64;
    while i % 1024 != 0 || wal.segments().len() < 7 {
        let line = format!(
            "host=web{:03} region=eu-{} cpu={:.3} mem={} status=ok",
            i % 300,
            i % 7,
            (i % 1000) as f64 / 1000.0,
            i % 65536
        );
        drop(wal.write((i % 300) as u64, i, line.as_bytes()).unwrap());
        i += 1;
    }
    wal.flush().unwrap();
    let closed: Vec<_> = {
        let mut s = wal.segments();
        s.pop();
        s
    };
    let closed_bytes: u64 = closed.iter().map(|&id| wal.info(id).unwrap().bytes).sum();
    settle();
    let value = [b'v'; 128];
    let write = |t: usize| {
        wal.write(t as u64, 0, &value).unwrap().wait().unwrap();
    };
    let (mut alone, mut with) = (Side::default(), Side::default());
    let (scans, scanned) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut reader_secs = 0.0;
    for round in 0..rounds {
        for k in 0..2 {
            let reading = (round + k) % 2 == 1;
            let stop = AtomicBool::new(false);
            let t = Instant::now();
            let lat = std::thread::scope(|s| {
                if reading {
                    s.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            for &id in &closed {
                                let info = wal.info(id).unwrap();
                                let mut records = 0;
                                for e in wal.read(id).unwrap() {
                                    records += e.unwrap().timestamps.len() as u64;
                                }
                                assert_eq!(records, info.records);
                                scans.fetch_add(1, Ordering::Relaxed);
                                scanned.fetch_add(2 * info.bytes, Ordering::Relaxed);
                                if stop.load(Ordering::Relaxed) {
                                    break;
                                }
                            }
                        }
                    });
                }
                let lat = run_threads(THREADS, slice, write);
                stop.store(true, Ordering::Relaxed);
                lat
            });
            if reading {
                reader_secs += t.elapsed().as_secs_f64();
            }
            let side = if reading { &mut with } else { &mut alone };
            side.rates.push(lat.nanos.len() as f64 / lat.secs);
            side.nanos.extend(lat.nanos);
        }
    }
    wal.close().unwrap();
    let ratios: Vec<f64> = with
        .rates
        .iter()
        .zip(&alone.rates)
        .map(|(w, a)| w / a)
        .collect();
    let how = format!(
        "median of {rounds} alternating {} ms slices",
        slice.as_millis()
    );
    let mut a = alone.row("writers alone", value.len());
    a.note = format!("({how})");
    let mut w = with.row("with a reader", value.len());
    w.paired = Some(Paired {
        against: format!("wal {THREADS} threads, writers alone"),
        ratios,
    });
    w.note = format!(
        "reader: {:.1} segment scans/s (info + read), {:.0} MB/s, over {} closed segments of {:.1} MiB ({how})",
        scans.load(Ordering::Relaxed) as f64 / reader_secs,
        scanned.load(Ordering::Relaxed) as f64 / reader_secs / 1e6,
        closed.len(),
        closed_bytes as f64 / closed.len() as f64 / (1 << 20) as f64,
    );
    vec![a, w]
}

/// What the slices of one side measured.
#[derive(Default)]
struct Side {
    rates: Vec<f64>,
    nanos: Vec<u64>,
}

impl Side {
    /// Its row: the median slice's rate, latencies over every slice.
    fn row(mut self, variant: &str, value_len: usize) -> Row {
        let rate = median(&self.rates);
        let mut r = Row::new("admin", format!("{THREADS} threads, {variant}"), "wal");
        r.threads = Some(THREADS as u64);
        r.records_per_s = Some(rate);
        r.payload_mb_per_s = Some(rate * value_len as f64 / 1e6);
        r.p50_us = percentile_us(&mut self.nanos, 50.0);
        r.p99_us = percentile_us(&mut self.nanos, 99.0);
        r
    }
}
