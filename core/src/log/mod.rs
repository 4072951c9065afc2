//! The segment log over a [`Storage`]: open with recovery, append sealed
//! frames (rotating first when a frame would pass `file_size`), sync, rotate,
//! read a segment as a stream of entries, delete, and the reserve of zeros.
//!
//! A failed write or sync poisons the log: it refuses every later append,
//! sync and rotation with [`Error::Poisoned`], because the state of the
//! storage is no longer known. Reopening (which runs recovery) is the way out.
//! The poison state is a [`Poison`] a host shares with its threads
//! ([`SegmentLog::poison`]): a failure a host records there (a sync on a
//! thread of its own) stops the log as its own failures do.
//!
//! A host that reads or deletes from other threads than the writer's keeps
//! the slow part off the log: [`SegmentLog::open_segment`] only opens the
//! file (scan or read it afterwards), and [`SegmentLog::unlist`] only takes
//! a segment off the list (remove its file afterwards, through a storage of
//! its own, and [`SegmentLog::relist`] it if that fails).
//!
//! The reserve of zeros ([`Config::reserve`]) is never written inside an
//! append: [`SegmentLog::reserve_ahead`] writes it when the host calls it,
//! off the write path, and does not sync it (the next sync of the log
//! covers it).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use embedded_io::Write;

use crate::compress::Compressor;
use crate::config::{Config, SyncPolicy};
use crate::error::{storage_err, Error};
use crate::format::{frame, header, Codec, FileName, SegmentId};
use crate::poison::Poison;
use crate::position::Position;
use crate::reader::SegmentReader;
use crate::recovery::{recover_newest, Recovered, RecoveryReport};
use crate::replay::{durable_end, Replay};
use crate::storage::{create_segment, segment_ids, SegmentFile, Storage};

mod recycle;
mod reserve;
mod retention;
mod segments;
mod stats;

use stats::Counts;

use crate::summary::{FrameStats, SegmentInfo};
pub use recycle::{retire_segments, RetireError};
pub use reserve::RESERVE_CHUNK;
pub use segments::{remove_segment, remove_segments, OpenedSegment};

struct Active<F> {
    file: F,
    info: SegmentInfo,
    /// The file's length: the log (`info.bytes`) plus reserved zeros.
    file_len: u64,
    /// The length of the last frame appended (0 before the first).
    last_frame: u64,
    /// Where the reservation in progress ends (0: none).
    reserve_to: u64,
    /// Bytes of the log known durable (synced, or written under
    /// [`SyncPolicy::Never`], which promises no more): what readers see.
    durable: u64,
    /// A recycled segment (stale frames past the log): each frame is
    /// synced as it is appended.
    recycled: bool,
}

/// Where an appended frame landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLocation {
    /// The segment that holds it.
    pub segment: SegmentId,
    /// Its byte offset in that segment.
    pub offset: u64,
    /// Its length in bytes, header included.
    pub len: u64,
    /// How its payload was stored.
    pub codec: Codec,
}

impl FrameLocation {
    /// The position just past the frame: once it is durable, the log is
    /// durable through there (what its records' completions give).
    pub fn end(&self) -> Position {
        Position::new(self.segment, self.offset + self.len)
    }
}

/// The segments of a WAL and the file being appended to.
pub struct SegmentLog<S: Storage> {
    storage: S,
    config: Config,
    active: Active<S::File>,
    /// Closed segments, ascending.
    closed: Vec<SegmentId>,
    /// Free files kept for recycling (`free{ID}.wal`), ascending.
    free: Vec<SegmentId>,
    /// Bytes of closed segments, kept when retention is configured (see
    /// `retention.rs`).
    sizes: BTreeMap<SegmentId, u64>,
    /// The newest record timestamp of each closed segment known so far
    /// (`None`: it holds no record), for retention by age.
    newest: BTreeMap<SegmentId, Option<i64>>,
    /// A rotation happened since the last retention pass.
    retention_due: bool,
    /// What was appended since open, and the counters of `stats.rs`.
    counts: Counts,
    compressor: Compressor,
    scratch: Vec<u8>,
    poison: Poison,
}

impl<S: Storage> core::fmt::Debug for SegmentLog<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentLog")
            .field("active", &self.active.info)
            .field("closed", &self.closed)
            .field("poisoned", &self.poison.error())
            .finish_non_exhaustive()
    }
}

impl<F> Active<F> {
    /// A segment just created: its header and nothing else.
    fn created(file: F, id: SegmentId) -> Self {
        Active {
            file,
            info: SegmentInfo::empty(id),
            file_len: header::LEN as u64,
            last_frame: 0,
            reserve_to: 0,
            durable: header::LEN as u64,
            recycled: false,
        }
    }

