//! `wal-host-std`: the portable WAL on a native machine: a thread-safe
//! [`Wal`] with a background flusher, a syncer, group commit, callbacks and
//! waitable write handles, over `wal_fs::FsStorage` (or any
//! [`ThreadedStorage`]).
//!
//! All format, buffer, rotation and recovery rules come from `wal-core`;
//! this crate only adds threads and a clock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod metrics;
mod sync_times;
pub mod waiting;
pub mod wal;

pub use wal::{NextRecord, Tail, Wal, WriteHandle, MAX_SEALED};

use wal_core::host::SyncHandle;
use wal_core::Storage;

/// A storage the thread-safe [`Wal`] runs on: it moves to the WAL's
/// threads, its files can be synced by the syncer thread while the flusher
/// writes ([`SyncHandle`]), and its clones share the directory and may be
/// used from another thread at the same time (the WAL removes deleted
/// segments' files through a clone, without the lock its writers need;
/// every clone is dropped at close). `wal_fs::FsStorage` and
/// `wal_core::testing::MemStorage` are.
pub trait ThreadedStorage: Storage<File: SyncHandle + Send> + Clone + Send + 'static {}

impl<S> ThreadedStorage for S
where
    S: Storage + Clone + Send + 'static,
    S::File: SyncHandle + Send,
{
}
