//! What open does with the newest segment (FORMAT.md, "Validity and
//! recovery"), and the report of what it found and cut. Older segments are
//! never read at open.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use embedded_io::{Seek, SeekFrom, Write};

use crate::compress::decompress_into;
use crate::config::RecoveryMode;
use crate::error::{storage_err, Error};
use crate::format::{entry, frame, header, Codec, Corruption, FileName, FrameHeader, SegmentId};
use crate::scan::{read_exact, FrameScanner, Invalid};
use crate::storage::{write_header, SegmentFile, Storage};
use crate::summary::SegmentInfo;

/// The newest segment as recovery left it: its file, positioned at the end
/// of its log, and what the log holds.
pub(crate) struct Recovered<F> {
    pub(crate) file: F,
    pub(crate) info: SegmentInfo,
}

/// Recovers the newest segment: scans it to the end of its log and sets
/// aside whatever non-zero bytes follow.
pub(crate) fn recover_newest<S: Storage>(
    storage: &mut S,
    id: SegmentId,
    mode: RecoveryMode,
    report: &mut RecoveryReport,
) -> Result<Recovered<S::File>, Error> {
    let file = storage
        .open(FileName::Segment(id))
        .map_err(storage_err("open", id))?;
    let mut info = SegmentInfo::empty(id);
    let (mut file, stop) = match FrameScanner::new(id, file, None)? {
        Err(Invalid { reason, .. }) if !header::may_be_torn(&reason) => {
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
            let file = storage
                .open(FileName::Segment(id))
                .map_err(storage_err("open", id))?;
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
    let len = file.len().map_err(storage_err("len", id))?;
    if let Some((Invalid { offset, reason }, zeros)) = stop {
        if zeros {
            // Reserved space, not damage: release it.
            file.truncate(offset).map_err(storage_err("truncate", id))?;
            file.sync().map_err(storage_err("sync", id))?;
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
            file.truncate(offset).map_err(storage_err("truncate", id))?;
            file.sync().map_err(storage_err("sync", id))?;
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
            file.truncate(0).map_err(storage_err("truncate", id))?;
            file.seek(SeekFrom::Start(0))
                .map_err(storage_err("seek", id))?;
            write_header(&mut file, id)?;
            info = SegmentInfo::empty(id);
        }
    }
    // What recovery accepts must not vanish in a later power cut: frames
    // written before a crash but never synced (so never acknowledged) are
    // made durable now, before anyone can read them.
    file.sync().map_err(storage_err("sync", id))?;
    file.seek(SeekFrom::Start(info.bytes))
        .map_err(storage_err("seek", id))?;
    Ok(Recovered { file, info })
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
    file.seek(SeekFrom::Start(offset))
        .map_err(storage_err("seek", id))?;
    read_exact(file, id, &mut region)?;
    let (mut frames, mut records) = (0, 0);
    let mut p = 1;
    let mut payload = Vec::new();
    while p + frame::HEADER_LEN <= region.len() {
        let rest = (region.len() - p - frame::HEADER_LEN) as u64;
        let header = &region[p..p + frame::HEADER_LEN];
        if let Ok(fh) = FrameHeader::parse(header, rest) {
            let start = p + frame::HEADER_LEN;
            let stored = &region[start..start + fh.len as usize];
            if frame::check_crc(id, header, fh.crc, stored).is_ok() {
                let body: Option<&[u8]> = match fh.codec {
                    Codec::Raw => Some(stored),
                    Codec::Snappy => decompress_into(stored, &mut payload)
                        .ok()
                        .map(|n| &payload[..n]),
                };
                let mut n = 0;
                if body.is_some_and(|b| entry::for_each(b, |e| n += e.len() as u64).is_ok()) {
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
    let name = FileName::TornTail(id, offset);
    // Until sidecar names carry a suffix, an earlier sidecar of this name
    // is replaced, as it always was.
    if storage
        .list()
        .map_err(storage_err("list", id))?
        .contains(&name)
    {
        storage.remove(name).map_err(storage_err("remove", id))?;
    }
    let mut side = storage.create(name).map_err(storage_err("create", id))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(storage_err("seek", id))?;
    let mut chunk = alloc::vec![0u8; 64 * 1024];
    let mut left = len - offset;
    while left > 0 {
        let want = (left as usize).min(chunk.len());
        read_exact(file, id, &mut chunk[..want])?;
        side.write_all(&chunk[..want])
            .map_err(storage_err("write", id))?;
        left -= want as u64;
    }
    side.sync().map_err(storage_err("sync", id))?;
    Ok(name.to_string())
}

/// The report open returns: what it found and what it cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files found at open.
    pub segments_found: usize,
    /// The oldest segment present after open.
    pub first_segment: SegmentId,
    /// The segment new frames go to (the newest).
    pub active_segment: SegmentId,
    /// Whether open created the active segment (the directory was empty).
    pub created: bool,
    /// Valid frames in the active segment.
    pub frames: u64,
    /// Records in those frames.
    pub records: u64,
    /// Bytes of the active segment's log (header and valid frames).
    pub bytes: u64,
    /// The torn tail set aside, if there was one.
    pub cut: Option<TornTail>,
    /// Zero bytes of reserved space released after the last frame.
    pub released_zero_bytes: u64,
}

/// A torn tail cut from the newest segment at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment it was cut from.
    pub segment: SegmentId,
    /// Where the segment's log ended (the cut).
    pub offset: u64,
    /// How many bytes were cut.
    pub bytes: u64,
    /// Why the bytes at `offset` are not a valid frame (or header).
    pub reason: Corruption,
    /// The sidecar file that keeps the cut bytes (empty when there were none
    /// to keep, i.e. an empty segment file with no header).
    pub sidecar: String,
    /// Valid frames found *inside* the cut bytes (for the segment, CRC and
    /// entries checked). A torn write leaves none: any here means the log
    /// was damaged in the middle, and records that may have been
    /// acknowledged are in the sidecar, not in the WAL.
    pub frames_after: u64,
    /// Records in those frames.
    pub records_after: u64,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            write!(
                f,
                "new WAL: created {}",
                FileName::Segment(self.active_segment)
            )?;
        } else {
            write!(
                f,
                "recovered {} segment(s) ({}..={}); active {} holds {} frame(s), {} record(s), {} bytes",
                self.segments_found,
                self.first_segment,
                self.active_segment,
                FileName::Segment(self.active_segment),
                self.frames,
                self.records,
                self.bytes
            )?;
        }
        match &self.cut {
            None => f.write_str("; nothing cut")?,
            Some(t) => {
                write!(
                    f,
                    "; cut a torn tail of {} byte(s) at offset {} of {} ({})",
                    t.bytes,
                    t.offset,
                    FileName::Segment(t.segment),
                    t.reason
                )?;
                if !t.sidecar.is_empty() {
                    write!(f, ", kept in {}", t.sidecar)?;
                }
                if t.frames_after > 0 {
                    write!(
                        f,
                        "; WARNING: {} valid frame(s) with {} record(s) follow the damage inside the cut bytes: \
                         this is damage in the middle of the log, not a torn write, and those records are \
                         only in the sidecar",
                        t.frames_after, t.records_after
                    )?;
                }
            }
        }
        if self.released_zero_bytes > 0 {
            write!(
                f,
                "; released {} byte(s) of reserved zero space",
                self.released_zero_bytes
            )?;
        }
        Ok(())
    }
}
