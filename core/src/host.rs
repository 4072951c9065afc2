//! For host authors: the pieces a host builds its own WAL front from (the
//! thread-safe WAL of `wal-host-std` is made of these). Nothing here is
//! needed to *use* a WAL: [`crate::Wal`] and the crate root are that API.
//!
//! A host adds threads, clocks and I/O, never a format or rotation rule:
//! the segment log appends and rotates, the write buffer groups and
//! encodes, [`flush_due`] says when a buffer becomes a frame.

pub use crate::buffer::{deadline, flush_due, Sealed, WriteBuffer};
pub use crate::compress::Compressor;
pub use crate::log::{
    remove_segment, remove_segments, retire_segments, FrameLocation, OpenedSegment, RetireError,
    SegmentLog, RESERVE_CHUNK,
};
pub use crate::poison::Poison;
pub use crate::summary::FrameStats;
pub use crate::wal::refuse;

use crate::storage::SegmentFile;

/// A file that a host can sync from another thread while it writes: the
/// thread-safe WAL syncs one frame while the next is written. Optional: a
/// backend without it (bare metal, a single-threaded host) implements only
/// [`SegmentFile`].
pub trait SyncHandle: SegmentFile + Sized {
    /// A second handle on the same file, used only to
    /// [`SegmentFile::sync`] it while writes go on through this one. A sync
    /// through it makes durable everything written through any handle
    /// before the sync began, with the power-loss contract of `sync`.
    fn sync_handle(&self) -> Result<Self, Self::Error>;
}

#[cfg(any(test, feature = "mem"))]
impl SyncHandle for crate::testing::MemFile {
    fn sync_handle(&self) -> Result<Self, Self::Error> {
        Ok(self.try_clone())
    }
}
