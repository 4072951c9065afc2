//! Encoding and decoding of the on-disk structures of FORMAT.md, over byte
//! slices. Pure functions: no I/O, no panics on any input (every length is
//! checked against what remains before it is used).
//!
//! ```text
//! segment header (24 bytes)
//! +--------+---------+------------+-------+------------+
//! | WALSEG | ver u16 | seg_id u64 | flags | header_crc |   crc = CRC(bytes 0..20)
//! +--------+---------+------------+-------+------------+
//! 0        6         8            16      20           24
//!
//! frame (16-byte header + payload)
//! +---------+-------+----------+---------+-------------------+
//! | crc u32 | codec | reserved | len u64 | payload (len)     |   crc = CRC(seg_id LE ++ bytes 4..16+len)
//! +---------+-------+----------+---------+-------------------+
//! 0         4       5          8         16
//!
//! entry (payload = entries back to back)
//! +---------+---------------+-----------+----------------+--------------------------+
//! | len u64 | series_id u64 | count u32 | ts i64 * count | (u16 len, bytes) * count |
//! +---------+---------------+-----------+----------------+--------------------------+
//! 0         8               16          20
//! ```

use alloc::vec::Vec;
use core::ops::Range;

use crate::checksum::{crc32c, Crc32c};
use crate::error::{Corruption, EntryFault};
use crate::segment::SegmentId;

/// Byte ranges of the segment header fields.
pub mod header {
    use core::ops::Range;
    /// `b"WALSEG"`.
    pub const MAGIC: Range<usize> = 0..6;
    /// Format version, u16.
    pub const VERSION: Range<usize> = 6..8;
    /// Segment ID, u64.
    pub const SEGMENT_ID: Range<usize> = 8..16;
    /// Flags, u32 (all reserved).
    pub const FLAGS: Range<usize> = 16..20;
    /// CRC of bytes 0..20.
    pub const CRC: Range<usize> = 20..24;
    /// Header length.
    pub const LEN: usize = 24;
}

/// Byte ranges of the frame header fields.
pub mod frame {
    use core::ops::Range;
    /// CRC of segment ID ++ bytes 4..16+len.
    pub const CRC: Range<usize> = 0..4;
    /// Codec byte.
    pub const CODEC: usize = 4;
    /// Three reserved zero bytes.
    pub const RESERVED: Range<usize> = 5..8;
    /// Stored payload length, u64.
    pub const LEN: Range<usize> = 8..16;
    /// Header length.
    pub const HEADER_LEN: usize = 16;
}

/// The segment file magic.
pub const MAGIC: &[u8; 6] = b"WALSEG";
/// The format version this crate writes (and the only one it reads).
pub const VERSION: u16 = 1;
/// The longest value a record may hold.
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;
/// Bytes an entry takes besides its records: `len`, `series_id`, `count`.
pub const ENTRY_OVERHEAD: usize = 8 + 8 + 4;
/// Bytes a record adds to its entry besides the value: timestamp and value length.
pub const RECORD_OVERHEAD: usize = 8 + 2;

fn u16_at(b: &[u8], r: Range<usize>) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[r]);
    u16::from_le_bytes(a)
}
fn u32_at(b: &[u8], r: Range<usize>) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[r]);
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], r: Range<usize>) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[r]);
    u64::from_le_bytes(a)
}

/// The 24-byte header of segment `id`.
pub fn encode_segment_header(id: SegmentId) -> [u8; header::LEN] {
    let mut h = [0u8; header::LEN];
    h[header::MAGIC].copy_from_slice(MAGIC);
    h[header::VERSION].copy_from_slice(&VERSION.to_le_bytes());
    h[header::SEGMENT_ID].copy_from_slice(&id.to_le_bytes());
    h[header::FLAGS].copy_from_slice(&0u32.to_le_bytes());
    let crc = crc32c(&h[..header::CRC.start]);
    h[header::CRC].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a segment header (the first bytes of the file, possibly fewer than
/// 24) against the segment ID its file name gives.
pub fn check_segment_header(bytes: &[u8], expected: SegmentId) -> Result<(), Corruption> {
    if bytes.len() < header::LEN {
        return Err(Corruption::HeaderTruncated {
            len: bytes.len() as u64,
        });
    }
    let h = &bytes[..header::LEN];
    if &h[header::MAGIC] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    let stored = u32_at(h, header::CRC);
    let computed = crc32c(&h[..header::CRC.start]);
    if stored != computed {
        return Err(Corruption::HeaderCrcMismatch { stored, computed });
    }
    let version = u16_at(h, header::VERSION);
    if version != VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    let flags = u32_at(h, header::FLAGS);
    if flags != 0 {
        return Err(Corruption::UnknownFlags(flags));
    }
    let found = u64_at(h, header::SEGMENT_ID);
    if found != expected {
        return Err(Corruption::SegmentIdMismatch { found });
    }
    Ok(())
}

/// How a frame's payload is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is.
    Raw = 0,
    /// Snappy raw block format.
    Snappy = 1,
}

impl Codec {
    /// The codec for a codec byte.
    pub fn from_byte(b: u8) -> Result<Codec, Corruption> {
        match b {
            0 => Ok(Codec::Raw),
            1 => Ok(Codec::Snappy),
            other => Err(Corruption::UnknownCodec(other)),
        }
    }
}

/// A parsed, length-checked frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The stored CRC.
    pub crc: u32,
    /// The codec byte, parsed.
    pub codec: Codec,
    /// Stored payload length.
    pub len: u64,
}

