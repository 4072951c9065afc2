//! What the WAL's threads (writers, the flusher, the syncer, waiting
//! threads) share: one part per side, each with its own lock.
//!
//! Locks are taken in this order: the buffer side's `State` before the
//! sync queue, the log before the sync queue; `State` and the log are never
//! held together, and no lock is held while callbacks run.

use std::sync::Mutex;

use wal_core::host::SegmentLog;
use wal_core::{Error, RecoveryReport, SegmentId, SegmentInfo};

use super::batch::BufferSide;
use super::order::Order;
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
    /// Completion order across the threads that complete batches.
    pub(super) order: Order,
    /// Whether waiting writers yield before they block.
    pub(super) waits: WaitPolicy,
    pub(super) report: RecoveryReport,
}
