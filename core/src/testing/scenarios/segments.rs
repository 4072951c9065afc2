//! Segments: rotation on demand and by size, reading, deleting.

use alloc::vec;
use alloc::vec::Vec;

use super::*;

pub fn rotate_returns_the_closed_segment<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base()).check("open")?;
    write_all(
        &mut wal,
        &[rec(1, 50, b"a"), rec(2, -5, b"b"), rec(1, 70, b"c")],
    )?;
    let info = wal.rotate().check("rotate")?; // flushes first
    ensure_eq!(info.id, 1);
    ensure_eq!((info.frames, info.entries, info.records), (1, 2, 3));
    ensure_eq!(
        (info.min_timestamp, info.max_timestamp),
        (Some(-5), Some(70))
    );
    ensure_eq!(wal.segments(), vec![1, 2]);
    let empty = wal.rotate().check("rotate an empty segment")?;
    ensure_eq!((empty.id, empty.frames, empty.records), (2, 0, 0));
    ensure_eq!(wal.segments(), vec![1, 2, 3]);
    ensure_eq!(wal.info(1).check("info")?, info, "a scan agrees");
    wal.close().check("close")?;
    let mut storage = m.reopen();
    let len = file_len(&mut storage, FileName::Segment(1))?;
    ensure_eq!(
        len,
        info.bytes,
        "the closed segment ends with its last frame"
    );
    Ok(())
}

pub fn rotates_when_file_size_would_be_passed<M: Medium>(m: &mut M) -> Outcome {
    let cfg = base()
        .with_file_size(4096)
        .with_buffer_size(512)
        .with_flush_interval(None);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let recs = workload(600, 10, 1);
    write_all(&mut wal, &recs)?;
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    let ids = wal.segments();
    ensure!(ids.len() > 5 && ids.len() < 20, "segments: {ids:?}");
    for id in &ids {
        let info = wal.info(*id).check("info")?;
        ensure!(info.bytes <= 4096, "segment {id} has {} bytes", info.bytes);
        ensure!(info.frames >= 1, "segment {id} is empty");
    }
    ensure_eq!(by_series(&read_all(&mut wal)?), by_series(&recs));
    Ok(())
}

pub fn a_frame_larger_than_file_size_gets_its_own_segment<M: Medium>(m: &mut M) -> Outcome {
    let cfg = base().with_file_size(4096).with_buffer_size(1024);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    wal.write(1, 1, b"small", T0).check("write")?;
    wal.flush().check("flush")?;
    wal.write(1, 2, &vec![9u8; 10_000], T0).check("write")?;
    wal.flush().check("flush")?;
    ensure_eq!(wal.segments(), vec![1, 2]);
    ensure_eq!(wal.info(2).check("info")?.records, 1);
    wal.write(1, 3, b"after", T0).check("write")?;
    wal.flush().check("flush")?;
    ensure_eq!(wal.segments(), vec![1, 2, 3]);
    let all = read_all(&mut wal)?;
    let ts: Vec<i64> = all.iter().map(|r| r.timestamp).collect();
    ensure_eq!(ts, vec![1, 2, 3]);
    ensure_eq!(all[1].value.len(), 10_000);
    Ok(())
}

pub fn read_streams_closed_and_active_segments<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base().with_flush_interval(None)).check("open")?;
    let first = workload(150, 5, 2);
    write_all(&mut wal, &first)?;
    let closed = wal.rotate().check("rotate")?;
    ensure_eq!(
        by_series(&read_records(&mut wal, closed.id)?),
        by_series(&first)
    );
    let second = workload(50, 5, 3);
    write_all(&mut wal, &second[..20])?;
    wal.flush().check("flush")?;
    write_all(&mut wal, &second[20..])?; // buffered, not flushed
    let active = wal.segments()[1];
    ensure_eq!(
        read_records(&mut wal, active)?,
        frame_order(&second[..20]),
        "only flushed frames"
    );
    wal.flush().check("flush")?;
    ensure_eq!(read_records(&mut wal, active)?.len(), 50);
    let unknown = wal.read(99).err();
    ensure_eq!(unknown, Some(Error::UnknownSegment { id: 99 }));
    Ok(())
}

pub fn delete_removes_closed_segments_only<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base()).check("open")?;
    write_all(&mut wal, &workload(10, 2, 4))?;
    let one = wal.rotate().check("rotate")?.id;
    write_all(&mut wal, &workload(10, 2, 5))?;
    let two = wal.rotate().check("rotate")?.id;
    let active = wal.segments()[2];
    ensure_eq!(wal.delete(active), Err(Error::ActiveSegment { id: active }));
    ensure_eq!(wal.delete(77), Err(Error::UnknownSegment { id: 77 }));
    wal.delete(one).check("delete")?;
    ensure_eq!(wal.delete(one), Err(Error::UnknownSegment { id: one }));
    ensure!(
        matches!(wal.read(one), Err(Error::UnknownSegment { .. })),
        "a deleted segment cannot be read"
    );
    ensure_eq!(wal.segments(), vec![two, active]);
    wal.close().check("close")?;
    let mut storage = m.reopen();
    let mut names = storage.list().check("list")?;
    names.sort_unstable();
    ensure_eq!(
        names,
        vec![FileName::Segment(two), FileName::Segment(active)]
    );
    let wal = Wal::open(storage, base()).check("reopen")?;
    ensure_eq!(wal.segments(), vec![two, active], "the deletion is durable");
    Ok(())
}
