//! The segment log over a [`Storage`]: open with recovery, append sealed
//! frames (rotating first when a frame would pass `file_size`), sync, rotate,
//! read a segment as a stream of entries, delete.
//!
//! A failed write or sync poisons the log: it refuses every later append,
//! sync and rotation with [`Error::Poisoned`], because the state of the
//! storage is no longer known. Reopening (which runs recovery) is the way out.

use alloc::vec::Vec;

use embedded_io::{Seek, SeekFrom, Write};

use crate::codec::{self, header, Codec, Entry};
use crate::compress::Compressor;

use crate::config::{Config, RecoveryMode, SyncPolicy};
use crate::error::Error;
use crate::recovery::{RecoveryReport, TornTail};
use crate::segment::{self, FrameScanner, FrameStats, Invalid, SegmentId, SegmentInfo};
use crate::storage::{SegmentFile, Storage};

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

fn st<E: embedded_io::Error>(op: &'static str, id: SegmentId) -> impl FnOnce(E) -> Error {
    move |e| Error::storage(op, Some(id), e)
}

impl<S: Storage> SegmentLog<S> {
    /// Opens the log in `storage`: creates segment 1 in an empty storage, or
    /// recovers the newest segment (FORMAT.md, "Validity and recovery").
    /// Older segments are not read.
    pub fn open(mut storage: S, config: Config) -> Result<(Self, RecoveryReport), Error> {
        config.validate()?;
        let mut ids = storage
            .list()
            .map_err(|e| Error::storage("list", None, e))?;
        ids.sort_unstable();
        ids.dedup();
        let mut report = RecoveryReport {
            segments_found: ids.len(),
            ..Default::default()
        };
        let active = match ids.pop() {
            None => {
                report.created = true;
                create_segment(&mut storage, 1)?
            }
            Some(id) => recover_newest(&mut storage, id, config.recovery, &mut report)?,
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
    /// policy: the caller syncs it through a [`SegmentLog::sync_handle`]
    /// (from another thread, while the next frame is written) before it
    /// completes any of its records. Rotation still syncs the segment it
    /// closes.
    pub fn append_unsynced(
        &mut self,
        frame: &mut [u8],
        stats: &FrameStats,
    ) -> Result<FrameLocation, Error> {
        self.append_frame(frame, stats, false)
    }

    /// A handle that syncs the active segment (see
    /// [`SegmentFile::sync_handle`]), with that segment's ID.
    pub fn sync_handle(&mut self) -> Result<(SegmentId, S::File), Error> {
        let id = self.active.info.id;
        let f = self.active.file.sync_handle().map_err(st("dup", id))?;
        Ok((id, f))
    }

    /// Records that a sync made through a [`SegmentLog::sync_handle`]
    /// failed: from now on the log refuses to append (as after any failed
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
        if bytes.len() <= codec::frame::HEADER_LEN {
            return Err(Error::LogicBug("append of an empty frame"));
        }
        let len = bytes.len() as u64;
        if self.active.info.frames > 0 && self.active.info.bytes + len > self.config.file_size {
            self.rotate()?;
        }
        let id = self.active.info.id;
        codec::seal_frame(bytes, codec, id);
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
            .add_frame(codec, len - codec::frame::HEADER_LEN as u64, stats);
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
            .map_err(st("seek", id))?;
        let mut left = target - a.file_len;
        while left > 0 {
            let n = (left as usize).min(ZEROS.len());
            a.file.write_all(&ZEROS[..n]).map_err(st("write", id))?;
            left -= n as u64;
        }
        a.file.sync().map_err(st("sync", id))?;
        a.file_len = target;
        a.file
            .seek(SeekFrom::Start(a.info.bytes))
            .map_err(st("seek", id))?;
        Ok(())
    }

    /// Gives reserved space back: cuts the active segment to its log and
    /// syncs, so that a closed segment ends with its last frame.
    fn release(&mut self) -> Result<(), Error> {
        let a = &mut self.active;
        let id = a.info.id;
        if a.file_len > a.info.bytes {
            a.file.truncate(a.info.bytes).map_err(st("truncate", id))?;
            a.file_len = a.info.bytes;
        }
        a.file.sync().map_err(st("sync", id))
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
            Ok(a) => a,
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
        let file = self.storage.open(id).map_err(st("open", id))?;
        SegmentReader::new(id, file, limit)
    }

    /// What segment `id` holds. The active segment's summary is kept as it
    /// is written; a closed segment is scanned (every frame checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        self.check_known(id)?;
        if id == self.active.info.id {
            return Ok(self.active.info.clone());
        }
        let file = self.storage.open(id).map_err(st("open", id))?;
        segment::scan_info(id, file)
    }

