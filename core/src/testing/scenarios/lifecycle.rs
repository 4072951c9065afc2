//! The log's life cycle: positions, replay from any of them, durable-only
//! reads, checkpoints.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::config::SyncPolicy;

/// Segments of 4 KiB, buffers of 512 bytes, every frame synced as written.
fn small() -> Config {
    base()
        .with_file_size(4096)
        .with_buffer_size(512)
        .with_flush_interval(None)
}

/// Writes `recs`, each with a completion that keeps what it gives; flushes;
/// returns the positions.
fn write_positions<S: Storage>(wal: &mut Wal<S>, recs: &[Rec]) -> Result<Vec<Position>, String> {
    type Got = Vec<Option<Result<Position, Error>>>;
    let got: Arc<spin::Mutex<Got>> = Arc::new(spin::Mutex::new(alloc::vec![None; recs.len()]));
    for (i, r) in recs.iter().enumerate() {
        let got = got.clone();
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, move |p| {
            got.lock()[i] = Some(p);
        })
        .check("write")?;
    }
    wal.flush().check("flush")?;
    let mut out = Vec::new();
    for (i, p) in got.lock().iter().enumerate() {
        match p {
            Some(Ok(p)) => out.push(*p),
            other => return Err(format!("record {i} completed with {other:?}")),
        }
    }
    Ok(out)
}

/// Every record a replay from `from` yields, with its frame's position.
fn replayed<S: Storage>(wal: &mut Wal<S>, from: Position) -> Result<Vec<(Position, Rec)>, String> {
    let mut out = Vec::new();
    for item in wal.replay(from).check("replay")? {
        let (at, e) = item.check("replay an entry")?;
        for (ts, v) in e.timestamps.iter().zip(&e.values) {
            out.push((at, rec(e.series_id, *ts, v)));
        }
    }
    Ok(out)
}

/// As [`replayed`], a frame at a time through the borrowing
/// `next_frame_with`, after taking `first` entries through `next()`.
fn replayed_by_frame<S: Storage>(
    wal: &mut Wal<S>,
    from: Position,
    first: usize,
) -> Result<Vec<(Position, Rec)>, String> {
    let mut out = Vec::new();
    let mut replay = wal.replay(from).check("replay")?;
    for _ in 0..first {
        let Some(item) = replay.next() else { break };
        let (at, e) = item.check("replay an entry")?;
        for (ts, v) in e.timestamps.iter().zip(&e.values) {
            out.push((at, rec(e.series_id, *ts, v)));
        }
    }
    let mut last = None;
    while let Some(at) = replay
        .next_frame_with(|at, e| {
            for (ts, v) in e.timestamps().zip(e.values()) {
                out.push((at, rec(e.series_id, ts, v)));
            }
        })
        .check("replay a frame")?
    {
        ensure!(last < Some(at), "frames in order: {last:?} then {at}");
        last = Some(at);
    }
    ensure_eq!(replay.next_position(), wal.durable().check("durable")?);
    Ok(out)
}

/// The timestamps of `recs` in order.
fn stamps<'a>(recs: impl IntoIterator<Item = &'a Rec>) -> Vec<i64> {
    recs.into_iter().map(|r| r.timestamp).collect()
}

pub fn completions_give_positions_and_replay_resumes_from_any_of_them<M: Medium>(
    m: &mut M,
) -> Outcome {
    let mut wal = Wal::open(m.fresh(), small()).check("open")?;
    let recs = workload(300, 4, 3);
    let pos = write_positions(&mut wal, &recs)?;
    ensure!(wal.segments().len() > 3, "segments: {:?}", wal.segments());
    ensure!(
        pos.windows(2).all(|w| w[0] <= w[1]),
        "positions follow write order"
    );
    let end = wal.durable().check("durable")?;
    ensure_eq!(
        pos.last().copied(),
        Some(end),
        "the last frame ends the log"
    );
    let all = replayed(&mut wal, Position::START)?;
    ensure_eq!(all.len(), recs.len());
    ensure!(
        all.windows(2).all(|w| w[0].0 <= w[1].0),
        "frames come in log order"
    );
    ensure_eq!(
        by_series(&all.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()),
        by_series(&recs)
    );
    // From any record's position: exactly the records of later frames
    // (the position after a segment's last frame starts the next one).
    for k in [0, 1, 57, 150, 298, 299] {
        let from = pos[k];
        let mut want: Vec<i64> = stamps(
            recs.iter()
                .zip(&pos)
                .filter(|(_, p)| **p > from)
                .map(|(r, _)| r),
        );
        let mut got: Vec<i64> = replayed(&mut wal, from)?
            .iter()
            .map(|(_, r)| r.timestamp)
            .collect();
        want.sort_unstable();
        got.sort_unstable();
        ensure_eq!(got, want, "replay from record {k}'s position {from}");
        // Borrowed a frame at a time, after 0, 1 or 2 entries by `next()`:
        // the same records in the same order.
        ensure_eq!(
            replayed_by_frame(&mut wal, from, k % 3)?,
            replayed(&mut wal, from)?,
            "a frame at a time from {from}"
        );
    }
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), small()).check("reopen")?;
    ensure_eq!(
        replayed(&mut wal, Position::START)?,
        all,
        "the same after a restart"
    );
    Ok(())
}

