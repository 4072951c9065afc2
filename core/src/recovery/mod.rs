//! What open does with the newest segment (FORMAT.md, "Validity and
//! recovery"), and the report of what it found and set aside. Older
//! segments are never read at open.
//!
//! A torn write can only damage the end of the log: the bytes of the last
//! writes, never synced, so never acknowledged. So open cuts bytes only
//! when no valid frame follows them, or when the frames that follow can only
//! have been written after blocks a power cut lost (a zero sector in front
//! of each: see `scan::search::lost_writes`), after copying them to a
//! sidecar that is never overwritten. Other damage with valid frames after
//! it is not a torn write: open refuses ([`Error::Damaged`]) and changes
//! nothing, unless the caller asked to salvage, which keeps every valid
//! frame.

mod recycled;
mod report;

pub use report::{RecoveryReport, Salvaged, TornTail};

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use embedded_io::{Seek, SeekFrom, Write};

use crate::config::RecoveryMode;
use crate::error::{storage_err, Error};
use crate::format::{header, Corruption, FileName, SegmentId};
use crate::scan::search::{find_frames, lost_writes, Found};
use crate::scan::{all_zero, read_exact, FrameScanner, Invalid};
use crate::storage::{write_header, SegmentFile, Storage};
use crate::summary::SegmentInfo;

/// The newest segment as recovery left it: its file, positioned at the end
/// of its log, and what the log holds.
pub(crate) struct Recovered<F> {
    pub(crate) file: F,
    pub(crate) info: SegmentInfo,
    /// For a recycled segment, the file's length (stale bytes past the
    /// log stay: FORMAT.md, "Recycled segments").
    pub(crate) recycled: Option<u64>,
}

/// Bytes copied at a time.
const CHUNK: usize = 64 * 1024;

/// Recovers the newest segment `id` in `mode`, accepting frames of at most
/// `max_frame` bytes; says what it did in `report`. Then syncs the
/// directory: the newest segment may have been created by a run that
/// stopped before it synced its name (a failed rotation, then a restart
/// without a power cut), and frames are about to be acknowledged in it.
pub(crate) fn recover_newest<S: Storage>(
    storage: &mut S,
    id: SegmentId,
    mode: RecoveryMode,
    (max_frame, max_written): (u64, u64),
    report: &mut RecoveryReport,
) -> Result<Recovered<S::File>, Error> {
    let recovered = recover(storage, id, mode, (max_frame, max_written), report)?;
    storage
        .sync_dir()
        .map_err(storage_err("sync directory", id))?;
    Ok(recovered)
}

