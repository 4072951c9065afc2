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

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use wal_core::host::SegmentLog;
use wal_core::host::{Sealed, SyncHandle};
use wal_core::SegmentFile;
use wal_core::{Completion, Error, SegmentId};

use super::batch::{Batch, BufferSide};
use super::order::Order;
use super::signal::{lock, wait, Signal};
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
        signal: Arc<Signal>,
        failed: Option<Error>,
        seq: u64,
    },
}

/// What the flusher has handed the syncer, and what the syncer is doing.
struct SyncQueue<F> {
    items: VecDeque<SyncItem<F>>,
    /// The syncer holds items it has not completed yet.
    busy: bool,
    closing: bool,
    /// A sync through the syncer's handle failed: the log must refuse
    /// appends (applied by whoever next holds the log lock; the syncer never
    /// takes it, so it cannot wait on a flusher that waits on it).
    failed: Option<Error>,
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
                failed: None,
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

    /// The error of a failed sync, if one failed: the log must refuse
    /// appends.
    pub(super) fn failed(&self) -> Option<Error> {
        lock(&self.queue).failed.clone()
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
/// batch written to `segment`, unless it was synced inline (`!deferred`)
/// with nothing outstanding before it: its completions come back then.
pub(super) fn hand_over<S: ThreadedStorage>(
    sync: &SyncSide<S::File>,
    log: &mut SegmentLog<S>,
    syncer_segment: &mut Option<SegmentId>,
    segment: Result<SegmentId, Error>,
    deferred: bool,
    sealed: Sealed<Completion>,
    batch: &Batch,
) -> (Result<(), Error>, Option<Vec<Completion>>) {
    let mut q = lock(&sync.queue);
    while q.items.len() >= MAX_UNSYNCED && !q.closing {
        q = wait(&sync.room, q, None);
    }
    let mut result = segment.as_ref().map(|_| ()).map_err(Clone::clone);
    if let Ok(id) = segment {
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
    if !deferred && q.items.is_empty() && !q.busy {
        return (result, Some(sealed.completions));
    }
    q.items.push_back(SyncItem::Batch {
        completions: sealed.completions,
        signal: batch.signal.clone(),
        failed: result.clone().err(),
        seq: batch.seq,
    });
    sync.work.notify_one();
    (result, None)
}

/// A written frame's records, waiting for a sync (or failed already), and
/// its `seq`.
type Pending = (Vec<Completion>, Arc<Signal>, Option<Error>, u64);

/// The syncer thread: takes every frame written so far, syncs once per
/// segment they are in, takes what was written meanwhile (so the flusher
/// never waits on callbacks), then completes the synced frames in order.
/// While it syncs, the flusher encodes and writes the next frames, and the
/// next sync covers them.
pub(super) fn syncer_loop<F: SegmentFile>(
    sync: &SyncSide<F>,
    buffers: &BufferSide,
    order: &Order,
    waits: &WaitPolicy,
) {
    let mut handle: Option<(SegmentId, F)> = None;
    // The first failed sync: every later frame fails with it.
    let mut failed: Option<Error> = None;
    let mut items = match take_items(sync, true) {
        Some(items) => items,
        None => return,
    };
    loop {
        let done = sync_items(sync, buffers, waits, items, &mut handle, &mut failed);
        // What was written during that sync, taken before the callbacks run.
        let next = take_items(sync, false);
        for (completions, signal, err, seq) in done {
            order.complete_in_order(seq, completions, &signal, err.map_or(Ok(()), Err));
        }
        items = match next {
            Some(next) => next,
            None => {
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
                match take_items(sync, true) {
                    Some(items) => items,
                    None => return, // closing, and everything completed
                }
            }
        };
    }
}

/// Takes every queued item (marking the syncer busy); waits for one when
/// `block`, unless closing. `None` when there is none.
fn take_items<F>(sync: &SyncSide<F>, block: bool) -> Option<Vec<SyncItem<F>>> {
    let mut q = lock(&sync.queue);
    while block && q.items.is_empty() && !q.closing {
        q = wait(&sync.work, q, None);
    }
    if q.items.is_empty() {
        return None;
    }
    q.busy = true;
    sync.room.notify_all();
    Some(q.items.drain(..).collect())
}

/// Syncs what `items` wrote, segment by segment, and returns their batches
/// with their outcome, in order.
fn sync_items<F: SegmentFile>(
    sync: &SyncSide<F>,
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
            let r = waits.timed(|| match handle.as_mut() {
                Some((id, f)) => f.sync().map_err(|e| Error::storage("sync", Some(*id), e)),
                None => Err(Error::LogicBug("a frame before any sync handle")),
            });
            if let Err(e) = r {
                fail_log(sync, buffers, &e);
                *failed = Some(e);
            }
        }
        for (_, _, f, _) in ready.iter_mut() {
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
                signal,
                failed: own,
                seq,
            } => {
                dirty |= own.is_none();
                ready.push((completions, signal, own, seq));
            }
        }
    }
    if dirty {
        sync_now(handle, &mut ready, failed);
    }
    done.append(&mut ready);
    done
}

/// A sync through the syncer's handle failed: the log refuses appends from
/// now on, and so do writers.
fn fail_log<F>(sync: &SyncSide<F>, buffers: &BufferSide, e: &Error) {
    lock(&sync.queue).failed.get_or_insert_with(|| e.clone());
    let mut st = lock(&buffers.state);
    st.poisoned.get_or_insert_with(|| e.clone());
    buffers.room.notify_all();
}
