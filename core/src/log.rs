//! The segment log over a [`Storage`]: open with recovery, append sealed
//! frames (rotating first when a frame would pass `file_size`), sync, rotate,
//! read a segment as a stream of entries, delete.
//!
//! A failed write or sync poisons the log: it refuses every later append,
//! sync and rotation with [`Error::Poisoned`], because the state of the
//! storage is no longer known. Reopening (which runs recovery) is the way out.

use alloc::vec::Vec;

use embedded_io::{Seek, SeekFrom, Write};

use crate::compress::Compressor;
use crate::config::{Config, SyncPolicy};
use crate::error::{storage_err, Error};
use crate::format::{frame, header, Codec, FileName, SegmentId};
use crate::reader::SegmentReader;
use crate::recovery::{recover_newest, Recovered, RecoveryReport};
use crate::scan;
use crate::storage::{create_segment, segment_ids, SegmentFile, Storage};
use crate::summary::{FrameStats, SegmentInfo};

struct Active<F> {
    file: F,
    info: SegmentInfo,
    /// The file's length: the log (`info.bytes`) plus reserved zeros.
    file_len: u64,
}

/// Zeros to write reserved space from.
static ZEROS: [u8; 4096] = [0; 4096];

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

/// The segments of a WAL and the file being appended to.
pub struct SegmentLog<S: Storage> {
    storage: S,
    config: Config,
    active: Active<S::File>,
    /// Closed segments, ascending.
    closed: Vec<SegmentId>,
    compressor: Compressor,
    scratch: Vec<u8>,
    poisoned: Option<Error>,
}

