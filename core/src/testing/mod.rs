//! What tests of the WAL (and of hosts) need: [`MemStorage`], an in-memory
//! storage that keeps what was made durable apart from what was only
//! written, injects faults and takes crash images (from the kindest power
//! cut the `Storage` contract allows to the harshest: see [`CrashModel`]).
//! Behind the `mem` feature, which is off by default: a production build
//! never links it.

mod mem;

pub use mem::{
    CrashModel, Fault, MemError, MemFile, MemStorage, NamesDurable, Op, Unsynced, Writeback,
};
