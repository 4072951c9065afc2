//! What tests of the WAL (and of hosts) need: [`MemStorage`], an in-memory
//! storage that keeps what was made durable apart from what was only
//! written, injects faults and takes crash images. Behind the `mem`
//! feature, which is off by default: a production build never links it.

mod mem;

pub use mem::{Fault, MemError, MemFile, MemStorage, Op};