    /// Deletes closed segment `id`. The active segment cannot be deleted.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        if id == self.active.info.id {
            return Err(Error::ActiveSegment { id });
        }
        let pos = self
            .closed
            .binary_search(&id)
            .map_err(|_| Error::UnknownSegment { id })?;
        self.storage.remove(id).map_err(st("remove", id))?;
        self.closed.remove(pos);
        Ok(())
    }

    /// Syncs the active segment; the log can still be used afterwards.
    pub fn close(&mut self) -> Result<(), Error> {
        self.check_healthy()?;
        if let Err(e) = self.release() {
            return Err(self.poison(e));
        }
        Ok(())
    }

    /// The storage, for hosts that need to reach it directly.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }
}

fn create_segment<S: Storage>(storage: &mut S, id: SegmentId) -> Result<Active<S::File>, Error> {
    let mut file = storage.create(id).map_err(st("create", id))?;
    write_header(&mut file, id)?;
    Ok(Active {
        file,
        info: SegmentInfo::empty(id),
        file_len: codec::header::LEN as u64,
    })
}

fn write_header<F: SegmentFile>(file: &mut F, id: SegmentId) -> Result<(), Error> {
    file.write_all(&codec::encode_segment_header(id))
        .map_err(st("write", id))?;
    file.sync().map_err(st("sync", id))
}

/// Recovers the newest segment: scans it to the end of its log and sets
/// aside whatever non-zero bytes follow.
fn recover_newest<S: Storage>(
    storage: &mut S,
    id: SegmentId,
    mode: RecoveryMode,
    report: &mut RecoveryReport,
) -> Result<Active<S::File>, Error> {
    let file = storage.open(id).map_err(st("open", id))?;
    let mut info = SegmentInfo::empty(id);
    let (mut file, stop) = match FrameScanner::new(id, file, None)? {
        Err(Invalid { reason, .. }) if !header_may_be_torn(&reason) => {
            // A whole header (its CRC matches) that is not ours: another
            // version, unknown flags, or a file renamed from another ID.
            // Not a torn write, so never "repaired": refuse to open.
            return Err(Error::Corrupt {
                segment: id,
                offset: 0,
                reason,
            });
        }
        Err(inv) => {
            // The header itself is torn: the file holds no acknowledged data.
            let file = storage.open(id).map_err(st("open", id))?;
            (file, Some((inv, false)))
        }
        Ok(mut scanner) => {
            let stop = loop {
                match scanner.next_frame()? {
                    Ok(Some(f)) => info.add_frame(f.codec, f.stored_len, &f.stats),
                    Ok(None) => break None,
                    Err(inv) => {
                        let zeros = scanner.rest_is_zero()?;
                        break Some((inv, zeros));
                    }
                }
            };
            (scanner.into_file(), stop)
        }
    };
    let len = file.len().map_err(st("len", id))?;
    if let Some((Invalid { offset, reason }, zeros)) = stop {
        if zeros {
            // Reserved space, not damage: release it.
            file.truncate(offset).map_err(st("truncate", id))?;
            file.sync().map_err(st("sync", id))?;
            report.released_zero_bytes = len - offset;
        } else {
            if mode == RecoveryMode::Strict {
                return Err(Error::Corrupt {
                    segment: id,
                    offset,
                    reason,
                });
            }
            let (frames_after, records_after) = frames_in(&mut file, id, offset, len)?;
            let sidecar = if len > offset {
                set_aside(storage, &mut file, id, offset, len)?
            } else {
                Default::default()
            };
            file.truncate(offset).map_err(st("truncate", id))?;
            file.sync().map_err(st("sync", id))?;
            report.cut = Some(TornTail {
                segment: id,
                offset,
                bytes: len - offset,
                reason,
                sidecar,
                frames_after,
                records_after,
            });
        }
        if offset < header::LEN as u64 {
            // Header torn or invalid: start the segment over.
            file.truncate(0).map_err(st("truncate", id))?;
            file.seek(SeekFrom::Start(0)).map_err(st("seek", id))?;
            write_header(&mut file, id)?;
            info = SegmentInfo::empty(id);
        }
    }
    // What recovery accepts must not vanish in a later power cut: frames
    // written before a crash but never synced (so never acknowledged) are
    // made durable now, before anyone can read them.
    file.sync().map_err(st("sync", id))?;
    file.seek(SeekFrom::Start(info.bytes))
        .map_err(st("seek", id))?;
    let file_len = info.bytes;
    Ok(Active {
        file,
        info,
        file_len,
    })
}

/// Whether an invalid header can be the result of a torn write (as opposed
/// to a complete header, CRC and all, that this reader must not touch).
pub(crate) fn header_may_be_torn(reason: &crate::error::Corruption) -> bool {
    use crate::error::Corruption::*;
    matches!(
        reason,
        HeaderTruncated { .. } | BadMagic | HeaderCrcMismatch { .. }
    )
}

