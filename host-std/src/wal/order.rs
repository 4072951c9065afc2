//! Completion order: completions fire in write order, each only once a sync
//! covers its frame, whichever thread completes each batch (the syncer, the
//! flusher, or a waiter that wrote its own batch).

use std::sync::{Condvar, Mutex};

use wal_core::{Completion, Error};

use super::signal::{lock, wait, Signal};

/// Completion order across the threads that complete batches.
#[derive(Default)]
pub(super) struct Order {
    progress: Mutex<Progress>,
    /// Threads waiting for their turn wait here.
    turn: Condvar,
}

/// Which batches have completed. Batches are written one at a time, but
/// the thread that wrote one may still be running its callbacks when
/// another thread (a lone waiter) has written and synced the next: each
/// completes only after the one before it.
#[derive(Default)]
struct Progress {
    /// Every batch up to this `seq` has completed.
    done: u64,
    /// Threads waiting for their turn.
    waiting: usize,
}

impl Order {
    /// Calls `complete` for batch `seq` once every batch before it has
    /// completed, so that callbacks and waits end in write order whichever
    /// thread completes each batch.
    pub(super) fn complete_in_order(
        &self,
        seq: u64,
        completions: Vec<Completion>,
        signal: &Signal,
        result: Result<(), Error>,
    ) {
        {
            let mut o = lock(&self.progress);
            while o.done + 1 < seq {
                o.waiting += 1;
                o = wait(&self.turn, o, None);
                o.waiting -= 1;
            }
        }
        complete(completions, signal, result);
        let mut o = lock(&self.progress);
        o.done = o.done.max(seq);
        if o.waiting > 0 {
            self.turn.notify_all();
        }
    }
}

/// Calls every completion with `result` (callbacks are [`contained`]), then
/// the signal.
fn complete(completions: Vec<Completion>, signal: &Signal, result: Result<(), Error>) {
    call_all(completions, &result);
    signal.complete(result);
}

/// Calls every completion with `result`.
pub(super) fn call_all(completions: Vec<Completion>, result: &Result<(), Error>) {
    for c in completions {
        c.complete(result.clone());
    }
}

/// A user's callback as a [`Completion`], with a panic in it contained: it
/// must not stop the WAL thread that completes the others (nor, run while a
/// dropped completion unwinds, abort the process).
pub(super) fn contained(callback: impl FnOnce(Result<(), Error>) + Send + 'static) -> Completion {
    Completion::new(move |r| {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || callback(r)));
    })
}
