//! `wal-core`: all the logic of the portable write-ahead log, in
//! `#![no_std]` with `alloc`: the on-disk format, the write buffer, segments,
//! recovery, and a single-threaded WAL, behind a [`Storage`] trait that
//! hosts implement.
//!
//! ```
//! use core::time::Duration;
//! use wal_core::{Config, Wal, mem::MemStorage};
//!
//! let mut wal = Wal::open(MemStorage::new(), Config::default()).unwrap();
//! let now = Duration::ZERO; // the host's monotonic clock
//! wal.write_with(7, 1_700_000_000_000_000_000, b"cpu=0.42", now, |r| r.unwrap()).unwrap();
//! wal.flush().unwrap();                       // completion fires: written and synced
//! let closed = wal.rotate().unwrap();
//! assert_eq!(closed.records, 1);
//! let entries: Vec<_> = wal.read(closed.id).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(entries[0].values[0], b"cpu=0.42");
//! wal.delete(closed.id).unwrap();
//! wal.close().unwrap();
//! ```
//!
//! Features: `std` (hardware CRC-32C), `snappy` (frame compression; needs
//! std), `mem` (the in-memory backend [`mem::MemStorage`]). With none of
//! them the crate builds for bare-metal targets.
#![no_std]
#![deny(missing_docs)]
#![warn(clippy::host_endian_bytes)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod buffer;
pub mod checksum;
pub mod codec;
pub mod compress;
pub mod config;
pub mod error;
pub mod log;
#[cfg(feature = "mem")]
pub mod mem;
pub mod recovery;
pub mod segment;
pub mod storage;
pub mod wal;

pub use codec::{Entry, EntryRef, MAX_VALUE_LEN};
pub use config::{Config, RecoveryMode, SyncPolicy};
pub use error::{Corruption, EntryFault, Error, StorageError};
pub use log::{FrameLocation, SegmentLog, SegmentReader};
pub use recovery::{RecoveryReport, TornTail};
pub use segment::{SegmentId, SegmentInfo};
pub use storage::{SegmentFile, Storage};
pub use wal::{Completion, Wal, SYNC_BATCH_BYTES, SYNC_BATCH_FRAMES};
