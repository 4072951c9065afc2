//! Replay: every durable record from a position to the end of the log,
//! across segments in order, a frame in memory at a time.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::error::{storage_err, Error};
use crate::format::{entry, Entry, EntryRef, FileName, SegmentId};
use crate::position::Position;
use crate::reader::SegmentReader;
use crate::storage::Storage;

/// The end of the durable log, given the active segment and the furthest
/// point a host knows to be durable: every closed segment was synced whole
/// when it was closed, so a point in an earlier segment means nothing of
/// the active one is durable yet.
pub fn durable_end(active: SegmentId, known: Position) -> Position {
    if known.segment < active {
        Position::first_frame(active)
    } else {
        known
    }
}

/// Checks that a read may start at `from` in a log of `segments`
/// (ascending, the last one active) whose durable end is `end`, and returns
/// where it starts: the canonical position (the first frame of the oldest
/// segment for [`Position::START`]).
pub fn check_start(
    segments: &[SegmentId],
    end: Position,
    from: Position,
) -> Result<Position, Error> {
    let from = from.canonical();
    let Some(&oldest) = segments.first() else {
        return Err(Error::LogicBug("a log without segments"));
    };
    if from == Position::START {
        return Ok(Position::first_frame(oldest));
    }
    if from > end {
        return Err(Error::PastEnd {
            position: from,
            end,
        });
    }
    if segments.binary_search(&from.segment).is_err() {
        return Err(Error::PositionGone {
            position: from,
            oldest: Position::first_frame(oldest),
        });
    }
    Ok(from)
}

/// Every durable record from a position on, in log order, with the
/// position of the frame holding it ([`crate::Wal::replay`], and the
/// thread-safe WAL's). Holds one frame's entries at a time, whatever the
/// log's size. A segment that is not the newest and holds anything but
/// zeros after its last valid frame is an error naming it; so is a
/// segment deleted while the replay runs (a storage error on opening it).
pub struct Replay<S: Storage> {
    storage: S,
    /// The segments still to open, ascending.
    segments: VecDeque<SegmentId>,
    /// The durable end when the replay started (or, once it follows the
    /// log, the end it was moved to): nothing after it is read.
    end: Position,
    /// Where the next frame to read starts: just past the last one read.
    next: Position,
    max_frame: u64,
    current: Option<SegmentReader<S::File>>,
    /// Entries of the frame being handed out.
    pending: VecDeque<(Position, Entry)>,
}

