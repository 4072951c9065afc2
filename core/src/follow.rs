//! Following a live log from outside its writer, read-only: [`Follower`]
//! hands out every record once, in order, as it becomes durable, across
//! rotations and deletions, like `tail -F`.
//!
//! A reader in another process cannot know what the writer has synced, and
//! a reader must never see a record a crash could take back. So before it
//! hands out frames of the newest segment, the follower syncs that segment
//! through its own (read-only) handle with [`SegmentFile::sync`]: once that
//! returns, every byte written to the file before it is durable, whoever
//! wrote it. One sync per poll that found new frames, never per frame. A
//! segment that is not the newest needs none: the writer syncs a segment
//! whole when it closes it, before the next one's name exists.
//!
//! On `wal-fs`, the sync is `fdatasync`, which Linux runs on a file opened
//! read-only too (it syncs the file, not the descriptor's writes). Under
//! WASI a runtime may refuse `fd_datasync` on a descriptor opened without
//! the write right (wasi-libc asks for `FD_DATASYNC` only with
//! `O_WRONLY`/`O_RDWR`; Node's uvwasi refuses it with `EBADF`), so
//! `wal-fs`'s read-only storage opens files read-write there (never
//! writing); where even that is refused, the poll fails with the storage
//! error rather than hand out frames it could not make durable.
//!
//! The end of the newest segment is the writer's business: a frame there
//! that is incomplete or does not check yet (the file ends inside it, its
//! CRC does not match because the writer is mid-write) is "not yet
//! written": nothing is handed out and the next poll tries again. It is
//! corruption, an error naming the segment and the offset, once the segment
//! is no longer the newest (and what follows is not zeros), or when valid
//! frames follow it (checked again on a fresh read, so a frame caught
//! half-copied while the next one is already there is not taken for
//! damage). Time, waiting and how often to poll belong to the caller.

use alloc::vec::Vec;

use embedded_io::{Seek, SeekFrom};

use crate::error::{storage_err, Error};
use crate::format::{frame, Entry, FileName, SegmentId};
use crate::position::Position;
use crate::replay::check_start;
use crate::scan::{all_zero, search, FrameScanner, Invalid, FILE_SHRANK};
use crate::storage::{segment_ids, SegmentFile, Storage};

/// A poll hands out frames up to about this many decompressed payload
/// bytes (at least one frame), so memory stays bounded however far behind
/// the follower starts; [`Polled::more`] says when it stopped there.
pub const POLL_BYTES: usize = 1 << 20;

/// What one [`Follower::poll`] found.
#[derive(Debug, Default)]
pub struct Polled {
    /// The new records, in log order: each entry with its frame's position.
    pub entries: Vec<(Position, Entry)>,
    /// The poll stopped at [`POLL_BYTES`]: more is there already, poll
    /// again without waiting.
    pub more: bool,
}

/// Follows the log in a storage that another process writes (opened
/// read-only: the follower never writes, never takes a lock). Each
/// [`Follower::poll`] lists the segments and reads the frames that became
/// durable since the last one. An empty storage is not an error: the log
/// has not started yet.
pub struct Follower<S: Storage> {
    storage: S,
    /// Where the caller asked to start.
    from: Position,
    /// Where the next frame starts, once started.
    next: Option<Position>,
    max_frame: u64,
    /// The segments the last poll listed, ascending.
    listed: Vec<SegmentId>,
    /// An unfinished end of the newest segment already searched for valid
    /// frames behind it (none found): where, the file's length and the
    /// bytes there then. Unchanged, it is not searched again.
    searched: Option<(Position, u64, [u8; frame::HEADER_LEN])>,
}

impl<S: Storage> core::fmt::Debug for Follower<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Follower")
            .field("from", &self.from)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// How reading a segment in a poll ended.
enum Stop {
    /// The poll is done (the end of what is written, or [`POLL_BYTES`]).
    Done,
    /// The segment is finished: go on with the next one.
    NextSegment,
    /// Read the segment again from the same place (once).
    Reread,
}

/// How reading a segment ended, and the newest segment's file to sync
/// before its frames are handed out, when it gave any.
type Read<F> = (Stop, Option<(SegmentId, F)>);

impl<S: Storage> Follower<S> {
    /// Follows `storage`'s log from `from` ([`Position::START`]: from the
    /// oldest segment there is). Where `from` is checked as
    /// [`crate::Replay`] checks it ([`check_start`]: [`Error::PositionGone`],
    /// [`Error::NotAFrame`], [`Error::PastEnd`]), against the log as the
    /// first poll that finds a segment sees it.
    pub fn new(storage: S, from: Position) -> Self {
        Follower {
            storage,
            from,
            next: None,
            max_frame: frame::MAX_PAYLOAD_LEN,
            listed: Vec::new(),
            searched: None,
        }
    }

