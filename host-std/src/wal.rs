//! The thread-safe WAL: many writers, one background flusher, group commit.
//!
//! ```text
//!  writers ──push──▶ [ buffer ] ──seal (full)──▶ [ sealed queue, ≤ MAX_SEALED ] ──▶ flusher thread
//!            (short lock: State)                                                    encode, compress,
//!                                                                                   append, sync (Log lock),
//!                                                                                   then complete
//! ```
//!
//! Writers only ever take the `State` lock, for as long as it takes to copy a
//! record into the buffer; the flusher does all I/O under the `Log` lock, so
//! while one frame is written and synced the next buffer fills (group
//! commit). A buffer is sealed by the write that fills it (the core's flush
//! rule, [`wal_core::wal::flush_due`]), so a single writer gets the same
//! frames, and the same bytes, as the core's single-threaded `Wal`. When
//! `MAX_SEALED` sealed buffers wait for the disk, writers wait (backpressure);
//! nothing is dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wal_core::buffer::WriteBuffer;
use wal_core::log::{SegmentLog, SegmentReader};
use wal_core::storage::Storage;
use wal_core::wal::{deadline, flush_due};
use wal_core::{Config, Error, RecoveryReport, SegmentId, SegmentInfo};

use crate::fs::FsStorage;

/// Sealed buffers that may wait for the disk before writers are held back.
pub const MAX_SEALED: usize = 4;

/// A write's callback.
type Callback = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// The outcome of one batch (one future frame), shared by its waiters.
#[derive(Default)]
struct Signal {
    state: Mutex<SignalState>,
    cond: Condvar,
}

#[derive(Default)]
struct SignalState {
    result: Option<Result<(), Error>>,
    wakers: Vec<Waker>,
}