impl<S: Storage> core::fmt::Debug for Replay<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Replay")
            .field("segments", &self.segments)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl<S: Storage> Replay<S> {
    /// Replays `storage`'s log of `segments` (ascending, the last one
    /// active) from `from` to `end` (its durable end, see [`durable_end`]),
    /// accepting frames of at most `max_frame` bytes. Fails at once, with
    /// what is wrong, when no read can start at `from` (see
    /// [`check_start`]; a `from` where no frame starts is
    /// [`Error::NotAFrame`]).
    pub fn new(
        storage: S,
        segments: &[SegmentId],
        end: Position,
        from: Position,
        max_frame: u64,
    ) -> Result<Self, Error> {
        let start = check_start(segments, end, from)?;
        let mut replay = Replay {
            storage,
            segments: segments
                .iter()
                .copied()
                .filter(|&id| id > start.segment && id <= end.segment)
                .collect(),
            end,
            next: start,
            max_frame,
            current: None,
            pending: VecDeque::new(),
        };
        let mut reader = replay.open(start.segment)?;
        reader.seek_frame(start.offset)?;
        // The first frame is checked now (a `from` where none starts fails
        // here), then read again by the first call.
        if reader.next_frame_at(|_, _| {})?.is_some() {
            reader.seek_frame(start.offset)?;
            replay.current = Some(reader);
        }
        Ok(replay)
    }

    /// The durable end of the log when the replay started (or the end
    /// [`Replay::follow`] moved it to): it stops there.
    pub fn end(&self) -> Position {
        self.end
    }

    /// Where the next frame to be read starts (after the entries still
    /// being handed out): where the replay stopped once it returns `None`.
    pub fn next_position(&self) -> Position {
        self.next
    }

    /// Moves the end to `end`, a later durable end of the log whose
    /// segments are now `segments` (ascending, the last one active), so
    /// that the replay goes on from where it stopped: how a tail follows
    /// the log. Call it once the replay returned `None`; an `end` that is
    /// not later does nothing. If the segment the replay stopped in was
    /// deleted meanwhile, [`Error::PositionGone`].
    pub fn follow(&mut self, end: Position, segments: &[SegmentId]) -> Result<(), Error> {
        if end <= self.end {
            return Ok(());
        }
        if self.current.is_some() || !self.pending.is_empty() || !self.segments.is_empty() {
            return Err(Error::LogicBug(
                "a replay moved on before it reached its end",
            ));
        }
        let at = self.next;
        if segments.binary_search(&at.segment).is_err() {
            let oldest = segments
                .first()
                .map_or(end, |&id| Position::first_frame(id));
            return Err(Error::PositionGone {
                position: at,
                oldest,
            });
        }
        self.end = end;
        self.segments = segments
            .iter()
            .copied()
            .filter(|&id| id > at.segment && id <= end.segment)
            .collect();
        let mut reader = self.open(at.segment)?;
        reader.resume_at(at.offset)?;
        self.current = Some(reader);
        Ok(())
    }

    fn open(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        let file = self
            .storage
            .open(FileName::Segment(id))
            .map_err(storage_err("open", id))?;
        let limit = (id == self.end.segment).then_some(self.end.offset);
        SegmentReader::with_max_frame(id, file, limit, self.max_frame)
    }

    /// Reads the next frame and calls `f` on each of its entries, borrowed
    /// from the frame (no value is copied: the fast way to replay a large
    /// log). Returns the frame's position, or `None` at the end. Entries of
    /// a frame that [`Iterator::next`] has begun to hand out come first
    /// (as the rest of that frame). After an error the replay ends.
    pub fn next_frame_with(
        &mut self,
        mut f: impl FnMut(Position, EntryRef<'_>),
    ) -> Result<Option<Position>, Error> {
        if let Some(&(at, _)) = self.pending.front() {
            // The rest of a frame `next()` began: handed out re-encoded.
            let mut bytes = Vec::new();
            for (_, e) in self.pending.drain(..) {
                let values: Vec<&[u8]> = e.values.iter().map(Vec::as_slice).collect();
                entry::encode(&mut bytes, e.series_id, &e.timestamps, &values);
            }
            entry::entries(&bytes).for_each(|e| f(at, e));
            return Ok(Some(at));
        }
        let read = self.read_frame(f);
        if read.is_err() {
            self.current = None;
            self.segments.clear();
        }
        read
    }

    /// Reads the next frame of the log, across segments.
    fn read_frame(
        &mut self,
        mut f: impl FnMut(Position, EntryRef<'_>),
    ) -> Result<Option<Position>, Error> {
        loop {
            if self.current.is_none() {
                let Some(id) = self.segments.pop_front() else {
                    return Ok(None);
                };
                let reader = self.open(id)?;
                self.current = Some(reader);
                self.next = Position::first_frame(id);
            }
            let Some(reader) = self.current.as_mut() else {
                return Err(Error::LogicBug("a replay without a segment open"));
            };
            match reader.next_frame_at(&mut f)? {
                Some(at) => {
                    self.next = Position::new(at.segment, reader.offset());
                    return Ok(Some(at));
                }
                None => self.current = None,
            }
        }
    }

    /// Reads frames until one holds entries or the log ends.
    fn fill(&mut self) -> Result<(), Error> {
        while self.pending.is_empty() {
            let mut pending = core::mem::take(&mut self.pending);
            let read = self.read_frame(|at, e| pending.push_back((at, e.into())));
            self.pending = pending;
            if read?.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}

impl<S: Storage> Iterator for Replay<S> {
    type Item = Result<(Position, Entry), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pending.is_empty() {
            if let Err(e) = self.fill() {
                // One error, then the end.
                self.current = None;
                self.segments.clear();
                return Some(Err(e));
            }
        }
        self.pending.pop_front().map(Ok)
    }
}
