//! Workload 4, replay: reading a log back from the page cache, against
//! `snap` decompressing the same frames.

use std::time::Instant;

use wal_core::format::Codec;
use wal_core::{Config, FileName, Storage};
use wal_fs::FsStorage;

use super::{human, tmp, write_log};
use crate::baselines;
use crate::row::Row;

/// Workload 4: replay a log from the page cache, raw and snappy.
pub fn replay(quick: bool) -> Vec<Row> {
    let bytes: u64 = if quick { 128 << 20 } else { 1 << 30 };
    let mut rows = vec![];
    for compression in [false, true] {
        let dir = tmp();
        let values = write_log(dir.path(), bytes, compression, 16 << 10, compression);
        let mut wal =
            wal_core::Wal::open(FsStorage::open(dir.path()).unwrap(), Config::default()).unwrap();
        let mut best = f64::MAX;
        let (mut payload, mut records) = (0u64, 0u64);
        let mut snappy_frames: Vec<Vec<u8>> = vec![];
        for round in 0..3 {
            // Round 0 warms the page cache (and collects frames for snap).
            let t = Instant::now();
            let (mut p, mut n) = (0u64, 0u64);
            for id in wal.segments() {
                let mut reader = wal.read(id).unwrap();
                while reader
                    .next_frame_with(|e| {
                        n += e.len() as u64;
                        for v in e.values() {
                            p += v.len() as u64;
                        }
                    })
                    .unwrap()
                {}
            }
            let secs = t.elapsed().as_secs_f64();
            if round > 0 {
                best = best.min(secs);
            }
            (payload, records) = (p, n);
        }
        if compression {
            // The stored snappy payloads, for snap's own decompression rate.
            let mut files = FsStorage::read_only(dir.path()).unwrap();
            for id in wal.segments() {
                let f = files.open(FileName::Segment(id)).unwrap();
                let mut sc = wal_core::scan::FrameScanner::new(id, f, None)
                    .unwrap()
                    .unwrap();
                while let Ok(Some(fr)) = sc.next_frame().unwrap() {
                    if fr.codec == Codec::Snappy {
                        snappy_frames
                            .push(snap::raw::Encoder::new().compress_vec(fr.payload).unwrap());
                    }
                }
            }
        }
        assert_eq!(payload, values);
        let variant = if compression { "snappy" } else { "raw" };
        let mut r = Row::new("replay", format!("{variant}, {}", human(bytes)), "wal");
        r.records_per_s = Some(records as f64 / best);
        r.payload_mb_per_s = Some(payload as f64 / best / 1e6);
        rows.push(r);
        if compression {
            let secs = baselines::snap_decompress(&snappy_frames);
            let mut r = Row::new("replay", format!("{variant}, {}", human(bytes)), "snap");
            r.payload_mb_per_s = Some(payload as f64 / secs / 1e6);
            r.note = format!("decompress only, {} snappy frames", snappy_frames.len());
            rows.push(r);
        }
    }
    rows
}
