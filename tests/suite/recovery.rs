//! Reopening: what recovery keeps, cuts, sets aside or refuses.

use wal_core::{Config, Corruption, Error, FileName, RecoveryMode};

use super::*;

pub fn reopen_after_close_keeps_everything<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let recs = workload(3000, 20, 6);
    let cfg = raw(Config::default().with_file_size(64 * 1024));
    let mut wal = W::open(b.storage(), cfg).unwrap();
    write_all(&mut wal, &recs[..1500]);
    wal.close().unwrap();
    let mut wal = W::open(b.storage(), cfg).unwrap();
    assert!(wal.recovery().cut.is_none());
    write_all(&mut wal, &recs[1500..]);
    drop(wal); // dropping closes too
    let mut wal = W::open(b.storage(), cfg).unwrap();
    assert!(wal.segments().len() > 2);
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

fn newest_name<B: Backend>(b: &B) -> String {
    b.names()
        .into_iter()
        .filter(|n| matches!(FileName::parse(n), Some(FileName::Segment(_))))
        .max()
        .unwrap()
}

pub fn reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside<B: Backend, W: Front<S = B::S>>() {
    for damage in ["garbage", "half-frame"] {
        let b = B::fresh();
        let recs = workload(500, 7, 7);
        let mut wal = W::open(b.storage(), Config::default()).unwrap();
        let acks = Acks::default();
        for r in &recs {
            wal.write_with(r.series_id, r.timestamp, &r.value, t0(), acks.callback())
                .unwrap();
        }
        wal.flush().unwrap();
        let good_len = wal.active().bytes;
        // A frame that was being written when the power went.
        for r in workload(40, 3, 8) {
            wal.write(r.series_id, r.timestamp, &r.value, t0()).unwrap();
        }
        wal.flush().unwrap();
        drop(wal);
        let name = newest_name(&b);
        let mut bytes = b.read_file(&name).unwrap();
        let tail = match damage {
            "garbage" => {
                bytes.truncate(good_len as usize);
                bytes.extend_from_slice(b"\x01garbage that is not a frame");
                bytes[good_len as usize..].to_vec()
            }
            _ => {
                let cut = good_len as usize + (bytes.len() - good_len as usize) / 2;
                bytes.truncate(cut);
                bytes[good_len as usize..].to_vec()
            }
        };
        b.write_file(&name, &bytes);
        let mut wal = W::open(b.storage(), Config::default()).unwrap();
        let report = wal.recovery().clone();
        let cut = report
            .cut
            .clone()
            .unwrap_or_else(|| panic!("{damage}: nothing cut: {report}"));
        assert_eq!(
            (cut.offset, cut.bytes),
            (good_len, tail.len() as u64),
            "{damage}"
        );
        assert_eq!(
            b.read_file(&cut.sidecar).unwrap(),
            tail,
            "{damage}: the cut bytes are kept"
        );
        assert_eq!(cut.sidecar, format!("{name}.torn-{good_len}"));
        assert!(report.to_string().contains(&cut.sidecar), "{report}");
        assert_eq!(b.read_file(&name).unwrap().len() as u64, good_len);
        assert_eq!(acks.ok(), recs.len());
        assert_eq!(
            by_series(&read_all(&mut wal)),
            by_series(&recs),
            "{damage}: every acknowledged record"
        );
        // Appending continues right after the last valid frame.
        wal.write(1, 1, b"after", t0()).unwrap();
        wal.close().unwrap();
        let mut wal = W::open(b.storage(), Config::default()).unwrap();
        assert!(wal.recovery().cut.is_none());
        assert_eq!(read_all(&mut wal).len(), recs.len() + 1);
    }
}

/// A newest segment of four frames of 20 records each (3 series), and the
/// offset at which each frame ends.
fn four_frames<B: Backend, W: Front<S = B::S>>(b: &B, cfg: Config) -> Vec<usize> {
    let mut wal = W::open(b.storage(), cfg).unwrap();
    let mut ends = vec![];
    for f in 0..4 {
        write_all(&mut wal, &workload(20, 3, 20 + f));
        wal.flush().unwrap();
        ends.push(wal.active().bytes as usize);
    }
    wal.close().unwrap();
    ends
}

