//! The frame: one flushed buffer, a 16-byte header and its payload.

use super::corruption::Corruption;
use super::names::SegmentId;
use super::{u32_at, u64_at};
use crate::checksum::Crc32c;

/// Byte ranges of the frame header's fields.
pub mod field {
    use core::ops::Range;
    /// CRC of segment ID ++ bytes 4..16+len.
    pub const CRC: Range<usize> = 0..4;
    /// Codec byte.
    pub const CODEC: usize = 4;
    /// Three reserved zero bytes.
    pub const RESERVED: Range<usize> = 5..8;
    /// Stored payload length, u64.
    pub const LEN: Range<usize> = 8..16;
}

/// Frame header length.
pub const HEADER_LEN: usize = 16;

/// The longest payload any frame can hold: one buffer of at most 1 GiB
/// (the largest `buffer_size`), overshot by at most one record (a one-record
/// entry of the longest value). A longer `len` is corruption, whatever the
/// file's length, so it never sizes an allocation.
pub const MAX_PAYLOAD_LEN: u64 = (1 << 30)
    + (super::entry::ENTRY_OVERHEAD + super::entry::RECORD_OVERHEAD + super::MAX_VALUE_LEN) as u64;

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
    /// bytes and that `len` is non-zero, at most [`MAX_PAYLOAD_LEN`] and
    /// fits in `remaining`.
    pub fn parse(bytes: &[u8], remaining: u64) -> Result<FrameHeader, Corruption> {
        Self::parse_at_most(bytes, remaining, MAX_PAYLOAD_LEN)
    }

    /// As [`FrameHeader::parse`], accepting a `len` of at most `max`.
    pub fn parse_at_most(
        bytes: &[u8],
        remaining: u64,
        max: u64,
    ) -> Result<FrameHeader, Corruption> {
        if bytes.len() < HEADER_LEN {
            return Err(Corruption::FrameHeaderTruncated {
                remaining: bytes.len() as u64,
            });
        }
        let len = u64_at(bytes, field::LEN);
        if len == 0 {
            return Err(Corruption::EmptyFrame);
        }
        if len > remaining {
            return Err(Corruption::FrameLengthPastEnd { len, remaining });
        }
        // Checked after the file's bounds, so that this reason means a
        // length that fits in the file but no writer of this config made.
        let max = max.min(MAX_PAYLOAD_LEN);
        if len > max {
            return Err(Corruption::FrameTooLong { len, max });
        }
        if bytes[field::RESERVED] != [0, 0, 0] {
            return Err(Corruption::ReservedNonZero);
        }
        let codec = Codec::from_byte(bytes[field::CODEC])?;
        Ok(FrameHeader {
            crc: u32_at(bytes, field::CRC),
            codec,
            len,
        })
    }
}

/// The CRC of a frame: the segment ID, then the frame's bytes from offset 4
/// (codec, reserved, len) through the payload.
pub fn crc(segment: SegmentId, header_tail: &[u8], payload: &[u8]) -> u32 {
    Crc32c::new()
        .update(&segment.to_le_bytes())
        .update(header_tail)
        .update(payload)
        .value()
}

/// Fills in the 16-byte header at the start of `frame` (whose payload follows
/// it) for `codec` in segment `segment`.
pub fn seal(frame: &mut [u8], codec: Codec, segment: SegmentId) {
    let len = (frame.len() - HEADER_LEN) as u64;
    frame[field::CODEC] = codec as u8;
    frame[field::RESERVED].fill(0);
    frame[field::LEN].copy_from_slice(&len.to_le_bytes());
    let crc = Crc32c::new()
        .update(&segment.to_le_bytes())
        .update(&frame[field::CODEC..])
        .value();
    frame[field::CRC].copy_from_slice(&crc.to_le_bytes());
}

/// Checks a stored frame's CRC against its header bytes and payload.
pub fn check_crc(
    segment: SegmentId,
    header_bytes: &[u8],
    stored: u32,
    payload: &[u8],
) -> Result<(), Corruption> {
    let computed = crc(segment, &header_bytes[field::CODEC..HEADER_LEN], payload);
    if computed != stored {
        return Err(Corruption::FrameCrcMismatch { stored, computed });
    }
    Ok(())
}
