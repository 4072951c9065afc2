//! The flusher: its thread takes batches in `seq` order ([`next_batch`]),
//! writes each as a frame under the log lock, and hands it to the syncer
//! (or syncs and completes it itself). A waiting thread that finds the WAL
//! idle writes its own batch the same way ([`write_batch`]).
//!
//! A panic while writing (in the storage, say) is caught where the frame is
//! written: the WAL is poisoned with it and the batch fails with it. Any
//! other panic on the flusher thread is caught by its loop, which poisons
//! the WAL and goes on: the batches it takes from then on fail with the
//! poison, so nobody waits for a thread that has stopped.

use std::panic::{catch_unwind, AssertUnwindSafe};

use wal_core::host::{deadline, flush_due, FrameLocation, FrameStats, SegmentLog};
use wal_core::{Error, SegmentId};

use super::batch::{take_current, Batch, BufferSide, MAX_SEALED};
use super::poison::{panicked, shield};
use super::shared::{LogSide, Shared};
use super::signal::{lock, wait};
use super::syncer::hand_over;
use crate::ThreadedStorage;

/// What the flusher takes next: a sealed batch, or the current one when it is
/// due (interval), requested (a waiter), or the WAL is closing.
fn next_batch<S: ThreadedStorage>(shared: &Shared<S>) -> Option<(Batch, bool)> {
    let mut st = lock(&shared.buffers.state);
    loop {
        let now = shared.buffers.epoch.elapsed();
        let buf = &st.current.buffer;
        let wanted = !buf.is_empty()
            && (st.flush_requested
                || st.closing
                || flush_due(
                    &shared.buffers.config,
                    buf.payload_bytes(),
                    buf.oldest(),
                    now,
                ));
        if st.in_flight {
            // A waiter is writing a batch itself. Wait for it to finish
            // when there is something to take after it; otherwise sleep as
            // when idle (a lone synchronous writer writes one batch after
            // another, and waking the flusher after each for nothing
            // costs a thread switch per record).
            if !st.sealed.is_empty() || st.encoding > 0 || wanted || st.closing {
                st.flusher_awaits_idle = true;
                st = wait(&shared.buffers.work, st, None);
                st.flusher_awaits_idle = false;
                continue;
            }
        } else {
            // Batches are written in `seq` order: the front of `sealed` is
            // next unless a writer still encodes an earlier one.
            let next = st.taken_seq + 1;
            let ready = st.sealed.front().map(|b| b.seq == next || st.encoding == 0);
            if ready == Some(true) {
                let b = st.sealed.pop_front().expect("a sealed batch");
                // (A batch lost to a panic while it was encoded leaves a
                // gap; the WAL is poisoned then.)
                debug_assert!(
                    b.seq == next || shared.poison.is_poisoned(),
                    "batches are written in order"
                );
                shared.buffers.room.notify_all();
                st.in_flight = true;
                st.taken_seq = b.seq;
                return Some((b, false));
            }
            if st.encoding > 0 {
                // The writer encoding the next batch wakes us once it is queued.
                st = wait(&shared.buffers.work, st, None);
                continue;
            }
            if wanted {
                // A partly filled buffer goes when the syncer is free: while
                // a sync runs, more records join it (group commit), and the
                // next sync covers them all. Full buffers (above) never wait.
                if st.closing || !shared.pipelined || shared.sync.idle() {
                    st.flush_requested = false;
                    st.in_flight = true;
                    let b = take_current(&mut st);
                    st.taken_seq = b.seq;
                    return Some((b, true));
                }
                // The syncer wakes us when it is done.
                st = wait(&shared.buffers.work, st, None);
                continue;
            }
        }
        st.flush_requested = false;
        if st.closing {
            return None;
        }
        // Sleep until the oldest record's deadline; with nothing buffered,
        // for one interval (a record arriving meanwhile has its deadline
        // after this wake-up, so none is missed and writers never need to
        // wake the flusher for time); with time-based flushing off, until
        // woken.
        let sleep = match (
            deadline(&shared.buffers.config, st.current.buffer.oldest()),
            shared.buffers.config.flush_interval,
        ) {
            (Some(d), _) => Some(d.saturating_sub(now)),
            (None, Some(interval)) => Some(interval),
            (None, None) => None,
        };
        st = wait(&shared.buffers.work, st, sleep);
    }
}

/// The flusher thread: takes batches and writes them until the WAL closes,
/// then tells the syncer to finish. A panic is caught: the WAL is
/// poisoned, and the loop goes on (failing every batch it takes).
pub(super) fn flusher_loop<S: ThreadedStorage>(shared: &Shared<S>) {
    loop {
        let r = catch_unwind(AssertUnwindSafe(|| {
            while let Some((batch, partial)) = next_batch(shared) {
                write_batch(shared, batch, partial);
            }
        }));
        match r {
            Ok(()) => break,
            Err(payload) => {
                shared.poison.fail(panicked("flushing", &*payload));
                shared.buffers.alarm();
            }
        }
    }
    // Everything is written that will be: let the syncer sync and complete
    // it, then stop.
    shared.sync.close();
}

