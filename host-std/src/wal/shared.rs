//! What the WAL's threads (writers, the flusher, the syncer, waiting
//! threads) share: one part per side, each with its own lock, and the one
//! poison state.
//!
//! Locks are taken in this order: the buffer side's `State` before the
//! sync queue, the log before the sync queue; `State` and the log are never
//! held together, the storage kept for removals (`remover`) is taken with
//! no other lock held, and no lock is held while callbacks run. Nobody
//! waits for another thread while holding the log lock (the flusher waits
//! for room in the sync queue before it takes it), so any thread, the
//! syncer and callbacks included, may take it; it is held only for short
//! steps: an append, opening a file, changing the list of segments, a
//! chunk of reserved zeros, a rotation.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, Weak};

use wal_core::host::{retire_segments, Poison, SegmentLog};
use wal_core::replay::durable_end;
use wal_core::{Error, Position, RecoveryReport, SegmentId, SegmentInfo};

use super::batch::BufferSide;
use super::order::Order;
use super::poison::shield;
use super::signal::{lock, Signal};
use super::syncer::SyncSide;
use crate::waiting::WaitPolicy;
use crate::ThreadedStorage;

/// The log, under its own lock: the flusher writes frames to it; reads,
/// rotation and deletion go straight to it.
pub(super) struct LogSide<S: ThreadedStorage> {
    /// `None` once closed: the storage (and its directory lock) is released.
    pub(super) log: Option<SegmentLog<S>>,
    pub(super) frame: Vec<u8>,
    /// The segment the syncer holds a handle on.
    pub(super) syncer_segment: Option<SegmentId>,
    /// The segments as they were at close.
    pub(super) segments_at_close: Vec<SegmentId>,
    /// The active segment's summary as it was at close.
    pub(super) active_at_close: SegmentInfo,
}

impl<S: ThreadedStorage> LogSide<S> {
    /// The log, unless closed.
    pub(super) fn log(&mut self) -> Result<&mut SegmentLog<S>, Error> {
        self.log.as_mut().ok_or(Error::Closed)
    }
}

/// What the WAL's threads share.
pub(super) struct Shared<S: ThreadedStorage> {
    /// The buffers writers fill, and their state.
    pub(super) buffers: BufferSide,
    /// The frames written and waiting for the syncer.
    pub(super) sync: SyncSide<S::File>,
    /// Frames are synced by the syncer thread (policy `Always`, and the
    /// storage duplicates handles); otherwise on the write path.
    pub(super) pipelined: bool,
    pub(super) log: Mutex<LogSide<S>>,
    /// A clone of the storage, to remove deleted segments' files without
    /// the log lock; `None` once closed.
    pub(super) remover: Mutex<Option<S>>,
    /// Completion order across the threads that complete batches.
    pub(super) order: Order,
    /// Whether waiting writers yield before they block.
    pub(super) waits: WaitPolicy,
    pub(super) report: RecoveryReport,
    /// The one poison state: the log's, shared with every thread.
    pub(super) poison: Poison,
    /// The WAL's threads still running: the last one to stop finishes the
    /// close.
    pub(super) alive: AtomicUsize,
    /// The close's outcome, once it has finished.
    pub(super) closed: Signal<()>,
    /// Where each live tail is: the segment it reads (retention keeps it).
    pub(super) tails: Mutex<Vec<Weak<Mutex<Position>>>>,
    /// Segments retention deleted, not yet reported; the first failure
    /// to remove one, if any.
    pub(super) removed: Mutex<(Vec<SegmentId>, Option<Error>)>,
}

impl<S: ThreadedStorage> Shared<S> {
    /// Writes the reserve of zeros ahead of the log, a chunk per turn of
    /// the log lock (so appends go on between chunks), until there is
    /// enough. Off the write path: the syncer runs it after a round, or
    /// the flusher after completing a batch it synced itself.
    pub(super) fn reserve_ahead(&self) {
        loop {
            let r = shield(Some(&self.poison), "reserving space", || {
                match lock(&self.log).log.as_mut() {
                    Some(log) => log.reserve_ahead(),
                    None => Ok(false),
                }
            });
            match r {
                Ok(true) => {}
                Ok(false) => return,
                Err(_) => {
                    // The log is poisoned by it: wake writers to be refused.
                    self.buffers.alarm();
                    return;
                }
            }
        }
    }

