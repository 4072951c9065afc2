//! `wal-host-std`: the portable WAL on a native machine. Real files
//! ([`FsStorage`]), and a thread-safe [`Wal`] with a background flusher,
//! group commit, callbacks and waitable write handles.
//!
//! All format, buffer, rotation and recovery rules come from `wal-core`;
//! this crate only adds files, threads and a clock.
#![deny(missing_docs)]

pub mod fs;
pub mod waiting;
pub mod wal;

pub use fs::{FsOptions, FsStorage};
pub use wal::{Wal, WriteHandle, MAX_SEALED};
