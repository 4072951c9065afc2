//! The WAL for single-threaded hosts: the write buffer, the segment log and
//! the flush policy together. Time comes in as a parameter (`now`, the
//! host's monotonic clock as a [`Duration`] since any fixed point); the core
//! never reads a clock.
//!
//! Every write's completion is called exactly once: with `Ok(position)` after the
//! frame holding the record is written and (under [`SyncPolicy::Always`])
//! synced, or with the error that prevented it. A call that refuses a write
//! (bad input, closed, poisoned) calls the completion with the same error it
//! returns.
//!
//! [`SyncPolicy::Always`]: crate::SyncPolicy::Always

use alloc::vec::Vec;
use core::time::Duration;

use crate::buffer::{deadline, WriteBuffer};
use crate::completion::Completion;
use crate::config::{Config, SyncPolicy};
use crate::error::Error;
use crate::format::SegmentId;
use crate::log::SegmentLog;
use crate::position::Position;
use crate::reader::SegmentReader;
use crate::recovery::RecoveryReport;
use crate::replay::Replay;
use crate::stats::Stats;
use crate::storage::Storage;
use crate::summary::SegmentInfo;

/// Full buffers whose frames the single-threaded [`Wal`] writes before it
/// syncs them together (see the type's docs).
pub const SYNC_BATCH_FRAMES: u32 = 32;

/// Bytes of written, unsynced frames of full buffers at which the
/// single-threaded [`Wal`] syncs them (see the type's docs).
pub const SYNC_BATCH_BYTES: u64 = 1 << 20;

/// Frames of full buffers written but not yet synced, and their records'
/// completions in write order, with the end of the frame holding them.
#[derive(Default)]
struct Unsynced {
    completions: Vec<(Position, Vec<Completion>)>,
    frames: u32,
    bytes: u64,
    /// When the oldest of their records arrived.
    oldest: Option<Duration>,
}

/// A single-threaded write-ahead log over a storage: the write buffer, the
/// segment log and the flush policy together, with time passed in (`now`,
/// the host's monotonic clock as a [`Duration`] since any fixed point).
///
/// Every write's completion is called exactly once: with `Ok(position)`
/// after the frame holding the record is written and (under
/// [`SyncPolicy::Always`]) synced (the log is durable through `position`,
/// the end of that frame), or with the error that prevented it. A call that refuses a write
/// (bad input, closed, poisoned) calls the completion with the same error it
/// returns.
///
/// # One sync for several full buffers
///
/// Under [`SyncPolicy::Always`] with a `flush_interval`, a buffer that fills
/// is written at once, but its sync is shared: the frames of full buffers
/// are synced together once [`SYNC_BATCH_FRAMES`] of them or
/// [`SYNC_BATCH_BYTES`] are waiting, or when their oldest record has waited
/// `flush_interval` (found by [`Wal::poll`] or the next write), or on
/// [`Wal::flush`], [`Wal::rotate`] and [`Wal::close`], whichever comes
/// first. Their completions fire after that sync, in write order, so `Ok`
/// still means synced, and a record still completes within
/// `flush_interval` of its write (as often as the host polls). This is
/// what a host without threads gets instead of the native host's syncer
/// thread: a sync per full buffer cost the WASI guest more than half its
/// time at 16 KiB buffers (see BENCHMARKS.md). With no `flush_interval`
/// every frame is synced as it is written, as the contract says without
/// this.
///
/// [`SyncPolicy::Always`]: crate::SyncPolicy::Always
pub struct Wal<S: Storage> {
    /// `None` once closed: the storage (and any lock it holds) is released.
    log: Option<SegmentLog<S>>,
    config: Config,
    buffer: WriteBuffer<Completion>,
    frame: Vec<u8>,
    /// Written frames waiting for a shared sync (see the type's docs).
    unsynced: Unsynced,
    report: RecoveryReport,
    /// The segments and the active segment's summary as they were at close.
    at_close: (Vec<SegmentId>, SegmentInfo),
    /// Segments retention deleted, not yet reported ([`Wal::take_removed`]).
    removed: Vec<SegmentId>,
}