impl<S: Storage> core::fmt::Debug for SegmentLog<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SegmentLog")
            .field("active", &self.active.info)
            .field("closed", &self.closed)
            .field("poisoned", &self.poisoned)
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
                let Recovered { file, info } = recover_newest(
                    &mut storage,
                    id,
                    config.recovery,
                    config.max_frame_len(),
                    &mut report,
                )?;
                let file_len = info.bytes;
                Active {
                    file,
                    info,
                    file_len,
                }
            }
        };
        report.active_segment = active.info.id;
        report.first_segment = ids.first().copied().unwrap_or(active.info.id);
        report.frames = active.info.frames;
        report.records = active.info.records;
        report.bytes = active.info.bytes;
        let log = SegmentLog {
            storage,
            config,
            active,
            closed: ids,
            compressor: Compressor::new(),
            scratch: Vec::new(),
            poisoned: None,
        };
        Ok((log, report))
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The error that poisoned the log, if one did.
    pub fn poisoned(&self) -> Option<&Error> {
        self.poisoned.as_ref()
    }

    fn check_healthy(&self) -> Result<(), Error> {
        match &self.poisoned {
            Some(e) => Err(e.clone().poisoned()),
            None => Ok(()),
        }
    }

    fn poison(&mut self, e: Error) -> Error {
        self.poisoned = Some(e.clone());
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
    /// [`SegmentLog::active_file`]) failed: from now on the log refuses to append (as after any failed
    /// write or sync), since what reached the media is unknown.
    pub fn fail(&mut self, e: Error) {
        if self.poisoned.is_none() {
            self.poisoned = Some(e);
        }
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
        let id = self.active.info.id;
        frame::seal(bytes, codec, id);
        let offset = self.active.info.bytes;
        if let Err(e) = self.reserve(offset + len) {
            return Err(self.poison(e));
        }
        if let Err(e) = self.active.file.write_all(bytes) {
            return Err(self.poison(Error::storage("write", Some(id), e)));
        }
        if sync {
            if let Err(e) = self.active.file.sync() {
                return Err(self.poison(Error::storage("sync", Some(id), e)));
            }
        }
        self.active
            .info
            .add_frame(codec, len - frame::HEADER_LEN as u64, stats);
        self.active.file_len = self.active.file_len.max(offset + len);
        Ok(FrameLocation {
            segment: id,
            offset,
            len,
            codec,
        })
    }

    /// Makes sure the active segment has pre-written zeros up to `end`:
    /// when it does not, writes `config.reserve` bytes of zeros past `end`
    /// (never past `file_size`) and syncs them, so that the syncs of the
    /// frames written there overwrite allocated space instead of growing
    /// the file. Leaves the file positioned at the end of the log.
    fn reserve(&mut self, end: u64) -> Result<(), Error> {
        let a = &mut self.active;
        let id = a.info.id;
        // Only small frames gain from it: a large one appends at the disk's
        // streaming rate anyway, and pre-writing zeros for it would write
        // every byte twice.
        let small = (end - a.info.bytes).saturating_mul(32) <= self.config.reserve;
        if self.config.reserve == 0 || end <= a.file_len || !small {
            return Ok(());
        }
        let target = end
            .saturating_add(self.config.reserve)
            .min(self.config.file_size.max(end));
        a.file
            .seek(SeekFrom::Start(a.file_len))
            .map_err(storage_err("seek", id))?;
        let mut left = target - a.file_len;
        while left > 0 {
            let n = left.min(ZEROS.len() as u64) as usize;
            a.file
                .write_all(&ZEROS[..n])
                .map_err(storage_err("write", id))?;
            left -= n as u64;
        }
        a.file.sync().map_err(storage_err("sync", id))?;
        a.file_len = target;
        a.file
            .seek(SeekFrom::Start(a.info.bytes))
            .map_err(storage_err("seek", id))?;
        Ok(())
    }

    /// Gives reserved space back: cuts the active segment to its log and
    /// syncs, so that a closed segment ends with its last frame.
    fn release(&mut self) -> Result<(), Error> {
        let a = &mut self.active;
        let id = a.info.id;
        if a.file_len > a.info.bytes {
            a.file
                .truncate(a.info.bytes)
                .map_err(storage_err("truncate", id))?;
            a.file_len = a.info.bytes;
        }
        a.file.sync().map_err(storage_err("sync", id))
    }

    /// Makes everything appended so far durable.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.check_healthy()?;
        let id = self.active.info.id;
        if let Err(e) = self.active.file.sync() {
            return Err(self.poison(Error::storage("sync", Some(id), e)));
        }
        Ok(())
    }

    /// Closes the active segment (synced) and starts the next one. Returns
    /// what the closed segment holds.
    pub fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        self.check_healthy()?;
        if let Err(e) = self.release() {
            return Err(self.poison(e));
        }
        let next = self
            .active
            .info
            .id
            .checked_add(1)
            .ok_or(Error::LogicBug("segment IDs exhausted"))?;
        let new = match create_segment(&mut self.storage, next) {
            Ok(file) => Active::created(file, next),
            Err(e) => return Err(self.poison(e)),
        };
        let old = core::mem::replace(&mut self.active, new);
        self.closed.push(old.info.id);
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
    /// segment whole, the active one up to its last appended frame.
    pub fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        self.check_known(id)?;
        let limit = (id == self.active.info.id).then_some(self.active.info.bytes);
        let file = self.open_segment(id)?;
        SegmentReader::with_max_frame(id, file, limit, self.config.max_frame_len())
    }

    /// What segment `id` holds. The active segment's summary is kept as it
    /// is written; a closed segment is scanned (every frame checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        self.check_known(id)?;
        if id == self.active.info.id {
            return Ok(self.active.info.clone());
        }
        let file = self.open_segment(id)?;
        scan::scan_info(id, file, self.config.max_frame_len())
    }

    /// Deletes closed segment `id`, durably: on `Ok` the removal has been
    /// synced into the directory. On an error from that sync the segment is
    /// gone from the log but may come back after a power loss. The active
    /// segment cannot be deleted.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        if id == self.active.info.id {
            return Err(Error::ActiveSegment { id });
        }
        let pos = self
            .closed
            .binary_search(&id)
            .map_err(|_| Error::UnknownSegment { id })?;
        self.storage
            .remove(FileName::Segment(id))
            .map_err(storage_err("remove", id))?;
        self.closed.remove(pos);
        self.storage
            .sync_dir()
            .map_err(storage_err("sync directory", id))
    }

    /// Syncs the active segment; the log can still be used afterwards.
    pub fn close(&mut self) -> Result<(), Error> {
        self.check_healthy()?;
        if let Err(e) = self.release() {
            return Err(self.poison(e));
        }
        Ok(())
    }

    fn open_segment(&mut self, id: SegmentId) -> Result<S::File, Error> {
        self.storage
            .open(FileName::Segment(id))
            .map_err(storage_err("open", id))
    }
}
