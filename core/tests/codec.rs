//! Roundtrip properties and a corruption table for the on-disk structures,
//! in the spirit of LevelDB's `log_test.cc`.

use embedded_io::Write;
use proptest::prelude::*;
use wal_core::format::{self, frame, Codec, Entry};
use wal_core::host::WriteBuffer;
use wal_core::scan::FrameScanner;
use wal_core::storage::Storage;
use wal_core::testing::MemStorage;
use wal_core::FileName;
use wal_core::{Config, Corruption, EntryFault, Error, Wal};

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (
        any::<u64>(),
        prop::collection::vec(
            (any::<i64>(), prop::collection::vec(any::<u8>(), 0..300)),
            1..20,
        ),
    )
        .prop_map(|(series_id, recs)| Entry {
            series_id,
            timestamps: recs.iter().map(|r| r.0).collect(),
            values: recs.into_iter().map(|r| r.1).collect(),
        })
}

fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let values: Vec<&[u8]> = e.values.iter().map(|v| v.as_slice()).collect();
        format::entry::encode(&mut out, e.series_id, &e.timestamps, &values);
    }
    out
}

proptest! {
    #[test]
    fn entries_roundtrip(entries in prop::collection::vec(entry_strategy(), 1..10)) {
        let bytes = encode(&entries);
        let decoded: Vec<Entry> = format::entry::decode_all(&bytes).unwrap().into_iter().map(Entry::from).collect();
        prop_assert_eq!(decoded, entries);
    }

    /// A reused write buffer seals interleaved series into one entry each,
    /// in first-arrival order, records in write order, byte for byte what
    /// the codec encodes; the stats match; the next round starts clean.
    #[test]
    fn write_buffer_groups_series_in_arrival_order(
        rounds in prop::collection::vec(
            // Few series (they repeat: regrouped) or many (each written
            // once: the buffer's bytes are the frame as they are).
            prop_oneof![Just(6u64), Just(1u64 << 40)].prop_flat_map(|series| {
                prop::collection::vec((0..series, any::<i64>(), prop::collection::vec(any::<u8>(), 0..40)), 1..60)
            }),
            1..4,
        ),
    ) {
        let mut buf = WriteBuffer::<u32>::new();
        let mut frame_bytes = Vec::new();
        for recs in rounds {
            let mut model: Vec<Entry> = Vec::new();
            for (i, (s, ts, v)) in recs.iter().enumerate() {
                let size = buf.push(*s, *ts, v, core::time::Duration::ZERO, Some(i as u32)).unwrap();
                match model.iter_mut().find(|e| e.series_id == *s) {
                    Some(e) => {
                        e.timestamps.push(*ts);
                        e.values.push(v.clone());
                    }
                    None => model.push(Entry { series_id: *s, timestamps: vec![*ts], values: vec![v.clone()] }),
                }
                prop_assert_eq!(size, buf.payload_bytes());
            }
            let expected = encode(&model);
            prop_assert_eq!(buf.payload_bytes(), expected.len());
            let sealed = buf.seal_into(&mut frame_bytes);
            prop_assert_eq!(&frame_bytes[frame::HEADER_LEN..], &expected[..]);
            prop_assert_eq!(sealed.completions, (0..recs.len() as u32).collect::<Vec<_>>());
            prop_assert_eq!(sealed.stats.entries, model.len() as u64);
            prop_assert_eq!(sealed.stats.records, recs.len() as u64);
            prop_assert_eq!(sealed.stats.payload_bytes, expected.len() as u64);
            prop_assert_eq!(sealed.stats.min_timestamp, recs.iter().map(|r| r.1).min());
            prop_assert_eq!(sealed.stats.max_timestamp, recs.iter().map(|r| r.1).max());
            prop_assert!(buf.is_empty());
            prop_assert_eq!(buf.payload_bytes(), 0);
        }
    }

    #[test]
    fn entry_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = format::entry::decode_all(&bytes);
    }

    #[test]
    fn any_truncation_of_an_entry_payload_is_rejected(
        entries in prop::collection::vec(entry_strategy(), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = encode(&entries);
        let cut = cut.index(bytes.len());
        // A cut inside an entry is an error; a cut between entries is the
        // (valid) payload of the entries before it, and nothing more.
        match format::entry::decode_all(&bytes[..cut]) {
            Err(_) => {}
            Ok(got) => {
                let got: Vec<Entry> = got.into_iter().map(Entry::from).collect();
                prop_assert!(!got.is_empty() && got.len() < entries.len());
                prop_assert_eq!(&got[..], &entries[..got.len()]);
                prop_assert_eq!(encode(&got).len(), cut);
            }
        }
    }

    #[test]
    fn frames_roundtrip_through_a_segment(
        frames in prop::collection::vec(prop::collection::vec(entry_strategy(), 1..4), 1..5),
        compression in any::<bool>(),
        segment in 1u64..1000,
    ) {
        let mut storage = MemStorage::new();
        let mut file = storage.create(FileName::Segment(segment)).unwrap();
        file.write_all(&format::header::encode(segment)).unwrap();
        let mut comp = wal_core::host::Compressor::new();
        let mut scratch = Vec::new();
        for entries in &frames {
            let mut raw = vec![0u8; frame::HEADER_LEN];
            raw.extend_from_slice(&encode(entries));
            let compressed = if compression { comp.compress(&raw, &mut scratch) } else { None };
            let (c, bytes) = match compressed {
                Some(len) => (Codec::Snappy, &mut scratch[..len]),
                None => (Codec::Raw, &mut raw[..]),
            };
            format::frame::seal(bytes, c, segment);
            file.write_all(bytes).unwrap();
        }
        let mut scanner = FrameScanner::new(segment, storage.open(FileName::Segment(segment)).unwrap(), None).unwrap().unwrap();
        for entries in &frames {
            let f = scanner.next_frame().unwrap().unwrap().unwrap();
            let got: Vec<Entry> = f.entries().map(Entry::from).collect();
            prop_assert_eq!(&got, entries);
        }
        prop_assert!(scanner.next_frame().unwrap().unwrap().is_none());
    }

    #[test]
    fn scanning_arbitrary_bytes_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..600), keep_header in any::<bool>()) {
        if keep_header && bytes.len() >= 24 {
            bytes[..24].copy_from_slice(&format::header::encode(1));
        }
        let _ = scan(bytes);
    }

    #[test]
    fn header_roundtrip(id in any::<u64>()) {
        let h = format::header::encode(id);
        let fresh = format::header::Header { recycled_from: None };
        prop_assert_eq!(format::header::check(&h, id), Ok(fresh));
        // Recycled: version 2 names the older segment, and only an older one.
        if let Some(from) = id.checked_sub(1 + id % 7).filter(|&f| f >= 1) {
            let r = format::header::encode_recycled(id, from).unwrap();
            prop_assert_eq!(
                format::header::check(&r, id),
                Ok(format::header::Header { recycled_from: Some(from) })
            );
            prop_assert_eq!(format::header::named_id(&r), Some(id));
        }
        prop_assert_eq!(format::header::encode_recycled(id, id), None);
        prop_assert_eq!(
            format::header::check(&h, id.wrapping_add(1)),
            Err(Corruption::SegmentIdMismatch { found: id })
        );
    }
}

