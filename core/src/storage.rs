//! The boundary between the WAL and the bytes it keeps: a directory of
//! files named by [`FileName`].
//!
//! A host implements [`Storage`] and [`SegmentFile`] (`wal-fs` over
//! `std::fs`, natively and under WASI; tests over
//! `testing::MemStorage`, feature `mem`). Each method's doc says what survives a
//! power loss at any point during it; the WAL's durability promises are
//! built on exactly those sentences and nothing more. Nothing written is
//! durable until [`SegmentFile::sync`] returns, and no name created or
//! removed is durable until [`Storage::sync_dir`] returns.
//!
//! The core names every file; a host maps a [`FileName`] to its own naming
//! with `Display` and [`FileName::parse`], and never spells a name itself.

use alloc::vec::Vec;

use crate::error::{storage_err, BackendError, Error};
use crate::format::{header, FileName, SegmentId};

/// A directory of the WAL's files.
pub trait Storage {
    /// The backend's error.
    type Error: BackendError;
    /// An open file.
    type File: SegmentFile<Error = Self::Error>;

    /// The WAL's files present, in any order: every name in the directory
    /// that [`FileName::parse`] accepts. Anything else is not the WAL's and
    /// is left out (and alone).
    ///
    /// Power loss: read-only.
    fn list(&mut self) -> Result<Vec<FileName>, Self::Error>;

    /// Creates file `name`, empty, failing if it already exists.
    ///
    /// Power loss: until the next [`Storage::sync_dir`] returns, the file may
    /// or may not exist afterwards, whatever was written to it and synced (a
    /// file's sync makes its contents durable, not its name; some file
    /// systems commit the name with it, and nothing may count on that);
    /// once `sync_dir` returns, its name is durable. Its contents are
    /// durable only once synced.
    fn create(&mut self, name: FileName) -> Result<Self::File, Self::Error>;

    /// Opens existing file `name` for reading and writing (positioned at 0).
    ///
    /// Power loss: changes nothing.
    fn open(&mut self, name: FileName) -> Result<Self::File, Self::Error>;

    /// Removes file `name`.
    ///
    /// Power loss: until the next [`Storage::sync_dir`] returns, the file may
    /// come back afterwards, with the contents it had durably; once
    /// `sync_dir` returns, the removal is durable.
    fn remove(&mut self, name: FileName) -> Result<(), Self::Error>;

    /// Renames file `from` to `to`, failing if `to` exists (the WAL renames
    /// a deleted segment's file to a free file, and a free file to a new
    /// segment: recycling). Handles open on the file stay valid.
    ///
    /// Power loss: until the next [`Storage::sync_dir`] returns, the file
    /// may be found under either name afterwards (never both, never
    /// neither), with the contents it had durably; once `sync_dir` returns,
    /// the new name is durable.
    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), Self::Error>;

    /// Whether [`Storage::rename`] works on this backend: the WAL recycles
    /// files only where it does ([`crate::Config::recycle`]).
    fn can_rename(&self) -> bool {
        true
    }

    /// Makes every create, remove and rename so far durable: the
    /// directory's names.
    ///
    /// Power loss: before return, each create and remove since the last
    /// successful `sync_dir` may or may not have reached the media, each on
    /// its own; after return, all of them have. A backend whose platform
    /// cannot sync a directory (WASI preview 1) returns `Ok` and says so in
    /// its docs: its names are then only as durable as the platform makes
    /// them.
    fn sync_dir(&mut self) -> Result<(), Self::Error>;
}

/// A storage borrowed for a while (a [`crate::Replay`] of the
/// single-threaded WAL reads through its log's storage) is a storage.
impl<S: Storage + ?Sized> Storage for &mut S {
    type Error = S::Error;
    type File = S::File;

    fn list(&mut self) -> Result<Vec<FileName>, Self::Error> {
        (**self).list()
    }

    fn create(&mut self, name: FileName) -> Result<Self::File, Self::Error> {
        (**self).create(name)
    }

    fn open(&mut self, name: FileName) -> Result<Self::File, Self::Error> {
        (**self).open(name)
    }

    fn remove(&mut self, name: FileName) -> Result<(), Self::Error> {
        (**self).remove(name)
    }

    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), Self::Error> {
        (**self).rename(from, to)
    }

    fn can_rename(&self) -> bool {
        (**self).can_rename()
    }

    fn sync_dir(&mut self) -> Result<(), Self::Error> {
        (**self).sync_dir()
    }
}

/// One open file: read, appended to, truncated, synced.
///
/// Reads and writes go through the `embedded-io` traits at the position set
/// by `Seek`. The WAL only ever writes at the end of the log.
pub trait SegmentFile:
    embedded_io::Read
    + embedded_io::Write
    + embedded_io::Seek
    + embedded_io::ErrorType<Error: BackendError>
{
    /// The file's current length in bytes (written, not necessarily durable).
    fn len(&mut self) -> Result<u64, Self::Error>;

    /// Whether the file is empty.
    fn is_empty(&mut self) -> Result<bool, Self::Error> {
        Ok(self.len()? == 0)
    }

    /// Cuts the file to `len` bytes (`len` is at most its length).
    ///
    /// Power loss: before the next successful [`SegmentFile::sync`], the file
    /// may have its old or its new length, and the bytes cut away may read
    /// as they were or as zeros; after it, the new length is durable (the
    /// file's own sync makes a truncation durable, the directory is not
    /// involved).
    fn truncate(&mut self, len: u64) -> Result<(), Self::Error>;

    /// Makes everything written to and cut from this file so far durable.
    ///
    /// Power loss: before return, any subset of the unsynced writes may have
    /// reached the media, in any order, down to the disk's block (a 512-byte
    /// sector: a block either holds what was last written to it or what it
    /// durably held, zeros past the synced length); after return, the
    /// file's contents and length are durable. The file's name is not: that
    /// takes [`Storage::sync_dir`].
    fn sync(&mut self) -> Result<(), Self::Error>;
}

/// The IDs of the segments in `storage`, ascending.
pub fn segment_ids<S: Storage>(storage: &mut S) -> Result<Vec<SegmentId>, S::Error> {
    let mut ids: Vec<SegmentId> = storage
        .list()?
        .into_iter()
        .filter_map(|name| match name {
            FileName::Segment(id) => Some(id),
            FileName::TornTail { .. } | FileName::Free(_) => None,
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Creates segment `id` holding just its header, synced, and syncs the
/// directory: how every segment starts (at open of an empty storage, and at
/// each rotation). On return the segment's name and header are durable, so
/// a frame synced into it later survives a power loss with its file.
pub(crate) fn create_segment<S: Storage>(storage: &mut S, id: SegmentId) -> Result<S::File, Error> {
    let mut file = storage
        .create(FileName::Segment(id))
        .map_err(storage_err("create", id))?;
    write_header(&mut file, id)?;
    storage
        .sync_dir()
        .map_err(storage_err("sync directory", id))?;
    Ok(file)
}

/// Writes segment `id`'s header at the file's position and syncs it.
pub(crate) fn write_header<F: SegmentFile>(file: &mut F, id: SegmentId) -> Result<(), Error> {
    file.write_all(&header::encode(id))
        .map_err(storage_err("write", id))?;
    file.sync().map_err(storage_err("sync", id))
}
