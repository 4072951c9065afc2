//! Reading a segment's frames: the scanner every reader goes through, the
//! whole-segment check behind `info`, and the read-only inspection behind
//! the tools. Each frame is checked completely (CRC, codec, every entry)
//! before it is handed out.

pub(crate) mod search;

use alloc::vec::Vec;

use embedded_io::{ReadExactError, SeekFrom};

use crate::compress::decompress_into;
use crate::error::{storage_err, Error};
use crate::format::{entry, frame, header, Codec, Corruption, EntryRef, FrameHeader, SegmentId};
use crate::storage::SegmentFile;
use crate::summary::{FrameStats, SegmentInfo};

/// Reads one segment frame by frame, checking each completely (CRC, codec,
/// every entry) before handing it out. Reads ahead in windows of 256 KiB (or
/// one frame, when larger), so memory holds about one window at a time.
pub struct FrameScanner<F> {
    id: SegmentId,
    file: F,
    offset: u64,
    end: u64,
    /// Read-ahead window: file bytes `[win_start, win_start + win_len)`.
    win: Vec<u8>,
    win_start: u64,
    win_len: usize,
    /// Decompressed payloads (kept at its largest size, so it is not
    /// zeroed again for every frame).
    payload: Vec<u8>,
    /// Whether frame stats include the smallest and largest timestamps.
    timestamps: bool,
    /// The longest frame payload accepted (stored or decompressed).
    max_frame: u64,
}

/// Bytes read ahead at a time.
const READ_AHEAD: usize = 256 * 1024;

/// Where a scan stopped, when it stopped before the end of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// Offset of the first invalid frame (the end of the log).
    pub offset: u64,
    /// What is wrong there.
    pub reason: Corruption,
}

/// One checked frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// Offset of the frame in the segment file.
    pub offset: u64,
    /// How the payload was stored.
    pub codec: Codec,
    /// Stored payload length.
    pub stored_len: u64,
    /// The decompressed payload (checked entries, back to back).
    pub payload: &'a [u8],
    /// What the frame holds.
    pub stats: FrameStats,
}

impl<'a> Frame<'a> {
    /// The frame's entries, in order (already checked, so this yields them all).
    pub fn entries(&self) -> entry::Entries<'a> {
        entry::checked_entries(self.payload)
    }

    /// Offset just past the frame.
    pub fn end(&self) -> u64 {
        self.offset + frame::HEADER_LEN as u64 + self.stored_len
    }
}

/// Whether every byte of `bytes` is zero. Compares the bytes with
/// themselves one byte on, which is a `memcmp` (fast in every build
/// profile, where a byte loop in a debug build checked 5 GiB of reserved
/// zeros at about 4 s a GiB) and needs no buffer of zeros kept in memory:
/// every byte equals the one before it, and the first is zero.
pub(crate) fn all_zero(bytes: &[u8]) -> bool {
    match bytes.split_first() {
        None => true,
        Some((&first, _)) => first == 0 && bytes[1..] == bytes[..bytes.len() - 1],
    }
}

/// The error of a read that found the file shorter than it said it was: a
/// bug for a file nobody else changes, but a live writer's newest segment
/// may be cut (its reserved zeros released) while a follower reads it.
pub(crate) const FILE_SHRANK: &str = "file shorter than its reported length";

/// Fills `buf` from `file`'s current position. The file ending first is a
/// bug (callers read only below a length the file reported), not corruption.
pub(crate) fn read_exact<F: SegmentFile>(
    file: &mut F,
    id: SegmentId,
    buf: &mut [u8],
) -> Result<(), Error> {
    file.read_exact(buf).map_err(|e| match e {
        ReadExactError::UnexpectedEof => Error::LogicBug(FILE_SHRANK),
        ReadExactError::Other(e) => Error::storage("read", Some(id), e),
    })
}

