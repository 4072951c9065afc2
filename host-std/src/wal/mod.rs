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
//! - `write_handle`: [`WriteHandle`], waiting for one write (a lone waiter
//!   that finds the WAL idle writes its batch itself);
//! - `flusher`: the flusher thread, taking batches in write order and
//!   writing them;
//! - `shared`: what the threads share, and the order its locks are taken in;
//! - `syncer`: the queue of written frames and the syncer thread (group
//!   commit);
//! - `batch`: batches, the writers' shared `State`, pushing a record, and
//!   backpressure ([`MAX_SEALED`]);
//! - `order`: completing batches in write order;
//! - `signal`: a batch's outcome, and waiting for it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use wal_core::host::SegmentLog;
use wal_core::host::WriteBuffer;
use wal_core::SegmentReader;
use wal_core::{Config, Error, RecoveryReport, SegmentId, SegmentInfo, SyncPolicy};

use crate::waiting::WaitPolicy;
use wal_fs::FsStorage;

mod batch;
mod flusher;
mod order;
mod shared;
mod signal;
mod syncer;
mod write_handle;

pub use batch::MAX_SEALED;
pub use write_handle::WriteHandle;

use crate::ThreadedStorage;
use batch::{ask_flush, fail_batch, push, Batch, BufferSide};
use flusher::flusher_loop;
use order::{contained, Order};
use shared::{LogSide, Shared};
use signal::{lock, wait_signal};
use syncer::{syncer_loop, SyncSide};

/// A thread-safe write-ahead log. Clones are cheap and share the WAL;
/// dropping the last one closes it cleanly.
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
}

impl<S: ThreadedStorage> Drop for Handle<S>
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

impl<S: ThreadedStorage> Wal<S>
where
    S::File: Send,
{
    /// Opens the WAL on any storage (the in-memory one in benchmarks).
    pub fn with_storage(storage: S, config: Config) -> Result<Self, Error> {
        let (mut log, report) = SegmentLog::open(storage, config)?;
        // Sync on a second thread, overlapping the next frame's encoding
        // and writing, when the storage can give a second handle.
        let pipelined = config.sync == SyncPolicy::Always && syncer::sync_handle(&mut log).is_ok();
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
                active_at_close: SegmentInfo::default(),
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
            Some(contained(callback)),
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

    /// What the active segment holds so far: the frames written to it (after
    /// close: as it was at close).
    pub fn active(&self) -> SegmentInfo {
        let side = lock(&self.handle.shared.log);
        match &side.log {
            Some(log) => log.active().clone(),
            None => side.active_at_close.clone(),
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

fn close<S: ThreadedStorage>(
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
    side.active_at_close = log.active().clone();
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

#[cfg(test)]
mod tests;
