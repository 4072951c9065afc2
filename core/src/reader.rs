//! Reading a segment as a stream of entries, a frame in memory at a time.

use alloc::collections::VecDeque;

use crate::error::Error;
use crate::format::{Entry, EntryRef, SegmentId};
use crate::position::Position;
use crate::scan::{FrameScanner, Invalid};
use crate::storage::SegmentFile;

/// The entries of one segment, read a frame at a time. Each frame is checked
/// whole (CRC, codec, every entry) before any of its entries is returned.
pub struct SegmentReader<F> {
    scanner: FrameScanner<F>,
    /// Entries of the current frame not yet returned.
    pending: VecDeque<Entry>,
    done: bool,
    /// Whether the next frame is the first after [`SegmentReader::seek_frame`].
    seeked: bool,
}

impl<F: SegmentFile> SegmentReader<F> {
    /// Reads segment `id` from `file`, up to `limit` bytes when given.
    pub fn new(id: SegmentId, file: F, limit: Option<u64>) -> Result<Self, Error> {
        Self::with_max_frame(id, file, limit, crate::format::frame::MAX_PAYLOAD_LEN)
    }

    /// As [`SegmentReader::new`], accepting frames of at most `max_frame`
    /// bytes (see [`FrameScanner::with_max_frame`]).
    pub fn with_max_frame(
        id: SegmentId,
        file: F,
        limit: Option<u64>,
        max_frame: u64,
    ) -> Result<Self, Error> {
        match FrameScanner::new(id, file, limit)? {
            Ok(scanner) => Ok(SegmentReader {
                scanner: scanner.with_timestamps(false).with_max_frame(max_frame),
                pending: Default::default(),
                done: false,
                seeked: false,
            }),
            Err((Invalid { offset, reason }, _)) => Err(Error::Corrupt {
                segment: id,
                offset,
                reason,
            }),
        }
    }

    /// The segment being read.
    pub fn segment(&self) -> SegmentId {
        self.scanner.id()
    }

    /// Starts reading at byte `offset` (a frame's start) instead of the
    /// first frame: [`Error::NotAFrame`] when `offset` is inside the header
    /// or past the end of what is read. Whether a frame starts there is
    /// found by the next read (an invalid frame there is `NotAFrame` too).
    pub fn seek_frame(&mut self, offset: u64) -> Result<(), Error> {
        self.seeked = true;
        if self.scanner.seek_frame(offset) {
            return Ok(());
        }
        Err(Error::NotAFrame {
            position: Position::new(self.scanner.id(), offset),
        })
    }

    /// Goes on reading at byte `offset`, where an earlier read of this
    /// segment stopped (a frame boundary it found: unlike
    /// [`SegmentReader::seek_frame`], damage there is corruption).
    pub fn resume_at(&mut self, offset: u64) -> Result<(), Error> {
        if self.scanner.seek_frame(offset) {
            return Ok(());
        }
        Err(Error::LogicBug("resumed past the end of what is read"))
    }

    /// Where the next frame starts (just past the last one read).
    pub fn offset(&self) -> u64 {
        self.scanner.offset()
    }

    /// Calls `f` on every entry of the next frame, without copying values.
    /// Returns `Ok(false)` at the end of the segment.
    pub fn next_frame_with(&mut self, mut f: impl FnMut(EntryRef<'_>)) -> Result<bool, Error> {
        self.next_frame_at(|_, e| f(e)).map(|at| at.is_some())
    }

    /// As [`SegmentReader::next_frame_with`], giving `f` the frame's
    /// position too; returns that position, or `None` at the end.
    pub fn next_frame_at(
        &mut self,
        mut f: impl FnMut(Position, EntryRef<'_>),
    ) -> Result<Option<Position>, Error> {
        if self.done {
            return Ok(None);
        }
        let id = self.scanner.id();
        let first = core::mem::take(&mut self.seeked);
        match self.scanner.next_frame() {
            Ok(Ok(Some(frame))) => {
                let at = Position::new(id, frame.offset);
                frame.entries().for_each(|e| f(at, e));
                Ok(Some(at))
            }
            Ok(Ok(None)) => {
                self.done = true;
                Ok(None)
            }
            Ok(Err(Invalid { offset, reason })) => {
                self.done = true;
                if self.scanner.rest_is_zero()? {
                    // Unused space (zeros), also where the caller asked to
                    // start: the end of the segment's log.
                    return Ok(None);
                }
                if first {
                    // Where the caller asked to start: no frame starts there.
                    return Err(Error::NotAFrame {
                        position: Position::new(id, offset),
                    });
                }
                Err(Error::Corrupt {
                    segment: id,
                    offset,
                    reason,
                })
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }
}

impl<F: SegmentFile> Iterator for SegmentReader<F> {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(Ok(e));
            }
            let mut pending = core::mem::take(&mut self.pending);
            match self.next_frame_with(|e| pending.push_back(e.into())) {
                Ok(true) => self.pending = pending,
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