impl<F: SegmentFile> FrameScanner<F> {
    /// Starts scanning segment `id` in `file`, reading no further than
    /// `limit` bytes (the whole file when `None`). Checks the header first:
    /// an invalid header is `Err((Invalid { offset: 0, .. }, file))` inside
    /// `Ok`, giving the file back.
    #[allow(clippy::type_complexity)]
    pub fn new(
        id: SegmentId,
        mut file: F,
        limit: Option<u64>,
    ) -> Result<Result<Self, (Invalid, F)>, Error> {
        let len = file.len().map_err(storage_err("len", id))?;
        let end = limit.map_or(len, |l| l.min(len));
        file.seek(SeekFrom::Start(0))
            .map_err(storage_err("seek", id))?;
        let mut h = [0u8; header::LEN];
        let got = end.min(header::LEN as u64) as usize;
        read_exact(&mut file, id, &mut h[..got])?;
        if let Err(reason) = header::check(&h[..got], id) {
            return Ok(Err((Invalid { offset: 0, reason }, file)));
        }
        Ok(Ok(FrameScanner {
            id,
            file,
            offset: header::LEN as u64,
            end,
            win: Vec::new(),
            win_start: 0,
            win_len: 0,
            payload: Vec::new(),
            timestamps: true,
            max_frame: frame::MAX_PAYLOAD_LEN,
        }))
    }

    /// Whether frame stats include the smallest and largest timestamps (on
    /// by default; readers that only want the records turn it off).
    pub fn with_timestamps(mut self, on: bool) -> Self {
        self.timestamps = on;
        self
    }

    /// Accepts frames of at most `max` payload bytes (stored or
    /// decompressed; [`frame::MAX_PAYLOAD_LEN`] by default): a longer one is
    /// [`Corruption::FrameTooLong`], found before anything is allocated for
    /// it. The WAL passes [`crate::Config::max_frame_len`].
    pub fn with_max_frame(mut self, max: u64) -> Self {
        self.max_frame = max;
        self
    }

    /// Makes the window hold file bytes `[offset, offset + len)`, which the
    /// caller has checked lie before `end`.
    fn load(&mut self, offset: u64, len: usize) -> Result<(), Error> {
        let have =
            offset >= self.win_start && offset + len as u64 <= self.win_start + self.win_len as u64;
        if have {
            return Ok(());
        }
        let want = (len.max(READ_AHEAD) as u64).min(self.end - offset) as usize;
        if self.win.len() < want {
            self.win.resize(want, 0);
        }
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(storage_err("seek", self.id))?;
        read_exact(&mut self.file, self.id, &mut self.win[..want])?;
        self.win_start = offset;
        self.win_len = want;
        Ok(())
    }

    /// The segment being scanned.
    pub fn id(&self) -> SegmentId {
        self.id
    }

    /// Offset of the next frame (after the last one returned).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Moves the scan to `offset` (a frame's start, from a [`crate::Position`]):
    /// the next frame is read there. `false` (and no move) when `offset` is
    /// inside the header or past where the scan stops.
    pub fn seek_frame(&mut self, offset: u64) -> bool {
        if offset < header::LEN as u64 || offset > self.end {
            return false;
        }
        self.offset = offset;
        true
    }