impl FrameHeader {
    /// Parses a frame header from `bytes` (at least 16 bytes), given how many
    /// bytes of the file follow the header. Checks the codec, the reserved
    /// bytes and that `len` is non-zero and fits in `remaining`.
    pub fn parse(bytes: &[u8], remaining: u64) -> Result<FrameHeader, Corruption> {
        if bytes.len() < frame::HEADER_LEN {
            return Err(Corruption::FrameHeaderTruncated {
                remaining: bytes.len() as u64,
            });
        }
        let len = u64_at(bytes, frame::LEN);
        if len == 0 {
            return Err(Corruption::EmptyFrame);
        }
        if len > remaining {
            return Err(Corruption::FrameLengthPastEnd { len, remaining });
        }
        if bytes[frame::RESERVED] != [0, 0, 0] {
            return Err(Corruption::ReservedNonZero);
        }
        let codec = Codec::from_byte(bytes[frame::CODEC])?;
        Ok(FrameHeader {
            crc: u32_at(bytes, frame::CRC),
            codec,
            len,
        })
    }
}

/// The CRC of a frame: the segment ID, then the frame's bytes from offset 4
/// (codec, reserved, len) through the payload.
pub fn frame_crc(segment: SegmentId, header_tail: &[u8], payload: &[u8]) -> u32 {
    Crc32c::new()
        .update(&segment.to_le_bytes())
        .update(header_tail)
        .update(payload)
        .value()
}

/// Fills in the 16-byte header at the start of `frame` (whose payload follows
/// it) for `codec` in segment `segment`.
pub fn seal_frame(frame: &mut [u8], codec: Codec, segment: SegmentId) {
    let len = (frame.len() - frame::HEADER_LEN) as u64;
    frame[frame::CODEC] = codec as u8;
    frame[frame::RESERVED].fill(0);
    frame[frame::LEN].copy_from_slice(&len.to_le_bytes());
    let crc = Crc32c::new()
        .update(&segment.to_le_bytes())
        .update(&frame[frame::CODEC..])
        .value();
    frame[frame::CRC].copy_from_slice(&crc.to_le_bytes());
}

/// Checks a stored frame's CRC against its header bytes and payload.
pub fn check_frame_crc(
    segment: SegmentId,
    header_bytes: &[u8],
    stored: u32,
    payload: &[u8],
) -> Result<(), Corruption> {
    let computed = frame_crc(
        segment,
        &header_bytes[frame::CODEC..frame::HEADER_LEN],
        payload,
    );
    if computed != stored {
        return Err(Corruption::FrameCrcMismatch { stored, computed });
    }
    Ok(())
}

/// Appends one entry to `out`.
pub fn encode_entry(out: &mut Vec<u8>, series_id: u64, timestamps: &[i64], values: &[&[u8]]) {
    debug_assert_eq!(timestamps.len(), values.len());
    let values_len: usize = values.iter().map(|v| 2 + v.len()).sum();
    let len = 12 + 8 * timestamps.len() + values_len;
    out.reserve(8 + len);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&series_id.to_le_bytes());
    out.extend_from_slice(&(timestamps.len() as u32).to_le_bytes());
    for ts in timestamps {
        out.extend_from_slice(&ts.to_le_bytes());
    }
    for v in values {
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// One entry of a decoded payload, borrowing its bytes. Its timestamps and
/// values have been checked to fill it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The series of every record in the entry.
    pub series_id: u64,
    count: usize,
    timestamps: &'a [u8],
    values: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// How many records the entry holds (at least 1).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: an entry holds at least one record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records' timestamps, in write order.
    pub fn timestamps(&self) -> impl ExactSizeIterator<Item = i64> + 'a {
        self.timestamps
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
    }

    /// The records' values, in write order.
    pub fn values(&self) -> Values<'a> {
        Values { rest: self.values }
    }
}