/// Writes three frames to segment 1 of a fresh storage (compression off),
/// closes, and returns the storage, the frames' offsets and the segment's bytes.
fn three_frames() -> (MemStorage, Vec<u64>, Vec<u8>) {
    let storage = MemStorage::new();
    let cfg = Config::default().with_compression(false);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let mut offsets = vec![];
    for f in 0..3u64 {
        offsets.push(wal.active().bytes);
        for i in 0..5u64 {
            wal.write(
                i % 2,
                (f * 10 + i) as i64,
                format!("v{f}-{i}").as_bytes(),
                Default::default(),
            )
            .unwrap();
        }
        wal.flush().unwrap();
    }
    wal.close().unwrap();
    let bytes = storage.contents(FileName::Segment(1)).unwrap();
    (storage, offsets, bytes)
}

/// Scans `bytes` as segment 1 and returns the valid frame count and where it stopped.
fn scan(bytes: Vec<u8>) -> (usize, Option<(u64, Corruption)>) {
    let mut s = MemStorage::new();
    s.put(FileName::Segment(1), bytes);
    let mut scanner =
        match FrameScanner::new(1, s.open(FileName::Segment(1)).unwrap(), None).unwrap() {
            Ok(sc) => sc,
            Err((inv, _)) => return (0, Some((inv.offset, inv.reason))),
        };
    let mut n = 0;
    loop {
        match scanner.next_frame().unwrap() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return (n, None),
            Err(inv) => return (n, Some((inv.offset, inv.reason))),
        }
    }
}