impl<S: Storage> core::fmt::Debug for Wal<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Wal")
            .field("log", &self.log)
            .field("closed", &self.log.is_none())
            .finish_non_exhaustive()
    }
}

/// Refuses a write: calls its completion, if any, with the error the call
/// returns (a refused write's completion still fires exactly once).
pub fn refuse<T>(completion: Option<Completion>, e: Error) -> Result<T, Error> {
    if let Some(c) = completion {
        c.complete(Err(e.clone()));
    }
    Err(e)
}

impl<S: Storage> Wal<S> {
    /// Opens (creating or recovering) the WAL in `storage`. The config is
    /// checked first; see [`Wal::recovery`] for what open found.
    pub fn open(storage: S, config: Config) -> Result<Self, Error> {
        let (log, report) = SegmentLog::open(storage, config)?;
        let config = *log.config();
        Ok(Wal {
            log: Some(log),
            config,
            buffer: WriteBuffer::new(),
            frame: Vec::new(),
            unsynced: Unsynced::default(),
            report,
            at_close: Default::default(),
            removed: Vec::new(),
        })
    }

    /// What open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.report
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn log(&mut self) -> Result<&mut SegmentLog<S>, Error> {
        self.log.as_mut().ok_or(Error::Closed)
    }

    /// Buffers a record with no completion. Flushes when the buffer is full
    /// or its oldest record has waited `flush_interval` at `now`; the error
    /// of such a flush is returned.
    pub fn write(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
    ) -> Result<(), Error> {
        self.accept(series_id, timestamp, value, now, None)
    }

