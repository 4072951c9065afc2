//! `wal-core`: all the logic of the portable write-ahead log, in
//! `#![no_std]` with `alloc`: the on-disk format, the write buffer, segments,
//! recovery, and a single-threaded WAL, behind a [`Storage`] trait that
//! hosts implement. It never names a file path, a thread, a clock or an OS
//! error: time comes in as a parameter.
//!
//! ```
//! use core::time::Duration;
//! use wal_core::{Config, Position, Wal, testing::MemStorage};
//!
//! let mut wal = Wal::open(MemStorage::new(), Config::default()).unwrap();
//! let now = Duration::ZERO; // the host's monotonic clock
//! wal.write_with(7, 1_700_000_000_000_000_000, b"cpu=0.42", now, |r| {
//!     let durable_through = r.unwrap();       // the end of the record's frame
//!     assert!(durable_through > Position::START);
//! })
//! .unwrap();
//! wal.flush().unwrap();                       // completion fires: written and synced
//! let replayed: Vec<_> = wal.replay(Position::START).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(replayed[0].1.values[0], b"cpu=0.42"); // (frame position, entry)
//! let closed = wal.rotate().unwrap();
//! assert_eq!(closed.records, 1);
//! let entries: Vec<_> = wal.read(closed.id).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(entries[0].values[0], b"cpu=0.42");
//! wal.delete(closed.id).unwrap();
//! wal.close().unwrap();
//! ```
//!
//! # Layers
//!
//! Modules in the order they build on each other; each imports only from
//! the ones above it.
//!
//! | module | holds |
//! |---|---|
//! | [`checksum`] | CRC-32C |
//! | [`format`] | FORMAT.md as values and bytes: names, header, frame, entry, corruption |
//! | `position` | [`Position`]: a point in the log, `SEGMENT:OFFSET` |
//! | [`error`] | the one [`Error`] and its [`ErrorKind`] |
//! | `completion` | [`Completion`]: a write's callback, fired exactly once |
//! | `poison` | [`host::Poison`]: the one poison state, shared with a host's threads |
//! | [`compress`] | snappy per frame, and when to try it |
//! | [`config`] | [`Config`], checked at open |
//! | [`storage`] | the [`Storage`] and [`SegmentFile`] traits and their power-loss contracts |
//! | `stats` | [`Stats`]: counters since open and what the log holds |
//! | `summary` | [`SegmentInfo`]: what a segment holds |
//! | [`scan`] | reading frames: the scanner, whole-segment checks, inspection |
//! | `recovery` | what open does with the newest segment; [`RecoveryReport`] |
//! | `reader` | [`SegmentReader`]: a segment as a stream of entries |
//! | [`replay`] | [`Replay`]: every durable record from a position on, across segments |
//! | [`follow`] | [`Follower`]: a live log followed read-only from another process, as it becomes durable |
//! | `log` | the segment log: append, rotate, delete |
//! | `buffer` | the write buffer and the flush rule |
//! | `wal` | the single-threaded [`Wal`] |
//! | [`host`] | the pieces above that a host builds its own front from |
//! | `testing` | `MemStorage` (feature `mem`), the behavioural scenarios (feature `scenarios`) |
//!
//! Features: `std` (hardware CRC-32C, `std::error` and `std::io` errors),
//! `snappy` (frame compression; needs std), `mem` (the in-memory backend
//! `testing::MemStorage`; off by default, for tests), `scenarios` (the
//! behavioural scenarios over any storage, `testing::scenarios`; off by
//! default, for tests and the bare-metal harness). With none of them, or
//! with only `mem` and `scenarios`, the crate builds for bare-metal targets.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::host_endian_bytes)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod checksum;
pub mod format;

mod position;

pub mod error;

mod completion;

mod poison;

pub mod compress;
pub mod config;
pub mod storage;

mod summary;

mod stats;

pub mod scan;

mod recovery;

mod reader;

pub mod replay;

pub mod follow;

mod log;

mod buffer;

mod wal;

pub mod host;
#[cfg(any(test, feature = "mem", feature = "scenarios"))]
pub mod testing;

pub use completion::Completion;
pub use config::{Config, RecoveryMode, SyncPolicy};
pub use error::{BackendError, Error, ErrorKind, StorageError};
pub use follow::Follower;
pub use format::{Corruption, Entry, EntryFault, EntryRef, FileName, SegmentId, MAX_VALUE_LEN};
pub use position::{ParsePositionError, Position};
pub use reader::SegmentReader;
pub use recovery::{RecoveryReport, Salvaged, TornTail};
pub use replay::Replay;
pub use stats::{Stats, SyncLatency};
pub use storage::{SegmentFile, Storage};
pub use summary::SegmentInfo;
pub use wal::{Wal, SYNC_BATCH_BYTES, SYNC_BATCH_FRAMES};
