//! `wal-host-std`: the portable WAL on a native machine: a thread-safe
//! [`Wal`] with a background flusher, a syncer, group commit, callbacks and
//! waitable write handles, over `wal_fs::FsStorage` (or any
//! [`ThreadedStorage`]).
//!
//! All format, buffer, rotation and recovery rules come from `wal-core`;
//! this crate only adds threads and a clock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod waiting;
pub mod wal;

pub use wal::{Wal, WriteHandle, MAX_SEALED};

use wal_core::host::SyncHandle;
use wal_core::Storage;

/// A storage the thread-safe [`Wal`] runs on: it moves to the WAL's
/// threads, and its files can be synced by the syncer thread while the
/// flusher writes ([`SyncHandle`]). `wal_fs::FsStorage` and
/// `wal_core::testing::MemStorage` are.
pub trait ThreadedStorage: Storage<File: SyncHandle + Send> + Send + 'static {}

impl<S> ThreadedStorage for S
where
    S: Storage + Send + 'static,
    S::File: SyncHandle + Send,
{
}
