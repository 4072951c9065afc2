//! The thread-safe WAL: many writers, a background flusher and syncer,
//! group commit.
//!
//! ```text
//!  writers ──push──▶ [ buffer ] ──seal (full)──▶ [ sealed queue, ≤ MAX_SEALED ] ──▶ flusher thread
//!            (short lock: State)   encoded by the                                   (encode a partial
//!                                  writer that                                      buffer), compress,
//!                                  filled it                                        append (Log lock)
//!                                                                                        │ written frames
//!                                                                                        ▼
//!                                                  [ unsynced queue, ≤ MAX_UNSYNCED ] ──▶ syncer thread
//!                                                                                   fdatasync (own handle),
//!                                                                                   then complete
//! ```
//!
//! Writers only ever take the `State` lock, for as long as it takes to copy a
//! record into the buffer. The write that fills a buffer also encodes it
//! into a frame, outside the lock (other writers carry on with the next
//! buffer), and queues it in write order; the flusher compresses and
//! writes frames under the `Log` lock (and encodes the partly filled
//! buffers it takes itself). At large buffers the flusher's thread is then
//! busy with the writes alone: the kernel's copy into the page cache.
//!
//! Under `SyncPolicy::Always`, a full buffer's frame is synced by the syncer through a second handle on the segment, so that the
//! next frames are encoded and written while it syncs, and one sync covers
//! every frame written before it began: a writer that does not wait for
//! durability is held back by about one sync at most. A partly filled
//! buffer (flushed on request, on time, or by a lone waiter) is written and
//! synced in one go when the syncer is free, and while a sync runs, durable
//! writers gather into it (group commit). A buffer is sealed by the write
//! that fills it (the core's flush rule, [`wal_core::wal::flush_due`]), so a
//! single writer gets the same frames, and the same bytes, as the core's
//! single-threaded `Wal`. When `MAX_SEALED` sealed buffers wait for the
//! disk, writers wait (backpressure); nothing is dropped. Completions fire
//! in write order, each only once a sync covers its frame.
//!
//! A thread waiting on a write blocks on its batch's condition variable,
//! unless many threads wait at once: then it yields the CPU for a while
//! first, so that completing a batch does not wake them one by one (see
//! [`crate::waiting`]).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use wal_core::buffer::WriteBuffer;
use wal_core::log::{SegmentLog, SegmentReader};
use wal_core::storage::Storage;
use wal_core::wal::{deadline, flush_due};
use wal_core::{Config, Error, RecoveryReport, SegmentId, SegmentInfo, SyncPolicy};

use crate::fs::FsStorage;
use crate::waiting::WaitPolicy;

mod batch;
mod order;
mod signal;
mod syncer;

pub use batch::MAX_SEALED;

use batch::{ask_flush, fail_batch, push, take_current, Batch, BufferSide};
use order::Order;
use signal::{lock, wait_signal, Signal};
use syncer::{hand_over, syncer_loop, SyncSide};

struct LogSide<S: Storage> {
    /// `None` once closed: the storage (and its directory lock) is released.
    log: Option<SegmentLog<S>>,
    frame: Vec<u8>,
    /// The segment the syncer holds a handle on.
    syncer_segment: Option<SegmentId>,
    /// The segments as they were at close.
    segments_at_close: Vec<SegmentId>,
}

impl<S: Storage> LogSide<S> {
    fn log(&mut self) -> Result<&mut SegmentLog<S>, Error> {
        self.log.as_mut().ok_or(Error::Closed)
    }
}

struct Shared<S: Storage> {
    /// The buffers writers fill, and their state.
    buffers: BufferSide,
    /// The frames written and waiting for the syncer.
    sync: SyncSide<S::File>,
    /// Frames are synced by the syncer thread (policy `Always`, and the
    /// storage duplicates handles); otherwise on the write path.
    pipelined: bool,
    log: Mutex<LogSide<S>>,
    /// Completion order across the threads that complete batches.
    order: Order,
    /// Whether waiting writers yield before they block.
    waits: WaitPolicy,
    report: RecoveryReport,
}