/// [`four_frames`] in a fresh directory, then `damage` applied to the
/// newest segment's bytes (given where each frame ends): the directory, the
/// config, the frame ends, the segment's name and its damaged bytes.
fn four_frames_damaged<B: Backend, W: Front<S = B::S>>(
    damage: impl FnOnce(&mut Vec<u8>, &[usize]),
) -> (B, Config, Vec<usize>, String, Vec<u8>) {
    let b = B::fresh();
    let cfg = raw(Config::default().with_flush_interval(None).with_reserve(0));
    let ends = four_frames::<B, W>(&b, cfg);
    let name = newest_name(&b);
    let mut bytes = b.read_file(&name).unwrap();
    damage(&mut bytes, &ends);
    b.write_file(&name, &bytes);
    (b, cfg, ends, name, bytes)
}

pub fn damage_in_the_middle_of_the_newest_segment_refuses_to_open_and_salvage_keeps_every_valid_frame<
    B: Backend,
    W: Front<S = B::S>,
>() {
    // A bit flip inside frame 2 (of 4): frames 3 and 4 are intact after it.
    let (b, cfg, ends, name, bytes) =
        four_frames_damaged::<B, W>(|b, ends| b[ends[0] + 30] ^= 0x10);
    let before = b.names();
    for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::Strict] {
        match W::open(b.storage(), cfg.with_recovery(mode)) {
            Err(e @ Error::Damaged { .. }) => {
                let Error::Damaged {
                    segment,
                    offset,
                    frames_after,
                    records_after,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!(
                    (segment, offset as usize, frames_after, records_after),
                    (1, ends[0], 2, 40),
                    "{mode:?}: the damage and the intact frames after it are named"
                );
                assert!(e.to_string().contains("not a torn write"), "{e}");
                assert_eq!(e.kind(), wal_core::ErrorKind::Corrupt);
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        assert_eq!(
            b.read_file(&name).unwrap(),
            bytes,
            "{mode:?}: nothing changed"
        );
        assert_eq!(b.names(), before, "{mode:?}: no file created");
    }
    // Salvage keeps frames 1, 3 and 4, and sets the damaged one aside.
    let mut wal = W::open(b.storage(), cfg.with_recovery(RecoveryMode::Salvage)).unwrap();
    let s = wal.recovery().salvaged.clone().expect("a salvage report");
    assert_eq!((s.segment, s.offset as usize), (1, ends[0]));
    assert_eq!((s.frames_kept, s.records_kept), (2, 40));
    assert_eq!(s.lost, vec![(ends[0] as u64, (ends[1] - ends[0]) as u64)]);
    assert_eq!(b.read_file(&s.sidecar).unwrap(), bytes[ends[0]..].to_vec());
    assert!(wal.recovery().to_string().contains(&s.sidecar));
    let mut expected = frame_order(&workload(20, 3, 20));
    expected.extend(frame_order(&workload(20, 3, 22)));
    expected.extend(frame_order(&workload(20, 3, 23)));
    assert_eq!(read_all(&mut wal), expected, "every valid frame, in order");
    wal.write(1, 1, b"after", t0()).unwrap();
    wal.close().unwrap();
    let mut wal = W::open(b.storage(), cfg).unwrap();
    assert!(wal.recovery().cut.is_none() && wal.recovery().salvaged.is_none());
    assert_eq!(read_all(&mut wal).len(), 61);
}

pub fn a_damaged_header_in_front_of_frames_refuses_to_open_and_salvage_keeps_them<
    B: Backend,
    W: Front<S = B::S>,
>() {
    // Byte 2, inside the magic.
    let (b, cfg, ends, name, bytes) = four_frames_damaged::<B, W>(|b, _| b[2] = 0);
    match W::open(b.storage(), cfg) {
        Err(Error::Damaged {
            offset: 0,
            reason: Corruption::BadMagic,
            frames_after: 4,
            records_after: 80,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(b.read_file(&name).unwrap(), bytes, "nothing changed");
    let mut wal = W::open(b.storage(), cfg.with_recovery(RecoveryMode::Salvage)).unwrap();
    let s = wal.recovery().salvaged.clone().unwrap();
    assert_eq!((s.offset, s.frames_kept, s.records_kept), (0, 4, 80));
    assert_eq!(s.lost, vec![(0, 24)], "only the header");
    assert_eq!(read_all(&mut wal).len(), 80);
    assert_eq!(b.read_file(&name).unwrap().len(), ends[3]);
}

pub fn a_torn_tail_is_cut_and_its_sidecar_never_overwritten<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let cfg = raw(Config::default().with_flush_interval(None).with_reserve(0));
    let mut wal = W::open(b.storage(), cfg).unwrap();
    write_all(&mut wal, &workload(20, 3, 30));
    wal.close().unwrap();
    drop(wal);
    let name = newest_name(&b);
    let good = b.read_file(&name).unwrap();
    let mut sidecars = vec![];
    for garbage in [7u8, 9] {
        let mut bytes = good.clone();
        bytes.extend_from_slice(&[garbage; 300]);
        b.write_file(&name, &bytes);
        let wal = W::open(b.storage(), cfg).unwrap();
        let cut = wal.recovery().cut.clone().unwrap();
        assert_eq!((cut.offset as usize, cut.bytes), (good.len(), 300));
        sidecars.push(cut.sidecar);
    }
    assert_eq!(
        sidecars,
        [
            format!("{name}.torn-{}", good.len()),
            format!("{name}.torn-{}.1", good.len())
        ]
    );
    assert_eq!(b.read_file(&sidecars[0]).unwrap(), vec![7u8; 300]);
    assert_eq!(b.read_file(&sidecars[1]).unwrap(), vec![9u8; 300]);
}

pub fn strict_recovery_refuses_a_torn_tail<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    wal.close().unwrap();
    drop(wal);
    let name = newest_name(&b);
    let mut bytes = b.read_file(&name).unwrap();
    let end = bytes.len() as u64;
    bytes.extend_from_slice(&[0xAB; 5]);
    b.write_file(&name, &bytes);
    let strict = Config::default().with_recovery(RecoveryMode::Strict);
    match W::open(b.storage(), strict) {
        Err(Error::Corrupt {
            segment: 1,
            offset,
            reason: Corruption::FrameHeaderTruncated { remaining: 5 },
        }) => {
            assert_eq!(offset, end)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.read_file(&name).unwrap(),
        bytes,
        "strict open changes nothing"
    );
}

pub fn a_segment_never_written_is_started_over_even_in_strict_mode<
    B: Backend,
    W: Front<S = B::S>,
>() {
    for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::Strict] {
        for written in [0usize, 10] {
            let b = B::fresh();
            let cfg = Config::default().with_recovery(mode);
            let mut wal = W::open(b.storage(), cfg).unwrap();
            wal.write(1, 1, b"kept", t0()).unwrap();
            wal.rotate().unwrap();
            drop(wal);
            // A crash right after the rotation created segment 2: its header
            // reached the media only in part (or not at all).
            b.write_file("seg0000000000000002.wal", &codec_header(2)[..written]);
            let mut wal = W::open(b.storage(), cfg).unwrap();
            assert!(wal.recovery().restarted, "{mode:?} {written}");
            assert!(wal.recovery().cut.is_none());
            assert_eq!(
                b.read_file("seg0000000000000002.wal").unwrap(),
                codec_header(2).to_vec()
            );
            assert_eq!(read_all(&mut wal).len(), 1);
            wal.write(2, 2, b"new", t0()).unwrap();
            wal.close().unwrap();
            let mut wal = W::open(b.storage(), cfg).unwrap();
            assert_eq!(read_all(&mut wal).len(), 2);
        }
    }
}

pub fn a_torn_segment_header_is_set_aside_and_recreated<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"kept", t0()).unwrap();
    wal.rotate().unwrap();
    drop(wal);
    // The newest segment's header is garbage, and nothing valid follows.
    let mut torn = codec_header(2)[..10].to_vec();
    torn.extend_from_slice(&[0xEE; 7]);
    b.write_file("seg0000000000000002.wal", &torn);
    let strict = Config::default().with_recovery(RecoveryMode::Strict);
    assert!(matches!(
        W::open(b.storage(), strict),
        Err(Error::Corrupt { offset: 0, .. })
    ));
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let cut = wal.recovery().cut.clone().unwrap();
    assert_eq!((cut.segment, cut.offset, cut.bytes), (2, 0, 17));
    assert_eq!(cut.reason, Corruption::HeaderTruncated { len: 17 });
    assert_eq!(b.read_file(&cut.sidecar).unwrap(), torn);
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap(),
        codec_header(2).to_vec()
    );
    assert_eq!(read_all(&mut wal).len(), 1);
}

