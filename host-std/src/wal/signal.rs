//! A batch's outcome, shared by the handles on its records, and waiting for
//! it; the duty to complete it ([`Owed`]); and [`lock`], how every part of
//! the WAL takes its locks.
//!
//! A thread waiting on a write blocks on its batch's condition variable,
//! unless many threads wait at once: then it yields the CPU for a while
//! first, so that completing a batch does not wake them one by one (see
//! [`crate::waiting`]). Every signal is completed exactly once, by
//! construction: the batch that owes it holds an [`Owed`], which completes
//! it with [`Error::Lost`] if it is dropped uncompleted (a panic unwinding
//! through the thread that held the batch), so no waiter waits forever.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use wal_core::{Error, Position};

use crate::waiting::WaitPolicy;

/// Takes a lock, poisoned or not.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a user callback must not wedge the WAL: the data under these
    // locks is kept consistent before any callback runs.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Waits on `cv` (at most `timeout`, when given), poisoned or not, as
/// [`lock`] takes a lock.
pub(super) fn wait<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, T> {
    match timeout {
        None => cv.wait(guard).unwrap_or_else(|p| p.into_inner()),
        Some(t) => {
            cv.wait_timeout(guard, t)
                .unwrap_or_else(|p| p.into_inner())
                .0
        }
    }
}

/// The outcome of one batch (one future frame), shared by its waiters.
pub(super) struct Signal<T = Position> {
    state: Mutex<SignalState<T>>,
    cond: Condvar,
    /// Set once `state.result` is: what yielding waiters watch.
    done: AtomicBool,
}

struct SignalState<T> {
    result: Option<Result<T, Error>>,
    wakers: Vec<Waker>,
    /// Threads blocked on `cond` (a futex wake costs a system call even
    /// with nobody to wake, so completing skips it when there is none).
    blocked: usize,
}

impl<T> Default for Signal<T> {
    fn default() -> Self {
        Signal {
            state: Mutex::new(SignalState {
                result: None,
                wakers: Vec::new(),
                blocked: 0,
            }),
            cond: Condvar::new(),
            done: AtomicBool::new(false),
        }
    }
}

impl<T: Clone> Signal<T> {
    pub(super) fn complete(&self, r: Result<T, Error>) {
        let (wakers, blocked) = {
            let mut s = lock(&self.state);
            s.result = Some(r);
            self.done.store(true, Ordering::Release);
            (std::mem::take(&mut s.wakers), s.blocked > 0)
        };
        if blocked {
            self.cond.notify_all();
        }
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(super) fn result(&self) -> Option<Result<T, Error>> {
        lock(&self.state).result.clone()
    }

    /// Whether the outcome is known.
    pub(super) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Blocks until the outcome is known (no yielding: for the WAL's own
    /// threads, waiting for their turn or for the close).
    pub(super) fn wait_done(&self) -> Result<T, Error> {
        let mut s = lock(&self.state);
        loop {
            if let Some(r) = &s.result {
                return r.clone();
            }
            s.blocked += 1;
            s = wait(&self.cond, s, None);
            s.blocked -= 1;
        }
    }

    /// The outcome, if known; otherwise `waker` is woken once it is (what
    /// polling a write handle does).
    pub(super) fn result_or_wake(&self, waker: &Waker) -> Option<Result<T, Error>> {
        let mut s = lock(&self.state);
        if let Some(r) = &s.result {
            return Some(r.clone());
        }
        if !s.wakers.iter().any(|w| w.will_wake(waker)) {
            s.wakers.push(waker.clone());
        }
        None
    }
}

/// The duty to complete a [`Signal`]: held by the batch whose outcome it
/// is, wherever the batch goes. Dropped uncompleted, it completes the signal
/// with [`Error::Lost`].
pub(super) struct Owed {
    signal: Arc<Signal>,
    done: bool,
}

impl Owed {
    /// A fresh signal, owed.
    pub(super) fn new() -> Self {
        Owed {
            signal: Arc::default(),
            done: false,
        }
    }

    /// The signal owed (for the handles that wait on it).
    pub(super) fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// Completes the signal with `r` (once; later calls do nothing).
    pub(super) fn complete(&mut self, r: Result<Position, Error>) {
        if !self.done {
            self.done = true;
            self.signal.complete(r);
        }
    }
}

impl Drop for Owed {
    fn drop(&mut self) {
        self.complete(Err(Error::Lost));
    }
}

/// Waits for `signal` (yielding first when `waits` says so; see
/// [`crate::waiting`]); `None` if `timeout` passes first.
pub(super) fn wait_signal<T: Clone>(
    waits: &WaitPolicy,
    signal: &Signal<T>,
    timeout: Option<Duration>,
) -> Option<Result<T, Error>> {
    let start = Instant::now();
    // A timeout too long to add to the clock is no deadline at all.
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let waiting = waits.enter();
    if !waiting.budget.is_zero() {
        let until = start + waiting.budget.min(timeout.unwrap_or(Duration::MAX));
        while !signal.done.load(Ordering::Acquire) && Instant::now() < until {
            std::thread::yield_now();
        }
        if signal.done.load(Ordering::Acquire) {
            waits.record_yield_hit();
        }
    }
    let mut s = lock(&signal.state);
    loop {
        if let Some(r) = &s.result {
            return Some(r.clone());
        }
        let left = match deadline {
            None => None,
            Some(d) => Some(d.checked_duration_since(Instant::now())?),
        };
        s.blocked += 1;
        s = wait(&signal.cond, s, left);
        s.blocked -= 1;
    }
}
