//! Reading and removing segments outside the log: a segment opened under
//! the log (and read without it), and the removal of a closed segment's
//! file.

use crate::error::Error;
use crate::format::{FileName, SegmentId};
use crate::position::Position;
use crate::reader::SegmentReader;
use crate::scan;
use crate::storage::{SegmentFile, Storage};
use crate::summary::SegmentInfo;

/// Removes the file of closed segment `id` (taken off the log's list by
/// [`SegmentLog::unlist`](super::SegmentLog::unlist)) and syncs the directory: on `Ok` the removal is
/// durable. On an error, the flag says whether the file is still there (the
/// caller then lists it again with [`SegmentLog::relist`](super::SegmentLog::relist)); after a failed
/// directory sync it is not (the removal may be undone by a power loss, and
/// the next open then finds the segment again).
pub fn remove_segment<S: Storage>(storage: &mut S, id: SegmentId) -> Result<(), (Error, bool)> {
    if let Err(e) = storage.remove(FileName::Segment(id)) {
        let still_there = storage
            .list()
            .map_or(true, |names| names.contains(&FileName::Segment(id)));
        return Err((Error::storage("remove", Some(id), e), still_there));
    }
    storage
        .sync_dir()
        .map_err(|e| (Error::storage("sync directory", Some(id), e), false))
}

/// Removes the files of closed segments `ids` (taken off the log's list,
/// as by [`SegmentLog::checkpoint_unlist`](super::SegmentLog::checkpoint_unlist)),
/// oldest first, each durably (see [`remove_segment`]). On an error,
/// returns it with the segments to list again: the one that failed if its
/// file is still there, and every one after it.
pub fn remove_segments<'a, S: Storage>(
    storage: &mut S,
    ids: &'a [SegmentId],
) -> Result<(), (Error, &'a [SegmentId])> {
    for (i, &id) in ids.iter().enumerate() {
        if let Err((e, still_there)) = remove_segment(storage, id) {
            let back = if still_there { i } else { i + 1 };
            return Err((e, &ids[back..]));
        }
    }
    Ok(())
}

/// A segment opened by [`SegmentLog::open_segment`](super::SegmentLog::open_segment), to be read without
/// the log: its entries ([`OpenedSegment::reader`]) or what it holds
/// ([`OpenedSegment::info`]).
pub struct OpenedSegment<F> {
    pub(super) id: SegmentId,
    pub(super) file: F,
    /// The active segment's summary when it was opened (then it is read up
    /// to its durable end).
    pub(super) active: Option<SegmentInfo>,
    /// For the active segment: bytes of it known durable when opened.
    pub(super) durable: u64,
    pub(super) max_frame: u64,
}

impl<F: SegmentFile> OpenedSegment<F> {
    /// The segment's ID.
    pub fn id(&self) -> SegmentId {
        self.id
    }

    /// Raises what is read of the active segment to `known`, a point a
    /// host knows to be durable (its syncer synced through there, which the
    /// log itself has not seen). Never past what was appended when opened.
    pub fn with_durable(mut self, known: Position) -> Self {
        if let Some(a) = &self.active {
            if known.segment == self.id {
                self.durable = self.durable.max(known.offset.min(a.bytes));
            }
        }
        self
    }

    /// Its entries, a frame at a time: a closed segment whole, the active
    /// one up to its durable end when it was opened (a reader never sees a
    /// frame that a power cut could take back).
    pub fn reader(self) -> Result<SegmentReader<F>, Error> {
        let limit = self.active.as_ref().map(|_| self.durable);
        SegmentReader::with_max_frame(self.id, self.file, limit, self.max_frame)
    }

    /// What it holds: the active segment's summary as it was when opened;
    /// a closed segment is scanned (every frame checked).
    pub fn info(self) -> Result<SegmentInfo, Error> {
        match self.active {
            Some(info) => Ok(info),
            None => scan::scan_info(self.id, self.file, self.max_frame),
        }
    }
}
