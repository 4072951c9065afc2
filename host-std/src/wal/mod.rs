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
//! Each part lives in its own module; from the front down, each uses only
//! those below it:
//!
//! - `admin`: reading and managing the log beside the writers (read,
//!   replay, checkpoint, delete); `tail`: [`Tail`], following the log as
//!   it becomes durable;
//! - `write_handle`: [`WriteHandle`], waiting for one write (a lone waiter
//!   that finds the WAL idle writes its batch itself);
//! - `flusher`: the flusher thread, taking batches in write order and
//!   writing them;
//! - `shared`: what the threads share, and the order its locks are taken in;
//! - `syncer`: the queue of written frames and the syncer thread (group
//!   commit);
//! - `batch`: batches, the writers' shared `State`, pushing a record, and
//!   backpressure ([`MAX_SEALED`]);
//! - `order`: completing batches in write order, which moves the durable
//!   end (`durable`: the end, and waiting for it to move); running user callbacks
//!   (contained, and marked, so that calls from inside one never wait for
//!   it);
//! - `signal`: a batch's outcome, waiting for it, and the duty to
//!   complete it;
//! - `poison`: panics caught and turned into errors that poison the WAL.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, ThreadId};

use wal_core::host::{SegmentLog, WriteBuffer};
use wal_core::{Config, Error, Position, RecoveryReport, SegmentInfo, SyncPolicy};

use crate::waiting::WaitPolicy;
use wal_fs::FsStorage;

mod admin;
mod batch;
mod durable;
mod flusher;
mod order;
mod poison;
mod shared;
mod signal;
mod syncer;
mod tail;
mod write_handle;

pub use batch::MAX_SEALED;
pub use tail::{NextRecord, Tail};
pub use write_handle::WriteHandle;

use crate::ThreadedStorage;
use batch::{ask_flush, fail_batch, push, Batch, BufferSide, Room};
use flusher::flusher_loop;
use order::{contained, in_callback, Order};
use poison::shield;
use shared::{LogSide, Shared};
use signal::{lock, wait_signal, Signal};
use syncer::{syncer_loop, SyncSide};

/// A thread-safe write-ahead log. Clones are cheap and share the WAL;
/// dropping the last one closes it cleanly.
///
/// Every method may be called from inside one of its callbacks (which run
/// on the WAL's threads, or on a thread waiting on a handle) without
/// deadlock. Calls that would have to wait for records to complete cannot
/// wait there, since those complete only after the callback returns:
/// [`Wal::flush`], [`WriteHandle::wait`] and [`Wal::close`] return
/// [`Error::WouldDeadlock`] instead (a close is still started),
/// [`Wal::rotate`] closes the segment without waiting for records still
/// buffered, and a write is never held back by backpressure.
///
/// A panic on one of the WAL's threads (or in its storage, on any thread)
/// is caught: it poisons the WAL (while changing the storage), every
/// pending and later completion gets an error, and `close` and drop return.
pub struct Wal<S: ThreadedStorage = FsStorage>
where
    S::File: Send,
{
    handle: Arc<Handle<S>>,
}

impl<S: ThreadedStorage> Clone for Wal<S>
where
    S::File: Send,
{
    fn clone(&self) -> Self {
        Wal {
            handle: self.handle.clone(),
        }
    }
}

impl<S: ThreadedStorage> std::fmt::Debug for Wal<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("config", self.config())
            .finish_non_exhaustive()
    }
}

struct Handle<S: ThreadedStorage>
where
    S::File: Send,
{
    shared: Arc<Shared<S>>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    syncer: Mutex<Option<JoinHandle<()>>>,
    /// The WAL's threads: a close on one of them must not join it.
    threads: Vec<ThreadId>,
}