fn recover<S: Storage>(
    storage: &mut S,
    id: SegmentId,
    mode: RecoveryMode,
    (max_frame, max_written): (u64, u64),
    report: &mut RecoveryReport,
) -> Result<Recovered<S::File>, Error> {
    let mut file = storage
        .open(FileName::Segment(id))
        .map_err(storage_err("open", id))?;
    let len = file.len().map_err(storage_err("len", id))?;
    if never_written(&mut file, id, len)? {
        // A crash in the middle of a rotation: the new segment was created
        // but its header never reached the media. It holds no data.
        start_over(&mut file, id)?;
        report.restarted = true;
        return finish(file, SegmentInfo::empty(id));
    }
    let mut head = [0u8; header::LEN];
    let got = len.min(header::LEN as u64) as usize;
    file.seek(SeekFrom::Start(0))
        .map_err(storage_err("seek", id))?;
    read_exact(&mut file, id, &mut head[..got])?;
    let file = match recycled::restart_stale_header(file, id, &head[..got], len, report)? {
        Ok(restarted) => return Ok(restarted),
        Err(file) => file,
    };
    let recycled = header::check(&head[..got], id).is_ok_and(|h| h.recycled_from.is_some());
    let (mut file, info, stop) = scan(file, id, max_frame)?;
    let Some(Invalid { offset, reason }) = stop else {
        return match recycled {
            true => finish_recycled(file, info, len),
            false => finish(file, info),
        };
    };
    let foreign_header = offset == 0 && !header::may_be_torn(&reason);
    let unreadable = matches!(
        reason,
        Corruption::FrameTooLong { .. } | Corruption::SnappyUnavailable
    );
    if foreign_header || unreadable {
        // A whole header (its CRC matches) that is not ours: another
        // version, unknown flags, or a file renamed from another ID. Or a
        // frame longer than this configuration accepts, which a torn write
        // cannot make (its length field is written whole or not at all) but
        // a larger `file_size` may have. Or a snappy frame in a build
        // without snappy, which may well be valid. Never "repaired",
        // whatever the mode.
        return Err(Error::Corrupt {
            segment: id,
            offset,
            reason,
        });
    }
    if is_zero(&mut file, id, offset, len)? {
        // Reserved space, not damage: release it.
        file.truncate(offset).map_err(storage_err("truncate", id))?;
        report.released_zero_bytes = len - offset;
        return finish(file, info);
    }
    // Frames can only start after the header.
    let from = (offset + 1).max(header::LEN as u64);
    let after = find_frames(&mut file, id, from, len, max_frame)?;
    if recycled && after.is_empty() && mode != RecoveryMode::Strict {
        return recycled::recycled_tail(
            storage,
            file,
            id,
            offset,
            len,
            reason,
            max_written,
            info,
            report,
        );
    }
    // A torn write: nothing valid follows the end of the log, or only frames
    // written after writes a power cut lost (never acknowledged). Salvage
    // keeps those too.
    let torn = after.is_empty()
        || (mode != RecoveryMode::Salvage
            && offset >= header::LEN as u64
            && lost_writes(&mut file, id, offset, &after)?);
    if torn {
        if mode == RecoveryMode::Strict {
            return Err(Error::Corrupt {
                segment: id,
                offset,
                reason,
            });
        }
        let sidecar = set_aside(storage, &mut file, id, offset, len)?;
        cut(&mut file, id, offset)?;
        report.cut = Some(TornTail {
            segment: id,
            offset,
            bytes: len - offset,
            reason,
            sidecar,
            frames_after: after.len() as u64,
            records_after: after.iter().map(|f| f.records).sum(),
        });
        let info = if offset == 0 {
            SegmentInfo::empty(id)
        } else {
            info
        };
        return finish(file, info);
    }
    if mode != RecoveryMode::Salvage {
        return Err(Error::Damaged {
            segment: id,
            offset,
            reason,
            frames_after: after.len() as u64,
            records_after: after.iter().map(|f| f.records).sum(),
        });
    }
    let sidecar = set_aside(storage, &mut file, id, offset, len)?;
    let lost = compact(&mut file, id, offset, len, &after)?;
    report.salvaged = Some(Salvaged {
        segment: id,
        offset,
        reason,
        sidecar,
        frames_kept: after.len() as u64,
        records_kept: after.iter().map(|f| f.records).sum(),
        lost,
    });
    // The segment now ends with its last kept frame: scan it again for its
    // summary (and to check that it does).
    let (file, info, stop) = scan(file, id, max_frame)?;
    match stop {
        None => finish(file, info),
        Some(_) => Err(Error::LogicBug("a salvaged segment does not scan clean")),
    }
}

/// Scans segment `id` from its header to the end of its log. Returns the
/// file, what the log holds, and where and why it stopped before the end
/// of the file (offset 0 for a bad header).
fn scan<F: SegmentFile>(
    file: F,
    id: SegmentId,
    max_frame: u64,
) -> Result<(F, SegmentInfo, Option<Invalid>), Error> {
    let mut info = SegmentInfo::empty(id);
    let mut scanner = match FrameScanner::new(id, file, None)? {
        Ok(s) => s.with_max_frame(max_frame),
        Err((inv, file)) => return Ok((file, SegmentInfo { bytes: 0, ..info }, Some(inv))),
    };
    let stop = loop {
        match scanner.next_frame()? {
            Ok(Some(f)) => info.add_frame(f.codec, f.stored_len, &f.stats),
            Ok(None) => break None,
            Err(inv) => break Some(inv),
        }
    };
    Ok((scanner.into_file(), info, stop))
}

/// Makes what recovery accepted durable, and positions the file at the end
/// of the log. Frames written before a crash but never synced (so never
/// acknowledged) must not vanish in a later power cut once a reader has
/// seen them.
fn finish<F: SegmentFile>(mut file: F, info: SegmentInfo) -> Result<Recovered<F>, Error> {
    let id = info.id;
    file.sync().map_err(storage_err("sync", id))?;
    file.seek(SeekFrom::Start(info.bytes))
        .map_err(storage_err("seek", id))?;
    Ok(Recovered {
        file,
        info,
        recycled: None,
    })
}

/// As [`finish`], for a recycled segment whose file is `len` bytes long.
fn finish_recycled<F: SegmentFile>(
    file: F,
    info: SegmentInfo,
    len: u64,
) -> Result<Recovered<F>, Error> {
    let mut r = finish(file, info)?;
    r.recycled = Some(len);
    Ok(r)
}

/// Whether segment `id` was never written: it holds at most its header's
/// first bytes (as created, possibly torn), then only zeros.
fn never_written<F: SegmentFile>(file: &mut F, id: SegmentId, len: u64) -> Result<bool, Error> {
    let expected = header::encode(id);
    let head = len.min(header::LEN as u64) as usize;
    let mut bytes = [0u8; header::LEN];
    file.seek(SeekFrom::Start(0))
        .map_err(storage_err("seek", id))?;
    read_exact(file, id, &mut bytes[..head])?;
    // The header's bytes up to the first that differs, then zeros.
    let written = bytes[..head]
        .iter()
        .zip(&expected)
        .take_while(|(a, b)| a == b)
        .count();
    if head == header::LEN && written == header::LEN {
        return Ok(false); // a whole header: written
    }
    if bytes[written..head].iter().any(|&b| b != 0) {
        return Ok(false);
    }
    is_zero(file, id, head as u64, len)
}

