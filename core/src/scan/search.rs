//! Looking for valid frames inside bytes that are not a valid log: the
//! evidence that tells a torn write (none can follow it) from damage in the
//! middle of the log (valid, acknowledged frames follow it).
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