pub fn a_whole_foreign_header_on_the_newest_segment_is_refused_not_repaired<
    B: Backend,
    W: Front<S = B::S>,
>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    wal.rotate().unwrap();
    drop(wal);
    // Segment 2's file holds a valid header for segment 5 (a renamed file).
    let mut foreign = codec_header(5).to_vec();
    foreign.extend_from_slice(b"someone else's frames");
    b.write_file("seg0000000000000002.wal", &foreign);
    match W::open(b.storage(), Config::default()) {
        Err(
            e @ Error::Corrupt {
                segment: 2,
                offset: 0,
                reason: Corruption::SegmentIdMismatch { found: 5 },
            },
        ) => {
            assert!(e.to_string().contains("seg0000000000000002.wal"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap(),
        foreign,
        "left untouched"
    );
}

/// On the single-threaded WAL, which reserves between frames, in its calls.
pub fn reserved_space_is_used_then_released<B: Backend>() {
    let b = B::fresh();
    let cfg = Config::default()
        .with_reserve(64 * 1024)
        .with_flush_interval(None);
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    let recs = workload(300, 5, 11);
    write_all(&mut wal, &recs[..100]);
    wal.flush().unwrap();
    let log = wal.active().bytes as usize;
    let file = b.read_file("seg0000000000000001.wal").unwrap();
    assert!(
        file.len() >= log + 64 * 1024,
        "zeros are reserved ahead of the log ({} bytes)",
        file.len()
    );
    assert!(file[log..].iter().all(|&x| x == 0));
    // Rotation releases the closed segment's reserved space.
    let closed = wal.rotate().unwrap();
    assert_eq!(
        b.read_file("seg0000000000000001.wal").unwrap().len() as u64,
        closed.bytes
    );
    write_all(&mut wal, &recs[100..200]);
    wal.flush().unwrap();
    let log2 = wal.active().bytes as usize;
    // A crash (no close) leaves the zeros; reopening releases them, cuts nothing.
    let mut frozen = b.read_file("seg0000000000000002.wal").unwrap();
    assert!(frozen.len() > log2);
    drop(wal);
    b.write_file("seg0000000000000002.wal", &frozen);
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    assert!(wal.recovery().cut.is_none(), "{}", wal.recovery());
    assert_eq!(
        wal.recovery().released_zero_bytes as usize,
        frozen.len() - log2
    );
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs[..200]));
    drop(wal);
    // A frame torn inside the reserved zeros is cut with the zeros after it.
    frozen[log2..log2 + 5].copy_from_slice(b"\x01torn");
    b.write_file("seg0000000000000002.wal", &frozen);
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    let cut = wal.recovery().cut.clone().expect("the torn frame is cut");
    assert_eq!(
        (cut.offset as usize, cut.bytes as usize),
        (log2, frozen.len() - log2)
    );
    assert_eq!(b.read_file(&cut.sidecar).unwrap(), frozen[log2..].to_vec());
    write_all(&mut wal, &recs[200..]);
    wal.close().unwrap();
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap().len() as u64,
        wal.active().bytes,
        "close releases"
    );
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

fn codec_header(id: u64) -> [u8; 24] {
    wal_core::format::header::encode(id)
}