impl<S: ThreadedStorage> Drop for Handle<S>
where
    S::File: Send,
{
    fn drop(&mut self) {
        let _ = close(self);
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

impl<S: ThreadedStorage> Wal<S>
where
    S::File: Send,
{
    /// Opens the WAL on any storage (the in-memory one in benchmarks).
    pub fn with_storage(storage: S, config: Config) -> Result<Self, Error> {
        let remover = storage.clone();
        let (mut log, report) = SegmentLog::open(storage, config)?;
        // Sync on a second thread, overlapping the next frame's encoding
        // and writing, when the storage can give a second handle.
        let pipelined = config.sync == SyncPolicy::Always && syncer::sync_handle(&mut log).is_ok();
        let poison = log.poison().clone();
        let shared = Arc::new(Shared {
            buffers: BufferSide::new(config, poison.clone()),
            order: Order::new(poison.clone(), log.durable()),
            sync: SyncSide::new(),
            pipelined,
            log: Mutex::new(LogSide {
                log: Some(log),
                frame: Vec::new(),
                syncer_segment: None,
                segments_at_close: Vec::new(),
                active_at_close: SegmentInfo::default(),
            }),
            remover: Mutex::new(Some(remover)),
            waits: WaitPolicy::for_this_machine(),
            report,
            poison,
            alive: AtomicUsize::new(1 + usize::from(pipelined)),
            closed: Signal::default(),
            tails: Mutex::default(),
            removed: Mutex::default(),
        });
        let s = shared.clone();
        let flusher = std::thread::Builder::new()
            .name("wal-flusher".into())
            .spawn(move || {
                let _last = Stopping(&s);
                flusher_loop(&s);
            })
            .map_err(|e| Error::storage("spawn flusher", None, e))?;
        let mut threads = vec![flusher.thread().id()];
        let syncer = if pipelined {
            let s = shared.clone();
            match std::thread::Builder::new()
                .name("wal-syncer".into())
                .spawn(move || {
                    let _last = Stopping(&s);
                    let mut reserve = || s.reserve_ahead();
                    syncer_loop(&s.sync, &s.buffers, &s.order, &s.waits, &mut reserve);
                }) {
                Ok(t) => {
                    threads.push(t.thread().id());
                    Some(t)
                }
                Err(e) => {
                    shared.alive.fetch_sub(1, Ordering::AcqRel);
                    let h = Handle {
                        shared,
                        flusher: Mutex::new(Some(flusher)),
                        syncer: Mutex::new(None),
                        threads,
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
                threads,
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
    /// poisoned) are returned here, and nothing is buffered then. Called
    /// from inside one of this WAL's callbacks it is never held back by
    /// backpressure (the room could only come from the thread running the
    /// callback): the record is let through.
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
            &mut || None,
            Room::Wait,
        )?
        .ok_or(Error::LogicBug("a write that waits for room found none"))?;
        Ok(WriteHandle {
            signal,
            shared: self.handle.shared.clone(),
        })
    }

    /// Buffers a record whose `callback` is called exactly once: with
    /// `Ok(position)` once the record is durable (per the sync policy; the
    /// log is durable through `position`, the end of its frame), or with the
    /// error that stopped it. A refused write calls it with the error it
    /// returns, at once. Callbacks run, in write order, on whichever thread
    /// completes the frame (the WAL's syncer or flusher, or a thread waiting
    /// on a handle), with no lock of the WAL held: keep them short. Any
    /// method may be called from one (see [`Wal`] for what those that
    /// would wait do there). As [`Wal::write`], never held back from
    /// inside a callback.
    pub fn write_with(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        callback: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        let buffers = &self.handle.shared.buffers;
        let mut callback = Some(callback);
        push(
            buffers,
            series_id,
            timestamp,
            value,
            &mut || callback.take().map(|f| contained(buffers.id, f)),
            Room::Wait,
        )
        .map(|_| ())
    }

    /// As [`Wal::write_with`], but never held back by backpressure: when
    /// the buffers waiting to be written leave no room, buffers nothing
    /// and hands `callback` back, uncalled, as `Ok(Some(callback))` (write
    /// it later, or with [`Wal::write_with`] from a thread that may wait).
    /// `Ok(None)`: buffered, and `callback` will be called as
    /// [`Wal::write_with`] says. A refused write (value too long, closed,
    /// poisoned) calls `callback` with the error and returns it. For an
    /// async caller that must not block its executor's thread.
    pub fn try_write_with<F>(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        callback: F,
    ) -> Result<Option<F>, Error>
    where
        F: FnOnce(Result<Position, Error>) + Send + 'static,
    {
        let buffers = &self.handle.shared.buffers;
        let mut callback = Some(callback);
        let pushed = push(
            buffers,
            series_id,
            timestamp,
            value,
            &mut || callback.take().map(|f| contained(buffers.id, f)),
            Room::Refuse,
        )?;
        Ok(match pushed {
            Some(_) => None,
            None => callback,
        })
    }

    /// As [`Wal::write`], but never held back by backpressure: `Ok(None)`
    /// when the buffers waiting to be written leave no room (nothing is
    /// buffered then).
    pub fn try_write(
        &self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
    ) -> Result<Option<WriteHandle<S>>, Error> {
        let pushed = push(
            &self.handle.shared.buffers,
            series_id,
            timestamp,
            value,
            &mut || None,
            Room::Refuse,
        )?;
        Ok(pushed.map(|signal| WriteHandle {
            signal,
            shared: self.handle.shared.clone(),
        }))
    }

    /// Writes everything buffered so far and waits until it is durable.
    /// Once the WAL is poisoned, returns the poison ([`Error::Poisoned`],
    /// with the first failure as its cause). From inside one of this WAL's
    /// callbacks it asks for the flush but returns
    /// [`Error::WouldDeadlock`] rather than wait (unless nothing is left
    /// to wait for).
    pub fn flush(&self) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let signal = {
            let mut st = lock(&shared.buffers.state);
            if st.closed {
                return Err(Error::Closed);
            }
            shared.poison.check()?;
            if st.current.buffer.is_empty() {
                match st.last_handed.clone() {
                    Some(s) => s,
                    None => return Ok(()),
                }
            } else {
                ask_flush(&shared.buffers, &mut st);
                st.current.signal().clone()
            }
        };
        if !signal.is_done() && in_callback(shared.buffers.id) {
            return Err(Error::WouldDeadlock);
        }
        let r = wait_signal(&shared.waits, &signal, None).unwrap_or(Err(Error::LogicBug(
            "flush wait timed out without a timeout",
        )));
        // A failure anywhere (the syncer's sync, say) is the poison here,
        // whatever the batch waited for says.
        shared.poison.check().and(r.map(|_| ()))
    }

    /// Asks for everything buffered so far to be written now, rather than
    /// when the buffer fills or the flush interval ends, and returns at
    /// once: the records' completions (and handles) say when they are
    /// durable. For a writer that hands its completions on (a callback per
    /// batch) and must not wait itself. Once the WAL is poisoned, returns
    /// the poison; after close, [`Error::Closed`].
    pub fn flush_soon(&self) -> Result<(), Error> {
        let shared = &self.handle.shared;
        let mut st = lock(&shared.buffers.state);
        if st.closed {
            return Err(Error::Closed);
        }
        shared.poison.check()?;
        if !st.current.buffer.is_empty() {
            ask_flush(&shared.buffers, &mut st);
        }
        Ok(())
    }

    /// Flushes, closes the active segment and starts the next. Returns what
    /// the closed segment holds (every record written before the call, and
    /// possibly some written concurrently). Once the WAL is poisoned,
    /// returns the poison. From inside one of this WAL's callbacks it does
    /// not wait for the records still buffered (they complete only after
    /// the callback): it closes the segment with the frames written so far.
    pub fn rotate(&self) -> Result<SegmentInfo, Error> {
        let shared = &self.handle.shared;
        if !in_callback(shared.buffers.id) {
            self.flush()?;
        }
        let closed = self.changing("rotating", |s| lock(&s.log).log()?.rotate())?;
        shared.retain();
        // A sync that failed meanwhile on another thread (the syncer's) may
        // have lost frames of the segment just closed.
        shared.poison.check()?;
        Ok(closed)
    }

    /// Flushes, syncs and completes everything, stops the WAL's threads
    /// and releases the storage. Later writes get [`Error::Closed`].
    /// Returns the first failure, if any (every call, the same). From
    /// inside one of this WAL's callbacks it starts the close and returns
    /// [`Error::WouldDeadlock`] at once: the WAL finishes closing once the
    /// callback returns (a later `close` from outside waits for it).
    pub fn close(&self) -> Result<(), Error> {
        close(&self.handle)
    }

    /// Runs `f`, which changes the storage: a panic in it is an error and
    /// poisons the WAL; once poisoned, writers held back are woken.
    fn changing<T>(
        &self,
        during: &'static str,
        f: impl FnOnce(&Shared<S>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let shared = &*self.handle.shared;
        let r = shield(Some(&shared.poison), during, || f(shared));
        if r.is_err() && shared.poison.is_poisoned() {
            shared.buffers.alarm();
        }
        r
    }
}

/// Stops the WAL: tells its threads to finish, and unless that would wait
/// for the thread calling it, waits for them and for the end of the close.
fn close<S: ThreadedStorage>(h: &Handle<S>) -> Result<(), Error> {
    let shared = &*h.shared;
    if let Some(r) = shared.closed.result() {
        return r;
    }
    {
        let mut st = lock(&shared.buffers.state);
        if !st.closing {
            st.closing = true;
            shared.buffers.work.notify_all();
            shared.buffers.room.notify_all();
        }
    }
    let me = std::thread::current().id();
    if in_callback(shared.buffers.id) || h.threads.contains(&me) {
        // The threads finish on their own once this callback returns; the
        // last one to stop finishes the close.
        return Err(Error::WouldDeadlock);
    }
    for t in [&h.flusher, &h.syncer] {
        let t = lock(t).take();
        if let Some(t) = t {
            // A thread catches its own panics: joining cannot fail, and
            // the close's outcome is in `closed` either way.
            let _ = t.join();
        }
    }
    shared.closed.wait_done()
}

/// Held by each of the WAL's threads: the last one to stop (dropping it,
/// even while unwinding) finishes the close.
struct Stopping<'a, S: ThreadedStorage>(&'a Shared<S>);

impl<S: ThreadedStorage> Drop for Stopping<'_, S> {
    fn drop(&mut self) {
        if self.0.alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            let r = shield(None, "closing", || finish_close(self.0));
            self.0.closed.complete(r);
            // Tails read what is left, then end.
            self.0.order.watermark().close();
        }
    }
}

/// The end of the close, once the WAL's threads have written, synced and
/// completed everything they will: waits for the last batch handed over to
/// complete (a waiter may be completing it), fails whatever was never
/// written, releases the reserved space, syncs, and releases the storage
/// (and with it the directory lock).
fn finish_close<S: ThreadedStorage>(shared: &Shared<S>) -> Result<(), Error> {
    let (sealed, last) = {
        let mut st = lock(&shared.buffers.state);
        st.closing = true;
        st.closed = true;
        let sealed: Vec<Batch> = st.sealed.drain(..).collect();
        (sealed, st.last_handed.clone())
    };
    // Anything never written fails, never hangs (the flusher writes
    // everything before it stops, so there is none unless it failed).
    let err = shared.poison.check().err().unwrap_or(Error::LogicBug(
        "the flusher stopped before writing this record",
    ));
    for b in sealed {
        fail_batch(b, err.clone());
    }
    if let Some(last) = last {
        let _ = last.wait_done();
    }
    let current = std::mem::replace(
        &mut lock(&shared.buffers.state).current,
        Batch::new(WriteBuffer::new()),
    );
    fail_batch(current, err);
    let log = {
        let mut side = lock(&shared.log);
        let Some(log) = side.log.take() else {
            return Ok(());
        };
        side.segments_at_close = log.segments();
        side.active_at_close = log.active().clone();
        log
    };
    let synced = shield(Some(&shared.poison), "closing the log", || {
        let mut log = log;
        let r = log.close();
        drop(log); // releases the storage, and with it the directory lock
        r
    });
    drop(lock(&shared.remover).take());
    shared.poison.check().and(synced)
}

#[cfg(test)]
mod tests;