/// Whether `file[from..end]` holds only zero bytes.
fn is_zero<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    from: u64,
    end: u64,
) -> Result<bool, Error> {
    file.seek(SeekFrom::Start(from))
        .map_err(storage_err("seek", id))?;
    let mut chunk = alloc::vec![0u8; CHUNK];
    let mut left = end.saturating_sub(from);
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        read_exact(file, id, &mut chunk[..n])?;
        if !all_zero(&chunk[..n]) {
            return Ok(false);
        }
        left -= n as u64;
    }
    Ok(true)
}

/// Truncates the segment to `offset` (starting it over with a fresh header
/// when that cuts into the header).
fn cut<F: SegmentFile>(file: &mut F, id: SegmentId, offset: u64) -> Result<(), Error> {
    if offset < header::LEN as u64 {
        return start_over(file, id);
    }
    file.truncate(offset).map_err(storage_err("truncate", id))
}

/// Empties segment `id` and writes its header again (synced).
fn start_over<F: SegmentFile>(file: &mut F, id: SegmentId) -> Result<(), Error> {
    file.truncate(0).map_err(storage_err("truncate", id))?;
    file.seek(SeekFrom::Start(0))
        .map_err(storage_err("seek", id))?;
    write_header(file, id)
}

/// Copies `file[offset..len]` to a new sidecar (the first free copy number
/// for this offset: an earlier sidecar is never overwritten), syncs it and
/// the directory, so that the sidecar survives a power loss before the
/// segment is cut. Returns the sidecar's name.
fn set_aside<S: Storage>(
    storage: &mut S,
    file: &mut S::File,
    id: SegmentId,
    offset: u64,
    len: u64,
) -> Result<String, Error> {
    let taken: Vec<FileName> = storage.list().map_err(storage_err("list", id))?;
    let name = (0..=u32::MAX)
        .map(|copy| FileName::TornTail {
            segment: id,
            offset,
            copy,
        })
        .find(|n| !taken.contains(n))
        .ok_or(Error::LogicBug(
            "every sidecar name for this offset is taken",
        ))?;
    let mut side = storage.create(name).map_err(storage_err("create", id))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(storage_err("seek", id))?;
    let mut chunk = alloc::vec![0u8; CHUNK];
    let mut left = len - offset;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        read_exact(file, id, &mut chunk[..n])?;
        side.write_all(&chunk[..n])
            .map_err(storage_err("write", id))?;
        left -= n as u64;
    }
    side.sync().map_err(storage_err("sync", id))?;
    storage
        .sync_dir()
        .map_err(storage_err("sync directory", id))?;
    Ok(name.to_string())
}

/// Moves the frames `kept` (found after the damage at `offset`, in order)
/// up to `offset` (behind a fresh header when the damage is in the header),
/// back to back, and cuts the file after them. The bytes they came from are
/// in the sidecar already, so a crash in the middle loses nothing. Returns
/// the byte ranges of the original file that held no kept frame.
fn compact<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    offset: u64,
    len: u64,
    kept: &[Found],
) -> Result<Vec<(u64, u64)>, Error> {
    let mut lost = Vec::new();
    let mut seen = offset;
    let mut dest = offset;
    if offset < header::LEN as u64 {
        file.seek(SeekFrom::Start(0))
            .map_err(storage_err("seek", id))?;
        file.write_all(&header::encode(id))
            .map_err(storage_err("write", id))?;
        dest = header::LEN as u64;
    }
    let mut chunk = alloc::vec![0u8; CHUNK];
    for f in kept {
        if f.offset > seen {
            lost.push((seen, f.offset - seen));
        }
        // Forward copy to a lower offset: each chunk is read before the
        // write that follows it can reach bytes not yet read.
        let mut done = 0;
        while done < f.len {
            let n = (f.len - done).min(CHUNK as u64) as usize;
            file.seek(SeekFrom::Start(f.offset + done))
                .map_err(storage_err("seek", id))?;
            read_exact(file, id, &mut chunk[..n])?;
            file.seek(SeekFrom::Start(dest + done))
                .map_err(storage_err("seek", id))?;
            file.write_all(&chunk[..n])
                .map_err(storage_err("write", id))?;
            done += n as u64;
        }
        dest += f.len;
        seen = f.offset + f.len;
    }
    if len > seen {
        lost.push((seen, len - seen));
    }
    file.truncate(dest).map_err(storage_err("truncate", id))?;
    file.sync().map_err(storage_err("sync", id))?;
    Ok(lost)
}