    /// Accepts frames of at most `max` payload bytes (see
    /// [`FrameScanner::with_max_frame`]).
    pub fn with_max_frame(mut self, max: u64) -> Self {
        self.max_frame = max;
        self
    }

    /// Where the next frame starts, once a poll found the log (`None`
    /// before): everything before it was handed out.
    pub fn position(&self) -> Option<Position> {
        self.next
    }

    /// Reads what became durable since the last poll (syncing the newest
    /// segment first, when it holds new frames). An error (corruption
    /// naming its segment and offset, a position whose segment was
    /// deleted before it was read, a storage failure) hands out nothing
    /// and moves nothing: the same poll may be tried again.
    pub fn poll(&mut self) -> Result<Polled, Error> {
        let segments =
            segment_ids(&mut self.storage).map_err(|e| Error::storage("list", None, e))?;
        let previous = core::mem::replace(&mut self.listed, segments.clone());
        let (Some(&oldest), Some(&newest)) = (segments.first(), segments.last()) else {
            return Ok(Polled::default());
        };
        let mut at = match self.next {
            Some(p) => p,
            None => self.start(&segments)?,
        };
        let mut out = Polled::default();
        let mut bytes = 0usize;
        let mut unsynced = None;
        let mut reread = false;
        loop {
            if segments.binary_search(&at.segment).is_err() {
                return Err(Error::PositionGone {
                    position: at,
                    oldest: Position::first_frame(oldest),
                });
            }
            let id = at.segment;
            let stop = self.read_segment(at.segment == newest, &mut at, &mut out, &mut bytes)?;
            match stop {
                (Stop::Done, file) => {
                    unsynced = file;
                    break;
                }
                (Stop::Reread, _) if !reread => reread = true,
                // Its bytes changed between the reads: the writer is at it.
                (Stop::Reread, _) => break,
                (Stop::NextSegment, _) => {
                    at = Position::first_frame(expected_after(&previous, &segments, id)?);
                }
            }
        }
        if let Some((id, mut file)) = unsynced {
            file.sync().map_err(storage_err("sync", id))?;
        }
        self.next = Some(at);
        Ok(out)
    }

    /// Where a follower that has not started yet starts, in a log of
    /// `segments` (not empty): `from` checked as a replay checks it.
    fn start(&mut self, segments: &[SegmentId]) -> Result<Position, Error> {
        let newest = segments[segments.len() - 1];
        let from = self.from.canonical();
        if from == Position::START {
            return check_start(segments, Position::START, from);
        }
        let end = Position::new(newest, self.written_end(newest)?);
        let start = check_start(segments, end, from)?;
        if start == end {
            return Ok(start);
        }
        let not_a_frame = Error::NotAFrame { position: start };
        let Ok(mut scanner) = self.scanner(start.segment)? else {
            return Err(not_a_frame);
        };
        if !scanner.seek_frame(start.offset) {
            return Err(not_a_frame);
        }
        match scanner.next_frame()? {
            Err(_) => Err(not_a_frame),
            Ok(_) => Ok(start),
        }
    }

    /// The end of the valid frames of segment `id` now (0 when its header
    /// is not whole yet).
    fn written_end(&mut self, id: SegmentId) -> Result<u64, Error> {
        let Ok(mut scanner) = self.scanner(id)? else {
            return Ok(0);
        };
        while let Ok(Some(_)) = scanner.next_frame()? {}
        Ok(scanner.offset())
    }

    /// A scanner over segment `id` as its file is now; `Err(invalid)` when
    /// its header is not valid (yet).
    #[allow(clippy::type_complexity)]
    fn scanner(
        &mut self,
        id: SegmentId,
    ) -> Result<Result<FrameScanner<S::File>, (Invalid, S::File)>, Error> {
        let file = match self.storage.open(FileName::Segment(id)) {
            Ok(f) => f,
            Err(e) => {
                // Deleted since the listing: its records are gone for us.
                let ids = segment_ids(&mut self.storage).unwrap_or_default();
                if let (Err(_), Some(&oldest)) = (ids.binary_search(&id), ids.first()) {
                    return Err(Error::PositionGone {
                        position: Position::first_frame(id),
                        oldest: Position::first_frame(oldest),
                    });
                }
                return Err(Error::storage("open", Some(id), e));
            }
        };
        Ok(FrameScanner::new(id, file, None)?
            .map(|s| s.with_timestamps(false).with_max_frame(self.max_frame)))
    }

