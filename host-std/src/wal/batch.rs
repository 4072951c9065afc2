//! The buffer side: batches (a buffer's records, their completions and
//! the signal their waiters hold), the [`State`] writers share under one
//! short lock, pushing a record, and backpressure.
//!
//! A buffer is sealed by the write that fills it (the core's flush rule,
//! [`wal_core::host::flush_due`]), so a single writer gets the same frames,
//! and the same bytes, as the core's single-threaded `Wal`. When
//! [`MAX_SEALED`] sealed buffers wait for the disk, writers wait
//! (backpressure); nothing is dropped. A write from inside one of the WAL's
//! callbacks is let through instead (the wait could be for the very thread
//! running the callback): the queue may then hold a few more.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wal_core::host::{Poison, Sealed, WriteBuffer};
use wal_core::{Completion, Config, Error};

use super::order::{call_all, in_callback, refuse_now, Ticket};
use super::poison::panicked;
use super::signal::{lock, wait, Signal};

/// Sealed buffers that may wait for the disk before writers are held back.
pub const MAX_SEALED: usize = 4;

/// A buffer's records, its callbacks and the signal its waiters hold.
pub(super) struct Batch {
    pub(super) buffer: WriteBuffer<Completion>,
    /// Its signal and its place in completion order.
    pub(super) ticket: Ticket,
    /// Its place in write order, given when it is handed over for writing
    /// (from 1); batches are written in this order.
    pub(super) seq: u64,
    /// The frame and what it holds, when the writer that filled the buffer
    /// encoded it (then `buffer` is empty).
    pub(super) encoded: Option<(Vec<u8>, Sealed<Completion>)>,
}

impl Batch {
    pub(super) fn new(buffer: WriteBuffer<Completion>) -> Self {
        Batch {
            buffer,
            ticket: Ticket::new(),
            seq: 0,
            encoded: None,
        }
    }

    /// The signal its waiters hold.
    pub(super) fn signal(&self) -> &Arc<Signal> {
        self.ticket.signal()
    }

    /// Takes every completion out, encoded or not (to fail them).
    fn drain_completions(&mut self) -> Vec<Completion> {
        let mut all = self.buffer.drain_completions();
        if let Some((_, sealed)) = self.encoded.take() {
            all.extend(sealed.completions);
        }
        all
    }
}

/// What writers, the flusher and waiters share, under one short lock.
pub(super) struct State {
    pub(super) current: Batch,
    pub(super) sealed: VecDeque<Batch>,
    /// The signal of the batch handed to the flusher last (sealed or taken).
    pub(super) last_handed: Option<Arc<Signal>>,
    /// A waiter asked for the current buffer to be flushed now.
    pub(super) flush_requested: bool,
    /// Spare buffers, to reuse their allocations (at most `MAX_SEALED + 1`).
    pub(super) spare: Vec<WriteBuffer<Completion>>,
    /// Spare frame vectors, for writers that encode the buffer they filled
    /// (as many).
    pub(super) spare_frames: Vec<Vec<u8>>,
    /// Full buffers taken by the writers that filled them and being
    /// encoded, outside the lock; each then joins `sealed` in `seq` order.
    pub(super) encoding: usize,
    /// The `seq` of the batch taken for writing last: the next one written
    /// must be the one after it.
    pub(super) taken_seq: u64,
    pub(super) closing: bool,
    pub(super) closed: bool,
    /// A batch is being written (by the flusher, or by a waiter that found
    /// the WAL idle): nobody else may start one, so frames keep their order.
    pub(super) in_flight: bool,
    /// The flusher waits for a waiter's own write to end (the only reason
    /// to wake it when one does).
    pub(super) flusher_awaits_idle: bool,
    /// The `seq` of the batch handed over last.
    pub(super) last_seq: u64,
}

/// The buffer side of the WAL: the state writers share, and the condition
/// variables that go with its lock.
pub(super) struct BufferSide {
    pub(super) state: Mutex<State>,
    /// The flusher waits here for work.
    pub(super) work: Condvar,
    /// Writers wait here for room in the sealed queue.
    pub(super) room: Condvar,
    pub(super) config: Config,
    /// The clock records' arrival times are measured on.
    pub(super) epoch: Instant,
    /// The WAL's poison state (the log's): writers check it.
    pub(super) poison: Poison,
    /// Which WAL this is, to tell its callbacks from another WAL's
    /// (see `order::in_callback`).
    pub(super) id: u64,
    /// Tests: where writers can be held and what they did there.
    #[cfg(test)]
    pub(super) hooks: test_hooks::TestHooks,
}

