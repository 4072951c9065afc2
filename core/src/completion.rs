//! A write's completion, fired exactly once by construction.
//!
//! A [`Completion`] wraps the caller's callback. Completing it calls the
//! callback with the outcome; dropping it uncompleted (a path that forgot
//! it, a panic unwinding through the code that held it) calls the callback
//! with [`Error::Lost`]. So every callback runs exactly once whatever
//! happens, and a waiter on it is always woken.

use alloc::boxed::Box;
use core::fmt;

use crate::error::Error;
use crate::position::Position;

/// The callback a [`Completion`] holds.
type Callback = Box<dyn FnOnce(Result<Position, Error>) + Send>;

/// A write's completion: its callback runs exactly once, with `Ok(position)`
/// once the record is as durable as the sync policy promises (the log is
/// durable through `position`, the end of the frame holding the record), or with the error
/// that stopped it ([`Error::Lost`] if the completion was dropped without
/// an outcome).
pub struct Completion {
    callback: Option<Callback>,
}

impl Completion {
    /// A completion that calls `callback` with the write's outcome.
    pub fn new(callback: impl FnOnce(Result<Position, Error>) + Send + 'static) -> Self {
        Completion {
            callback: Some(Box::new(callback)),
        }
    }

    /// Calls the callback with `result`.
    pub fn complete(mut self, result: Result<Position, Error>) {
        if let Some(callback) = self.callback.take() {
            callback(result);
        }
    }
}

impl Drop for Completion {
    /// Calls the callback with [`Error::Lost`] if it has not run.
    fn drop(&mut self) {
        if let Some(callback) = self.callback.take() {
            callback(Err(Error::Lost));
        }
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("pending", &self.callback.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// Counts of the outcomes seen: ok, closed, lost, anything else.
    #[derive(Default)]
    struct Seen([AtomicUsize; 4]);

    fn record(seen: &Arc<Seen>) -> Completion {
        let seen = seen.clone();
        Completion::new(move |r| {
            let i = match r {
                Ok(_) => 0,
                Err(Error::Closed) => 1,
                Err(Error::Lost) => 2,
                Err(_) => 3,
            };
            seen.0[i].fetch_add(1, Ordering::Relaxed);
        })
    }

    #[test]
    fn a_completion_fires_once_with_its_outcome_or_lost_when_dropped() {
        let seen = Arc::new(Seen::default());
        record(&seen).complete(Ok(Position::new(1, 24)));
        record(&seen).complete(Err(Error::Closed));
        drop(record(&seen));
        let counts: [usize; 4] = core::array::from_fn(|i| seen.0[i].load(Ordering::Relaxed));
        assert_eq!(
            counts,
            [1, 1, 1, 0],
            "each fired once, the dropped one as lost"
        );
    }
}