    /// Reads segment `at.segment` (the newest when `newest`) from `at` on,
    /// adding its frames to `out` and moving `at` past them. With
    /// [`Stop::Done`], the file to sync before they are handed out, if any.
    fn read_segment(
        &mut self,
        newest: bool,
        at: &mut Position,
        out: &mut Polled,
        bytes: &mut usize,
    ) -> Result<Read<S::File>, Error> {
        let id = at.segment;
        let mut scanner = match self.scanner(id)? {
            Ok(s) => s,
            // A newest segment's header is being written; or it was started
            // over (a crash mid-rotation): nothing of it was handed out.
            Err(_) if newest => return Ok((Stop::Done, None)),
            Err((Invalid { offset, reason }, _)) => {
                return Err(Error::Corrupt {
                    segment: id,
                    offset,
                    reason,
                })
            }
        };
        if !scanner.seek_frame(at.offset) {
            // Frames handed out are durable: the file cannot have lost them.
            return Err(Error::PastEnd {
                position: *at,
                end: Position::new(id, scanner.end()),
            });
        }
        let mut found = false;
        let stop = loop {
            let next = match scanner.next_frame() {
                Ok(n) => n,
                // The writer released its reserved zeros while we read.
                Err(Error::LogicBug(FILE_SHRANK)) if newest => break Stop::Done,
                Err(e) => return Err(e),
            };
            match next {
                Ok(Some(f)) => {
                    let pos = Position::new(id, f.offset);
                    out.entries
                        .extend(f.entries().map(|e| (pos, Entry::from(e))));
                    *bytes += f.payload.len();
                    at.offset = f.end();
                    found = true;
                    if *bytes >= POLL_BYTES {
                        out.more = true;
                        break Stop::Done;
                    }
                }
                Ok(None) if newest => break Stop::Done,
                Ok(None) => break Stop::NextSegment,
                Err(inv) if newest => {
                    let file = scanner.into_file();
                    return self.unfinished(*at, inv, file, found);
                }
                Err(Invalid { offset, reason }) => {
                    if scanner.rest_is_zero()? {
                        break Stop::NextSegment;
                    }
                    return Err(Error::Corrupt {
                        segment: id,
                        offset,
                        reason,
                    });
                }
            }
        };
        let file = scanner.into_file();
        Ok((stop, (newest && found).then_some((id, file))))
    }

    /// The newest segment's bytes at `at` are not a valid frame (`inv`):
    /// not yet written, unless valid frames follow them on two reads.
    fn unfinished(
        &mut self,
        at: Position,
        inv: Invalid,
        mut file: S::File,
        found: bool,
    ) -> Result<Read<S::File>, Error> {
        let id = at.segment;
        let done = |file| Ok((Stop::Done, found.then_some((id, file))));
        let len = file.len().map_err(storage_err("len", id))?;
        let mut head = [0u8; frame::HEADER_LEN];
        let n = (len.saturating_sub(at.offset)).min(head.len() as u64) as usize;
        file.seek(SeekFrom::Start(at.offset))
            .map_err(storage_err("seek", id))?;
        crate::scan::read_exact(&mut file, id, &mut head[..n])?;
        if all_zero(&head[..n]) || self.searched == Some((at, len, head)) {
            return done(file);
        }
        let after = search::find_frames(&mut file, id, at.offset + 1, len, self.max_frame)?;
        if after.is_empty() {
            self.searched = Some((at, len, head));
            return done(file);
        }
        if found {
            // Hand out what came before; the next poll looks again.
            return done(file);
        }
        if self.searched == Some((at, u64::MAX, head)) {
            return Err(Error::Corrupt {
                segment: id,
                offset: inv.offset,
                reason: inv.reason,
            });
        }
        // Valid frames after it: read it once more, fresh, before calling
        // it damage (it may have been caught half-copied).
        self.searched = Some((at, u64::MAX, head));
        Ok((Stop::Reread, None))
    }
}

/// The segment after `id` in `segments` (the listing now; `id` is not the
/// newest): the one after it in the `previous` listing, or `id + 1` when
/// `id` was the newest there (segment IDs grow by one at each rotation).
/// Missing, it was deleted before it was read: [`Error::PositionGone`].
fn expected_after(
    previous: &[SegmentId],
    segments: &[SegmentId],
    id: SegmentId,
) -> Result<SegmentId, Error> {
    let next = segments.iter().copied().find(|&s| s > id);
    let expected = if previous.is_empty() {
        next
    } else {
        previous
            .iter()
            .copied()
            .find(|&s| s > id)
            .or(id.checked_add(1))
    };
    match (next, expected) {
        (Some(n), Some(e)) if n == e => Ok(n),
        (_, Some(e)) => Err(Error::PositionGone {
            position: Position::first_frame(e),
            oldest: Position::first_frame(segments[0]),
        }),
        _ => Err(Error::LogicBug(
            "no segment after one that is not the newest",
        )),
    }
}

#[cfg(test)]
mod tests;