    /// Where the scan stops reading.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The next frame: `Ok(Ok(Some))`, `Ok(Ok(None))` at the end, or
    /// `Ok(Err(Invalid))` when the bytes at the current offset are not a valid
    /// frame (the scanner stays there). `Err` is a storage failure.
    pub fn next_frame(&mut self) -> Result<Result<Option<Frame<'_>>, Invalid>, Error> {
        let remaining = self.end - self.offset;
        if remaining == 0 {
            return Ok(Ok(None));
        }
        let invalid = |offset, reason| Ok(Err(Invalid { offset, reason }));
        if remaining < frame::HEADER_LEN as u64 {
            return invalid(self.offset, Corruption::FrameHeaderTruncated { remaining });
        }
        self.load(self.offset, frame::HEADER_LEN)?;
        let at = (self.offset - self.win_start) as usize;
        let mut hb = [0u8; frame::HEADER_LEN];
        hb.copy_from_slice(&self.win[at..at + frame::HEADER_LEN]);
        let rest = remaining - frame::HEADER_LEN as u64;
        let fh = match FrameHeader::parse_at_most(&hb, rest, self.max_frame) {
            Ok(h) => h,
            Err(reason) => return invalid(self.offset, reason),
        };
        // `len` fits in the bytes that remain, so the window is backed by the file.
        let total = frame::HEADER_LEN + fh.len as usize;
        self.load(self.offset, total)?;
        let at = (self.offset - self.win_start) as usize;
        let stored = &self.win[at + frame::HEADER_LEN..at + total];
        if let Err(reason) = frame::check_crc(self.id, &hb, fh.crc, stored) {
            return invalid(self.offset, reason);
        }
        let payload: &[u8] = match fh.codec {
            Codec::Raw => stored,
            Codec::Snappy => match decompress_into(stored, &mut self.payload, self.max_frame) {
                Ok(n) => &self.payload[..n],
                Err(reason) => return invalid(self.offset, reason),
            },
        };
        let mut stats = FrameStats {
            payload_bytes: payload.len() as u64,
            ..Default::default()
        };
        let timestamps = self.timestamps;
        let checked = entry::for_each(payload, |e| {
            if timestamps {
                stats.add_entry(&e)
            } else {
                stats.entries += 1;
                stats.records += e.len() as u64;
            }
        });
        if let Err(reason) = checked {
            return invalid(self.offset, reason);
        }
        let offset = self.offset;
        self.offset += total as u64;
        Ok(Ok(Some(Frame {
            offset,
            codec: fh.codec,
            stored_len: fh.len,
            payload,
            stats,
        })))
    }

    /// Whether every byte from the current offset to the end is zero (unused
    /// reserved space rather than damage).
    pub fn rest_is_zero(&mut self) -> Result<bool, Error> {
        self.file
            .seek(SeekFrom::Start(self.offset))
            .map_err(storage_err("seek", self.id))?;
        let mut left = self.end - self.offset;
        let mut chunk = alloc::vec![0u8; 64 * 1024];
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            read_exact(&mut self.file, self.id, &mut chunk[..n])?;
            if !all_zero(&chunk[..n]) {
                return Ok(false);
            }
            left -= n as u64;
        }
        Ok(true)
    }

    /// Gives the file back.
    pub fn into_file(self) -> F {
        self.file
    }
}

/// Scans a whole segment that is not being written (frames of at most
/// `max_frame` bytes): every frame must be valid, and anything after the last frame must be zeros. Returns its
/// summary, or the first corruption with its offset.
pub fn scan_info<F: SegmentFile>(
    id: SegmentId,
    file: F,
    max_frame: u64,
) -> Result<SegmentInfo, Error> {
    let mut scanner = match FrameScanner::new(id, file, None)? {
        Ok(s) => s.with_max_frame(max_frame),
        Err((inv, _)) => {
            return Err(Error::Corrupt {
                segment: id,
                offset: inv.offset,
                reason: inv.reason,
            })
        }
    };
    let mut info = SegmentInfo::empty(id);
    loop {
        match scanner.next_frame()? {
            Ok(Some(f)) => info.add_frame(f.codec, f.stored_len, &f.stats),
            Ok(None) => return Ok(info),
            Err(inv) => {
                if scanner.rest_is_zero()? {
                    return Ok(info);
                }
                return Err(Error::Corrupt {
                    segment: id,
                    offset: inv.offset,
                    reason: inv.reason,
                });
            }
        }
    }
}

