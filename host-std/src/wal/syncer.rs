//! The syncer: the queue of written frames the flusher hands it, and the
//! syncer thread's loop.
//!
//! Under `SyncPolicy::Always`, a full buffer's frame is synced by the syncer
//! through a second handle on the segment, so that the next frames are
//! encoded and written while it syncs, and one sync covers every frame
//! written before it began: a writer that does not wait for durability is
//! held back by about one sync at most. A partly filled buffer (flushed on
//! request, on time, or by a lone waiter) is written and synced in one go
//! when the syncer is free, and while a sync runs, durable writers gather
//! into it (group commit).
//!
//! The syncer also writes the reserve of zeros ahead of the log when the
//! flusher finds it running low (`SegmentLog::reserve_ahead`), after it has
//! completed a round, so that no append and no completion waits for it;
//! the next sync covers the zeros.
//!
//! Nobody waits for the syncer while holding the log lock (the flusher
//! waits for room in the queue before it takes it), so the syncer, and the
//! callbacks it runs, may take the log lock. A panic on the syncer thread
//! is caught: the WAL is poisoned, what the syncer held completes with
//! `Error::Lost`, and it goes on failing what it is handed until the close.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};

use wal_core::host::FrameLocation;
use wal_core::host::SegmentLog;
use wal_core::host::SyncHandle;
use wal_core::SegmentFile;
use wal_core::{Completion, Error, Position, SegmentId};

use super::batch::BufferSide;
use super::order::{Order, Ticket};
use super::poison::panicked;
use super::signal::{lock, wait};
use crate::waiting::WaitPolicy;
use crate::ThreadedStorage;

/// What the flusher hands the syncer, in write order.
enum SyncItem<F> {
    /// Frames from here on are in this segment: sync them through this handle.
    Handle(SegmentId, F),
    /// A written frame's records: complete them once a sync covers them
    /// (or with `failed`, the error that stopped the frame, in order).
    Batch {
        completions: Vec<Completion>,
        ticket: Ticket,
        /// The end of the batch's frame: durable through there once synced.
        end: Position,
        failed: Option<Error>,
    },
}

/// What the flusher has handed the syncer, and what the syncer is doing.
struct SyncQueue<F> {
    items: VecDeque<SyncItem<F>>,
    /// The syncer holds items it has not completed yet.
    busy: bool,
    closing: bool,
    /// The log runs low on reserved space: the syncer reserves more.
    reserve: bool,
}

/// The syncer's side of the WAL: its queue, and the condition variables
/// that go with its lock.
pub(super) struct SyncSide<F> {
    /// Frames written and waiting for the syncer (only under
    /// `SyncPolicy::Always`, when the storage can duplicate a handle).
    queue: Mutex<SyncQueue<F>>,
    /// The syncer waits here for items; the flusher waits here for the
    /// queue to shrink.
    work: Condvar,
    room: Condvar,
}

