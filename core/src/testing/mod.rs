//! What tests of the WAL (and of hosts) need: `MemStorage`, an in-memory
//! storage that keeps what was made durable apart from what was only
//! written, injects faults and takes crash images (from the kindest power
//! cut the `Storage` contract allows to the harshest: see `CrashModel`),
//! feature `mem`; and `scenarios`, the core's behavioural scenarios over
//! any storage, shared by the host tests and the bare-metal harness
//! (feature `scenarios`). Both features are off by default: a production
//! build links neither.

#[cfg(any(test, feature = "mem"))]
mod mem;
#[cfg(feature = "scenarios")]
pub mod scenarios;

#[cfg(any(test, feature = "mem"))]
pub use mem::{
    CrashModel, Fault, MemError, MemFile, MemStorage, NamesDurable, Op, Unsynced, Writeback,
};
