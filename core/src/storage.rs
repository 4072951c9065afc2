//! The boundary between the WAL and the bytes it keeps: a directory of
//! segment files addressed by segment ID.
//!
//! A host implements [`Storage`] and [`SegmentFile`] (the native host over
//! `std::fs`, the WASI host over a preopened directory, tests over
//! [`crate::mem::MemStorage`]). Each method's doc says what survives a power
//! loss at any point during it; the WAL's durability promises are built on
//! exactly those sentences and nothing more. Nothing written is durable until
//! [`SegmentFile::sync`] returns.

use alloc::vec::Vec;

use crate::segment::SegmentId;

/// A directory of segment files.
pub trait Storage {
    /// The backend's error.
    type Error: embedded_io::Error;
    /// An open segment file (or torn-tail sidecar).
    type File: SegmentFile<Error = Self::Error>;

    /// The IDs of the segment files present, ascending. Files whose names are
    /// not exactly `seg{16 hex digits}.wal` are not segments and are left out.
    ///
    /// Power loss: read-only.
    fn list(&mut self) -> Result<Vec<SegmentId>, Self::Error>;

    /// Creates segment `id`, empty, failing if it already exists.
    ///
    /// Power loss: before return, the file may or may not exist afterwards
    /// (empty if it does); after return, its name is durable. Its contents are
    /// durable only once synced.
    fn create(&mut self, id: SegmentId) -> Result<Self::File, Self::Error>;

    /// Opens existing segment `id` for reading and writing (positioned at 0).
    ///
    /// Power loss: changes nothing.
    fn open(&mut self, id: SegmentId) -> Result<Self::File, Self::Error>;

    /// Removes segment `id`.
    ///
    /// Power loss: before return, the segment may or may not still exist
    /// afterwards (whole, if it does); after return, the removal is durable.
    fn remove(&mut self, id: SegmentId) -> Result<(), Self::Error>;

    /// Creates the sidecar file `seg{id}.wal.torn-{offset}` that keeps the
    /// torn tail cut from segment `id` at byte `offset`, replacing any file
    /// of that name.
    ///
    /// Power loss: as for [`Storage::create`]; the WAL syncs the sidecar's
    /// contents before it cuts anything from the segment.
    fn create_torn(&mut self, id: SegmentId, offset: u64) -> Result<Self::File, Self::Error>;
}

/// One open segment file: read, appended to, truncated, synced.
///
/// Reads and writes go through the `embedded-io` traits at the position set
/// by `Seek`. The WAL only ever writes at the end of the file.
pub trait SegmentFile: embedded_io::Read + embedded_io::Write + embedded_io::Seek {
    /// The file's current length in bytes (written, not necessarily durable).
    fn len(&mut self) -> Result<u64, Self::Error>;

    /// Whether the file is empty.
    fn is_empty(&mut self) -> Result<bool, Self::Error> {
        Ok(self.len()? == 0)
    }

    /// Cuts the file to `len` bytes (`len` is at most its length).
    ///
    /// Power loss: before the next successful [`SegmentFile::sync`], the file
    /// may have its old or its new length.
    fn truncate(&mut self, len: u64) -> Result<(), Self::Error>;

    /// Makes everything written to and cut from this file so far durable.
    ///
    /// Power loss: before return, any prefix of the unsynced writes may have
    /// reached the media, and the bytes beyond may be lost; after return,
    /// the file's contents and length are durable.
    fn sync(&mut self) -> Result<(), Self::Error>;

    /// A second handle on the same file, used only to [`SegmentFile::sync`]
    /// it (from another thread) while writes go on through this one. A sync
    /// through it makes durable everything written through any handle
    /// before the sync began, with the power-loss contract of `sync`.
    /// A backend that cannot duplicate a handle returns an error; the WAL
    /// then syncs on the write path.
    fn sync_handle(&mut self) -> Result<Self, Self::Error>
    where
        Self: Sized;
}