    /// A recycled file of `file_len` bytes, its version 2 header written.
    fn recycled(file: F, id: SegmentId, file_len: u64) -> Self {
        Active {
            file_len,
            recycled: true,
            ..Active::created(file, id)
        }
    }
}

impl<S: Storage> SegmentLog<S> {
    /// Opens the log in `storage`: creates segment 1 in an empty storage, or
    /// recovers the newest segment (FORMAT.md, "Validity and recovery").
    /// Older segments are not read.
    pub fn open(mut storage: S, config: Config) -> Result<(Self, RecoveryReport), Error> {
        config.validate()?;
        let mut ids = segment_ids(&mut storage).map_err(|e| Error::storage("list", None, e))?;
        let mut report = RecoveryReport {
            segments_found: ids.len(),
            ..Default::default()
        };
        let active = match ids.pop() {
            None => {
                report.created = true;
                Active::created(create_segment(&mut storage, 1)?, 1)
            }
            Some(id) => {
                let Recovered {
                    file,
                    info,
                    recycled,
                } = recover_newest(
                    &mut storage,
                    id,
                    config.recovery,
                    (config.max_frame_len(), config.max_written_frame()),
                    &mut report,
                )?;
                // Recovery synced the segment: its whole log is durable.
                let bytes = info.bytes;
                Active {
                    file,
                    info,
                    file_len: recycled.unwrap_or(bytes),
                    last_frame: 0,
                    reserve_to: 0,
                    durable: bytes,
                    recycled: recycled.is_some(),
                }
            }
        };
        report.active_segment = active.info.id;
        report.first_segment = ids.first().copied().unwrap_or(active.info.id);
        report.frames = active.info.frames;
        report.records = active.info.records;
        report.bytes = active.info.bytes;
        let mut log = SegmentLog {
            storage,
            config,
            active,
            closed: ids,
            free: Vec::new(),
            sizes: BTreeMap::new(),
            newest: BTreeMap::new(),
            retention_due: false,
            counts: Counts::default(),
            compressor: Compressor::new(),
            scratch: Vec::new(),
            poison: Poison::new(),
        };
        log.measure_closed()?;
        log.load_free()?;
        Ok((log, report))
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The error that poisoned the log, if one did.
    pub fn poisoned(&self) -> Option<&Error> {
        self.poison.error()
    }

    /// The log's poison state, for a host to share with its threads (clone
    /// it): what they record there poisons the log, and what the log
    /// records they see.
    pub fn poison(&self) -> &Poison {
        &self.poison
    }

    fn check_healthy(&self) -> Result<(), Error> {
        self.poison.check()
    }

    /// Poisons the log with `e` (unless it was already) and returns `e`.
    fn fail_with(&self, e: Error) -> Error {
        self.poison.fail(e.clone());
        e
    }

    /// Appends a sealed frame: `frame` holds 16 header bytes (filled in here)
    /// and the raw entries. Compresses it when configured (keeping it raw
    /// when that does not shrink it), rotates first if it would take the
    /// active segment past `file_size`, writes it, and syncs per the policy.
    /// On return `Ok`, the frame is written (and durable under
    /// [`SyncPolicy::Always`]).
    pub fn append(&mut self, frame: &mut [u8], stats: &FrameStats) -> Result<FrameLocation, Error> {
        let sync = self.config.sync == SyncPolicy::Always;
        self.append_frame(frame, stats, sync)
    }

    /// Compresses (when configured) and appends a sealed frame; syncs it if
    /// `sync`.
    fn append_frame(
        &mut self,
        frame: &mut [u8],
        stats: &FrameStats,
        sync: bool,
    ) -> Result<FrameLocation, Error> {
        let compressed = if self.config.compression {
            self.compressor.compress(frame, &mut self.scratch)
        } else {
            None
        };
        let mut scratch = core::mem::take(&mut self.scratch);
        let (bytes, codec): (&mut [u8], _) = match compressed {
            None => (frame, Codec::Raw),
            Some(len) => (&mut scratch[..len], Codec::Snappy),
        };
        let r = self.append_inner(bytes, codec, stats, sync);
        self.scratch = scratch;
        r
    }

    /// Appends a frame already encoded by the host: 16 header bytes (filled
    /// in here, with this log's segment ID) and the payload stored as
    /// `codec` says ([`Compressor::compress`] made that choice, when
    /// compression is on). Otherwise as [`SegmentLog::append`].
    pub fn append_encoded(
        &mut self,
        bytes: &mut [u8],
        codec: Codec,
        stats: &FrameStats,
    ) -> Result<FrameLocation, Error> {
        let sync = self.config.sync == SyncPolicy::Always;
        self.append_inner(bytes, codec, stats, sync)
    }

    /// As [`SegmentLog::append`], but never syncs the frame, whatever the
    /// policy: the caller syncs it (through [`SegmentLog::active_file`],
    /// from another thread, while the next frame is written) before it
    /// completes any of its records. Rotation still syncs the segment it
    /// closes.
    pub fn append_unsynced(
        &mut self,
        frame: &mut [u8],
        stats: &FrameStats,
    ) -> Result<FrameLocation, Error> {
        self.append_frame(frame, stats, false)
    }

    /// The active segment's ID and open file, for a host that syncs it
    /// through a second handle of its own (from another thread, while the
    /// next frame is written).
    pub fn active_file(&mut self) -> (SegmentId, &mut S::File) {
        (self.active.info.id, &mut self.active.file)
    }

    /// Records that a sync made by the host outside the log (see
    /// [`SegmentLog::active_file`]) failed: from now on the log refuses to
    /// append (as after any failed write or sync), since what reached the
    /// media is unknown. The same as [`Poison::fail`] on
    /// [`SegmentLog::poison`].
    pub fn fail(&mut self, e: Error) {
        self.poison.fail(e);
    }

    fn append_inner(
        &mut self,
        bytes: &mut [u8],
        codec: Codec,
        stats: &FrameStats,
        sync: bool,
    ) -> Result<FrameLocation, Error> {
        self.check_healthy()?;
        if bytes.len() <= frame::HEADER_LEN {
            return Err(Error::LogicBug("append of an empty frame"));
        }
        let len = bytes.len() as u64;
        if self.active.info.frames > 0 && self.active.info.bytes + len > self.config.file_size {
            self.rotate()?;
        }
        // One frame in flight in a recycled segment (FORMAT.md): decided
        // after the rotation, which may have started one.
        let sync = sync || self.active.recycled;
        let id = self.active.info.id;
        frame::seal(bytes, codec, id);
        let offset = self.active.info.bytes;
        if let Err(e) = self.active.file.write_all(bytes) {
            return Err(self.fail_with(Error::storage("write", Some(id), e)));
        }
        if sync {
            if let Err(e) = self.active.file.sync() {
                return Err(self.fail_with(Error::storage("sync", Some(id), e)));
            }
        }
        self.active
            .info
            .add_frame(codec, len - frame::HEADER_LEN as u64, stats);
        self.counts
            .written
            .add_frame(codec, len - frame::HEADER_LEN as u64, stats);
        self.counts.syncs += u64::from(sync);
        self.active.file_len = self.active.file_len.max(offset + len);
        self.active.last_frame = len;
        if sync || self.config.sync == SyncPolicy::Never {
            self.active.durable = offset + len;
        }
        Ok(FrameLocation {
            segment: id,
            offset,
            len,
            codec,
        })
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.check_healthy()?;
        let id = self.active.info.id;
        if let Err(e) = self.active.file.sync() {
            return Err(self.fail_with(Error::storage("sync", Some(id), e)));
        }
        self.active.durable = self.active.info.bytes;
        self.counts.syncs += 1;
        Ok(())
    }

    /// The end of the durable log as the log knows it: in the active
    /// segment (closed ones were synced whole when closed), after the last
    /// frame it synced, or wrote under [`SyncPolicy::Never`]. A host that
    /// syncs on a thread of its own knows more ([`crate::replay::durable_end`]).
    pub fn durable(&self) -> Position {
        Position::new(self.active.info.id, self.active.durable)
    }

    /// Every durable record from `from` to the durable end, in order (see
    /// [`Replay`]), read through the log's storage.
    pub fn replay(&mut self, from: Position) -> Result<Replay<&mut S>, Error> {
        let segments = self.segments();
        let end = self.durable();
        Replay::new(
            &mut self.storage,
            &segments,
            end,
            from,
            self.config.max_frame_len(),
        )
    }

    /// Takes off the list every closed segment wholly before `through` (a
    /// checkpoint there lets them go; the first half of
    /// [`SegmentLog::checkpoint`], for a host that removes the files
    /// without the log, as with [`SegmentLog::unlist`]), and returns them,
    /// ascending. A segment that `through` is in stays, even at its very
    /// end, so that a replay from `through` always finds where to start.
    /// `known` is a point the host knows durable beyond the log's own
    /// [`SegmentLog::durable`] (or [`Position::START`]): a `through` past
    /// the durable end is refused ([`Error::PastEnd`]).
    pub fn checkpoint_unlist(
        &mut self,
        through: Position,
        known: Position,
    ) -> Result<Vec<SegmentId>, Error> {
        let through = through.canonical();
        let end = durable_end(self.active.info.id, known.max(self.durable()));
        if through > end {
            return Err(Error::PastEnd {
                position: through,
                end,
            });
        }
        let n = self.closed.partition_point(|&id| id < through.segment);
        Ok(self.closed.drain(..n).collect())
    }

    /// A checkpoint at `through`: deletes every closed segment wholly
    /// before it (see [`SegmentLog::checkpoint_unlist`]), durably, oldest
    /// first, and returns their IDs. On an error the segments not yet
    /// removed stay listed (and the one that failed, if its file is still
    /// there).
    pub fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        let ids = self.checkpoint_unlist(through, Position::START)?;
        self.remove_unlisted(&ids)?;
        Ok(ids)
    }

