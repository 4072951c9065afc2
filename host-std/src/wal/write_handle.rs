//! A handle on one write: waiting for it, blocking or not, and awaiting it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use wal_core::{Error, Position};

use super::batch::{ask_flush, take_current, Batch};
use super::flusher::write_batch;
use super::order::in_callback;
use super::shared::Shared;
use super::signal::{lock, wait_signal, Signal};
use crate::ThreadedStorage;
use wal_fs::FsStorage;

/// A handle on one write: wait for it (blocking, optionally with a
/// timeout), or `.await` it. Waiting asks for an immediate flush, so a lone
/// writer is not held back by `flush_interval`. Dropping it does not cancel
/// the write.
///
/// Inside one of the same WAL's callbacks a write that has not completed
/// can never complete before the callback returns (records complete in
/// write order, after it): waiting for it there returns
/// [`Error::WouldDeadlock`] at once instead of hanging.
pub struct WriteHandle<S: ThreadedStorage = FsStorage> {
    pub(super) signal: Arc<Signal>,
    pub(super) shared: Arc<Shared<S>>,
}

impl<S: ThreadedStorage> std::fmt::Debug for WriteHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHandle")
            .field("result", &self.try_result())
            .finish_non_exhaustive()
    }
}

impl<S: ThreadedStorage> WriteHandle<S> {
    /// The outcome, if known yet (never blocks, never asks for a flush).
    pub fn try_result(&self) -> Option<Result<Position, Error>> {
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
        if idle && alone && Arc::ptr_eq(st.current.signal(), &self.signal) {
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
        if Arc::ptr_eq(st.current.signal(), &self.signal) {
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
    ///
    /// From inside a callback of the same WAL it returns
    /// [`Error::WouldDeadlock`] unless the outcome is known already (the
    /// record is still written; its outcome is simply not waited for).
    pub fn wait(self) -> Result<Position, Error> {
        if let Some(r) = self.signal.result() {
            return r;
        }
        if in_callback(self.shared.buffers.id) {
            self.request_flush();
            return Err(Error::WouldDeadlock);
        }
        if let Some(batch) = self.take_if_idle() {
            write_batch(&self.shared, batch, true);
        }
        self.request_flush();
        wait_signal(&self.shared.waits, &self.signal, None)
            .unwrap_or(Err(Error::LogicBug("wait timed out without a timeout")))
    }

    /// Like [`WriteHandle::wait`], giving up after `timeout`: `None` then
    /// (the write goes on; its outcome is simply not known yet). From
    /// inside a callback of the same WAL, `Some(Err(Error::WouldDeadlock))`
    /// at once unless the outcome is known.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<Position, Error>> {
        if let Some(r) = self.signal.result() {
            return Some(r);
        }
        self.request_flush();
        if in_callback(self.shared.buffers.id) {
            return Some(Err(Error::WouldDeadlock));
        }
        wait_signal(&self.shared.waits, &self.signal, Some(timeout))
    }
}

impl<S: ThreadedStorage> Future for WriteHandle<S> {
    type Output = Result<Position, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(r) = self.signal.result_or_wake(cx.waker()) {
            return Poll::Ready(r);
        }
        self.request_flush();
        Poll::Pending
    }
}
