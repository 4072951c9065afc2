//! The 24-byte segment header.

use super::corruption::Corruption;
use super::names::SegmentId;
use super::{u16_at, u32_at, u64_at};
use crate::checksum::crc32c;

/// Byte ranges of the header's fields.
pub mod field {
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
}

/// Header length.
pub const LEN: usize = 24;
/// The segment file magic.
pub const MAGIC: &[u8; 6] = b"WALSEG";
/// The format version this crate writes (and the only one it reads).
pub const VERSION: u16 = 1;

/// The header of segment `id`.
pub fn encode(id: SegmentId) -> [u8; LEN] {
    let mut h = [0u8; LEN];
    h[field::MAGIC].copy_from_slice(MAGIC);
    h[field::VERSION].copy_from_slice(&VERSION.to_le_bytes());
    h[field::SEGMENT_ID].copy_from_slice(&id.to_le_bytes());
    h[field::FLAGS].copy_from_slice(&0u32.to_le_bytes());
    let crc = crc32c(&h[..field::CRC.start]);
    h[field::CRC].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a segment header (the first bytes of the file, possibly fewer than
/// 24) against the segment ID its file name gives.
pub fn check(bytes: &[u8], expected: SegmentId) -> Result<(), Corruption> {
    if bytes.len() < LEN {
        return Err(Corruption::HeaderTruncated {
            len: bytes.len() as u64,
        });
    }
    let h = &bytes[..LEN];
    if &h[field::MAGIC] != MAGIC {
        return Err(Corruption::BadMagic);
    }
    let stored = u32_at(h, field::CRC);
    let computed = crc32c(&h[..field::CRC.start]);
    if stored != computed {
        return Err(Corruption::HeaderCrcMismatch { stored, computed });
    }
    let version = u16_at(h, field::VERSION);
    if version != VERSION {
        return Err(Corruption::UnsupportedVersion(version));
    }
    let flags = u32_at(h, field::FLAGS);
    if flags != 0 {
        return Err(Corruption::UnknownFlags(flags));
    }
    let found = u64_at(h, field::SEGMENT_ID);
    if found != expected {
        return Err(Corruption::SegmentIdMismatch { found });
    }
    Ok(())
}

/// Whether a header refused by [`check`] can be the result of a torn write
/// (too short, or its bytes do not match their CRC), as opposed to a whole
/// header, CRC and all, of another version, with unknown flags, or of
/// another segment: that one was written on purpose and is never repaired.
pub fn may_be_torn(reason: &Corruption) -> bool {
    matches!(
        reason,
        Corruption::HeaderTruncated { .. }
            | Corruption::BadMagic
            | Corruption::HeaderCrcMismatch { .. }
    )
}