/// Looks for valid frames of segment `id` inside `file[offset..len]`, the
/// bytes about to be cut (past the invalid frame at `offset`), at every byte
/// position: a torn write leaves none. Returns (frames, records). Regions
/// larger than 256 MiB are not searched.
fn frames_in<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    offset: u64,
    len: u64,
) -> Result<(u64, u64), Error> {
    if len <= offset || len - offset > 256 << 20 {
        return Ok((0, 0));
    }
    let mut region = alloc::vec![0u8; (len - offset) as usize];
    file.seek(SeekFrom::Start(offset)).map_err(st("seek", id))?;
    let mut done = 0;
    while done < region.len() {
        let n = file.read(&mut region[done..]).map_err(st("read", id))?;
        if n == 0 {
            return Err(Error::LogicBug("segment shorter than its reported length"));
        }
        done += n;
    }
    let (mut frames, mut records) = (0, 0);
    let mut p = 1;
    let mut payload = Vec::new();
    while p + codec::frame::HEADER_LEN <= region.len() {
        let rest = (region.len() - p - codec::frame::HEADER_LEN) as u64;
        let header = &region[p..p + codec::frame::HEADER_LEN];
        if let Ok(fh) = codec::FrameHeader::parse(header, rest) {
            let start = p + codec::frame::HEADER_LEN;
            let stored = &region[start..start + fh.len as usize];
            if codec::check_frame_crc(id, header, fh.crc, stored).is_ok() {
                let body: Option<&[u8]> = match fh.codec {
                    Codec::Raw => Some(stored),
                    Codec::Snappy => crate::compress::decompress_into(stored, &mut payload)
                        .ok()
                        .map(|n| &payload[..n]),
                };
                let mut n = 0;
                if body.is_some_and(|b| codec::for_each_entry(b, |e| n += e.len() as u64).is_ok()) {
                    frames += 1;
                    records += n;
                    p = start + fh.len as usize;
                    continue;
                }
            }
        }
        p += 1;
    }
    Ok((frames, records))
}

/// Copies `file[offset..len]` to the torn-tail sidecar and syncs it.
fn set_aside<S: Storage>(
    storage: &mut S,
    file: &mut S::File,
    id: SegmentId,
    offset: u64,
    len: u64,
) -> Result<alloc::string::String, Error> {
    use embedded_io::Read;
    let mut side = storage.create_torn(id, offset).map_err(st("create", id))?;
    file.seek(SeekFrom::Start(offset)).map_err(st("seek", id))?;
    let mut chunk = alloc::vec![0u8; 64 * 1024];
    let mut left = len - offset;
    while left > 0 {
        let want = (left as usize).min(chunk.len());
        let n = file.read(&mut chunk[..want]).map_err(st("read", id))?;
        if n == 0 {
            return Err(Error::LogicBug("segment shorter than its reported length"));
        }
        side.write_all(&chunk[..n]).map_err(st("write", id))?;
        left -= n as u64;
    }
    side.sync().map_err(st("sync", id))?;
    Ok(segment::torn_file_name(id, offset))
}

/// The entries of one segment, read a frame at a time. Each frame is checked
/// whole (CRC, codec, every entry) before any of its entries is returned.
pub struct SegmentReader<F> {
    scanner: FrameScanner<F>,
    /// Entries of the current frame not yet returned.
    pending: alloc::collections::VecDeque<Entry>,
    done: bool,
}

impl<F: SegmentFile> SegmentReader<F> {
    /// Reads segment `id` from `file`, up to `limit` bytes when given.
    pub fn new(id: SegmentId, file: F, limit: Option<u64>) -> Result<Self, Error> {
        match FrameScanner::new(id, file, limit)? {
            Ok(scanner) => Ok(SegmentReader {
                scanner: scanner.with_timestamps(false),
                pending: Default::default(),
                done: false,
            }),
            Err(Invalid { offset, reason }) => Err(Error::Corrupt {
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

    /// Calls `f` on every entry of the next frame, without copying values.
    /// Returns `Ok(false)` at the end of the segment.
    pub fn next_frame_with(
        &mut self,
        mut f: impl FnMut(codec::EntryRef<'_>),
    ) -> Result<bool, Error> {
        if self.done {
            return Ok(false);
        }
        let id = self.scanner.id();
        match self.scanner.next_frame() {
            Ok(Ok(Some(frame))) => {
                frame.entries().for_each(&mut f);
                Ok(true)
            }
            Ok(Ok(None)) => {
                self.done = true;
                Ok(false)
            }
            Ok(Err(Invalid { offset, reason })) => {
                self.done = true;
                if self.scanner.rest_is_zero()? {
                    return Ok(false);
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