pub fn readers_see_only_durable_frames<M: Medium>(m: &mut M) -> Outcome {
    // Full buffers are written at once and synced together later (a
    // flush interval under `Always`): written, not yet durable.
    let cfg = base().with_buffer_size(512);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let recs = workload(40, 3, 5);
    write_all(&mut wal, &recs)?;
    ensure!(wal.active().frames >= 1, "a full buffer was written");
    ensure_eq!(wal.durable().check("durable")?, Position::first_frame(1));
    ensure_eq!(
        read_records(&mut wal, 1)?,
        vec![],
        "read sees no unsynced frame"
    );
    ensure_eq!(
        replayed(&mut wal, Position::START)?,
        vec![],
        "nor does replay"
    );
    wal.flush().check("flush")?;
    ensure_eq!(by_series(&read_records(&mut wal, 1)?), by_series(&recs));
    ensure_eq!(replayed(&mut wal, Position::START)?.len(), recs.len());
    // Under `Never` nothing more than written is ever promised.
    let mut wal = Wal::open(m.fresh(), small().with_sync(SyncPolicy::Never)).check("open")?;
    write_all(&mut wal, &recs)?;
    wal.flush().check("flush")?;
    ensure_eq!(replayed(&mut wal, Position::START)?.len(), recs.len());
    Ok(())
}

pub fn replay_and_checkpoint_refuse_positions_they_cannot_use<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), small()).check("open")?;
    let pos = write_positions(&mut wal, &workload(20, 2, 9))?;
    wal.rotate().check("rotate")?;
    write_positions(&mut wal, &workload(20, 2, 10))?;
    wal.rotate().check("rotate")?;
    let end = wal.durable().check("durable")?;
    ensure_eq!(end, Position::first_frame(3));
    let inside = Position::new(1, Position::FIRST_FRAME + 1);
    let e = wal.replay(inside).err();
    ensure_eq!(e, Some(Error::NotAFrame { position: inside }));
    let e = wal.replay(Position::new(1, 2)).err();
    ensure_eq!(
        e,
        Some(Error::NotAFrame {
            position: Position::new(1, 2)
        })
    );
    let past = Position::new(3, 100);
    ensure_eq!(
        wal.replay(past).err(),
        Some(Error::PastEnd {
            position: past,
            end
        })
    );
    ensure_eq!(
        wal.checkpoint(past).err(),
        Some(Error::PastEnd {
            position: past,
            end
        })
    );
    ensure_eq!(
        wal.segments(),
        vec![1, 2, 3],
        "a refused checkpoint deletes nothing"
    );
    ensure_eq!(
        wal.checkpoint(Position::new(3, 0)).check("checkpoint")?,
        vec![1, 2]
    );
    let gone = wal.replay(pos[0]).err();
    ensure_eq!(
        gone,
        Some(Error::PositionGone {
            position: pos[0],
            oldest: end
        })
    );
    ensure_eq!(
        replayed(&mut wal, Position::START)?,
        vec![],
        "START is what is left"
    );
    Ok(())
}

