//! The one poison state of a WAL.
//!
//! A failed write or sync (or a panic while changing the storage) leaves
//! what the storage holds unknown, so the WAL must refuse all later work
//! and never report a later sync good. [`Poison`] records the first such
//! failure, once; it is shared (cheap clones of one cell) between the
//! segment log, which checks it before every append, sync and rotation, and
//! a host's threads, which set it from a failed background sync and check
//! it before they accept or complete anything. There is no second flag to
//! keep in step.

use alloc::sync::Arc;

use crate::error::Error;

/// The first failure that poisoned a WAL, shared by every part of it. Set
/// once; never cleared (reopening the WAL runs recovery instead).
#[derive(Clone, Debug, Default)]
pub struct Poison {
    cell: Arc<spin::Once<Error>>,
}

impl Poison {
    /// A healthy state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `e` as the failure that poisoned the WAL, unless one was
    /// recorded already. Returns whether this call poisoned it.
    pub fn fail(&self, e: Error) -> bool {
        let mut first = false;
        self.cell.call_once(|| {
            first = true;
            e
        });
        first
    }

    /// The failure that poisoned the WAL, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.cell.get()
    }

    /// Whether the WAL is poisoned.
    pub fn is_poisoned(&self) -> bool {
        self.cell.is_completed()
    }

    /// `Ok` while healthy; otherwise the error later calls get,
    /// [`Error::Poisoned`] with the first failure as its cause.
    pub fn check(&self) -> Result<(), Error> {
        match self.error() {
            Some(e) => Err(e.clone().poisoned()),
            None => Ok(()),
        }
    }

    /// Whether `other` is a handle on the same state.
    pub fn same_as(&self, other: &Poison) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_kept_and_every_clone_sees_it() {
        let a = Poison::new();
        let b = a.clone();
        assert!(a.check().is_ok() && !b.is_poisoned());
        assert!(b.fail(Error::LogicBug("first")));
        assert!(!a.fail(Error::LogicBug("second")));
        assert_eq!(a.error(), Some(&Error::LogicBug("first")));
        let e = a.check().unwrap_err();
        assert_eq!(e.cause(), &Error::LogicBug("first"));
        assert!(a.same_as(&b) && !a.same_as(&Poison::new()));
    }
}
