//! The crash sweep on real files: write with `FsStorage`, then simulate the
//! crash by damaging the newest segment's end (truncated at every byte
//! offset of its last frames, garbage appended, zeros appended), reopen, and
//! check: every record of a whole frame is there, in order, exactly once;
//! nothing half-written comes back; the bytes cut off were set aside in the
//! sidecar, byte for byte; and the WAL accepts writes again.
#![cfg(not(target_os = "wasi"))]

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use wal::{Config, FsStorage};
use wal_core::Wal;

const T0: Duration = Duration::ZERO;

fn record(i: usize) -> (u64, i64, Vec<u8>) {
    (
        (i % 5) as u64,
        i as i64,
        format!("value {i} {}", "x".repeat(i % 40)).into_bytes(),
    )
}

/// Writes `frames` frames of 10 records each into a fresh directory (one
/// segment), and returns the segment's bytes and each frame's end offset.
fn write_frames(dir: &Path, cfg: Config, frames: usize) -> (Vec<u8>, Vec<u64>) {
    let mut wal = Wal::open(FsStorage::open(dir).unwrap(), cfg).unwrap();
    let mut ends = vec![];
    for f in 0..frames {
        for k in 0..10 {
            let (s, t, v) = record(f * 10 + k);
            wal.write(s, t, &v, T0).unwrap();
        }
        wal.flush().unwrap();
        ends.push(wal.active().bytes);
    }
    wal.close().unwrap();
    (fs::read(dir.join("seg0000000000000001.wal")).unwrap(), ends)
}

/// Reopens `dir` and returns the record indexes found, checking each is whole.
fn reopen_and_read(dir: &Path, cfg: Config) -> (Wal<FsStorage>, Vec<usize>) {
    let mut wal = Wal::open(FsStorage::open(dir).unwrap(), cfg).unwrap();
    let mut found = vec![];
    for id in wal.segments() {
        for e in wal.read(id).unwrap() {
            let e = e.unwrap();
            for (t, v) in e.timestamps.iter().zip(&e.values) {
                let i = *t as usize;
                assert_eq!(record(i).2, *v, "record {i} is whole");
                found.push(i);
            }
        }
    }
    (wal, found)
}

fn sidecars(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn truncation_at_every_byte_of_the_last_frames_is_recovered() {
    let mut points = 0;
    for compression in [false, true] {
        let cfg = Config::default()
            .with_compression(compression)
            .with_flush_interval(None);
        let src = tempfile::tempdir().unwrap();
        let (bytes, ends) = write_frames(src.path(), cfg, 4);
        // Every cut from the end of frame 2 (the last two frames torn) to the full file.
        for cut in ends[1] as usize..=bytes.len() {
            let dir = tempfile::tempdir().unwrap();
            fs::write(dir.path().join("seg0000000000000001.wal"), &bytes[..cut]).unwrap();
            let (mut wal, found) = reopen_and_read(dir.path(), cfg);
            let whole = ends.iter().filter(|&&e| e as usize <= cut).count();
            let want: Vec<usize> = (0..whole * 10).collect();
            let mut got = found.clone();
            got.sort();
            assert_eq!(
                got, want,
                "compression {compression}, cut at {cut}: exactly the whole frames"
            );
            assert_eq!(found.iter().collect::<HashSet<_>>().len(), found.len());
            let log_end = ends[whole - 1] as usize;
            let report = wal.recovery().clone();
            if cut > log_end {
                let t = report
                    .cut
                    .clone()
                    .unwrap_or_else(|| panic!("cut at {cut}: not reported: {report}"));
                assert_eq!(
                    (t.offset, t.bytes),
                    (log_end as u64, (cut - log_end) as u64)
                );
                assert_eq!(
                    sidecars(dir.path()),
                    vec![(
                        format!("seg0000000000000001.wal.torn-{log_end}"),
                        bytes[log_end..cut].to_vec()
                    )],
                    "cut at {cut}: the torn bytes are kept aside, byte for byte"
                );
            } else {
                assert!(report.cut.is_none() && sidecars(dir.path()).is_empty());
            }
            assert_eq!(
                fs::metadata(dir.path().join("seg0000000000000001.wal"))
                    .unwrap()
                    .len(),
                log_end as u64
            );
            // Writes continue right after the last whole frame.
            let (s, t, v) = record(1000);
            wal.write(s, t, &v, T0).unwrap();
            wal.close().unwrap();
            drop(wal);
            let (_, again) = reopen_and_read(dir.path(), cfg);
            assert_eq!(
                again.len(),
                found.len() + 1,
                "cut at {cut}: the new record follows"
            );
            points += 1;
        }
    }
    eprintln!("file crash sweep: {points} truncation points");
}

#[test]
fn garbage_or_zeros_after_the_last_frame_are_handled() {
    let cfg = Config::default().with_flush_interval(None);
    let src = tempfile::tempdir().unwrap();
    let (bytes, _) = write_frames(src.path(), cfg, 3);
    let tails: [(&str, Vec<u8>); 5] = [
        ("one garbage byte", vec![0x5a]),
        (
            "garbage",
            (0..700u32).map(|i| (i * 37 % 251) as u8).collect(),
        ),
        ("a fake frame header", {
            let mut h = vec![0u8; 16];
            h[8] = 100;
            h.extend_from_slice(&[1; 100]);
            h
        }),
        ("zeros", vec![0; 4096]),
        (
            "zeros then garbage",
            [vec![0u8; 100], vec![9u8; 3]].concat(),
        ),
    ];
    for (name, tail) in tails {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("seg0000000000000001.wal"),
            [bytes.clone(), tail.clone()].concat(),
        )
        .unwrap();
        let (wal, found) = reopen_and_read(dir.path(), cfg);
        assert_eq!(found.len(), 30, "{name}: every record");
        let report = wal.recovery().clone();
        if name == "zeros" {
            assert!(
                report.cut.is_none(),
                "{name}: zeros are reserved space, not damage"
            );
            assert_eq!(report.released_zero_bytes, 4096);
            assert!(sidecars(dir.path()).is_empty());
        } else {
            let t = report.cut.unwrap_or_else(|| panic!("{name}: nothing cut"));
            assert_eq!(t.offset, bytes.len() as u64, "{name}");
            assert_eq!(
                sidecars(dir.path())[0].1,
                tail,
                "{name}: set aside, not lost"
            );
        }
        assert_eq!(
            fs::metadata(dir.path().join("seg0000000000000001.wal"))
                .unwrap()
                .len(),
            bytes.len() as u64
        );
    }
}