/// A thread-safe write-ahead log. Clones are cheap and share the WAL;
/// dropping the last one closes it cleanly.
pub struct Wal<S: Storage + Send + 'static = FsStorage>
where
    S::File: Send,
{
    handle: Arc<Handle<S>>,
}

impl<S: Storage + Send + 'static> Clone for Wal<S>
where
    S::File: Send,
{
    fn clone(&self) -> Self {
        Wal {
            handle: self.handle.clone(),
        }
    }
}

struct Handle<S: Storage + Send + 'static>
where
    S::File: Send,
{
    shared: Arc<Shared<S>>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    syncer: Mutex<Option<JoinHandle<()>>>,
}

impl<S: Storage + Send + 'static> Drop for Handle<S>
where
    S::File: Send,
{
    fn drop(&mut self) {
        let _ = close(&self.shared, &self.flusher, &self.syncer);
    }
}

impl Wal<FsStorage> {
    /// Opens the WAL in directory `dir` (created if missing), recovering what
    /// is there. Fails if another process holds the directory.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Self, Error> {
        let storage =
            FsStorage::open(dir.as_ref()).map_err(|e| Error::storage("open directory", None, e))?;
        Self::with_storage(storage, config)
    }
}

impl<S: Storage + Send + 'static> Wal<S>
where
    S::File: Send,
{
    /// Opens the WAL on any storage (the in-memory one in benchmarks).
    pub fn with_storage(storage: S, config: Config) -> Result<Self, Error> {
        let (mut log, report) = SegmentLog::open(storage, config)?;
        // Sync on a second thread, overlapping the next frame's encoding
        // and writing, when the storage can give a second handle.
        let pipelined = config.sync == SyncPolicy::Always && log.sync_handle().is_ok();
        let shared = Arc::new(Shared {
            buffers: BufferSide::new(config),
            order: Order::default(),
            sync: SyncSide::new(),
            pipelined,
            log: Mutex::new(LogSide {
                log: Some(log),
                frame: Vec::new(),
                syncer_segment: None,
                segments_at_close: Vec::new(),
            }),
            waits: WaitPolicy::for_this_machine(),
            report,
        });
        let s = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("wal-flusher".into())
            .spawn(move || flusher_loop(&s))
            .map_err(|e| Error::storage("spawn flusher", None, e))?;
        let syncer = if pipelined {
            let s = shared.clone();
            match std::thread::Builder::new()
                .name("wal-syncer".into())
                .spawn(move || syncer_loop(&s.sync, &s.buffers, &s.order, &s.waits))
            {
                Ok(t) => Some(t),
                Err(e) => {
                    let h = Handle {
                        shared,
                        flusher: Mutex::new(Some(flusher)),
                        syncer: Mutex::new(None),
                    };
                    drop(h); // closes (nothing was written)
                    return Err(Error::storage("spawn syncer", None, e));
                }
            }
        } else {
            None
        };
        Ok(Wal {
            handle: Arc::new(Handle {
                shared,
                flusher: Mutex::new(Some(flusher)),
                syncer: Mutex::new(syncer),
            }),
        })
    }

    /// What open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.handle.shared.report
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.handle.shared.buffers.config
    }

    /// Whether waiting threads may yield the CPU before they block when
    /// many of them wait at once (on by default; see [`crate::waiting`]
    /// for the rule). Turn it off where spare CPU matters more than
    /// durable-write throughput under a crowd of writers: every waiter
    /// then blocks at once, and completing a batch wakes each of them.
    pub fn set_yield_when_crowded(&self, on: bool) {
        self.handle.shared.waits.set_enabled(on);
    }

    /// Buffers a record and returns at once with a handle that can be waited
    /// on ([`WriteHandle::wait`]) or awaited. Errors (value too long, closed,
    /// poisoned) are returned here, and nothing is buffered then.
    pub fn write(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
    ) -> Result<WriteHandle<S>, Error> {
        let signal = push(
            &self.handle.shared.buffers,
            series_id,
            timestamp,
            value,
            None,
        )?;
        Ok(WriteHandle {
            signal,
            shared: self.handle.shared.clone(),
        })
    }

    /// Buffers a record whose `callback` is called exactly once: with
    /// `Ok(())` once the record is durable (per the sync policy), or with the
    /// error that stopped it. A refused write calls it with the error it
    /// returns. Callbacks run, in write order, on whichever thread completes
    /// the frame (the WAL's syncer or flusher, or a thread waiting on a
    /// handle): keep them short, and never wait in one for another write
    /// or a flush of this WAL (later records complete only after this
    /// callback returns, so the wait would never end).
    pub fn write_with(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        callback: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        push(
            &self.handle.shared.buffers,
            series_id,
            timestamp,
            value,
            Some(Box::new(callback)),
        )
        .map(|_| ())
    }

    /// Writes everything buffered so far and waits until it is durable.
    pub fn flush(&self) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let signal = {
            let mut st = lock(&shared.buffers.state);
            if st.closed {
                return Err(Error::Closed);
            }
            if st.current.buffer.is_empty() {
                match st.last_handed.clone() {
                    Some(s) => s,
                    None => return st.poisoned.clone().map_or(Ok(()), |e| Err(e.poisoned())),
                }
            } else {
                ask_flush(&shared.buffers, &mut st);
                st.current.signal.clone()
            }
        };
        wait_signal(&shared.waits, &signal, None).unwrap_or(Err(Error::LogicBug(
            "flush wait timed out without a timeout",
        )))
    }

    /// Flushes, closes the active segment and starts the next. Returns what
    /// the closed segment holds (every record written before the call, and
    /// possibly some written concurrently).
    pub fn rotate(&self) -> Result<SegmentInfo, Error> {
        self.flush()?;
        lock(&self.handle.shared.log).log()?.rotate()
    }

    /// Streams the entries of segment `id`, a frame at a time (the active
    /// segment up to its last written frame). Safe while others write.
    pub fn read(&self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        lock(&self.handle.shared.log).log()?.read(id)
    }

    /// What segment `id` holds (a closed segment is scanned and checked).
    pub fn info(&self, id: SegmentId) -> Result<SegmentInfo, Error> {
        lock(&self.handle.shared.log).log()?.info(id)
    }

    /// Deletes closed segment `id`.
    pub fn delete(&self, id: SegmentId) -> Result<(), Error> {
        lock(&self.handle.shared.log).log()?.delete(id)
    }

    /// Every segment, ascending; the last is the active one.
    pub fn segments(&self) -> Vec<SegmentId> {
        let side = lock(&self.handle.shared.log);
        match &side.log {
            Some(log) => log.segments(),
            None => side.segments_at_close.clone(),
        }
    }

    /// Flushes, syncs and completes everything, and stops the flusher. Later
    /// writes get [`Error::Closed`]. Returns the first failure, if any.
    pub fn close(&self) -> Result<(), Error> {
        close(
            &self.handle.shared,
            &self.handle.flusher,
            &self.handle.syncer,
        )
    }
}