    /// Buffers a record whose `completion` is called once it is durable (or
    /// with the error that stopped it).
    pub fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        self.accept(
            series_id,
            timestamp,
            value,
            now,
            Some(Completion::new(completion)),
        )
    }

    fn accept(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: Option<Completion>,
    ) -> Result<(), Error> {
        let log = match &self.log {
            Some(log) => log,
            None => return refuse(completion, Error::Closed),
        };
        if let Some(e) = log.poisoned() {
            let e = e.clone().poisoned();
            return refuse(completion, e);
        }
        if let Err(e) = WriteBuffer::<Completion>::check_value(value) {
            return refuse(completion, e);
        }
        let bytes = self
            .buffer
            .push(series_id, timestamp, value, now, completion)?;
        if self.late(now) {
            self.flush()?;
        } else if bytes >= self.config.buffer_size {
            if self.shares_syncs() {
                self.write_full()?;
            } else {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Whether the syncs of full buffers are shared (see the type's docs).
    fn shares_syncs(&self) -> bool {
        self.config.sync == SyncPolicy::Always && self.config.flush_interval.is_some()
    }

    /// Whether a buffered or written-but-unsynced record has waited
    /// `flush_interval` at `now`.
    fn late(&self, now: Duration) -> bool {
        // Without time-based flushing nothing is ever late (checked first:
        // this runs on every write).
        self.config.flush_interval.is_some() && self.next_deadline().is_some_and(|d| now >= d)
    }

    /// Writes a full buffer's frame without syncing it; its completions wait
    /// for the shared sync, which runs here once the batch is big enough.
    fn write_full(&mut self) -> Result<(), Error> {
        let log = self.log.as_mut().ok_or(Error::Closed)?;
        let oldest = self.buffer.oldest();
        let sealed = self.buffer.seal_into(&mut self.frame);
        let u = &mut self.unsynced;
        match log.append_unsynced(&mut self.frame, &sealed.stats) {
            Ok(at) => {
                u.completions.push((at.end(), sealed.completions));
                u.frames += 1;
                u.bytes += at.len;
                u.oldest = u.oldest.or(oldest);
                if u.frames >= SYNC_BATCH_FRAMES || u.bytes >= SYNC_BATCH_BYTES {
                    self.sync_unsynced()?;
                }
                // Between frames: the next sync covers the zeros as well.
                self.between_frames()
            }
            Err(e) => {
                self.complete_unsynced(Err(e.clone()));
                for c in sealed.completions {
                    c.complete(Err(e.clone()));
                }
                Err(e)
            }
        }
    }

    /// Syncs the written frames of full buffers and completes their records.
    fn sync_unsynced(&mut self) -> Result<(), Error> {
        let r = self.log()?.sync();
        self.complete_unsynced(r.clone());
        r
    }

    /// Completes the records of the written, unsynced frames with `r` (the
    /// outcome of a sync covering them, or the error that stopped it).
    fn complete_unsynced(&mut self, r: Result<(), Error>) {
        let u = core::mem::take(&mut self.unsynced);
        for (end, frame) in u.completions {
            let r = r.clone().map(|()| end);
            for c in frame {
                c.complete(r.clone());
            }
        }
    }

    /// Flushes (and syncs) if a buffered or written-but-unsynced record has
    /// waited `flush_interval` at `now`. Hosts call this when
    /// [`Wal::next_deadline`] passes.
    pub fn poll(&mut self, now: Duration) -> Result<(), Error> {
        if self.log.is_some() && self.late(now) {
            self.flush()?;
        }
        Ok(())
    }

    /// When a buffered record, or one written but waiting for its shared
    /// sync, will have waited `flush_interval` (`None` when nothing waits
    /// or time-based flushing is off).
    pub fn next_deadline(&self) -> Option<Duration> {
        let oldest = match (self.unsynced.oldest, self.buffer.oldest()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        deadline(&self.config, oldest)
    }

    /// Records buffered and not yet flushed.
    pub fn buffered_records(&self) -> u64 {
        self.buffer.records()
    }

    /// Writes the buffer as one frame (synced per policy), then completes its
    /// records, after those of full buffers written before it whose shared
    /// sync it makes. Does nothing when nothing waits and the log is
    /// healthy.
    pub fn flush(&mut self) -> Result<(), Error> {
        let log = self.log.as_mut().ok_or(Error::Closed)?;
        if self.buffer.is_empty() {
            if !self.unsynced.completions.is_empty() {
                return self.sync_unsynced();
            }
            return match log.poisoned() {
                Some(e) => Err(e.clone().poisoned()),
                None => Ok(()),
            };
        }
        let sealed = self.buffer.seal_into(&mut self.frame);
        // Under `Always` this syncs the active segment, which holds the
        // unsynced frames (a rotation on the way synced the segment it
        // closed).
        let result = log
            .append(&mut self.frame, &sealed.stats)
            .map(|at| at.end());
        self.complete_unsynced(result.clone().map(|_| ()));
        for c in sealed.completions {
            c.complete(result.clone());
        }
        result?;
        self.between_frames()
    }

    /// Writes the reserve of zeros ahead of the log when it runs low
    /// ([`SegmentLog::reserve_ahead`]): between frames, once the frame
    /// just written has completed, never inside its append; the next
    /// frame's sync covers the zeros. Nothing under `SyncPolicy::Never`.
    fn reserve_ahead(&mut self) -> Result<(), Error> {
        let log = self.log()?;
        while log.reserve_ahead()? {}
        Ok(())
    }

    /// What runs between frames, once the frame just written has
    /// completed: the reserve of zeros, and retention after a rotation.
    fn between_frames(&mut self) -> Result<(), Error> {
        self.reserve_ahead()?;
        self.retain()
    }

    /// Deletes what retention lets go after a rotation
    /// ([`crate::Config::retain_bytes`], [`crate::Config::max_bytes`],
    /// [`crate::Config::retain_age`]);
    /// [`Wal::take_removed`] reports them.
    fn retain(&mut self) -> Result<(), Error> {
        let log = self.log.as_mut().ok_or(Error::Closed)?;
        // A segment whose age cannot be read stays (and the error is
        // returned once this pass is done).
        let learnt = if log.wants_retention() {
            log.learn_ages()
        } else {
            Ok(())
        };
        let ids = log.retention_unlist(None);
        if ids.is_empty() {
            return learnt;
        }
        let r = log.remove_unlisted(&ids).and(learnt);
        let segments = log.segments();
        self.removed
            .extend(ids.into_iter().filter(|id| !segments.contains(id)));
        r
    }

    /// The segments retention deleted since the last call, oldest first
    /// (checkpoints and deletes return theirs).
    pub fn take_removed(&mut self) -> Vec<SegmentId> {
        core::mem::take(&mut self.removed)
    }

    /// Flushes, closes the active segment and starts the next. Returns what
    /// the closed segment holds.
    pub fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        self.flush()?;
        let closed = self.log()?.rotate()?;
        self.retain()?;
        Ok(closed)
    }

    /// Streams segment `id`'s entries, a frame at a time (the active segment
    /// up to its durable end: what is synced, or under
    /// [`SyncPolicy::Never`] written).
    pub fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        self.log()?.read(id)
    }

    /// What segment `id` holds (a closed segment is scanned and checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        self.log()?.info(id)
    }

    /// The end of the durable log: every frame before it is synced (or,
    /// under [`SyncPolicy::Never`], written), and readers see exactly those.
    pub fn durable(&self) -> Result<Position, Error> {
        Ok(self.log.as_ref().ok_or(Error::Closed)?.durable())
    }

    /// Every durable record from `from` ([`Position::START`] for the whole
    /// log) to the durable end, in log order, each with the position of its
    /// frame; a frame in memory at a time. Fails at once when no read can
    /// start at `from`: [`Error::PositionGone`] (its segment was deleted),
    /// [`Error::NotAFrame`], [`Error::PastEnd`]. Records still buffered or
    /// not yet synced are not included: flush first to replay everything
    /// written.
    pub fn replay(&mut self, from: Position) -> Result<Replay<&mut S>, Error> {
        self.log()?.replay(from)
    }

    /// A checkpoint at `through` (typically a snapshot's position: what a
    /// replay after a restart starts from): deletes every closed segment
    /// wholly before it, durably, and returns their IDs, oldest first. The
    /// segment `through` is in is kept, even at its very end, so a replay
    /// from `through` always works. A `through` past the durable end is
    /// refused ([`Error::PastEnd`]).
    pub fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        self.log()?.checkpoint(through)
    }

    /// A snapshot: counters since open and what the log holds (see
    /// [`Stats`]; no sync latency: the core has no clock).
    pub fn stats(&mut self) -> Result<Stats, Error> {
        self.log()?.stats()
    }

    /// Deletes closed segment `id`.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        self.log()?.delete(id)
    }

    /// Every segment, ascending; the last is the active one (after close:
    /// as they were at close).
    pub fn segments(&self) -> Vec<SegmentId> {
        match &self.log {
            Some(log) => log.segments(),
            None => self.at_close.0.clone(),
        }
    }

    /// The active segment's summary (after close: as it was at close).
    pub fn active(&self) -> &SegmentInfo {
        match &self.log {
            Some(log) => log.active(),
            None => &self.at_close.1,
        }
    }

    /// Flushes, syncs, and completes everything, then releases the storage;
    /// later calls get [`Error::Closed`]. Closing twice is allowed and does
    /// nothing. Returns the first failure.
    pub fn close(&mut self) -> Result<(), Error> {
        if self.log.is_none() {
            return Ok(());
        }
        let flushed = self.flush();
        // Anything still waiting is failed, never dropped silently.
        let err = flushed.clone().err().unwrap_or(Error::Closed);
        self.complete_unsynced(Err(err.clone()));
        for c in self.buffer.drain_completions() {
            c.complete(Err(err.clone()));
        }
        let Some(mut log) = self.log.take() else {
            return Ok(());
        };
        let synced = log.close();
        self.at_close = (log.segments(), log.active().clone());
        flushed?;
        synced
    }
}

impl<S: Storage> Drop for Wal<S> {
    /// Closes the WAL if it was not: everything buffered is written and
    /// synced, and every completion is called.
    fn drop(&mut self) {
        let _ = self.close();
    }
}
