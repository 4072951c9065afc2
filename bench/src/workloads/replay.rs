//! Workload 4, replay: reading a log back from the page cache, two ways
//! (each segment's reader, and the thread-safe WAL's `replay(START)`),
//! against a plain `read()` loop over the same segment files and `snap`
//! decompressing the same frames.

use std::io::Read;
use std::path::Path;
use std::time::Instant;

use wal_core::format::Codec;
use wal_core::{Config, FileName, Position, SegmentId, Storage};
use wal_fs::FsStorage;

use super::{human, tmp, write_log};
use crate::baselines;
use crate::row::{Paired, Row};

/// The read loop's buffer: 64 KiB per `read()` call.
const READ_CHUNK: usize = 64 << 10;

/// Workload 4: replay a log from the page cache, raw and snappy. Every
/// round reads it three ways one after the other (the segment readers,
/// `replay(Position::START)`, the plain read loop); round 0 warms the page
/// cache, each row keeps its fastest later round.
pub fn replay(quick: bool) -> Vec<Row> {
    let bytes: u64 = if quick { 128 << 20 } else { 1 << 30 };
    let rounds = if quick { 3 } else { 5 };
    let mut rows = vec![];
    for compression in [false, true] {
        let dir = tmp();
        let values = write_log(dir.path(), bytes, compression, 16 << 10, compression);
        // No reserve: the files hold the log and nothing else, so the read
        // loop reads exactly what the WAL reads.
        let cfg = Config::default().with_reserve(0);
        let wal = wal_host_std::Wal::open(dir.path(), cfg).unwrap();
        let segments = wal.segments();
        let file_bytes: u64 = segments
            .iter()
            .map(|&id| {
                std::fs::metadata(segment_path(dir.path(), id))
                    .unwrap()
                    .len()
            })
            .sum();
        // Seconds by round: segment readers, replay API, read loop.
        let mut secs: [Vec<f64>; 3] = Default::default();
        let (mut payload, mut records) = (0u64, 0u64);
        for round in 0..rounds {
            let t = Instant::now();
            let (p, n) = read_segments(&wal, &segments);
            let reader_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (p2, n2) = replay_all(&wal);
            let replay_secs = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let read = read_loop(dir.path(), &segments);
            let loop_secs = t.elapsed().as_secs_f64();
            assert_eq!((p, n), (p2, n2), "the replay API and the readers agree");
            assert_eq!(read, file_bytes);
            if round > 0 {
                secs[0].push(reader_secs);
                secs[1].push(replay_secs);
                secs[2].push(loop_secs);
            }
            (payload, records) = (p, n);
        }
        wal.close().unwrap();
        assert_eq!(payload, values);
        let best = |v: &[f64]| v.iter().copied().fold(f64::MAX, f64::min);
        let variant = format!(
            "{}, {}",
            if compression { "snappy" } else { "raw" },
            human(bytes)
        );
        let row = |variant: String, system: &'static str, secs: f64| {
            let mut r = Row::new("replay", variant, system);
            r.records_per_s = Some(records as f64 / secs);
            r.payload_mb_per_s = Some(payload as f64 / secs / 1e6);
            r.disk_mb_per_s = Some(file_bytes as f64 / secs / 1e6);
            r
        };
        rows.push(row(variant.clone(), "wal", best(&secs[0])));
        let mut api = row(format!("{variant}, replay API"), "wal", best(&secs[1]));
        api.note = format!(
            "wal.replay(Position::START) read with next_frame_with (borrowed entries), thread-safe WAL, {} segments of {} MB; fastest of {} rounds after a warm-up",
            segments.len(),
            file_bytes / segments.len() as u64 / 1_000_000,
            rounds - 1
        );
        if compression {
            let frames = snappy_frames(dir.path(), &segments);
            let snap_secs = baselines::snap_decompress(&frames);
            let mut s = Row::new("replay", variant.clone(), "snap");
            s.payload_mb_per_s = Some(payload as f64 / snap_secs / 1e6);
            s.note = format!("decompress only, {} snappy frames", frames.len());
            api.paired = Some(Paired {
                against: format!("snap, {variant}"),
                ratios: secs[1].iter().map(|t| snap_secs / t).collect(),
            });
            rows.push(api);
            rows.push(s);
        } else {
            let mut l = row(variant.clone(), "read-loop", best(&secs[2]));
            l.records_per_s = None;
            l.payload_mb_per_s = None;
            l.note = format!(
                "plain read() of {} KiB at a time over the same {} files, {} MB, nothing decoded",
                READ_CHUNK >> 10,
                segments.len(),
                file_bytes / 1_000_000
            );
            // Round by round: the loop ran right after the replay.
            api.paired = Some(Paired {
                against: format!("read-loop, {variant}"),
                ratios: secs[2].iter().zip(&secs[1]).map(|(l, r)| l / r).collect(),
            });
            rows.push(api);
            rows.push(l);
        }
    }
    rows
}

/// Every segment's reader, borrowing each entry: (value bytes, records).
fn read_segments(wal: &wal_host_std::Wal, segments: &[SegmentId]) -> (u64, u64) {
    let (mut p, mut n) = (0u64, 0u64);
    for &id in segments {
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
    (p, n)
}

/// `wal.replay(Position::START)` to the end: (value bytes, records).
fn replay_all(wal: &wal_host_std::Wal) -> (u64, u64) {
    let (mut p, mut n) = (0u64, 0u64);
    // Borrowed, a frame at a time: what a large replay should use.
    let mut replay = wal.replay(Position::START).unwrap();
    while replay
        .next_frame_with(|_, e| {
            n += e.len() as u64;
            p += e.values().map(|v| v.len() as u64).sum::<u64>();
        })
        .unwrap()
        .is_some()
    {}
    (p, n)
}

/// The baseline: a plain `read()` loop over the segment files, in order.
fn read_loop(dir: &Path, segments: &[SegmentId]) -> u64 {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut total = 0u64;
    for &id in segments {
        let mut f = std::fs::File::open(segment_path(dir, id)).unwrap();
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    std::hint::black_box(&buf);
    total
}

fn segment_path(dir: &Path, id: SegmentId) -> std::path::PathBuf {
    dir.join(FileName::Segment(id).to_string())
}

/// The stored snappy payloads, for snap's own decompression rate.
fn snappy_frames(dir: &Path, segments: &[SegmentId]) -> Vec<Vec<u8>> {
    let mut files = FsStorage::read_only(dir).unwrap();
    let mut frames = vec![];
    for &id in segments {
        let f = files.open(FileName::Segment(id)).unwrap();
        let mut sc = wal_core::scan::FrameScanner::new(id, f, None)
            .unwrap()
            .unwrap();
        while let Ok(Some(fr)) = sc.next_frame().unwrap() {
            if fr.codec == Codec::Snappy {
                frames.push(snap::raw::Encoder::new().compress_vec(fr.payload).unwrap());
            }
        }
    }
    frames
}
