//! The 24-byte segment header: version 1 for a segment created new,
//! version 2 for a recycled one (its `flags` field names the segment whose
//! stale frames the file holds).

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
    /// Flags, u32: 0 in version 1; in version 2 `recycled_delta`, the
    /// segment ID minus the ID of the segment the file was recycled from.
    pub const FLAGS: Range<usize> = 16..20;
    /// CRC of bytes 0..20.
    pub const CRC: Range<usize> = 20..24;
}

/// Header length.
pub const LEN: usize = 24;
/// The segment file magic.
pub const MAGIC: &[u8; 6] = b"WALSEG";
/// The format version of a segment created new.
pub const VERSION: u16 = 1;
/// The format version of a recycled segment.
pub const VERSION_RECYCLED: u16 = 2;

/// What a valid header says beyond the segment's ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// For a recycled segment (version 2), the segment whose file it was:
    /// its stale frames (CRCs seeded with that ID) may follow the log.
    pub recycled_from: Option<SegmentId>,
}

/// The header of segment `id`, created new (version 1).
pub fn encode(id: SegmentId) -> [u8; LEN] {
    build(id, VERSION, 0)
}

/// The header of segment `id` recycled from the file of segment `from`
/// (version 2); `None` when `from` is not older than `id` or the two are
/// more than `u32::MAX` apart (then the file is not recycled as `id`).
pub fn encode_recycled(id: SegmentId, from: SegmentId) -> Option<[u8; LEN]> {
    let delta = u32::try_from(id.checked_sub(from)?).ok()?;
    (delta >= 1 && from >= 1).then(|| build(id, VERSION_RECYCLED, delta))
}

fn build(id: SegmentId, version: u16, flags: u32) -> [u8; LEN] {
    let mut h = [0u8; LEN];
    h[field::MAGIC].copy_from_slice(MAGIC);
    h[field::VERSION].copy_from_slice(&version.to_le_bytes());
    h[field::SEGMENT_ID].copy_from_slice(&id.to_le_bytes());
    h[field::FLAGS].copy_from_slice(&flags.to_le_bytes());
    let crc = crc32c(&h[..field::CRC.start]);
    h[field::CRC].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The segment ID a whole, valid header names (of either version),
/// whatever file it is in; `None` if it is not one.
pub fn named_id(bytes: &[u8]) -> Option<SegmentId> {
    let h = bytes.get(..LEN)?;
    let id = u64_at(h, field::SEGMENT_ID);
    check(h, id).ok().map(|_| id)
}

/// Checks a segment header (the first bytes of the file, possibly fewer than
/// 24) against the segment ID its file name gives.
pub fn check(bytes: &[u8], expected: SegmentId) -> Result<Header, Corruption> {
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
    let flags = u32_at(h, field::FLAGS);
    let found = u64_at(h, field::SEGMENT_ID);
    let recycled_from = match version {
        VERSION if flags == 0 => None,
        VERSION => return Err(Corruption::UnknownFlags(flags)),
        VERSION_RECYCLED => match found.checked_sub(u64::from(flags)) {
            Some(from) if flags >= 1 && from >= 1 => Some(from),
            _ => return Err(Corruption::UnknownFlags(flags)),
        },
        _ => return Err(Corruption::UnsupportedVersion(version)),
    };
    if found != expected {
        return Err(Corruption::SegmentIdMismatch { found });
    }
    Ok(Header { recycled_from })
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