pub fn checkpoint_deletes_closed_segments_wholly_before_it<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), small()).check("open")?;
    let recs = workload(300, 4, 11);
    let pos = write_positions(&mut wal, &recs)?;
    let through = pos[200];
    let before = wal.segments();
    let removed = wal.checkpoint(through).check("checkpoint")?;
    let want: Vec<SegmentId> = before
        .iter()
        .copied()
        .filter(|&s| s < through.segment)
        .collect();
    ensure!(!want.is_empty(), "segments before {through}: {before:?}");
    ensure_eq!(removed, want);
    ensure_eq!(wal.segments().first().copied(), Some(through.segment));
    ensure_eq!(
        wal.checkpoint(through).check("again")?,
        vec![],
        "idempotent"
    );
    // The segment a checkpoint ends exactly at is kept: a replay from there
    // still finds its start.
    let closed = wal.rotate().check("rotate")?;
    let at_end = Position::new(closed.id, closed.bytes);
    let removed = wal
        .checkpoint(at_end)
        .check("checkpoint at a segment's end")?;
    ensure!(
        !removed.contains(&closed.id),
        "{removed:?} took {}",
        closed.id
    );
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), small()).check("reopen")?;
    ensure_eq!(replayed(&mut wal, at_end)?, vec![]);
    ensure_eq!(wal.segments().first().copied(), Some(closed.id));
    Ok(())
}

pub fn retention_by_size_bounds_the_log_and_reports_what_it_removed<M: Medium>(
    m: &mut M,
) -> Outcome {
    let cap = 4 * 4096;
    let cfg = small().with_retain_bytes(Some(cap));
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let recs = workload(600, 3, 21);
    let mut removed = Vec::new();
    for chunk in recs.chunks(20) {
        write_all(&mut wal, chunk)?;
        wal.flush().check("flush")?;
        removed.extend(wal.take_removed());
        let mut held = 0;
        for id in wal.segments() {
            held += wal.info(id).check("info")?.bytes;
        }
        // Checked after each rotation: at most the cap, plus what the
        // active segment gained since (under one segment).
        ensure!(held <= cap + 4096, "{held} bytes held over a cap of {cap}");
    }
    let ids = wal.segments();
    ensure!(!removed.is_empty(), "nothing was removed");
    ensure!(
        removed.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {removed:?}"
    );
    ensure!(
        removed.iter().all(|id| *id < ids[0]),
        "{removed:?} vs {ids:?}"
    );
    ensure_eq!(
        removed.len() + ids.len(),
        *ids.last().unwrap_or(&0) as usize,
        "every segment is either kept or reported removed"
    );
    // What is left is the newest records, whole: a replay holds them all.
    let left = replayed(&mut wal, Position::START)?;
    let first = left.first().map(|(_, r)| r.timestamp).unwrap_or(0);
    let want: Vec<i64> = stamps(recs.iter().filter(|r| r.timestamp >= first));
    let mut got: Vec<i64> = left.iter().map(|(_, r)| r.timestamp).collect();
    got.sort_unstable();
    ensure_eq!(got, want);
    Ok(())
}

/// After a retention pass under `retain_age` = `age` ns: the oldest
/// closed segment left is young enough, so the pass stopped there.
fn check_age_rule<S: Storage>(wal: &mut Wal<S>, age: i64, newest: i64) -> Outcome {
    let ids = wal.segments();
    if let Some(&oldest) = ids.first().filter(|_| ids.len() > 1) {
        let t = wal.info(oldest).check("info")?.max_timestamp;
        ensure!(
            t.is_some_and(|t| newest - t <= age),
            "segment {oldest} (newest record {t:?}) outlived {age} ns before {newest}"
        );
    }
    Ok(())
}

pub fn retention_by_age_keeps_the_newest_record_time_and_learns_old_segments_at_reopen<
    M: Medium,
