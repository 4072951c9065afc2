//! The end of the durable log as the batches completed in order say it,
//! and waiting for it to move (tailing readers).

use std::sync::{Condvar, Mutex};
use std::task::Waker;
use std::time::Instant;

use wal_core::Position;

use super::signal::lock;

/// The durable end, only growing, and who waits for it to pass a point.
pub(super) struct Durable {
    state: Mutex<DurableState>,
    moved: Condvar,
}

struct DurableState {
    end: Position,
    /// The WAL closed: the end moves no more.
    closed: bool,
    /// Tails polled as futures, woken when the end moves or the WAL closes.
    wakers: Vec<Waker>,
}

/// What a wait for the end to pass a point found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Seen {
    /// The durable end then.
    pub(super) end: Position,
    /// Whether the WAL had closed.
    pub(super) closed: bool,
}

impl Durable {
    /// Durable through `end` (the log's end at open).
    pub(super) fn new(end: Position) -> Self {
        Durable {
            state: Mutex::new(DurableState {
                end,
                closed: false,
                wakers: Vec::new(),
            }),
            moved: Condvar::new(),
        }
    }

    /// The durable end.
    pub(super) fn end(&self) -> Position {
        lock(&self.state).end
    }

    /// The durable end and whether the WAL closed, now.
    pub(super) fn seen(&self) -> Seen {
        let s = lock(&self.state);
        Seen {
            end: s.end,
            closed: s.closed,
        }
    }

    /// The log is durable through `end` (an earlier point changes nothing).
    pub(super) fn advance(&self, end: Position) {
        let wakers = {
            let mut s = lock(&self.state);
            if end <= s.end {
                return;
            }
            s.end = end;
            std::mem::take(&mut s.wakers)
        };
        self.moved.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The WAL closed: every waiter returns.
    pub(super) fn close(&self) {
        let wakers = {
            let mut s = lock(&self.state);
            s.closed = true;
            std::mem::take(&mut s.wakers)
        };
        self.moved.notify_all();
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Waits until the end passes `past`, the WAL closes, or `deadline`
    /// passes; says what it saw.
    pub(super) fn wait_past(&self, past: Position, deadline: Option<Instant>) -> Seen {
        let mut s = lock(&self.state);
        loop {
            if s.end > past || s.closed {
                break;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
            };
            s = super::signal::wait(&self.moved, s, left);
        }
        Seen {
            end: s.end,
            closed: s.closed,
        }
    }

    /// What the end is now if it passed `past` or the WAL closed; else
    /// `None`, and `waker` is woken when either happens.
    pub(super) fn poll_past(&self, past: Position, waker: &Waker) -> Option<Seen> {
        let mut s = lock(&self.state);
        if s.end > past || s.closed {
            return Some(Seen {
                end: s.end,
                closed: s.closed,
            });
        }
        if !s.wakers.iter().any(|w| w.will_wake(waker)) {
            s.wakers.push(waker.clone());
        }
        None
    }
}