/// How a read-only inspection of a segment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every byte is header, valid frames, or trailing zeros (reserved space).
    Clean,
    /// The newest segment's log ends in non-zero bytes in which no valid
    /// frame can be found, or only frames written after blocks a power cut
    /// lost (a zero sector in front of each): a torn write, which opening
    /// the WAL sets aside and cuts.
    TornTail {
        /// Where the log ends.
        offset: u64,
        /// Bytes after it.
        bytes: u64,
        /// Why the bytes at `offset` are not a frame (or header).
        reason: Corruption,
        /// Valid frames after it (never acknowledged: each follows a
        /// lost sector); zero for an ordinary torn write.
        frames_after: u64,
        /// Records in them.
        records_after: u64,
    },
    /// Damage with valid frames after it that no power cut explains: not a
    /// torn write. Opening the WAL refuses it; salvage (`wal repair`) keeps
    /// every valid frame.
    Damaged {
        /// Where the damage starts.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
        /// Valid frames after it.
        frames_after: u64,
        /// Records in them.
        records_after: u64,
    },
    /// Damage in a segment that is not the newest (or a header that is whole
    /// but not ours): an error, never repaired.
    Corrupt {
        /// Where the damage starts.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
    },
}

/// Inspects a segment without changing it: calls `visit` on every entry of
/// every valid frame, and says how the segment ends, applying FORMAT.md's
/// rules (`newest` decides whether invalid trailing bytes may be a torn
/// tail; in an older segment they are corruption). The read-only tools are
/// built on this.
pub fn inspect<F: SegmentFile>(
    id: SegmentId,
    file: F,
    newest: bool,
    mut visit: impl FnMut(&Frame<'_>, EntryRef<'_>),
) -> Result<(SegmentInfo, Ending), Error> {
    let mut info = SegmentInfo::empty(id);
    let (file, inv) = match FrameScanner::new(id, file, None)? {
        Ok(mut scanner) => loop {
            match scanner.next_frame()? {
                Ok(Some(f)) => {
                    info.add_frame(f.codec, f.stored_len, &f.stats);
                    for e in f.entries() {
                        visit(&f, e);
                    }
                }
                Ok(None) => return Ok((info, Ending::Clean)),
                Err(inv) => {
                    if scanner.rest_is_zero()? {
                        return Ok((info, Ending::Clean));
                    }
                    break (scanner.into_file(), inv);
                }
            }
        },
        Err((inv, file)) => {
            info.bytes = 0;
            (file, inv)
        }
    };
    let Invalid { offset, reason } = inv;
    let torn_kind = if offset == 0 {
        header::may_be_torn(&reason)
    } else {
        !matches!(
            reason,
            Corruption::FrameTooLong { .. } | Corruption::SnappyUnavailable
        )
    };
    if !newest || !torn_kind {
        return Ok((info, Ending::Corrupt { offset, reason }));
    }
    let mut file = file;
    let len = file.len().map_err(storage_err("len", id))?;
    let from = (offset + 1).max(header::LEN as u64);
    let after = search::find_frames(&mut file, id, from, len, frame::MAX_PAYLOAD_LEN)?;
    let torn = after.is_empty()
        || (offset >= header::LEN as u64 && search::lost_writes(&mut file, id, offset, &after)?);
    if torn {
        return Ok((
            info,
            Ending::TornTail {
                offset,
                bytes: len - offset,
                reason,
                frames_after: after.len() as u64,
                records_after: after.iter().map(|f| f.records).sum(),
            },
        ));
    }
    Ok((
        info,
        Ending::Damaged {
            offset,
            reason,
            frames_after: after.len() as u64,
            records_after: after.iter().map(|f| f.records).sum(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::all_zero;

    #[test]
    fn all_zero_finds_a_non_zero_byte_anywhere() {
        assert!(all_zero(&[]));
        assert!(all_zero(&[0]));
        assert!(all_zero(&[0; 1000]));
        assert!(!all_zero(&[1]));
        for at in 0..300 {
            let mut b = [0u8; 300];
            b[at] = 0x80;
            assert!(!all_zero(&b), "a non-zero byte at {at}");
            b = [7u8; 300];
            assert!(!all_zero(&b));
        }
    }
}
