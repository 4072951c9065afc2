//! Damage a power cut can leave in front of valid frames (a sector written
//! after the last sync that never reached the media, reading as zeros)
//! against damage it cannot (anything else): the first is a torn tail, cut
//! and set aside; the second is refused.

use wal_core::scan::{inspect, Ending};
use wal_core::{Config, Error, FileName, RecoveryMode, Storage};

use super::*;

const SECTOR: usize = 512;

/// A newest segment of four raw frames of about 1.7 KiB (15 records of
/// 100 bytes each, series 0..3), no reserve. Returns its name, its bytes,
/// where each frame ends, and the records of the first frame.
fn four_large_frames<B: Backend, W: Front<S = B::S>>(
    b: &B,
    cfg: Config,
) -> (String, Vec<u8>, Vec<usize>, Vec<Rec>) {
    let mut wal = W::open(b.storage(), cfg).unwrap();
    let mut ends = vec![];
    let mut first = vec![];
    for f in 0..4i64 {
        for i in 0..15i64 {
            let value: Vec<u8> = (0..100u8).map(|j| b'a' + (j + i as u8) % 26).collect();
            let ts = f * 100 + i;
            wal.write((i % 3) as u64, ts, &value, t0()).unwrap();
            if f == 0 {
                first.push(rec((i % 3) as u64, ts, &value));
            }
        }
        wal.flush().unwrap();
        ends.push(wal.active().bytes as usize);
    }
    wal.close().unwrap();
    let name = b
        .names()
        .into_iter()
        .filter(|n| matches!(FileName::parse(n), Some(FileName::Segment(_))))
        .max()
        .unwrap();
    let bytes = b.read_file(&name).unwrap();
    (name, bytes, ends, frame_order(&first))
}

fn config() -> Config {
    raw(Config::default().with_flush_interval(None).with_reserve(0))
}

/// How read-only inspection (what `wal verify` runs) sees segment 1.
fn ending<B: Backend>(b: &B) -> Ending {
    let mut storage = b.storage();
    let file = storage.open(FileName::Segment(1)).ok().unwrap();
    inspect(1, file, true, |_, _| {}).unwrap().1
}

pub fn valid_frames_after_a_lost_sector_are_a_torn_tail<B: Backend, W: Front<S = B::S>>() {
    // A whole sector inside frame 2 lost, or the first bytes of frame 2 up
    // to the next sector boundary (the sector it shares with frame 1).
    for lost in ["a whole sector", "the first sector's end"] {
        let b = B::fresh();
        let (name, mut bytes, ends, first) = four_large_frames::<B, W>(&b, config());
        let (from, to) = match lost {
            "a whole sector" => {
                let from = ends[0].div_ceil(SECTOR) * SECTOR;
                (from, from + SECTOR)
            }
            _ => (ends[0], ends[0].div_ceil(SECTOR) * SECTOR),
        };
        assert!(
            ends[0] <= from && from < to && to < ends[1],
            "{lost}: inside frame 2"
        );
        bytes[from..to].fill(0);
        b.write_file(&name, &bytes);
        let inspected = ending(&b);
        assert!(
            matches!(inspected, Ending::TornTail { offset, frames_after: 2, records_after: 30, .. } if offset as usize == ends[0]),
            "{lost}: {inspected:?}"
        );
        let strict = W::open(b.storage(), config().with_recovery(RecoveryMode::Strict));
        assert!(
            matches!(strict, Err(Error::Corrupt { offset, .. }) if offset as usize == ends[0]),
            "{lost}: strict refuses a torn tail: {strict:?}"
        );
        assert_eq!(
            b.read_file(&name).unwrap(),
            bytes,
            "{lost}: nothing changed"
        );
        let mut wal = W::open(b.storage(), config()).unwrap();
        let cut = wal.recovery().cut.clone().expect("a torn tail cut");
        assert_eq!(
            (cut.offset as usize, cut.frames_after, cut.records_after),
            (ends[0], 2, 30),
            "{lost}"
        );
        assert_eq!(
            b.read_file(&cut.sidecar).unwrap(),
            bytes[ends[0]..].to_vec()
        );
        assert!(
            wal.recovery().to_string().contains("never acknowledged"),
            "{}",
            wal.recovery()
        );
        assert_eq!(read_all(&mut wal), first, "{lost}: the log up to the hole");
        wal.write(1, 1, b"after", t0()).unwrap();
        wal.close().unwrap();
    }
}

pub fn damage_no_power_cut_explains_in_front_of_valid_frames_is_refused<
    B: Backend,
    W: Front<S = B::S>,
>() {
    // Garbage over a sector inside frame 2, or zeros only where it shares a
    // sector with frame 3 (which holds frame 3's CRC, so reached the media).
    for damage in ["garbage", "zeros before the next frame"] {
        let b = B::fresh();
        let (name, mut bytes, ends, _) = four_large_frames::<B, W>(&b, config());
        match damage {
            "garbage" => {
                let from = ends[0].div_ceil(SECTOR) * SECTOR;
                bytes[from..from + SECTOR].fill(0xA5);
            }
            _ => {
                let from = ends[1] / SECTOR * SECTOR;
                assert!(
                    from > ends[0] && from < ends[1],
                    "frame 3 starts mid-sector"
                );
                bytes[from..ends[1]].fill(0);
            }
        }
        b.write_file(&name, &bytes);
        assert!(
            matches!(
                ending(&b),
                Ending::Damaged {
                    frames_after: 2,
                    ..
                }
            ),
            "{damage}: {:?}",
            ending(&b)
        );
        match W::open(b.storage(), config()) {
            Err(Error::Damaged {
                offset,
                frames_after: 2,
                records_after: 30,
                ..
            }) => assert_eq!(offset as usize, ends[0], "{damage}"),
            other => panic!("{damage}: {other:?}"),
        }
        assert_eq!(
            b.read_file(&name).unwrap(),
            bytes,
            "{damage}: nothing changed"
        );
    }
}
