//! Looking for valid frames inside bytes that are not a valid log: the
//! evidence that tells a torn write (none can follow it) from damage in the
//! middle of the log (valid, acknowledged frames follow it); and, when some
//! do follow, whether a power cut can have left them ([`lost_writes`]).
//!
//! Every byte position is tried, since the damage may have any length. A
//! frame counts only when its header parses, its length fits, its CRC
//! (seeded with the segment ID) matches and its payload decodes, so a false
//! find needs a 32-bit CRC collision at a position whose header parses.
//! Memory is one window: 1 MiB, or one frame when larger, never more than
//! the longest frame accepted.

use alloc::vec::Vec;

use embedded_io::SeekFrom;

use super::read_exact;
use crate::compress::decompress_into;
use crate::error::{storage_err, Error};
use crate::format::{entry, frame, Codec, FrameHeader, SegmentId};
use crate::storage::SegmentFile;

/// A valid frame found by [`find_frames`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Its offset in the file.
    pub(crate) offset: u64,
    /// Its length, header included.
    pub(crate) len: u64,
    /// Records it holds.
    pub(crate) records: u64,
}

/// Bytes read at a time.
const WINDOW: usize = 1 << 20;

/// The valid frames of segment `id` in `file[from..end]`, in order, found
/// at any byte position (after a frame, the search goes on right behind it).
/// Frames longer than `max_frame` are not frames.
pub(crate) fn find_frames<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    from: u64,
    end: u64,
    max_frame: u64,
) -> Result<Vec<Found>, Error> {
    let mut window = Window {
        bytes: Vec::new(),
        start: 0,
    };
    let mut payload = Vec::new();
    let mut found = Vec::new();
    let mut p = from;
    let header_len = frame::HEADER_LEN as u64;
    while p + header_len <= end {
        let header = window.get(file, id, p, header_len, end)?;
        let mut hb = [0u8; frame::HEADER_LEN];
        hb.copy_from_slice(header);
        let rest = end - p - header_len;
        let Ok(fh) = FrameHeader::parse_at_most(&hb, rest, max_frame) else {
            p += 1;
            continue;
        };
        let whole = window.get(file, id, p, header_len + fh.len, end)?;
        let stored = &whole[frame::HEADER_LEN..];
        let mut records = 0u64;
        let valid = frame::check_crc(id, &hb, fh.crc, stored).is_ok() && {
            let body = match fh.codec {
                Codec::Raw => Some(stored),
                Codec::Snappy => decompress_into(stored, &mut payload, max_frame)
                    .ok()
                    .map(|n| &payload[..n]),
            };
            body.is_some_and(|b| entry::for_each(b, |e| records += e.len() as u64).is_ok())
        };
        if valid {
            found.push(Found {
                offset: p,
                len: header_len + fh.len,
                records,
            });
            p += header_len + fh.len;
        } else {
            p += 1;
        }
    }
    Ok(found)
}

/// The unit a disk writes whole or not at all: a 512-byte sector (a 4 KiB
/// block is eight of them).
pub(crate) const SECTOR: u64 = 512;

/// Whether the damage from `offset` (the end of the log, past the header)
/// to the frames `found` after it can be the work of a power cut, which is
/// then what open treats it as: a torn tail.
///
/// Since the last sync the WAL has written frames only at the end of the
/// log, over synced zeros (its reserve) or past the synced end of the file,
/// and it acknowledges a frame only after a sync that covers every byte
/// before it. A power cut may keep any of the sectors written since the
/// last sync and lose the others, which then read as zeros. So a valid
/// frame can follow damage after a power cut only if it was written after
/// the last sync (never acknowledged), and then every stretch of damage in
/// front of a valid frame holds a lost sector: a piece of it that ends at a
/// sector boundary of the file, starts at the next (or where the stretch
/// starts), and is all zeros. The piece that ends a stretch where a frame
/// starts is no evidence: that sector holds the frame's CRC, so it reached
/// the media. Damage the media did (a bit flip, garbage, a foreign
/// overwrite) leaves no such zeros and is still refused; a frame whose own
/// data holds a whole sector of zeros, damaged elsewhere, would be taken
/// for a torn write (cut, kept in the sidecar, reported), as etcd's WAL
/// decides for its last record. The rule assumes the log is not written
/// over anything but zeros: a host that reused old segment files would
/// have to zero them first.
pub(crate) fn lost_writes<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    offset: u64,
    found: &[Found],
) -> Result<bool, Error> {
    let mut from = offset;
    for f in found {
        if f.offset > from && !holds_lost_sector(file, id, from, f.offset)? {
            return Ok(false);
        }
        from = f.offset + f.len;
    }
    Ok(true)
}

/// Whether `file[from..to]` holds a run of zeros from a sector boundary (or
/// `from`) to the next sector boundary, at or before `to`.
fn holds_lost_sector<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    from: u64,
    to: u64,
) -> Result<bool, Error> {
    let mut sector = [0u8; SECTOR as usize];
    let mut start = from;
    loop {
        let end = (start / SECTOR + 1) * SECTOR;
        if end > to {
            return Ok(false);
        }
        let piece = &mut sector[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .map_err(storage_err("seek", id))?;
        read_exact(file, id, piece)?;
        if piece.iter().all(|&b| b == 0) {
            return Ok(true);
        }
        start = end;
    }
}

/// A read-ahead window over the file: bytes `[start, start + bytes.len())`.
struct Window {
    bytes: Vec<u8>,
    start: u64,
}

impl Window {
    /// File bytes `[at, at + len)`, which the caller has checked lie before
    /// `end`; reads a new window from `at` when they are not all held.
    fn get<F: SegmentFile>(
        &mut self,
        file: &mut F,
        id: SegmentId,
        at: u64,
        len: u64,
        end: u64,
    ) -> Result<&[u8], Error> {
        let held = self.start + self.bytes.len() as u64;
        if at < self.start || at + len > held {
            // `len` is at most a header plus the longest frame accepted.
            let want = len.max(WINDOW as u64).min(end - at) as usize;
            self.bytes.resize(want, 0);
            file.seek(SeekFrom::Start(at))
                .map_err(storage_err("seek", id))?;
            read_exact(file, id, &mut self.bytes)?;
            self.start = at;
        }
        let from = (at - self.start) as usize;
        Ok(&self.bytes[from..from + len as usize])
    }
}
