//! Panics on the WAL's paths, turned into errors: [`shield`] runs storage
//! and WAL code so that a panic in it (a storage bug, a bug in the WAL) is
//! caught, reported as [`Error::Panicked`] and, where the code changes the
//! storage, poisons the WAL through its one poison state (the core's
//! [`Poison`], shared by the log and every thread). Nothing a panic leaves
//! behind can then hang anyone: every completion the unwinding dropped
//! fires [`Error::Lost`], every batch signal it dropped completes with it
//! (`signal::Owed`), and later work is refused or failed with the poison.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use wal_core::host::Poison;
use wal_core::Error;

/// The error for a panic caught while `during`, with its message.
pub(super) fn panicked(during: &'static str, payload: &(dyn Any + Send)) -> Error {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_string()
    };
    Error::Panicked { during, message }
}

/// Runs `f`; a panic in it becomes [`Error::Panicked`] (`during` says
/// what was being done), which also poisons the WAL when `poison` is given
/// (code that changes the storage: what it left there is unknown).
pub(super) fn shield<T>(
    poison: Option<&Poison>,
    during: &'static str,
    f: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let e = panicked(during, &*payload);
            if let Some(p) = poison {
                p.fail(e.clone());
            }
            Err(e)
        }
    }
}