/// A batch being written (`in_flight`): if writing it unwinds (a bug), the
/// flag still comes down, or nobody could write again, and the WAL is
/// poisoned.
struct InFlight<'a> {
    buffers: &'a BufferSide,
    armed: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.buffers.poison.fail(panicked(
                "writing a frame",
                &"the thread writing it unwound",
            ));
            lock(&self.buffers.state).in_flight = false;
            self.buffers.alarm();
        }
    }
}

/// Writes one batch as a frame (the caller set `in_flight`), clears
/// `in_flight`, and completes its records: here once synced, or, when
/// pipelined, by the syncer thread once a sync covers the frame.
///
/// Full buffers go through the syncer, so that the next one is encoded and
/// written while this one syncs (a writer that does not wait is held for
/// at most about one sync). A partly filled one (`inline`: a waiter's own,
/// or one flushed on request or on time, taken only when the syncer is
/// free) is synced right here: durable writers gather into it while the
/// previous sync runs, and pay for one sync and no extra thread switch.
pub(super) fn write_batch<S: ThreadedStorage>(shared: &Shared<S>, batch: Batch, inline: bool) {
    let mut in_flight = InFlight {
        buffers: &shared.buffers,
        armed: true,
    };
    let Batch {
        mut buffer,
        ticket,
        encoded,
        ..
    } = batch;
    if shared.pipelined {
        // Room in the sync queue first, with no lock held: the syncer (and
        // the callbacks it runs) may need the log lock to make it. Only one
        // batch is written at a time, so the room cannot go meanwhile.
        shared.sync.wait_room();
    }
    let mut ticket = Some(ticket);
    // The frame, when the writer that filled the buffer encoded it (kept
    // for reuse).
    let mut frame_kept = None;
    let mut reserve = false;
    let mut retention = false;
    // The completions to call here; `None` when the syncer has them.
    let written = shield(Some(&shared.poison), "writing a frame", || {
        let mut side = lock(&shared.log);
        let LogSide {
            log,
            frame,
            syncer_segment,
            ..
        } = &mut *side;
        let (frame, sealed) = match encoded {
            Some((f, sealed)) => (frame_kept.insert(f), sealed),
            None => {
                let sealed = buffer.seal_into(frame);
                (frame, sealed)
            }
        };
        Ok(match log.as_mut() {
            None => (Err(Error::Closed), Some(sealed.completions)),
            Some(log) if !shared.pipelined => {
                let before = log.active().id;
                let r = shared.waits.timed(|| log.append(frame, &sealed.stats));
                note_frame(log, before, &sealed.stats, &r);
                let r = r.map(|at| at.end());
                reserve = log.wants_reserve();
                retention = log.wants_retention();
                (r, Some(sealed.completions))
            }
            Some(log) => {
                // A recycled segment's frames are synced as appended: the
                // syncer would only sync them again.
                let deferred = !(log.active_is_recycled() || inline && shared.sync.idle());
                let before = log.active().id;
                let written = if deferred {
                    log.append_unsynced(frame, &sealed.stats)
                } else {
                    shared.waits.timed(|| log.append(frame, &sealed.stats))
                };
                note_frame(log, before, &sealed.stats, &written);
                retention = log.wants_retention();
                if log.wants_reserve() {
                    shared.sync.want_reserve();
                }
                hand_over(
                    &shared.sync,
                    log,
                    syncer_segment,
                    written,
                    deferred,
                    sealed.completions,
                    &mut ticket,
                )
            }
        })
    });
    // A panic there lost the completions (they fired `Error::Lost`); the
    // batch's signal still completes, with the panic.
    let (result, here) = written.unwrap_or_else(|e| (Err(e), Some(Vec::new())));
    {
        let mut st = lock(&shared.buffers.state);
        if result.is_err() {
            shared.buffers.room.notify_all();
        }
        st.in_flight = false;
        in_flight.armed = false;
        if st.spare.len() <= MAX_SEALED {
            // The buffer is empty after sealing; keep it for reuse. As many
            // as can be in flight at once are kept (a writer that runs
            // ahead would otherwise allocate every slot of a fresh buffer
            // while the flusher frees the old ones); no more buffers are
            // alive than at the peak without the pool.
            st.spare.push(std::mem::take(&mut buffer));
        }
        if let Some(f) = frame_kept {
            if st.spare_frames.len() <= MAX_SEALED {
                st.spare_frames.push(f);
            }
        }
        if st.flusher_awaits_idle {
            shared.buffers.work.notify_all();
        }
    }
    if let (Some(completions), Some(ticket)) = (here, ticket) {
        shared.order.complete_in_order(ticket, completions, result);
    }
    if reserve {
        // Synced here (not pipelined): the zeros go between frames, after
        // this one has completed; the next frame's sync covers them.
        shared.reserve_ahead();
    }
    if retention {
        // After a rotation: the batch has completed; the removals run
        // without the log lock.
        shared.retain();
    }
}

/// Reports an appended frame, and the rotation before it if there was one,
/// to the metrics facade (feature `metrics`).
fn note_frame<S: ThreadedStorage>(
    log: &SegmentLog<S>,
    before: SegmentId,
    stats: &FrameStats,
    written: &Result<FrameLocation, Error>,
) {
    if let Ok(at) = written {
        if log.active().id != before {
            crate::metrics::rotation();
        }
        crate::metrics::frame(stats.records, stats.payload_bytes, at.len);
    }
}
