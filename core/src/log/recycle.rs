//! Recycled segments ([`Config::recycle`]): files of segments a checkpoint
//! or retention deleted are kept as free files (`free{ID}.wal`) and reused
//! as new segments at rotation: renamed, header rewritten as version 2
//! (FORMAT.md, "Recycled segments"), synced with the directory before any
//! frame is written. While the active segment is recycled, every frame is
//! synced as it is appended (one frame in flight: see FORMAT.md).
//!
//! [`Config::recycle`]: crate::Config::recycle

use alloc::vec::Vec;

use embedded_io::{Seek, SeekFrom, Write};

use super::{Active, SegmentLog};
use crate::error::{storage_err, Error};
use crate::format::{header, FileName, SegmentId};
use crate::storage::{create_segment, SegmentFile, Storage};

/// The IDs of the free files in `storage`, ascending.
pub(super) fn free_ids<S: Storage>(storage: &mut S) -> Result<Vec<SegmentId>, Error> {
    let mut ids: Vec<SegmentId> = storage
        .list()
        .map_err(|e| Error::storage("list", None, e))?
        .into_iter()
        .filter_map(|n| match n {
            FileName::Free(id) => Some(id),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Why [`retire_segments`] stopped: the error, the segments to list again,
/// and those made free before it.
pub type RetireError<'a> = (Error, &'a [SegmentId], Vec<SegmentId>);

/// Takes closed segments `ids` (off the log's list) out of the directory,
/// oldest first, each durably: the newest `room` of them renamed to free
/// files, the others removed. Returns the IDs now free. On an error,
/// returns it with the segments to list again (as
/// [`super::remove_segments`] does) and those made free before it.
pub fn retire_segments<'a, S: Storage>(
    storage: &mut S,
    ids: &'a [SegmentId],
    room: usize,
) -> Result<Vec<SegmentId>, RetireError<'a>> {
    let room = if storage.can_rename() { room } else { 0 };
    let keep_from = ids.len().saturating_sub(room);
    let mut freed = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let r = if i >= keep_from {
            free_segment(storage, id).map(|()| freed.push(id))
        } else {
            super::remove_segment(storage, id)
        };
        if let Err((e, still_there)) = r {
            let back = if still_there { i } else { i + 1 };
            return Err((e, &ids[back..], freed));
        }
    }
    Ok(freed)
}

/// Renames closed segment `id`'s file to a free file and syncs the
/// directory (as `remove_segment`, the flag says whether the segment is
/// still there after an error).
fn free_segment<S: Storage>(storage: &mut S, id: SegmentId) -> Result<(), (Error, bool)> {
    if let Err(e) = storage.rename(FileName::Segment(id), FileName::Free(id)) {
        let still_there = storage
            .list()
            .map_or(true, |names| names.contains(&FileName::Segment(id)));
        return Err((
            Error::storage("rename to a free file", Some(id), e),
            still_there,
        ));
    }
    storage
        .sync_dir()
        .map_err(|e| (Error::storage("sync directory", Some(id), e), false))
}

impl<S: Storage> SegmentLog<S> {
    /// Whether the active segment is a recycled file: its frames are
    /// synced as they are appended (a host need not sync them again).
    pub fn active_is_recycled(&self) -> bool {
        self.active.recycled
    }

    /// How many more free files the pool takes.
    pub fn recycle_room(&self) -> usize {
        if self.storage.can_rename() {
            self.config.recycle.saturating_sub(self.free.len())
        } else {
            0
        }
    }

    /// Adds files made free (by [`retire_segments`]) to the pool.
    pub fn add_free(&mut self, ids: &[SegmentId]) {
        self.free.extend_from_slice(ids);
        self.free.sort_unstable();
    }

    /// At open: the free files found, up to `config.recycle` of them (the
    /// newest); the others are removed, durably.
    pub(super) fn load_free(&mut self) -> Result<(), Error> {
        let mut ids = free_ids(&mut self.storage)?;
        let keep = ids.len().saturating_sub(self.recycle_room_at_open());
        for id in ids.drain(..keep) {
            self.storage
                .remove(FileName::Free(id))
                .map_err(storage_err("remove a free file", id))?;
            self.storage
                .sync_dir()
                .map_err(storage_err("sync directory", id))?;
        }
        self.free = ids;
        Ok(())
    }

    fn recycle_room_at_open(&self) -> usize {
        if self.storage.can_rename() {
            self.config.recycle
        } else {
            0
        }
    }

    /// The file of segment `id`, about to become the active one: a free
    /// file recycled when there is one (its new header and name durable
    /// before return), else a new file.
    pub(super) fn next_segment(&mut self, id: SegmentId) -> Result<Active<S::File>, Error> {
        let pick = self
            .free
            .iter()
            .position(|&f| header::encode_recycled(id, f).is_some());
        let Some(i) = pick else {
            return Ok(Active::created(create_segment(&mut self.storage, id)?, id));
        };
        let from = self.free.remove(i);
        let h = header::encode_recycled(id, from).ok_or(Error::LogicBug("a free file's ID"))?;
        self.storage
            .rename(FileName::Free(from), FileName::Segment(id))
            .map_err(storage_err("rename a free file", id))?;
        let mut file = self.open_file(id)?;
        file.seek(SeekFrom::Start(0))
            .map_err(storage_err("seek", id))?;
        file.write_all(&h).map_err(storage_err("write", id))?;
        file.sync().map_err(storage_err("sync", id))?;
        self.storage
            .sync_dir()
            .map_err(storage_err("sync directory", id))?;
        let len = file.len().map_err(storage_err("len", id))?;
        self.counts.recycled += 1;
        Ok(Active::recycled(file, id, len))
    }
}