/// What the flusher takes next: a sealed batch, or the current one when it is
/// due (interval), requested (a waiter), or the WAL is closing.
fn next_batch<S: Storage>(shared: &Shared<S>) -> Option<(Batch, bool)> {
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
                st = shared
                    .buffers
                    .work
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner());
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
                debug_assert_eq!(b.seq, next, "batches are written in order");
                shared.buffers.room.notify_all();
                st.in_flight = true;
                st.taken_seq = b.seq;
                return Some((b, false));
            }
            if st.encoding > 0 {
                // The writer encoding the next batch wakes us once it is queued.
                st = shared
                    .buffers
                    .work
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner());
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
                st = shared
                    .buffers
                    .work
                    .wait(st)
                    .unwrap_or_else(|p| p.into_inner());
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
        st = match sleep {
            Some(t) => {
                shared
                    .buffers
                    .work
                    .wait_timeout(st, t)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => shared
                .buffers
                .work
                .wait(st)
                .unwrap_or_else(|p| p.into_inner()),
        };
    }
}

fn flusher_loop<S: Storage>(shared: &Shared<S>) {
    while let Some((batch, partial)) = next_batch(shared) {
        write_batch(shared, batch, partial);
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
fn write_batch<S: Storage>(shared: &Shared<S>, mut batch: Batch, inline: bool) {
    // The frame, when the writer that filled the buffer encoded it.
    let mut encoded = None;
    // The completions to call here; `None` when the syncer has them.
    let (result, here) = {
        let mut side = lock(&shared.log);
        let LogSide {
            log,
            frame,
            syncer_segment,
            ..
        } = &mut *side;
        let (frame, sealed) = match batch.encoded.take() {
            Some((f, sealed)) => (encoded.insert(f), sealed),
            None => {
                let sealed = batch.buffer.seal_into(frame);
                (frame, sealed)
            }
        };
        match log.as_mut() {
            None => (Err(Error::Closed), Some(sealed.completions)),
            Some(log) if !shared.pipelined => (
                shared
                    .waits
                    .timed(|| log.append(frame, &sealed.stats).map(|_| ())),
                Some(sealed.completions),
            ),
            Some(log) => {
                if let Some(e) = shared.sync.failed() {
                    log.fail(e);
                }
                let deferred = !(inline && shared.sync.idle());
                let written = if deferred {
                    log.append_unsynced(frame, &sealed.stats)
                } else {
                    shared.waits.timed(|| log.append(frame, &sealed.stats))
                };
                let written = written.map(|at| at.segment);
                hand_over(
                    &shared.sync,
                    log,
                    syncer_segment,
                    written,
                    deferred,
                    sealed,
                    &batch,
                )
            }
        }
    };
    {
        let mut st = lock(&shared.buffers.state);
        if let Err(e) = &result {
            st.poisoned.get_or_insert_with(|| e.clone());
            shared.buffers.room.notify_all();
        }
        st.in_flight = false;
        if st.spare.len() <= MAX_SEALED {
            // The buffer is empty after sealing; keep it for reuse. As many
            // as can be in flight at once are kept (a writer that runs
            // ahead would otherwise allocate every slot of a fresh buffer
            // while the flusher frees the old ones); no more buffers are
            // alive than at the peak without the pool.
            st.spare.push(std::mem::take(&mut batch.buffer));
        }
        if let Some(f) = encoded {
            if st.spare_frames.len() <= MAX_SEALED {
                st.spare_frames.push(f);
            }
        }
        if st.flusher_awaits_idle {
            shared.buffers.work.notify_all();
        }
    }
    if let Some(completions) = here {
        shared
            .order
            .complete_in_order(batch.seq, completions, &batch.signal, result);
    }
}

fn close<S: Storage>(
    shared: &Shared<S>,
    flusher: &Mutex<Option<JoinHandle<()>>>,
    syncer: &Mutex<Option<JoinHandle<()>>>,
) -> Result<(), Error> {
    {
        let mut st = lock(&shared.buffers.state);
        if st.closed {
            return Ok(());
        }
        st.closing = true;
        shared.buffers.work.notify_all();
        shared.buffers.room.notify_all();
    }
    if let Some(t) = lock(flusher).take() {
        if t.join().is_err() {
            // A callback panicked on the flusher thread; what it had not
            // completed is failed below.
        }
    }
    // The flusher has written everything it will: let the syncer sync and
    // complete it, then stop.
    shared.sync.close();
    if let Some(t) = lock(syncer).take() {
        let _ = t.join();
    }
    let mut st = lock(&shared.buffers.state);
    st.closed = true;
    // Anything the flusher did not get to (it stopped early) fails, never hangs.
    let mut leftovers: Vec<Batch> = st.sealed.drain(..).collect();
    leftovers.push(std::mem::replace(
        &mut st.current,
        Batch::new(WriteBuffer::new()),
    ));
    let poisoned = st.poisoned.clone();
    drop(st);
    for b in leftovers {
        fail_batch(
            b,
            Error::LogicBug("the flusher stopped before writing this record"),
        );
    }
    let mut side = lock(&shared.log);
    let Some(mut log) = side.log.take() else {
        return Ok(());
    };
    side.segments_at_close = log.segments();
    if let Some(e) = shared.sync.failed() {
        log.fail(e);
    }
    let synced = log.close();
    drop(log); // releases the storage, and with it the directory lock
    match poisoned {
        Some(e) => Err(e.poisoned()),
        None => synced,
    }
}

/// A handle on one write: wait for it (blocking, optionally with a
/// timeout), or `.await` it. Waiting asks for an immediate flush, so a lone
/// writer is not held back by `flush_interval`. Dropping it does not cancel
/// the write.
pub struct WriteHandle<S: Storage = FsStorage> {
    signal: Arc<Signal>,
    shared: Arc<Shared<S>>,
}

impl<S: Storage> WriteHandle<S> {
    /// The outcome, if known yet (never blocks, never asks for a flush).
    pub fn try_result(&self) -> Option<Result<(), Error>> {
        self.signal.result()
    }

    /// Takes this handle's batch for writing if it is the current one and
    /// the WAL is idle.
    fn take_if_idle(&self) -> Option<Batch> {
        let mut st = lock(&self.shared.buffers.state);
        let idle = !st.in_flight
            && st.sealed.is_empty()
            && st.encoding == 0
            && !st.closing
            && !st.closed
            && (!self.shared.pipelined || self.shared.sync.idle());
        // Alone on this batch (the state's reference and ours): with other
        // writers about, the flusher gathers them into one bigger frame.
        let alone = Arc::strong_count(&self.signal) == 2;
        if idle && alone && Arc::ptr_eq(&st.current.signal, &self.signal) {
            st.in_flight = true;
            st.flush_requested = false;
            let b = take_current(&mut st);
            st.taken_seq = b.seq;
            return Some(b);
        }
        None
    }

    fn request_flush(&self) {
        let mut st = lock(&self.shared.buffers.state);
        if Arc::ptr_eq(&st.current.signal, &self.signal) {
            ask_flush(&self.shared.buffers, &mut st);
        }
    }

    /// Blocks until the record is durable (`Ok`) or has failed (the error).
    ///
    /// When the WAL is idle (nothing being written, nothing sealed) and no
    /// other handle waits on the same batch, the waiting thread writes its
    /// batch itself instead of handing it to the flusher and sleeping: a
    /// lone synchronous writer pays for one sync, not for two thread
    /// switches on top of it. While many threads wait at once (16 or more
    /// per CPU), a waiter yields the CPU for a short while before it blocks
    /// (see [`crate::waiting`]).
    pub fn wait(self) -> Result<(), Error> {
        if let Some(batch) = self.take_if_idle() {
            write_batch(&self.shared, batch, true);
        }
        self.request_flush();
        wait_signal(&self.shared.waits, &self.signal, None)
            .unwrap_or(Err(Error::LogicBug("wait timed out without a timeout")))
    }

    /// Like [`WriteHandle::wait`], giving up after `timeout`: `None` then
    /// (the write goes on; its outcome is simply not known yet).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), Error>> {
        self.request_flush();
        wait_signal(&self.shared.waits, &self.signal, Some(timeout))
    }
}

impl<S: Storage> Future for WriteHandle<S> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        {
            let mut s = lock(&self.signal.state);
            if let Some(r) = &s.result {
                return Poll::Ready(r.clone());
            }
            if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                s.wakers.push(cx.waker().clone());
            }
        }
        self.request_flush();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
