//! Reopening: what survives a close, a torn tail cut, reserved space, and
//! `SyncPolicy::Never`.

use alloc::vec;
use alloc::vec::Vec;
use embedded_io::Write;

use super::*;
use crate::config::SyncPolicy;

pub fn reopen_after_close_keeps_everything<M: Medium>(m: &mut M) -> Outcome {
    let recs = workload(700, 20, 6);
    let cfg = base();
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    write_all(&mut wal, &recs[..350])?;
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    ensure!(wal.recovery().cut.is_none(), "nothing to cut");
    write_all(&mut wal, &recs[350..])?;
    drop(wal); // dropping closes too
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    ensure!(wal.segments().len() > 2, "{:?}", wal.segments());
    ensure_eq!(by_series(&read_all(&mut wal)?), by_series(&recs));
    Ok(())
}

/// Writes `recs` acknowledged (flushed), then a frame of 40 more, and
/// closes: the newest segment's ID, where its acknowledged log ends, and
/// where the extra frame ends.
fn two_parts<M: Medium>(m: &mut M, recs: &[Rec], acks: &Acks) -> Result<(u64, u64, u64), String> {
    let mut wal = Wal::open(m.fresh(), base()).check("open")?;
    for r in recs {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .check("write")?;
    }
    wal.flush().check("flush")?;
    let good = wal.active().bytes;
    write_all(&mut wal, &workload(40, 3, 8))?;
    wal.flush().check("flush")?;
    let id = wal.active().id;
    let end = wal.active().bytes;
    wal.close().check("close")?;
    Ok((id, good, end))
}

/// After a torn tail was cut at `good` into a sidecar holding `tail`: the
/// report, the sidecar, every acknowledged record, and appending after.
fn check_cut<M: Medium>(m: &mut M, id: u64, good: u64, tail: &[u8], recs: &[Rec]) -> Outcome {
    let mut wal = Wal::open(m.reopen(), base()).check("reopen")?;
    let Some(cut) = wal.recovery().cut.clone() else {
        return Err(format!("nothing cut: {}", wal.recovery()));
    };
    ensure_eq!(
        (cut.segment, cut.offset, cut.bytes),
        (id, good, tail.len() as u64)
    );
    ensure_eq!(cut.sidecar, format!("{}", FileName::torn_tail(id, good)));
    ensure_eq!(
        by_series(&read_all(&mut wal)?),
        by_series(recs),
        "every acknowledged record"
    );
    wal.write(1, 1, b"after", T0).check("write after the cut")?;
    wal.close().check("close")?;
    let mut storage = m.reopen();
    ensure_eq!(
        file_bytes(&mut storage, FileName::torn_tail(id, good))?,
        tail,
        "the cut bytes are kept"
    );
    let mut wal = Wal::open(storage, base()).check("reopen")?;
    ensure!(wal.recovery().cut.is_none(), "{}", wal.recovery());
    ensure_eq!(read_all(&mut wal)?.len(), recs.len() + 1);
    Ok(())
}

pub fn reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside<M: Medium>(m: &mut M) -> Outcome {
    let recs = workload(300, 7, 7);
    let acks = Acks::default();
    let (id, good, _) = two_parts(m, &recs, &acks)?;
    ensure_eq!(acks.ok(), recs.len());
    // Garbage where the extra frame was: bytes that are no frame.
    let mut storage = m.reopen();
    let mut file = storage.open(FileName::Segment(id)).check("open")?;
    file.truncate(good).check("truncate")?;
    file.seek(SeekFrom::End(0)).check("seek")?;
    let garbage = b"\x01garbage that is not a frame";
    file.write_all(garbage).check("write garbage")?;
    file.sync().check("sync")?;
    drop((file, storage));
    check_cut(m, id, good, garbage, &recs)
}

pub fn a_torn_tail_cut_in_the_middle_of_a_frame_is_set_aside<M: Medium>(m: &mut M) -> Outcome {
    let recs = workload(300, 7, 9);
    let acks = Acks::default();
    let (id, good, end) = two_parts(m, &recs, &acks)?;
    // The power went half-way through the extra frame.
    let mut storage = m.reopen();
    let bytes = file_bytes(&mut storage, FileName::Segment(id))?;
    ensure_eq!(bytes.len() as u64, end);
    let half = good + (end - good) / 2;
    let mut file = storage.open(FileName::Segment(id)).check("open")?;
    file.truncate(half).check("truncate")?;
    file.sync().check("sync")?;
    drop((file, storage));
    check_cut(m, id, good, &bytes[good as usize..half as usize], &recs)
}

pub fn reserved_space_is_used_then_released<M: Medium>(m: &mut M) -> Outcome {
    let cfg = base().with_reserve(4096).with_flush_interval(None);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let acks = Acks::default();
    for i in 0..20 {
        wal.write_with(1, i, b"small frame", T0, acks.callback())
            .check("write")?;
        wal.flush().check("flush")?;
    }
    ensure_eq!(acks.ok(), 20);
    let log = wal.active().bytes;
    wal.close().check("close")?;
    let mut storage = m.reopen();
    ensure_eq!(
        file_len(&mut storage, FileName::Segment(1))?,
        log,
        "released at close"
    );
    let mut wal = Wal::open(storage, cfg).check("reopen")?;
    ensure_eq!(wal.recovery().released_zero_bytes, 0);
    ensure_eq!(wal.recovery().records, 20);
    // Reserved again, written into, and cut again.
    for i in 20..30 {
        wal.write(1, i, b"small frame", T0).check("write")?;
        wal.flush().check("flush")?;
    }
    let log = wal.active().bytes;
    wal.close().check("close")?;
    let mut storage = m.reopen();
    ensure_eq!(file_len(&mut storage, FileName::Segment(1))?, log);
    let mut wal = Wal::open(storage, cfg).check("reopen")?;
    let ts: Vec<i64> = read_all(&mut wal)?.iter().map(|r| r.timestamp).collect();
    ensure_eq!(ts, (0..30).collect::<Vec<i64>>());
    Ok(())
}

pub fn sync_never_still_completes_and_reopens<M: Medium>(m: &mut M) -> Outcome {
    let cfg = base().with_sync(SyncPolicy::Never);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let acks = Acks::default();
    let recs = workload(200, 4, 11);
    for r in &recs {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .check("write")?;
    }
    wal.flush().check("flush")?;
    ensure_eq!(acks.ok(), recs.len(), "written is enough under Never");
    wal.rotate().check("rotate")?; // syncs what it closes
    wal.close().check("close")?; // syncs
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    ensure_eq!(wal.segments(), vec![1, 2]);
    ensure_eq!(by_series(&read_all(&mut wal)?), by_series(&recs));
    Ok(())
}
