//! Completion order, and what runs user callbacks.
//!
//! Completions fire in write order, each only once a sync covers its
//! frame, whichever thread completes each batch (the syncer, the flusher,
//! or a waiter that wrote its own batch): a batch's [`Ticket`] holds the
//! signal of the batch handed over before it, and the batch completes only
//! once that one has. Signals always complete (`signal::Owed`), even when a
//! panic drops a batch, so the chain never stalls.
//!
//! A batch completes `Ok` only if the batch before it did: a log is only as
//! durable as its prefix (recovery stops at the first invalid frame), so a
//! frame written after one that failed (a failed sync, a failed write, a
//! panic) fails too, whatever its own sync said (after a failed `fsync`,
//! Linux may report the next one good). No completion says `Ok` after the
//! first failure; those before it keep theirs.
//!
//! User callbacks run [`contained`]: a panic in one is caught, and while it
//! runs the thread is marked as running a callback of its WAL
//! ([`in_callback`]), so that a call from inside it that would wait for
//! that very callback (a flush, a wait on a write, a close) returns
//! [`Error::WouldDeadlock`] instead, and a write from it is not held back.

use std::cell::Cell;
use std::sync::Arc;

use wal_core::host::Poison;
use wal_core::{Completion, Error, Position};

use super::durable::Durable;
use super::signal::{Owed, Signal};

/// A batch's place in completion order: the signal it owes its waiters,
/// and the one of the batch before it.
pub(super) struct Ticket {
    pub(super) owed: Owed,
    /// The signal of the batch handed over before this one (set when the
    /// batch is handed over); this one completes after it.
    pub(super) after: Option<Arc<Signal>>,
}

impl Ticket {
    /// A ticket for a new batch (not handed over yet).
    pub(super) fn new() -> Self {
        Ticket {
            owed: Owed::new(),
            after: None,
        }
    }

    /// The signal its waiters hold.
    pub(super) fn signal(&self) -> &Arc<Signal> {
        self.owed.signal()
    }
}

/// Completion order across the threads that complete batches.
pub(super) struct Order {
    /// The WAL's poison state: completions after it get it.
    poison: Poison,
    /// The end of the durable log as the batches completed say (in order,
    /// so it only grows): what readers may see.
    durable: Durable,
}

impl Order {
    /// The order of a WAL whose poison state is `poison` and whose log was
    /// durable through `durable` at open.
    pub(super) fn new(poison: Poison, durable: Position) -> Self {
        Order {
            poison,
            durable: Durable::new(durable),
        }
    }

    /// The furthest point of the log a completed batch made durable.
    pub(super) fn durable(&self) -> Position {
        self.durable.end()
    }

    /// The durable end, to wait on (tails).
    pub(super) fn watermark(&self) -> &Durable {
        &self.durable
    }

    /// Completes the batch of `ticket` (its `completions`, then its signal)
    /// with `result` once the batch before it has completed, so that
    /// callbacks and waits end in write order whichever thread completes
    /// each batch. If the batch before it failed, so does this one (with
    /// the poison, which that failure set).
    pub(super) fn complete_in_order(
        &self,
        ticket: Ticket,
        completions: Vec<Completion>,
        result: Result<Position, Error>,
    ) {
        let Ticket { mut owed, after } = ticket;
        let before = after.map_or(Ok(Position::START), |b| b.wait_done());
        let result = match (result, before) {
            (Ok(_), Err(e)) => Err(self.poison.check().err().unwrap_or(e)),
            (r, _) => r,
        };
        if let Ok(end) = result {
            self.durable.advance(end);
        }
        call_all(completions, &result);
        owed.complete(result);
    }
}

/// Calls every completion with `result`.
pub(super) fn call_all(completions: Vec<Completion>, result: &Result<Position, Error>) {
    for c in completions {
        c.complete(result.clone());
    }
}

thread_local! {
    /// The WAL whose callback this thread is running, if any.
    static RUNNING: Cell<Option<u64>> = const { Cell::new(None) };
    /// The next callback to run on this thread is a refused write's, run
    /// at once by the call that refused it (no batch waits on it).
    static AT_ONCE: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a callback of WAL `wal` (then a wait for
/// any of its records not completed yet would never end: they all complete
/// after the callback returns).
pub(super) fn in_callback(wal: u64) -> bool {
    RUNNING.with(|r| r.get() == Some(wal))
}

/// A user's callback for WAL `wal` as a [`Completion`], with a panic in it
/// contained: it must not stop the WAL thread that completes the others
/// (nor, run while a dropped completion unwinds, abort the process). While
/// it runs, [`in_callback`]`(wal)` holds on this thread.
pub(super) fn contained(
    wal: u64,
    callback: impl FnOnce(Result<Position, Error>) + Send + 'static,
) -> Completion {
    Completion::new(move |r| {
        let at_once = AT_ONCE.with(|a| a.replace(false));
        let before = RUNNING.with(|c| c.get());
        if !at_once {
            RUNNING.with(|c| c.set(Some(wal)));
        }
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || callback(r)));
        RUNNING.with(|c| c.set(before));
    })
}

/// Refuses a write (the core's `refuse`): its callback, if any, runs now
/// on this thread, with `e`, as an ordinary call (no batch waits on it).
pub(super) fn refuse_now<T>(callback: Option<Completion>, e: Error) -> Result<T, Error> {
    if callback.is_some() {
        AT_ONCE.with(|a| a.set(true));
    }
    let r = wal_core::host::refuse(callback, e);
    AT_ONCE.with(|a| a.set(false));
    r
}