/// Rewrites the frame CRC after a deliberate change, so the fault under test
/// is the one reached (not a CRC mismatch).
fn fix_crc(bytes: &mut [u8], offset: usize) {
    let len = u64::from_le_bytes(bytes[offset + 8..offset + 16].try_into().unwrap()) as usize;
    let crc = format::frame::crc(
        1,
        &bytes[offset + 4..offset + 16],
        &bytes[offset + 16..offset + 16 + len],
    );
    bytes[offset..offset + 4].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn truncated_tail_at_every_byte_of_the_last_frame() {
    let (_, offsets, bytes) = three_frames();
    let last = offsets[2] as usize;
    for cut in last..bytes.len() {
        let (frames, stop) = scan(bytes[..cut].to_vec());
        assert_eq!(frames, 2, "cut at {cut}");
        if cut == last {
            assert_eq!(stop, None);
        } else {
            let (off, reason) = stop.unwrap();
            assert_eq!(off, last as u64);
            assert!(
                matches!(
                    reason,
                    Corruption::FrameHeaderTruncated { .. } | Corruption::FrameLengthPastEnd { .. }
                ),
                "cut at {cut}: {reason}"
            );
        }
    }
}

type Mutation = fn(&mut Vec<u8>, usize);
type Expect = fn(&Corruption) -> bool;

#[test]
fn corruption_table() {
    let (_, offsets, bytes) = three_frames();
    let second = offsets[1] as usize;
    let cases: Vec<(&str, Mutation, Expect)> = vec![
        (
            "bad length (huge)",
            |b, o| b[o + 8..o + 16].copy_from_slice(&u64::MAX.to_le_bytes()),
            |r| matches!(r, Corruption::FrameLengthPastEnd { .. }),
        ),
        (
            "bad length (zero)",
            |b, o| b[o + 8..o + 16].copy_from_slice(&0u64.to_le_bytes()),
            |r| matches!(r, Corruption::EmptyFrame),
        ),
        (
            "crc mismatch",
            |b, o| b[o] ^= 1,
            |r| matches!(r, Corruption::FrameCrcMismatch { .. }),
        ),
        (
            "payload bit flip",
            |b, o| b[o + 20] ^= 0x40,
            |r| matches!(r, Corruption::FrameCrcMismatch { .. }),
        ),
        (
            "unknown codec",
            |b, o| {
                b[o + 4] = 7;
                fix_crc(b, o)
            },
            |r| matches!(r, Corruption::UnknownCodec(7)),
        ),
        (
            "reserved bytes",
            |b, o| {
                b[o + 6] = 1;
                fix_crc(b, o)
            },
            |r| matches!(r, Corruption::ReservedNonZero),
        ),
        (
            "zeroed frame header",
            |b, o| b[o..o + 16].fill(0),
            |r| matches!(r, Corruption::EmptyFrame),
        ),
        (
            "zeroed payload region",
            |b, o| {
                b[o + 16..o + 40].fill(0);
                fix_crc(b, o)
            },
            |r| matches!(r, Corruption::BadEntry { .. }),
        ),
        (
            "entry length past its frame",
            |b, o| {
                b[o + 16..o + 24].copy_from_slice(&10_000u64.to_le_bytes());
                fix_crc(b, o)
            },
            |r| {
                matches!(
                    r,
                    Corruption::BadEntry {
                        at: 0,
                        what: EntryFault::LenPastPayload
                    }
                )
            },
        ),
        (
            "entry count zero",
            |b, o| {
                b[o + 32..o + 36].copy_from_slice(&0u32.to_le_bytes());
                fix_crc(b, o)
            },
            |r| {
                matches!(
                    r,
                    Corruption::BadEntry {
                        at: 0,
                        what: EntryFault::ZeroCount
                    }
                )
            },
        ),
        (
            "entry count too large",
            |b, o| {
                b[o + 32..o + 36].copy_from_slice(&u32::MAX.to_le_bytes());
                fix_crc(b, o)
            },
            |r| {
                matches!(
                    r,
                    Corruption::BadEntry {
                        at: 0,
                        what: EntryFault::TimestampsPastEntry
                    }
                )
            },
        ),
        (
            "snappy codec on raw bytes",
            |b, o| {
                b[o + 4] = 1;
                fix_crc(b, o)
            },
            |r| {
                if wal_core::host::Compressor::snappy_available() {
                    matches!(r, Corruption::SnappyInvalid)
                } else {
                    matches!(r, Corruption::SnappyUnavailable)
                }
            },
        ),
    ];
    for (name, mutate, expect) in cases {
        let mut b = bytes.clone();
        mutate(&mut b, second);
        let (frames, stop) = scan(b);
        assert_eq!(
            frames, 1,
            "{name}: the frame before the damage stays readable"
        );
        let (off, reason) = stop.unwrap_or_else(|| panic!("{name}: damage not detected"));
        assert_eq!(off, second as u64, "{name}");
        assert!(expect(&reason), "{name}: got {reason}");
    }
}

#[test]
fn header_corruption_table() {
    let (_, _, bytes) = three_frames();
    let mut empty = bytes.clone();
    empty.clear();
    assert_eq!(
        scan(empty).1,
        Some((0, Corruption::HeaderTruncated { len: 0 }))
    );
    assert_eq!(
        scan(bytes[..23].to_vec()).1,
        Some((0, Corruption::HeaderTruncated { len: 23 }))
    );
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(scan(magic).1, Some((0, Corruption::BadMagic)));
    let mut crc = bytes.clone();
    crc[21] ^= 1;
    assert!(matches!(
        scan(crc).1,
        Some((0, Corruption::HeaderCrcMismatch { .. }))
    ));
    // Fields behind the CRC: fix the CRC so the field check itself is reached.
    let with = |at: usize, val: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + val.len()].copy_from_slice(val);
        let crc = wal_core::checksum::crc32c(&b[..20]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
        scan(b).1.map(|s| s.1)
    };
    assert_eq!(
        with(6, &3u16.to_le_bytes()),
        Some(Corruption::UnsupportedVersion(3))
    );
    // Version 2 (a recycled segment) needs flags naming an older segment:
    // 0 names none.
    assert_eq!(
        with(6, &2u16.to_le_bytes()),
        Some(Corruption::UnknownFlags(0))
    );
    assert_eq!(
        with(16, &4u32.to_le_bytes()),
        Some(Corruption::UnknownFlags(4))
    );
    assert_eq!(
        with(8, &9u64.to_le_bytes()),
        Some(Corruption::SegmentIdMismatch { found: 9 })
    );
}