>(
    m: &mut M,
) -> Outcome {
    let age = 150;
    let cfg = small().with_retain_age(Some(Duration::from_nanos(age)));
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let recs = workload(600, 3, 31);
    let newest = recs.iter().map(|r| r.timestamp).max().unwrap_or(0);
    let mut removed = Vec::new();
    for chunk in recs.chunks(25) {
        write_all(&mut wal, chunk)?;
        wal.flush().check("flush")?;
        removed.extend(wal.take_removed());
    }
    wal.rotate().check("rotate")?;
    wal.flush().check("flush")?;
    removed.extend(wal.take_removed());
    ensure!(!removed.is_empty(), "nothing was removed");
    check_age_rule(&mut wal, age as i64, newest)?;
    // What went was old when it went (and the log's newest only grows);
    // what is left is every record from the oldest segment left on.
    let left = replayed(&mut wal, Position::START)?;
    let mut got: Vec<i64> = left.iter().map(|(_, r)| r.timestamp).collect();
    got.sort_unstable();
    let first = got.first().copied().unwrap_or(newest);
    ensure!(
        newest - first > age as i64,
        "too much was kept: from {first}"
    );
    ensure_eq!(got, stamps(recs.iter().filter(|r| r.timestamp >= first)));
    wal.close().check("close")?;
    // Reopened with a shorter age: the closed segments from before the open
    // are read to learn their newest record, and the rule applies to them.
    let age = 60;
    let cfg = small().with_retain_age(Some(Duration::from_nanos(age)));
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    let before = wal.segments();
    write_all(&mut wal, &[rec(1, newest + 1, b"after the reopen")])?;
    wal.flush().check("flush")?;
    let gone = wal.take_removed();
    ensure!(!gone.is_empty(), "nothing went at the reopen: {before:?}");
    ensure!(
        gone.iter().all(|id| before.contains(id)),
        "{gone:?} vs {before:?}"
    );
    check_age_rule(&mut wal, age as i64, newest + 1)?;
    Ok(())
}

pub fn recycled_segments_reuse_checkpointed_files_and_read_back_only_their_own_records<
    M: Medium,
>(
    m: &mut M,
) -> Outcome {
    let cfg = small().with_recycle(2);
    let storage = m.fresh();
    let renames = storage.can_rename();
    let mut wal = Wal::open(storage, cfg).check("open")?;
    let recs = workload(300, 4, 41);
    let pos = write_positions(&mut wal, &recs)?;
    let through = pos[150];
    let removed = wal.checkpoint(through).check("checkpoint")?;
    ensure!(removed.len() >= 2, "checkpointed away: {removed:?}");
    // More records: the rotations reuse the files just freed.
    let more = workload(300, 4, 43)
        .into_iter()
        .map(|mut r| {
            r.timestamp += 1_000_000;
            r
        })
        .collect::<Vec<_>>();
    let pos2 = write_positions(&mut wal, &more)?;
    let recycled = wal.stats().check("stats")?.recycled;
    if renames {
        ensure!(recycled >= 2, "{recycled} files recycled");
    } else {
        ensure_eq!(recycled, 0, "a storage that cannot rename recycles nothing");
    }
    // A replay from the checkpoint: every later record once, nothing stale.
    let want = |from: Position| -> Vec<i64> {
        let mut w: Vec<i64> = recs
            .iter()
            .zip(&pos)
            .chain(more.iter().zip(&pos2))
            .filter(|(_, p)| **p > from)
            .map(|(r, _)| r.timestamp)
            .collect();
        w.sort_unstable();
        w
    };
    let got = |wal: &mut Wal<_>| -> Result<Vec<i64>, String> {
        let mut g: Vec<i64> = replayed(wal, through)?
            .iter()
            .map(|(_, r)| r.timestamp)
            .collect();
        g.sort_unstable();
        Ok(g)
    };
    ensure_eq!(got(&mut wal)?, want(through));
    // Each segment read alone holds exactly its own records.
    for id in wal.segments() {
        let mut read: Vec<i64> = read_records(&mut wal, id)?
            .iter()
            .map(|r| r.timestamp)
            .collect();
        read.sort_unstable();
        let mut own: Vec<i64> = recs
            .iter()
            .zip(&pos)
            .chain(more.iter().zip(&pos2))
            .filter(|(_, p)| p.segment == id)
            .map(|(r, _)| r.timestamp)
            .collect();
        own.sort_unstable();
        ensure_eq!(read, own, "segment {id}");
    }
    // Reopened (and, with recycling off, too: free files are then removed).
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), cfg).check("reopen")?;
    ensure_eq!(got(&mut wal)?, want(through), "after a reopen");
    wal.close().check("close")?;
    let mut wal = Wal::open(m.reopen(), small()).check("reopen without recycling")?;
    ensure_eq!(got(&mut wal)?, want(through), "with recycling off");
    Ok(())
}