impl Signal {
    fn complete(&self, r: Result<(), Error>) {
        let wakers = {
            let mut s = lock(&self.state);
            s.result = Some(r);
            std::mem::take(&mut s.wakers)
        };
        self.cond.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    fn result(&self) -> Option<Result<(), Error>> {
        lock(&self.state).result.clone()
    }
}

/// A buffer's records, its callbacks and the signal its waiters hold.
struct Batch {
    buffer: WriteBuffer<Callback>,
    signal: Arc<Signal>,
}

impl Batch {
    fn new(buffer: WriteBuffer<Callback>) -> Self {
        Batch {
            buffer,
            signal: Arc::new(Signal::default()),
        }
    }
}

struct State {
    current: Batch,
    sealed: VecDeque<Batch>,
    /// The signal of the batch handed to the flusher last (sealed or taken).
    last_handed: Option<Arc<Signal>>,
    /// A waiter asked for the current buffer to be flushed now.
    flush_requested: bool,
    /// Spare buffers, to reuse their allocations.
    spare: Vec<WriteBuffer<Callback>>,
    closing: bool,
    closed: bool,
    poisoned: Option<Error>,
    /// A batch is being written (by the flusher, or by a waiter that found
    /// the WAL idle): nobody else may start one, so frames keep their order.
    in_flight: bool,
}

struct LogSide<S: Storage> {
    /// `None` once closed: the storage (and its directory lock) is released.
    log: Option<SegmentLog<S>>,
    frame: Vec<u8>,
    /// The segments as they were at close.
    segments_at_close: Vec<SegmentId>,
}

impl<S: Storage> LogSide<S> {
    fn log(&mut self) -> Result<&mut SegmentLog<S>, Error> {
        self.log.as_mut().ok_or(Error::Closed)
    }
}

struct Shared<S: Storage> {
    state: Mutex<State>,
    /// The flusher waits here for work.
    work: Condvar,
    /// Writers wait here for room in the sealed queue.
    room: Condvar,
    log: Mutex<LogSide<S>>,
    config: Config,
    report: RecoveryReport,
    epoch: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a user callback must not wedge the WAL: the data under these
    // locks is kept consistent before any callback runs.
    m.lock().unwrap_or_else(|p| p.into_inner())
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
}

impl<S: Storage + Send + 'static> Drop for Handle<S>
where
    S::File: Send,
{
    fn drop(&mut self) {
        let _ = close(&self.shared, &self.flusher);
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
        let (log, report) = SegmentLog::open(storage, config)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                current: Batch::new(WriteBuffer::new()),
                sealed: VecDeque::new(),
                last_handed: None,
                flush_requested: false,
                spare: Vec::new(),
                closing: false,
                closed: false,
                poisoned: None,
                in_flight: false,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            log: Mutex::new(LogSide {
                log: Some(log),
                frame: Vec::new(),
                segments_at_close: Vec::new(),
            }),
            config,
            report,
            epoch: Instant::now(),
        });
        let s = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("wal-flusher".into())
            .spawn(move || flusher_loop(&s))
            .map_err(|e| Error::storage("spawn flusher", None, e))?;
        Ok(Wal {
            handle: Arc::new(Handle {
                shared,
                flusher: Mutex::new(Some(flusher)),
            }),
        })
    }

    /// What open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.handle.shared.report
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.handle.shared.config
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
        let signal = push(&self.handle.shared, series_id, timestamp, value, None)?;
        Ok(WriteHandle {
            signal,
            shared: self.handle.shared.clone(),
        })
    }

    /// Buffers a record whose `callback` is called exactly once: with
    /// `Ok(())` once the record is durable (per the sync policy), or with the
    /// error that stopped it. A refused write calls it with the error it
    /// returns. Callbacks run on the flusher thread: keep them short.
    pub fn write_with(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        callback: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        push(
            &self.handle.shared,
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
            let mut st = lock(&shared.state);
            if st.closed {
                return Err(Error::Closed);
            }
            if st.current.buffer.is_empty() {
                match st.last_handed.clone() {
                    Some(s) => s,
                    None => return st.poisoned.clone().map_or(Ok(()), |e| Err(e.poisoned())),
                }
            } else {
                st.flush_requested = true;
                shared.work.notify_one();
                st.current.signal.clone()
            }
        };
        wait_signal(&signal, None).unwrap_or(Err(Error::LogicBug(
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
        close(&self.handle.shared, &self.handle.flusher)
    }
}

fn refuse(callback: Option<Callback>, e: Error) -> Result<Arc<Signal>, Error> {
    if let Some(c) = callback {
        c(Err(e.clone()));
    }
    Err(e)
}

/// Adds a record to the current buffer (sealing it when full); returns the
/// signal of the batch that holds it.
fn push<S: Storage>(
    shared: &Shared<S>,
    series_id: u64,
    timestamp: i64,
    value: &[u8],
    callback: Option<Callback>,
) -> Result<Arc<Signal>, Error> {
    if let Err(e) = WriteBuffer::<Callback>::check_value(value) {
        return refuse(callback, e);
    }
    let now = shared.epoch.elapsed();
    let mut st = lock(&shared.state);
    while st.sealed.len() >= MAX_SEALED && !st.closing && st.poisoned.is_none() {
        st = shared.room.wait(st).unwrap_or_else(|p| p.into_inner());
    }
    if st.closing || st.closed {
        drop(st);
        return refuse(callback, Error::Closed);
    }
    if let Some(e) = st.poisoned.clone() {
        drop(st);
        return refuse(callback, e.poisoned());
    }
    let bytes = st
        .current
        .buffer
        .push(series_id, timestamp, value, now, callback)?;
    let signal = st.current.signal.clone();
    if bytes >= shared.config.buffer_size {
        let fresh = Batch::new(st.spare.pop().unwrap_or_default());
        let full = std::mem::replace(&mut st.current, fresh);
        st.last_handed = Some(full.signal.clone());
        st.sealed.push_back(full);
        shared.work.notify_one();
    }
    // No wake-up for a new deadline: an idle flusher ticks every
    // `flush_interval`, which wakes it before any record's deadline.
    Ok(signal)
}

/// What the flusher takes next: a sealed batch, or the current one when it is
/// due (interval), requested (a waiter), or the WAL is closing.
fn next_batch<S: Storage>(shared: &Shared<S>) -> Option<Batch> {
    let mut st = lock(&shared.state);
    loop {
        if st.in_flight {
            // A waiter is writing a batch itself; wait for it to finish.
            st = shared.work.wait(st).unwrap_or_else(|p| p.into_inner());
            continue;
        }
        if let Some(b) = st.sealed.pop_front() {
            shared.room.notify_all();
            st.in_flight = true;
            return Some(b);
        }
        let now = shared.epoch.elapsed();
        let buf = &st.current.buffer;
        if !buf.is_empty()
            && (st.flush_requested
                || st.closing
                || flush_due(&shared.config, buf.payload_bytes(), buf.oldest(), now))
        {
            st.flush_requested = false;
            st.in_flight = true;
            return Some(take_current(&mut st));
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
            deadline(&shared.config, st.current.buffer.oldest()),
            shared.config.flush_interval,
        ) {
            (Some(d), _) => Some(d.saturating_sub(now)),
            (None, Some(interval)) => Some(interval),
            (None, None) => None,
        };
        st = match sleep {
            Some(t) => {
                shared
                    .work
                    .wait_timeout(st, t)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => shared.work.wait(st).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

/// Hands the current buffer over for writing, leaving a fresh one.
fn take_current(st: &mut State) -> Batch {
    let fresh = Batch::new(st.spare.pop().unwrap_or_default());
    let b = std::mem::replace(&mut st.current, fresh);
    st.last_handed = Some(b.signal.clone());
    b
}

fn flusher_loop<S: Storage>(shared: &Shared<S>) {
    while let Some(batch) = next_batch(shared) {
        write_batch(shared, batch);
    }
}

/// Writes one batch as a frame (the caller set `in_flight`), completes its
/// records, and clears `in_flight`.
fn write_batch<S: Storage>(shared: &Shared<S>, mut batch: Batch) {
    let (result, completions) = {
        let mut side = lock(&shared.log);
        let LogSide { log, frame, .. } = &mut *side;
        let sealed = batch.buffer.seal_into(frame);
        let result = match log {
            Some(log) => log.append(frame, &sealed.stats).map(|_| ()),
            None => Err(Error::Closed),
        };
        (result, sealed.completions)
    };
    {
        let mut st = lock(&shared.state);
        if let Err(e) = &result {
            st.poisoned.get_or_insert_with(|| e.clone());
            shared.room.notify_all();
        }
        st.in_flight = false;
        if st.spare.len() < 2 {
            // The buffer is empty after sealing; keep it for reuse.
            st.spare.push(std::mem::take(&mut batch.buffer));
        }
        shared.work.notify_all();
    }
    for c in completions {
        // A panicking callback must not stop the flusher (and strand
        // every later write); its panic is contained here.
        let r = result.clone();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || c(r)));
    }
    batch.signal.complete(result);
}

fn close<S: Storage>(
    shared: &Shared<S>,
    flusher: &Mutex<Option<JoinHandle<()>>>,
) -> Result<(), Error> {
    {
        let mut st = lock(&shared.state);
        if st.closed {
            return Ok(());
        }
        st.closing = true;
        shared.work.notify_all();
        shared.room.notify_all();
    }
    if let Some(t) = lock(flusher).take() {
        if t.join().is_err() {
            // A callback panicked on the flusher thread; what it had not
            // completed is failed below.
        }
    }
    let mut st = lock(&shared.state);
    st.closed = true;
    // Anything the flusher did not get to (it stopped early) fails, never hangs.
    let mut leftovers: Vec<Batch> = st.sealed.drain(..).collect();
    leftovers.push(std::mem::replace(
        &mut st.current,
        Batch::new(WriteBuffer::new()),
    ));
    let poisoned = st.poisoned.clone();
    drop(st);
    for mut b in leftovers {
        let e = Error::LogicBug("the flusher stopped before writing this record");
        for c in b.buffer.drain_completions() {
            c(Err(e.clone()));
        }
        if b.signal.result().is_none() {
            b.signal.complete(Err(e));
        }
    }
    let mut side = lock(&shared.log);
    let Some(mut log) = side.log.take() else {
        return Ok(());
    };
    side.segments_at_close = log.segments();
    let synced = log.close();
    drop(log); // releases the storage, and with it the directory lock
    match poisoned {
        Some(e) => Err(e.poisoned()),
        None => synced,
    }
}

fn wait_signal(signal: &Signal, timeout: Option<Duration>) -> Option<Result<(), Error>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut s = lock(&signal.state);
    loop {
        if let Some(r) = &s.result {
            return Some(r.clone());
        }
        s = match deadline {
            None => signal.cond.wait(s).unwrap_or_else(|p| p.into_inner()),
            Some(d) => {
                let left = d.checked_duration_since(Instant::now())?;
                signal
                    .cond
                    .wait_timeout(s, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
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
        let mut st = lock(&self.shared.state);
        let idle = !st.in_flight && st.sealed.is_empty() && !st.closing && !st.closed;
        // Alone on this batch (the state's reference and ours): with other
        // writers about, the flusher gathers them into one bigger frame.
        let alone = Arc::strong_count(&self.signal) == 2;
        if idle && alone && Arc::ptr_eq(&st.current.signal, &self.signal) {
            st.in_flight = true;
            st.flush_requested = false;
            return Some(take_current(&mut st));
        }
        None
    }

    fn request_flush(&self) {
        let mut st = lock(&self.shared.state);
        if Arc::ptr_eq(&st.current.signal, &self.signal) {
            st.flush_requested = true;
            self.shared.work.notify_one();
        }
    }

    /// Blocks until the record is durable (`Ok`) or has failed (the error).
    ///
    /// When the WAL is idle (nothing being written, nothing sealed) and no
    /// other handle waits on the same batch, the waiting thread writes its
    /// batch itself instead of handing it to the flusher and sleeping: a
    /// lone synchronous writer pays for one sync, not for two thread
    /// switches on top of it.
    pub fn wait(self) -> Result<(), Error> {
        if let Some(batch) = self.take_if_idle() {
            write_batch(&self.shared, batch);
        }
        self.request_flush();
        wait_signal(&self.signal, None)
            .unwrap_or(Err(Error::LogicBug("wait timed out without a timeout")))
    }

    /// Like [`WriteHandle::wait`], giving up after `timeout`: `None` then
    /// (the write goes on; its outcome is simply not known yet).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), Error>> {
        self.request_flush();
        wait_signal(&self.signal, Some(timeout))
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