    /// Closes the active segment (synced) and starts the next one. Returns
    /// what the closed segment holds.
    pub fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        self.check_healthy()?;
        if let Err(e) = self.release() {
            return Err(self.fail_with(e));
        }
        let next = self
            .active
            .info
            .id
            .checked_add(1)
            .ok_or(Error::LogicBug("segment IDs exhausted"))?;
        let new = match self.next_segment(next) {
            Ok(active) => active,
            Err(e) => return Err(self.fail_with(e)),
        };
        let old = core::mem::replace(&mut self.active, new);
        self.closed.push(old.info.id);
        self.sizes.insert(old.info.id, old.info.bytes);
        self.newest.insert(old.info.id, old.info.max_timestamp);
        self.counts.rotations += 1;
        self.retention_due = true;
        Ok(old.info)
    }

    /// What the active segment holds so far.
    pub fn active(&self) -> &SegmentInfo {
        &self.active.info
    }

    /// Every segment, ascending; the last is the active one.
    pub fn segments(&self) -> Vec<SegmentId> {
        let mut v = self.closed.clone();
        v.push(self.active.info.id);
        v
    }

    fn check_known(&self, id: SegmentId) -> Result<(), Error> {
        if id == self.active.info.id || self.closed.binary_search(&id).is_ok() {
            Ok(())
        } else {
            Err(Error::UnknownSegment { id })
        }
    }

    /// Streams the entries of segment `id`, a frame at a time: a closed
    /// segment whole, the active one up to its durable end.
    pub fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        self.open_segment(id)?.reader()
    }

    /// What segment `id` holds. The active segment's summary is kept as it
    /// is written; a closed segment is scanned (every frame checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        if id == self.active.info.id {
            return Ok(self.active.info.clone());
        }
        self.open_segment(id)?.info()
    }

    /// Opens segment `id` for [`OpenedSegment::reader`] or
    /// [`OpenedSegment::info`], which do the reading: a host that keeps the
    /// log under a lock holds it only for this (the file's open, no read).
    pub fn open_segment(&mut self, id: SegmentId) -> Result<OpenedSegment<S::File>, Error> {
        self.check_known(id)?;
        let active = (id == self.active.info.id).then(|| self.active.info.clone());
        let file = self.open_file(id)?;
        Ok(OpenedSegment {
            id,
            file,
            active,
            durable: self.active.durable,
            max_frame: self.config.max_frame_len(),
        })
    }

    /// Deletes closed segment `id`, durably: on `Ok` the removal has been
    /// synced into the directory. On an error from that sync the segment is
    /// gone from the log but may come back after a power loss. The active
    /// segment cannot be deleted.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        self.unlist(id)?;
        remove_segment(&mut self.storage, id).map_err(|(e, still_there)| {
            if still_there {
                self.relist(id);
            }
            e
        })
    }

    /// Takes closed segment `id` off the list of segments (the first half
    /// of [`SegmentLog::delete`]): from now on it is unknown to `read`,
    /// `info` and `segments`. The caller removes its file with
    /// [`remove_segment`] and, if that fails and the file is still there,
    /// puts it back with [`SegmentLog::relist`]. The active segment cannot
    /// be deleted.
    pub fn unlist(&mut self, id: SegmentId) -> Result<(), Error> {
        if id == self.active.info.id {
            return Err(Error::ActiveSegment { id });
        }
        let pos = self
            .closed
            .binary_search(&id)
            .map_err(|_| Error::UnknownSegment { id })?;
        self.closed.remove(pos);
        Ok(())
    }

    /// Puts back a closed segment that [`SegmentLog::unlist`] took off the
    /// list (its file's removal failed and left it in place).
    pub fn relist(&mut self, id: SegmentId) {
        if id < self.active.info.id {
            if let Err(pos) = self.closed.binary_search(&id) {
                self.closed.insert(pos, id);
            }
        }
    }

    /// Syncs the active segment; the log can still be used afterwards.
    pub fn close(&mut self) -> Result<(), Error> {
        self.check_healthy()?;
        if let Err(e) = self.release() {
            return Err(self.fail_with(e));
        }
        Ok(())
    }

    fn open_file(&mut self, id: SegmentId) -> Result<S::File, Error> {
        self.storage
            .open(FileName::Segment(id))
            .map_err(storage_err("open", id))
    }
}
