//! Workload 5, open: opening logs of two sizes.

use std::time::Instant;

use wal_core::Config;
use wal_fs::FsStorage;

use super::{human, tmp, write_log};
use crate::row::Row;

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
