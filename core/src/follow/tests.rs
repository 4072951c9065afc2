//! The follower over `MemStorage`: a frame written halfway (the file ends
//! inside it, or its last bytes not there yet) is not handed out until it is
//! whole; garbage with a valid frame behind it is corruption naming its
//! segment and offset; rotations and deletions are followed; a start
//! position is checked as a replay checks it.

use alloc::vec::Vec;
use core::time::Duration;

use super::Follower;
use crate::testing::{MemStorage, Op};
use crate::{Config, Error, FileName, Position, Wal};

const SEG1: FileName = FileName::Segment(1);

/// A WAL over `mem` writing `values` one frame each into segment 1;
/// returns it and each frame's start.
fn frames(mem: &MemStorage, values: &[&[u8]]) -> (Wal<MemStorage>, Vec<Position>) {
    let config = Config::default().with_reserve(0).with_compression(false);
    let mut wal = Wal::open(mem.clone(), config).unwrap();
    for (i, v) in values.iter().enumerate() {
        wal.write(7, i as i64, v, Duration::ZERO).unwrap();
        wal.flush().unwrap();
    }
    let starts = wal
        .replay(Position::START)
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    (wal, starts)
}

/// The values a poll handed out.
fn values(f: &mut Follower<MemStorage>) -> Vec<Vec<u8>> {
    let polled = f.poll().unwrap();
    assert!(!polled.more);
    polled
        .entries
        .into_iter()
        .flat_map(|(_, e)| e.values)
        .collect()
}

fn syncs(mem: &MemStorage) -> usize {
    mem.op_log()
        .iter()
        .filter(|op| matches!(op, Op::Sync(_)))
        .count()
}

#[test]
fn a_half_written_frame_is_handed_out_only_once_whole_and_synced_first() {
    let mem = MemStorage::new();
    let mut f = Follower::new(mem.clone(), Position::START);
    assert!(values(&mut f).is_empty(), "an empty storage: nothing yet");
    assert_eq!(f.position(), None);
    let (_wal, starts) = frames(&mem, &[b"one", b"two"]);
    let full = mem.contents(SEG1).unwrap();
    let second = starts[1].offset as usize;
    // The file ends inside the second frame's header, then its payload.
    mem.put(SEG1, full[..second + 10].to_vec());
    let before = syncs(&mem);
    assert_eq!(values(&mut f), [b"one".to_vec()]);
    assert_eq!(syncs(&mem), before + 1, "synced before handing out");
    assert_eq!(f.position(), Some(starts[1]));
    mem.put(SEG1, full[..full.len() - 1].to_vec());
    assert!(values(&mut f).is_empty());
    // Whole length, last bytes not copied yet: the CRC does not match.
    let mut torn = full.clone();
    torn[full.len() - 3..].fill(0);
    mem.put(SEG1, torn);
    let before = syncs(&mem);
    assert!(values(&mut f).is_empty());
    assert_eq!(syncs(&mem), before, "no sync for a poll with nothing new");
    mem.put(SEG1, full.clone());
    let polled = f.poll().unwrap();
    assert_eq!(polled.entries.len(), 1);
    assert_eq!(polled.entries[0].0, starts[1]);
    assert_eq!(polled.entries[0].1.values, [b"two".to_vec()]);
    assert_eq!(f.position(), Some(Position::new(1, full.len() as u64)));
    assert!(values(&mut f).is_empty(), "each record once");
}

#[test]
fn garbage_followed_by_a_valid_frame_is_corruption_naming_segment_and_offset() {
    let mem = MemStorage::new();
    let (_wal, starts) = frames(&mem, &[b"one", b"two"]);
    let full = mem.contents(SEG1).unwrap();
    let second = starts[1].offset as usize;
    let mut bad = full[..second].to_vec();
    bad.extend_from_slice(&[0xA5; 40]);
    bad.extend_from_slice(&full[second..]);
    mem.put(SEG1, bad);
    let mut f = Follower::new(mem.clone(), Position::START);
    assert_eq!(values(&mut f), [b"one".to_vec()]);
    match f.poll() {
        Err(Error::Corrupt {
            segment: 1, offset, ..
        }) => assert_eq!(offset, second as u64),
        other => panic!("{other:?}"),
    }
    // Garbage alone at the end is a frame still being written.
    let mut tail = full[..second].to_vec();
    tail.extend_from_slice(&[0xA5; 40]);
    mem.put(SEG1, tail);
    let mut f = Follower::new(mem.clone(), Position::START);
    assert_eq!(values(&mut f), [b"one".to_vec()]);
    assert!(values(&mut f).is_empty());
}

#[test]
fn rotations_and_deletions_are_followed_and_a_start_is_checked() {
    let mem = MemStorage::new();
    let (mut wal, _) = frames(&mem, &[b"a"]);
    let mut f = Follower::new(mem.clone(), Position::START);
    assert_eq!(values(&mut f), [b"a".to_vec()]);
    for v in [b"b", b"c"] {
        wal.rotate().unwrap();
        wal.write(7, 1, v, Duration::ZERO).unwrap();
        wal.flush().unwrap();
    }
    assert_eq!(values(&mut f), [b"b".to_vec(), b"c".to_vec()]);
    let end = wal.durable().unwrap();
    assert_eq!(f.position(), Some(end));
    assert_eq!(wal.checkpoint(end).unwrap(), [1, 2]);
    wal.write(7, 2, b"d", Duration::ZERO).unwrap();
    wal.flush().unwrap();
    assert_eq!(values(&mut f), [b"d".to_vec()]);
    // A follower behind a checkpoint, and bad starts.
    let gone = Follower::new(mem.clone(), Position::first_frame(1)).poll();
    assert!(matches!(gone, Err(Error::PositionGone { .. })), "{gone:?}");
    let past = Follower::new(mem.clone(), Position::new(9, 24)).poll();
    assert!(matches!(past, Err(Error::PastEnd { .. })), "{past:?}");
    let inside = Follower::new(mem.clone(), Position::new(3, 30)).poll();
    assert!(matches!(inside, Err(Error::NotAFrame { .. })), "{inside:?}");
    let mut from = Follower::new(mem.clone(), end);
    assert_eq!(values(&mut from), [b"d".to_vec()]);
}