    /// Registers a tail reading at `at`; it moves the returned mark as it
    /// reads on, and is forgotten once the mark is dropped.
    pub(super) fn register_tail(&self, at: Position) -> Arc<Mutex<Position>> {
        let mark = Arc::new(Mutex::new(at));
        let mut tails = lock(&self.tails);
        tails.retain(|t| t.strong_count() > 0);
        tails.push(Arc::downgrade(&mark));
        mark
    }

    /// Where each live tail is.
    pub(super) fn tail_positions(&self) -> Vec<Position> {
        lock(&self.tails)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|t| *lock(&t))
            .collect()
    }

    /// The oldest segment a live tail still has to read.
    fn oldest_tailed(&self) -> Option<SegmentId> {
        self.tail_positions().iter().map(|p| p.segment).min()
    }

    /// Deletes what retention lets go after a rotation: takes the segments
    /// off the list under the log lock (keeping those a live tail needs,
    /// unless the hard cap is passed), then removes their files without it.
    /// Off the write path: the flusher runs it after a batch completed, or
    /// `rotate` after its rotation. [`super::Wal::take_removed`] reports.
    pub(super) fn retain(&self) {
        let learnt = self.learn_ages();
        let protect = self.oldest_tailed();
        let ids = match lock(&self.log).log.as_mut() {
            Some(log) => log.retention_unlist(protect),
            None => return,
        };
        let removed = if ids.is_empty() {
            Ok(())
        } else {
            self.remove_unlisted(&ids, true)
        }
        .and(learnt);
        let listed = match lock(&self.log).log.as_ref() {
            Some(log) => log.segments(),
            None => Vec::new(),
        };
        let gone: Vec<SegmentId> = ids.into_iter().filter(|id| !listed.contains(id)).collect();
        crate::metrics::removed(gone.len());
        let mut report = lock(&self.removed);
        report.0.extend(gone);
        if let Err(e) = removed {
            report.1.get_or_insert(e);
        }
    }

    /// Learns what retention by age needs of segments from before the open:
    /// each is opened under the log lock and read without it. One that
    /// cannot be read stays (its error is reported by `take_removed`).
    fn learn_ages(&self) -> Result<(), Error> {
        loop {
            let opened = match lock(&self.log).log.as_mut() {
                Some(log) => match log.age_to_learn() {
                    Some(id) => log.open_segment(id)?,
                    None => return Ok(()),
                },
                None => return Ok(()),
            };
            let id = opened.id();
            let newest = opened.info()?.max_timestamp;
            if let Some(log) = lock(&self.log).log.as_mut() {
                log.learn_age(id, newest);
            }
        }
    }

    /// Removes the files of segments `ids`, taken off the log's list,
    /// through the WAL's second storage handle (without the log lock), and
    /// lists again those it could not remove (see `retire_segments`). With
    /// `recycle` (a checkpoint or retention, not a delete), keeps as many
    /// as the pool has room for as free files.
    pub(super) fn remove_unlisted(&self, ids: &[SegmentId], recycle: bool) -> Result<(), Error> {
        let room = match (recycle, lock(&self.log).log.as_ref()) {
            (true, Some(log)) => log.recycle_room(),
            _ => 0,
        };
        let retired = match lock(&self.remover).as_mut() {
            None => Err((Error::Closed, ids, Vec::new())),
            Some(storage) => retire_segments(storage, ids, room),
        };
        let (freed, failed) = match retired {
            Ok(freed) => (freed, None),
            Err((e, back, freed)) => (freed, Some((e, back))),
        };
        if let Some(log) = lock(&self.log).log.as_mut() {
            log.add_free(&freed);
            if let Some((_, back)) = &failed {
                back.iter().for_each(|&id| log.relist(id));
            }
        }
        failed.map_or(Ok(()), |(e, _)| Err(e))
    }

    /// The end of the durable log now: the furthest point the log's own
    /// syncs or the batches completed in order reached (see `durable_end`).
    pub(super) fn durable_now(&self, log: &SegmentLog<S>) -> Position {
        durable_end(log.active().id, self.order.durable().max(log.durable()))
    }
}