impl<F> SyncSide<F> {
    /// An empty queue.
    pub(super) fn new() -> Self {
        SyncSide {
            queue: Mutex::new(SyncQueue {
                items: VecDeque::new(),
                busy: false,
                closing: false,
                reserve: false,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
        }
    }

    /// Whether the syncer has nothing written-but-uncompleted.
    pub(super) fn idle(&self) -> bool {
        let q = lock(&self.queue);
        q.items.is_empty() && !q.busy
    }

    /// Waits until the queue has room for another frame (backpressure on
    /// the flusher), unless closing. Called with no lock held: the syncer
    /// may need the log lock (and its callbacks any lock) to make room.
    pub(super) fn wait_room(&self) {
        let mut q = lock(&self.queue);
        while q.items.len() >= MAX_UNSYNCED && !q.closing {
            q = wait(&self.room, q, None);
        }
    }

    /// Asks the syncer to reserve space ahead of the log.
    pub(super) fn want_reserve(&self) {
        let mut q = lock(&self.queue);
        if !q.reserve {
            q.reserve = true;
            self.work.notify_one();
        }
    }

    /// Whether a reserve was asked for (clearing the request); never while
    /// closing (the close releases reserved space).
    fn take_reserve(&self) -> bool {
        let mut q = lock(&self.queue);
        std::mem::take(&mut q.reserve) && !q.closing
    }

    /// Tells the syncer to sync and complete what it holds, then stop.
    pub(super) fn close(&self) {
        let mut q = lock(&self.queue);
        q.closing = true;
        self.work.notify_all();
        self.room.notify_all();
    }
}

/// Most frames written and not yet synced before the flusher waits for
/// the syncer.
const MAX_UNSYNCED: usize = 32;

/// A second handle on the active segment, for the syncer, with its ID.
pub(super) fn sync_handle<S: ThreadedStorage>(
    log: &mut SegmentLog<S>,
) -> Result<(SegmentId, S::File), Error> {
    let (id, file) = log.active_file();
    let handle = file
        .sync_handle()
        .map_err(|e| Error::storage("dup", Some(id), e))?;
    Ok((id, handle))
}

/// Pipelined, under the log lock (so items reach the syncer in write
/// order): gives the syncer a handle on a segment it has not seen, then the
/// batch written to `segment` (taking its `ticket`), unless it was synced
/// inline (`!deferred`) with nothing outstanding before it: its completions
/// come back then (and the ticket stays). Never waits: the caller waited
/// for room ([`SyncSide::wait_room`]) before it took the log lock.
#[allow(clippy::too_many_arguments)]
pub(super) fn hand_over<S: ThreadedStorage>(
    sync: &SyncSide<S::File>,
    log: &mut SegmentLog<S>,
    syncer_segment: &mut Option<SegmentId>,
    written: Result<FrameLocation, Error>,
    deferred: bool,
    completions: Vec<Completion>,
    ticket: &mut Option<Ticket>,
) -> (Result<Position, Error>, Option<Vec<Completion>>) {
    let mut q = lock(&sync.queue);
    let mut result = written.as_ref().map(|at| at.end()).map_err(Clone::clone);
    let end = result.clone().unwrap_or(Position::START);
    if let Ok(id) = written.map(|at| at.segment) {
        if *syncer_segment != Some(id) {
            // A new segment (the one before was synced as it was closed):
            // the syncer needs a handle on it.
            match sync_handle(log) {
                Ok((id, f)) => {
                    *syncer_segment = Some(id);
                    q.items.push_back(SyncItem::Handle(id, f));
                }
                Err(e) => {
                    log.fail(e.clone());
                    result = Err(e);
                }
            }
        }
    }
    let Some(t) = (deferred || !q.items.is_empty() || q.busy)
        .then(|| ticket.take())
        .flatten()
    else {
        return (result, Some(completions));
    };
    q.items.push_back(SyncItem::Batch {
        completions,
        ticket: t,
        end,
        failed: result.clone().err(),
    });
    sync.work.notify_one();
    (result, None)
}

/// A written frame's records, waiting for a sync (or failed already).
type Pending = (Vec<Completion>, Ticket, Position, Option<Error>);

/// The syncer thread: takes every frame written so far, syncs once per
/// segment they are in, takes what was written meanwhile (so the flusher
/// never waits on callbacks), then completes the synced frames in order,
/// and reserves space when asked to (`reserve`). While it syncs, the
/// flusher encodes and writes the next frames, and the next sync covers
/// them. Returns once closing and everything handed to it is completed.
///
/// A panic on this thread is caught: the WAL is poisoned with it, what the
/// syncer held fires `Error::Lost` (completions and signals alike), and
/// the loop goes on, failing everything it is handed from then on.
pub(super) fn syncer_loop<F: SegmentFile>(
    sync: &SyncSide<F>,
    buffers: &BufferSide,
    order: &Order,
    waits: &WaitPolicy,
    reserve: &mut dyn FnMut(),
) {
    let mut handle: Option<(SegmentId, F)> = None;
    // The first failed sync: every later frame fails with it.
    let mut failed: Option<Error> = None;
    loop {
        let round = catch_unwind(AssertUnwindSafe(|| {
            sync_until_closed(
                sync,
                buffers,
                order,
                waits,
                &mut handle,
                &mut failed,
                reserve,
            )
        }));
        let Err(payload) = round else { return };
        let e = panicked("syncing", &*payload);
        buffers.poison.fail(e.clone());
        failed.get_or_insert(e);
        handle = None;
        {
            // What it held is gone (and completed as lost): it is idle.
            let mut q = lock(&sync.queue);
            q.busy = !q.items.is_empty();
            sync.room.notify_all();
        }
        buffers.alarm();
    }
}

/// The syncer's loop proper (see [`syncer_loop`]).
fn sync_until_closed<F: SegmentFile>(
    sync: &SyncSide<F>,
    buffers: &BufferSide,
    order: &Order,
    waits: &WaitPolicy,
    handle: &mut Option<(SegmentId, F)>,
    failed: &mut Option<Error>,
    reserve: &mut dyn FnMut(),
) {
    // Frames to sync (or none: woken to reserve), until closing.
    while let Some(mut items) = take_items(sync, true) {
        loop {
            if !items.is_empty() {
                let done = sync_items(buffers, waits, items, handle, failed);
                // What was written during that sync, taken before the
                // callbacks run.
                let next = take_items(sync, false);
                for (completions, ticket, end, err) in done {
                    order.complete_in_order(ticket, completions, err.map_or(Ok(end), Err));
                }
                items = next.unwrap_or_default();
            }
            if sync.take_reserve() {
                reserve();
            }
            if items.is_empty() {
                break;
            }
        }
        {
            let mut q = lock(&sync.queue);
            if q.items.is_empty() {
                q.busy = false;
            }
            sync.room.notify_all();
        }
        // A partly filled buffer may be waiting for the syncer.
        drop(lock(&buffers.state));
        buffers.work.notify_all();
    }
}

/// Takes every queued item (marking the syncer busy when there are any).
/// With `block`, waits for an item or a reserve request, unless closing,
/// and returns no items (`Some` of an empty list) for a reserve request.
/// `None` when there is nothing to do.
fn take_items<F>(sync: &SyncSide<F>, block: bool) -> Option<Vec<SyncItem<F>>> {
    let mut q = lock(&sync.queue);
    while block && q.items.is_empty() && !q.reserve && !q.closing {
        q = wait(&sync.work, q, None);
    }
    if q.items.is_empty() {
        return (block && q.reserve).then(Vec::new);
    }
    q.busy = true;
    sync.room.notify_all();
    Some(q.items.drain(..).collect())
}

/// Syncs what `items` wrote, segment by segment, and returns their batches
/// with their outcome, in order.
fn sync_items<F: SegmentFile>(
    buffers: &BufferSide,
    waits: &WaitPolicy,
    items: Vec<SyncItem<F>>,
    handle: &mut Option<(SegmentId, F)>,
    failed: &mut Option<Error>,
) -> Vec<Pending> {
    let sync_now = |handle: &mut Option<(SegmentId, F)>,
                    ready: &mut Vec<Pending>,
                    failed: &mut Option<Error>| {
        if failed.is_none() {
            // Poisoned elsewhere: these frames were written before the
            // failure; sync them unless that sync could not be believed.
            if let Some(e) = buffers.poison.error() {
                if !sync_trusted_after(e) {
                    *failed = Some(e.clone().poisoned());
                }
            }
        }
        if failed.is_none() {
            let r = waits.timed_sync(|| match handle.as_mut() {
                Some((id, f)) => f.sync().map_err(|e| Error::storage("sync", Some(*id), e)),
                None => Err(Error::LogicBug("a frame before any sync handle")),
            });
            if let Err(e) = r {
                fail_log(buffers, &e);
                *failed = Some(e);
            }
        }
        for (_, _, _, f) in ready.iter_mut() {
            if f.is_none() {
                *f = failed.clone();
            }
        }
    };
    let mut ready: Vec<Pending> = Vec::new();
    let mut done: Vec<Pending> = Vec::new();
    let mut dirty = false;
    for item in items {
        match item {
            SyncItem::Handle(id, f) => {
                if dirty {
                    sync_now(handle, &mut ready, failed);
                    done.append(&mut ready);
                    dirty = false;
                }
                *handle = Some((id, f));
            }
            SyncItem::Batch {
                completions,
                ticket,
                end,
                failed: own,
            } => {
                dirty |= own.is_none();
                ready.push((completions, ticket, end, own));
            }
        }
    }
    if dirty {
        sync_now(handle, &mut ready, failed);
    }
    done.append(&mut ready);
    done
}

/// Whether a sync may still be believed once the WAL is poisoned by `e`:
/// not after a failed sync (Linux may report the next one good though the
/// pages the failed one lost are gone), nor after a panic or a lost
/// completion (what they did to the storage is unknown); yes after another
/// storage failure (a write, a create), which leaves what was written
/// before it as it was. Frames after the failure are never synced: they
/// were never written.
fn sync_trusted_after(e: &Error) -> bool {
    match e.cause() {
        Error::Storage(s) => s.op != "sync",
        _ => false,
    }
}

/// A sync through the syncer's handle failed: the WAL is poisoned (the
/// log refuses appends, syncs and rotations from now on, writers are
/// refused), and writers held back are woken to be refused.
fn fail_log(buffers: &BufferSide, e: &Error) {
    buffers.poison.fail(e.clone());
    buffers.alarm();
}