/// Iterator over the values of a checked entry.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        // The entry was checked at decode time; these `get`s cannot fail, but
        // stay checked so that no input can make this panic.
        let len = self
            .rest
            .get(..2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)?;
        let value = self.rest.get(2..2 + len)?;
        self.rest = &self.rest[2 + len..];
        Some(value)
    }
}

/// Decodes and checks every entry of a decompressed payload. Returns the
/// first fault with its offset inside the payload.
pub fn decode_entries(payload: &[u8]) -> Result<Vec<EntryRef<'_>>, Corruption> {
    let mut out = Vec::new();
    for_each_entry(payload, |e| out.push(e))?;
    Ok(out)
}

/// Checks every entry of a decompressed payload, calling `f` on each.
pub fn for_each_entry<'a>(
    payload: &'a [u8],
    mut f: impl FnMut(EntryRef<'a>),
) -> Result<(), Corruption> {
    let mut at = 0usize;
    if payload.is_empty() {
        return Err(Corruption::BadEntry {
            at: 0,
            what: EntryFault::LenTruncated,
        });
    }
    while at < payload.len() {
        let entry = decode_entry(&payload[at..]).map_err(|what| Corruption::BadEntry {
            at: at as u64,
            what,
        })?;
        at += 8 + entry.0;
        f(entry.1);
    }
    Ok(())
}

/// The entries of a payload, decoded lazily; stops at the end or at the
/// first malformed entry (use [`for_each_entry`] to learn about that).
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    rest: &'a [u8],
}

/// Iterates the entries of `payload` without collecting them.
pub fn entries(payload: &[u8]) -> Entries<'_> {
    Entries { rest: payload }
}

impl<'a> Iterator for Entries<'a> {
    type Item = EntryRef<'a>;
    fn next(&mut self) -> Option<EntryRef<'a>> {
        match decode_entry(self.rest) {
            Ok((len, e)) => {
                self.rest = &self.rest[8 + len..];
                Some(e)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Decodes the entry at the start of `bytes`; returns its `len` field and the entry.
fn decode_entry(bytes: &[u8]) -> Result<(usize, EntryRef<'_>), EntryFault> {
    let len_bytes = bytes.get(..8).ok_or(EntryFault::LenTruncated)?;
    let len = u64_at(len_bytes, 0..8);
    let rest = (bytes.len() - 8) as u64;
    if len > rest {
        return Err(EntryFault::LenPastPayload);
    }
    let len = len as usize;
    let body = &bytes[8..8 + len];
    if body.len() < 12 {
        return Err(EntryFault::TooShort);
    }
    let series_id = u64_at(body, 0..8);
    let count = u32_at(body, 8..12) as usize;
    if count == 0 {
        return Err(EntryFault::ZeroCount);
    }
    let after_header = &body[12..];
    // count <= u32::MAX, so 8 * count cannot overflow a u64; compare before slicing.
    let ts_len = 8 * count as u64;
    if ts_len > after_header.len() as u64 {
        return Err(EntryFault::TimestampsPastEntry);
    }
    let (timestamps, values) = after_header.split_at(ts_len as usize);
    let mut rest = values;
    for _ in 0..count {
        let vlen = match rest.get(..2) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]) as usize,
            None => return Err(EntryFault::ValuePastEntry),
        };
        rest = rest.get(2 + vlen..).ok_or(EntryFault::ValuePastEntry)?;
    }
    if !rest.is_empty() {
        return Err(EntryFault::TrailingBytes);
    }
    Ok((
        len,
        EntryRef {
            series_id,
            count,
            timestamps,
            values,
        },
    ))
}

/// An owned entry: one series' records from one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The series of every record.
    pub series_id: u64,
    /// Timestamps (nanoseconds since the Unix epoch), in write order.
    pub timestamps: Vec<i64>,
    /// Values, in write order, one per timestamp.
    pub values: Vec<Vec<u8>>,
}

impl Entry {
    /// How many records the entry holds.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True when the entry holds no records (never for a decoded entry).
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

impl From<EntryRef<'_>> for Entry {
    fn from(e: EntryRef<'_>) -> Entry {
        Entry {
            series_id: e.series_id,
            timestamps: e.timestamps().collect(),
            values: e.values().map(<[u8]>::to_vec).collect(),
        }
    }
}
