//! `wal`: a portable write-ahead log for time-series data.
//!
//! Writes `(series_id, timestamp, value)` go into a buffer, records of one
//! series share an entry, and a full (or old enough, or requested) buffer is
//! written as one frame, snappy-compressed when that helps, then synced and
//! completed. See the README for the on-disk format and the durability
//! contract.
//!
//! This crate re-exports the portable core ([`core`], `wal-core`), the file
//! storage (`wal-fs`) and the WAL for the target it is built for: the
//! thread-safe [`Wal`] of `wal-host-std` everywhere but WASI, the
//! single-threaded [`Wal`] of `wal-host-wasi` on WASI (same method names;
//! there, methods take `&mut self` and `write` returns no handle).
//!
//! ```no_run
//! use wal::{Config, Position, Wal};
//! # fn main() -> Result<(), wal::Error> {
//! let wal = Wal::open("data/wal", Config::default())?;   // creates or recovers
//! println!("{}", wal.recovery());
//! for item in wal.replay(Position::START)? {             // what is durable, in order
//!     let (at, entry) = item?;
//!     println!("{at}: series {} has {} records", entry.series_id, entry.len());
//! }
//! let pos: Position = wal.write(7, 1_700_000_000_000_000_000, b"cpu=0.42")?.wait()?; // durable
//! wal.write_with(7, 1_700_000_000_000_000_001, b"cpu=0.43", |r| {
//!     r.expect("durable");
//! })?;
//! let closed = wal.rotate()?;
//! for entry in wal.read(closed.id)? {
//!     let entry = entry?;
//!     println!("series {} has {} records", entry.series_id, entry.len());
//! }
//! wal.checkpoint(pos)?;   // closed segments wholly before `pos` may go
//! wal.close()?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use wal_core as core;
pub use wal_core::{
    Config, Corruption, Entry, Error, ErrorKind, ParsePositionError, Position, RecoveryMode,
    RecoveryReport, Replay, SegmentId, SegmentInfo, SegmentReader, Stats, SyncLatency, SyncPolicy,
};
pub use wal_fs::{FsFile, FsOptions, FsStorage};

#[cfg(not(target_os = "wasi"))]
pub use wal_host_std::{Tail, Wal, WriteHandle};

#[cfg(target_os = "wasi")]
pub use wal_host_wasi::Wal;
