//! Rotation, reading and deleting segments.

use wal_core::{Config, Error, FileName};

use super::*;

pub fn rotate_returns_the_closed_segment<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    write_all(
        &mut wal,
        &[rec(1, 50, b"a"), rec(2, -5, b"b"), rec(1, 70, b"c")],
    );
    let info = wal.rotate().unwrap(); // flushes first
    assert_eq!(info.id, 1);
    assert_eq!((info.frames, info.entries, info.records), (1, 2, 3));
    assert_eq!(
        (info.min_timestamp, info.max_timestamp),
        (Some(-5), Some(70))
    );
    assert_eq!(
        info.bytes,
        b.read_file("seg0000000000000001.wal").unwrap().len() as u64
    );
    assert_eq!(wal.segments(), vec![1, 2]);
    let empty = wal.rotate().unwrap();
    assert_eq!(
        (empty.id, empty.frames, empty.records, empty.min_timestamp),
        (2, 0, 0, None)
    );
    assert_eq!(wal.segments(), vec![1, 2, 3]);
    assert_eq!(
        wal.info(1).unwrap(),
        info,
        "a scan of the closed segment agrees"
    );
}

pub fn rotates_when_file_size_would_be_passed<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let cfg = (raw(Config::default()))
        .with_file_size(4096)
        .with_buffer_size(512)
        .with_flush_interval(None);
    let mut wal = W::open(b.storage(), cfg).unwrap();
    let recs = workload(2000, 10, 1);
    write_all(&mut wal, &recs);
    wal.close().unwrap();
    let mut wal = W::open(b.storage(), cfg).unwrap();
    let ids = wal.segments();
    assert!(ids.len() > 10, "{ids:?}");
    for id in &ids {
        let len = b
            .read_file(&FileName::Segment(*id).to_string())
            .unwrap()
            .len();
        assert!(len <= 4096, "segment {id} has {len} bytes");
        let info = wal.info(*id).unwrap();
        assert!(
            info.frames >= 1,
            "no empty segment is left behind by size rotation"
        );
        assert_eq!(info.bytes, len as u64);
    }
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

pub fn a_frame_larger_than_file_size_gets_its_own_segment<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let cfg = (raw(Config::default()))
        .with_file_size(4096)
        .with_buffer_size(1024);
    let mut wal = W::open(b.storage(), cfg).unwrap();
    wal.write(1, 1, b"small", t0()).unwrap();
    wal.flush().unwrap();
    wal.write(1, 2, &vec![9u8; 10_000], t0()).unwrap(); // over buffer_size
    wal.flush().unwrap();
    assert_eq!(wal.segments(), vec![1, 2]);
    assert_eq!(wal.info(2).unwrap().records, 1);
    wal.write(1, 3, b"after", t0()).unwrap();
    wal.flush().unwrap();
    assert_eq!(wal.segments(), vec![1, 2, 3]);
    let all = read_all(&mut wal);
    assert_eq!(
        all.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(all[1].value.len(), 10_000);
}

pub fn read_streams_closed_and_active_segments<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let first = workload(300, 5, 2);
    write_all(&mut wal, &first);
    let closed = wal.rotate().unwrap();
    assert_eq!(
        by_series(&read_records(&mut wal, closed.id)),
        by_series(&first)
    );
    let second = workload(50, 5, 3);
    write_all(&mut wal, &second[..20]);
    wal.flush().unwrap();
    write_all(&mut wal, &second[20..]); // buffered, not flushed
    let active = wal.segments()[1];
    assert_eq!(
        read_records(&mut wal, active),
        frame_order(&second[..20]),
        "only flushed frames"
    );
    wal.flush().unwrap();
    assert_eq!(read_records(&mut wal, active).len(), 50);
    assert_eq!(wal.read(99).err(), Some(Error::UnknownSegment { id: 99 }));
}

pub fn delete_removes_closed_segments_only<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    write_all(&mut wal, &workload(10, 2, 4));
    let one = wal.rotate().unwrap().id;
    write_all(&mut wal, &workload(10, 2, 5));
    let two = wal.rotate().unwrap().id;
    let active = *wal.segments().last().unwrap();
    assert_eq!(wal.delete(active), Err(Error::ActiveSegment { id: active }));
    assert_eq!(wal.delete(77), Err(Error::UnknownSegment { id: 77 }));
    wal.delete(one).unwrap();
    assert_eq!(wal.delete(one), Err(Error::UnknownSegment { id: one }));
    assert!(matches!(wal.read(one), Err(Error::UnknownSegment { .. })));
    assert_eq!(wal.segments(), vec![two, active]);
    assert!(b.read_file(&FileName::Segment(one).to_string()).is_none());
    drop(wal);
    let wal = W::open(b.storage(), Config::default()).unwrap();
    assert_eq!(wal.segments(), vec![two, active], "the deletion is durable");
}