impl BufferSide {
    /// An empty buffer side, its clock starting now, for a WAL whose
    /// poison state is `poison`.
    pub(super) fn new(config: Config, poison: Poison) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        BufferSide {
            state: Mutex::new(State {
                current: Batch::new(WriteBuffer::new()),
                sealed: VecDeque::new(),
                last_handed: None,
                flush_requested: false,
                spare: Vec::new(),
                spare_frames: Vec::new(),
                encoding: 0,
                taken_seq: 0,
                flusher_awaits_idle: false,
                closing: false,
                closed: false,
                in_flight: false,
                last_seq: 0,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            #[cfg(test)]
            hooks: Default::default(),
            config,
            epoch: Instant::now(),
            poison,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Wakes every thread waiting on the buffer side (writers held back,
    /// the flusher), to look again: the WAL was poisoned or is closing.
    pub(super) fn alarm(&self) {
        let _st = lock(&self.state);
        self.room.notify_all();
        self.work.notify_all();
    }
}

/// A writer encoding the buffer it filled, outside the lock: if that
/// unwinds (a panic), the count of batches being encoded must still come
/// down (the flusher waits for it) and the WAL is poisoned (the batch is
/// lost: its completions fire `Error::Lost`).
struct Encoding<'a> {
    buffers: &'a BufferSide,
    armed: bool,
}

impl Encoding<'_> {
    /// The batch is encoded: the count comes down under the caller's lock.
    fn done(mut self, st: &mut State) {
        self.armed = false;
        st.encoding -= 1;
    }
}

impl Drop for Encoding<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.buffers.poison.fail(panicked(
                "encoding a frame",
                &"the writer encoding it unwound",
            ));
            lock(&self.buffers.state).encoding -= 1;
            self.buffers.alarm();
        }
    }
}

/// What a writer does when the sealed buffers leave no room (backpressure).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Room {
    /// Waits until the flusher makes room.
    Wait,
    /// Buffers nothing and returns `Ok(None)`.
    Refuse,
}

/// Adds a record to the current buffer (sealing it when full); returns the
/// signal of the batch that holds it, or `None` when `room` is
/// [`Room::Refuse`] and there is none (then `callback` was not called: the
/// caller still holds what it would have made). `callback` makes the
/// record's completion, if it has one, once the record is buffered or
/// refused.
pub(super) fn push(
    buffers: &BufferSide,
    series_id: u64,
    timestamp: i64,
    value: &[u8],
    callback: &mut dyn FnMut() -> Option<Completion>,
    room: Room,
) -> Result<Option<Arc<Signal>>, Error> {
    if let Err(e) = WriteBuffer::<Completion>::check_value(value) {
        return refuse_now(callback(), e);
    }
    let mut st = lock(&buffers.state);
    // From inside a callback, room may only come once that callback
    // returns (it runs on the thread that would make it): let it through.
    if !in_callback(buffers.id) {
        while st.sealed.len() + st.encoding >= MAX_SEALED
            && !st.closing
            && !buffers.poison.is_poisoned()
        {
            if room == Room::Refuse {
                return Ok(None);
            }
            st = wait(&buffers.room, st, None);
        }
    }
    let callback = callback();
    if st.closing || st.closed {
        drop(st);
        return refuse_now(callback, Error::Closed);
    }
    if let Err(e) = buffers.poison.check() {
        drop(st);
        return refuse_now(callback, e);
    }
    // The buffer keeps only its oldest record's arrival time: read the
    // clock for the first record, not for every one.
    let now = if st.current.buffer.is_empty() {
        buffers.epoch.elapsed()
    } else {
        Duration::ZERO
    };
    let bytes = st
        .current
        .buffer
        .push(series_id, timestamp, value, now, callback)?;
    let signal = st.current.signal().clone();
    if bytes >= buffers.config.buffer_size {
        // The writer that filled the buffer encodes it, outside the lock
        // (other writers go on with the next buffer): the flusher's thread
        // is left with the writes, which at large buffers keep it busy on
        // their own.
        let mut full = take_current(&mut st);
        let mut frame = st.spare_frames.pop().unwrap_or_default();
        st.encoding += 1;
        drop(st);
        let encoding = Encoding {
            buffers,
            armed: true,
        };
        let sealed = full.buffer.seal_into(&mut frame);
        full.encoded = Some((frame, sealed));
        test_hooks::encoded(buffers, full.seq);
        let mut st = lock(&buffers.state);
        encoding.done(&mut st);
        if st.closed {
            // The flusher waits for every batch being encoded before it
            // stops, so this cannot happen; if it did, fail, never hang.
            drop(st);
            fail_batch(
                full,
                Error::LogicBug("the WAL closed while a batch was encoded"),
            );
        } else {
            // In `seq` order: another writer may have queued a later batch
            // meanwhile.
            let at = st.sealed.partition_point(|b| b.seq < full.seq);
            test_hooks::queued(buffers, st.sealed.len() - at);
            st.sealed.insert(at, full);
            buffers.work.notify_one();
        }
    }
    // No wake-up for a new deadline: an idle flusher ticks every
    // `flush_interval`, which wakes it before any record's deadline.
    Ok(Some(signal))
}

