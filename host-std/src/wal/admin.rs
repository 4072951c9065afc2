//! Reading and managing the log while others write: segments, replay,
//! checkpoints, deletes. The log's lock is held only to look up or change
//! the list of segments and to open a file; reading, scanning and removing
//! files (with their directory syncs) happen without it.

use wal_core::{Error, Position, Replay, SegmentId, SegmentInfo, SegmentReader, Stats};

use super::poison::shield;
use super::signal::lock;
use super::tail::Tail;
use super::Wal;
use crate::ThreadedStorage;

impl<S: ThreadedStorage> Wal<S>
where
    S::File: Send,
{
    /// Streams the entries of segment `id`, a frame at a time (the active
    /// segment up to its durable end: frames synced, or under
    /// `SyncPolicy::Never` written). Safe while others write: the log's
    /// lock is held only to open the file.
    pub fn read(&self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        let shared = &self.handle.shared;
        shield(None, "opening a segment", || {
            let opened = lock(&shared.log).log()?.open_segment(id)?;
            opened.with_durable(shared.order.durable()).reader()
        })
    }

    /// The end of the durable log: every frame before it is synced (or,
    /// under `SyncPolicy::Never`, written); readers see exactly those.
    pub fn durable(&self) -> Result<Position, Error> {
        let shared = &self.handle.shared;
        Ok(shared.durable_now(lock(&shared.log).log()?))
    }

    /// Every durable record from `from` ([`Position::START`] for the whole
    /// log) to the durable end when called, in log order, each with the
    /// position of its frame; a frame in memory at a time, read without the
    /// log's lock (writers carry on). Fails at once when no read can start
    /// at `from`: [`Error::PositionGone`] (its segment was deleted),
    /// [`Error::NotAFrame`], [`Error::PastEnd`]. A segment deleted while the
    /// replay runs ends it with a storage error.
    pub fn replay(&self, from: Position) -> Result<Replay<S>, Error> {
        let shared = &self.handle.shared;
        shield(None, "starting a replay", || {
            let (segments, end, max_frame) = {
                let mut side = lock(&shared.log);
                let log = side.log()?;
                let end = shared.durable_now(log);
                (log.segments(), end, log.config().max_frame_len())
            };
            let storage = lock(&shared.remover).clone().ok_or(Error::Closed)?;
            Replay::new(storage, &segments, end, from, max_frame)
        })
    }

    /// A reader that follows the log from `from` ([`Position::START`] for
    /// the whole log) as it becomes durable: every durable record once, in
    /// order, across rotations (see [`Tail`]). Fails at once as
    /// [`Wal::replay`] does when no read can start at `from`.
    pub fn tail(&self, from: Position) -> Result<Tail<S>, Error> {
        let replay = self.replay(from)?;
        Ok(Tail::new(replay, self.handle.shared.clone()))
    }

    /// A snapshot (see [`Stats`]): records, frames and bytes before and
    /// after compression since open, syncs and their latency (p50, p99,
    /// max; a frame's write and sync where the flusher syncs it itself),
    /// rotations, segments removed by retention, bytes on disk, the oldest
    /// position and the durable end, and each live tail's position with
    /// the bytes it has still to read. The first call after open measures
    /// the segments from before it (an open and a length each).
    pub fn stats(&self) -> Result<Stats, Error> {
        let shared = &self.handle.shared;
        let tails = shared.tail_positions();
        let mut side = lock(&shared.log);
        let log = side.log()?;
        let mut stats = log.stats()?;
        let durable = shared.durable_now(log);
        stats.durable = durable;
        stats.syncs += shared.waits.syncer_syncs();
        stats.sync_latency = shared.waits.sync_latency();
        stats.tails = tails
            .into_iter()
            .map(|p| (p, log.bytes_between(p, durable)))
            .collect();
        Ok(stats)
    }

    /// The segments retention ([`wal_core::Config::retain_bytes`],
    /// [`wal_core::Config::max_bytes`]) deleted since the last call, oldest
    /// first (checkpoints and deletes return theirs). If removing one
    /// failed, that error first (once; the segment stays listed and is
    /// tried again after the next rotation), and the next call gives the
    /// segments removed.
    pub fn take_removed(&self) -> Result<Vec<SegmentId>, Error> {
        let mut report = lock(&self.handle.shared.removed);
        if let Some(e) = report.1.take() {
            return Err(e);
        }
        Ok(std::mem::take(&mut report.0))
    }

    /// A checkpoint at `through` (typically a snapshot's position: what a
    /// replay after a restart starts from): deletes every closed segment
    /// wholly before it, durably, and returns their IDs, oldest first. The
    /// segment `through` is in is kept, even at its very end, so a replay
    /// from `through` always works. A `through` past the durable end is
    /// refused ([`Error::PastEnd`]). The files are removed without the
    /// log's lock; on an error the segments not removed are listed again.
    pub fn checkpoint(&self, through: Position) -> Result<Vec<SegmentId>, Error> {
        self.changing("checkpointing", |s| {
            let ids = lock(&s.log)
                .log()?
                .checkpoint_unlist(through, s.order.durable())?;
            s.remove_unlisted(&ids, true)?;
            Ok(ids)
        })
    }

    /// What segment `id` holds (a closed segment is scanned and checked,
    /// without the log's lock: writers are not held up by it).
    pub fn info(&self, id: SegmentId) -> Result<SegmentInfo, Error> {
        let shared = &self.handle.shared;
        shield(None, "reading a segment", || {
            let opened = {
                let mut side = lock(&shared.log);
                let log = side.log()?;
                if log.active().id == id {
                    return Ok(log.active().clone());
                }
                log.open_segment(id)?
            };
            opened.info()
        })
    }

    /// Deletes closed segment `id`: takes it off the list under the log's
    /// lock, then removes its file without it (writers are not held up by
    /// the removal and its directory sync). If the removal fails and the
    /// file is still there, the segment is listed again.
    pub fn delete(&self, id: SegmentId) -> Result<(), Error> {
        self.changing("deleting a segment", |s| {
            lock(&s.log).log()?.unlist(id)?;
            s.remove_unlisted(&[id], false)
        })
    }

    /// Every segment, ascending; the last is the active one.
    pub fn segments(&self) -> Vec<SegmentId> {
        let side = lock(&self.handle.shared.log);
        match &side.log {
            Some(log) => log.segments(),
            None => side.segments_at_close.clone(),
        }
    }

    /// What the active segment holds so far: the frames written to it (after
    /// close: as it was at close).
    pub fn active(&self) -> SegmentInfo {
        let side = lock(&self.handle.shared.log);
        match &side.log {
            Some(log) => log.active().clone(),
            None => side.active_at_close.clone(),
        }
    }
}