#[test]
fn a_closed_segment_with_damage_is_an_error_naming_segment_offset_and_reason() {
    let (storage, offsets, mut bytes) = three_frames();
    bytes[offsets[1] as usize + 20] ^= 0xFF;
    storage.put(FileName::Segment(1), bytes);
    // Segment 1 is a closed segment once segment 2 exists.
    storage.put(FileName::Segment(2), format::header::encode(2).to_vec());
    let cfg = Config::default().with_compression(false);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    assert_eq!(wal.recovery().active_segment, 2);
    let results: Vec<_> = wal.read(1).unwrap().collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        2,
        "the first frame's two entries"
    );
    let err = results.last().unwrap().clone().unwrap_err();
    match &err {
        Error::Corrupt {
            segment: 1,
            offset,
            reason: Corruption::FrameCrcMismatch { .. },
        } => {
            assert_eq!(*offset, offsets[1])
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("seg0000000000000001.wal") && msg.contains(&offsets[1].to_string()),
        "{msg}"
    );
    assert!(matches!(
        wal.info(1),
        Err(Error::Corrupt { segment: 1, .. })
    ));
}

#[test]
fn crc_backends_agree_on_frames() {
    let (_, _, bytes) = three_frames();
    assert_eq!(
        wal_core::checksum::crc32c(&bytes),
        wal_core::checksum::software_append(0, &bytes)
    );
}