/// Fails every record of a batch that will never be written.
pub(super) fn fail_batch(mut b: Batch, e: Error) {
    call_all(b.drain_completions(), &Err(e.clone()));
    b.ticket.owed.complete(Err(e));
}

/// Asks the flusher to take the current buffer. Only the first request
/// after the flusher last looked wakes it: it clears `flush_requested`
/// only when it takes the buffer or finds it empty, so while the flag is
/// set it has been woken and will act (a futex wake is a system call
/// even with nobody to wake; at 64 waiting writers this saved one per
/// record).
pub(super) fn ask_flush(buffers: &BufferSide, st: &mut State) {
    if !st.flush_requested {
        st.flush_requested = true;
        buffers.work.notify_one();
    }
}

/// Hands the current buffer over for writing (or, when full, to the writer
/// that filled it, to encode), leaving a fresh one.
pub(super) fn take_current(st: &mut State) -> Batch {
    let fresh = Batch::new(st.spare.pop().unwrap_or_default());
    let mut b = std::mem::replace(&mut st.current, fresh);
    st.last_seq += 1;
    b.seq = st.last_seq;
    b.ticket.after = st.last_handed.replace(b.signal().clone());
    b
}

/// Hooks that let unit tests hold a writer at a chosen point and count what
/// happened there. Outside tests they are empty, inlined functions and the
/// fields do not exist: nothing of them is on the write path.
mod test_hooks {
    #[cfg(test)]
    use super::lock;
    use super::BufferSide;
    #[cfg(test)]
    use std::sync::atomic::{AtomicU64, Ordering};

    #[cfg(test)]
    #[derive(Debug, Default)]
    pub(in super::super) struct TestHooks {
        /// The `seq` of a batch whose writer, once it has encoded it, holds it
        /// back until a later batch is queued (for at most 10 s).
        pub(in super::super) slow_encode: AtomicU64,
        /// Batches queued ahead of a later one (encoded last).
        pub(in super::super) queued_behind: AtomicU64,
    }

    /// A writer has encoded batch `seq` and is about to queue it.
    #[cfg(test)]
    pub(super) fn encoded(buffers: &BufferSide, seq: u64) {
        use std::time::{Duration, Instant};
        if buffers.hooks.slow_encode.load(Ordering::Relaxed) == seq {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10)
                && !lock(&buffers.state).sealed.iter().any(|b| b.seq > seq)
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// A writer queues its batch ahead of `later` batches queued before it.
    #[cfg(test)]
    pub(super) fn queued(buffers: &BufferSide, later: usize) {
        if later > 0 {
            buffers.hooks.queued_behind.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A writer has encoded batch `seq` and is about to queue it.
    #[cfg(not(test))]
    #[inline(always)]
    pub(super) fn encoded(_: &BufferSide, _: u64) {}

    /// A writer queues its batch ahead of `later` batches queued before it.
    #[cfg(not(test))]
    #[inline(always)]
    pub(super) fn queued(_: &BufferSide, _: usize) {}
}
