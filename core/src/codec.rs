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
        let (head, rest) = self.rest.split_at_checked(2)?;
        let (value, rest) =
            rest.split_at_checked(u16::from_le_bytes([head[0], head[1]]) as usize)?;
        self.rest = rest;
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
    /// The payload already passed [`for_each_entry`]: skip re-walking values.
    checked: bool,
}

/// Iterates the entries of `payload` without collecting them.
pub fn entries(payload: &[u8]) -> Entries<'_> {
    Entries {
        rest: payload,
        checked: false,
    }
}

/// Iterates the entries of a payload that [`for_each_entry`] accepted,
/// without walking each entry's values again (they were checked then). On
/// any other input it still cannot panic or read out of bounds: [`Values`]
/// stays checked.
pub(crate) fn checked_entries(payload: &[u8]) -> Entries<'_> {
    Entries {
        rest: payload,
        checked: true,
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = EntryRef<'a>;
    fn next(&mut self) -> Option<EntryRef<'a>> {
        let decoded = if self.checked {
            decode_entry_head(self.rest).map(|(len, e, _)| (len, e))
        } else {
            decode_entry(self.rest)
        };
        match decoded {
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

/// Decodes the entry at the start of `bytes` up to its values, which are
/// returned unchecked (and also as the entry's `values`); returns its `len`
/// field, the entry and the number of values to expect.
fn decode_entry_head(bytes: &[u8]) -> Result<(usize, EntryRef<'_>, usize), EntryFault> {
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
    Ok((
        len,
        EntryRef {
            series_id,
            count,
            timestamps,
            values,
        },
        count,
    ))
}

/// Decodes and checks the entry at the start of `bytes`; returns its `len`
/// field and the entry.
fn decode_entry(bytes: &[u8]) -> Result<(usize, EntryRef<'_>), EntryFault> {
    let (len, entry, count) = decode_entry_head(bytes)?;
    // Walk the value lengths with one bounds check each: `at` may pass the
    // end only after the last value (at most by 2 + u16::MAX, no overflow),
    // which the final comparison tells apart from trailing bytes.
    let values = entry.values;
    let mut at = 0usize;
    for _ in 0..count {
        let Some(b) = values.get(at..at + 2) else {
            return Err(EntryFault::ValuePastEntry);
        };
        at += 2 + u16::from_le_bytes([b[0], b[1]]) as usize;
    }
    match at.cmp(&values.len()) {
        core::cmp::Ordering::Equal => Ok((len, entry)),
        core::cmp::Ordering::Greater => Err(EntryFault::ValuePastEntry),
        core::cmp::Ordering::Less => Err(EntryFault::TrailingBytes),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// One entry of `body` bytes (series 9), with `len` set to `len`.
    fn raw_entry(len: u64, body: &[u8]) -> Vec<u8> {
        let mut out = len.to_le_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// An entry body: series 9, `count`, the timestamps, then `rest`.
    fn body(count: u32, timestamps: usize, rest: &[u8]) -> Vec<u8> {
        let mut b = 9u64.to_le_bytes().to_vec();
        b.extend_from_slice(&count.to_le_bytes());
        b.extend(core::iter::repeat_n(0u8, 8 * timestamps));
        b.extend_from_slice(rest);
        b
    }

    fn fault_at(payload: &[u8]) -> (u64, EntryFault) {
        match for_each_entry(payload, |_| {}) {
            Err(Corruption::BadEntry { at, what }) => (at, what),
            other => panic!("expected a bad entry, got {other:?}"),
        }
    }

    #[test]
    fn every_entry_fault_is_found_and_placed() {
        let mut good = Vec::new();
        encode_entry(&mut good, 1, &[10, 11], &[b"ab", b""]);
        let at = good.len() as u64;
        let cases: Vec<(Vec<u8>, EntryFault)> = vec![
            (vec![1, 2, 3], EntryFault::LenTruncated),
            (raw_entry(100, &[0; 20]), EntryFault::LenPastPayload),
            (raw_entry(11, &[0; 11]), EntryFault::TooShort),
            (raw_entry(12, &body(0, 0, &[])), EntryFault::ZeroCount),
            (
                raw_entry(20, &body(2, 1, &[])),
                EntryFault::TimestampsPastEntry,
            ),
            // The first value's length (5) runs past the entry.
            (
                raw_entry(24, &body(1, 1, &[5, 0, 1, 2])),
                EntryFault::ValuePastEntry,
            ),
            // Two records, but the second has no length bytes.
            (
                raw_entry(31, &body(2, 2, &[1, 0, 7])),
                EntryFault::ValuePastEntry,
            ),
            // The second value's length is cut after one byte.
            (
                raw_entry(32, &body(2, 2, &[1, 0, 7, 0])),
                EntryFault::ValuePastEntry,
            ),
            (
                raw_entry(23, &body(1, 1, &[0, 0, 3])),
                EntryFault::TrailingBytes,
            ),
        ];
        for (bad, want) in cases {
            // Alone, and after a good entry (the offset moves with it).
            assert_eq!(fault_at(&bad), (0, want), "{bad:?}");
            let mut after = good.clone();
            after.extend_from_slice(&bad);
            assert_eq!(fault_at(&after), (at, want), "{bad:?} after a good entry");
            // The lazy iterator yields the good entry, then stops.
            let seen: Vec<_> = entries(&after).map(|e| e.series_id).collect();
            assert_eq!(seen, [1]);
        }
        assert_eq!(fault_at(&[]), (0, EntryFault::LenTruncated));
    }

    #[test]
    fn checked_entries_yield_what_the_check_saw() {
        let mut payload = Vec::new();
        encode_entry(&mut payload, 1, &[10, 11], &[b"ab", b""]);
        encode_entry(&mut payload, 2, &[-5], &[&[0xff; 300]]);
        encode_entry(&mut payload, 3, &[1, 2, 3], &[b"x", b"yz", b"w"]);
        let mut checked = Vec::new();
        for_each_entry(&payload, |e| checked.push(e)).unwrap();
        let lazy: Vec<_> = entries(&payload).collect();
        let trusted: Vec<_> = checked_entries(&payload).collect();
        assert_eq!(checked, lazy);
        assert_eq!(checked, trusted);
        let values: Vec<Vec<&[u8]>> = trusted.iter().map(|e| e.values().collect()).collect();
        assert_eq!(values[0], [&b"ab"[..], b""]);
        assert_eq!(values[1], [&[0xff; 300][..]]);
        assert_eq!(values[2], [&b"x"[..], b"yz", b"w"]);
        let ts: Vec<i64> = trusted[2].timestamps().collect();
        assert_eq!(ts, [1, 2, 3]);
    }

    #[test]
    fn values_of_a_damaged_entry_stop_without_panicking() {
        // `checked_entries` on bytes that were never checked: a value
        // length past the end ends the values; nothing reads out of bounds.
        let bad = raw_entry(24, &body(1, 1, &[5, 0, 1, 2]));
        let got: Vec<_> = checked_entries(&bad).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].values().count(), 0);
    }
}
