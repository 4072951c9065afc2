//! File names in a WAL directory (FORMAT.md, "Directory"): segments
//! `seg{ID}.wal` and torn-tail sidecars `seg{ID}.wal.torn-{OFFSET}`. Only
//! exact matches count; anything else is not the WAL's and is left alone.
//! This is the one place that spells them: hosts map a [`FileName`] to a
//! path with its `Display` and parse directory listings with
//! [`FileName::parse`].

use core::fmt;

/// A segment's ID: 1 for the first, one more at each rotation.
pub type SegmentId = u64;

/// A file the WAL keeps in its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileName {
    /// `seg{ID}.wal`: a segment (16 lowercase hex digits).
    Segment(SegmentId),
    /// `seg{ID}.wal.torn-{OFFSET}`: the bytes recovery cut from segment
    /// `ID` at byte `OFFSET` (decimal, no leading zeros).
    TornTail(SegmentId, u64),
}

impl FileName {
    /// The file a name in a WAL directory stands for, when it is exactly
    /// one of the WAL's patterns; `None` for anything else.
    pub fn parse(name: &str) -> Option<FileName> {
        if let Some(id) = parse_segment(name) {
            return Some(FileName::Segment(id));
        }
        let (seg, off) = name.split_once(".torn-")?;
        let digits = !off.is_empty()
            && off.bytes().all(|b| b.is_ascii_digit())
            && (off == "0" || !off.starts_with('0'));
        if !digits {
            return None;
        }
        Some(FileName::TornTail(parse_segment(seg)?, off.parse().ok()?))
    }

    /// The segment the file belongs to.
    pub fn segment(&self) -> SegmentId {
        match *self {
            FileName::Segment(id) | FileName::TornTail(id, _) => id,
        }
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileName::Segment(id) => write!(f, "seg{id:016x}.wal"),
            FileName::TornTail(id, offset) => write!(f, "seg{id:016x}.wal.torn-{offset}"),
        }
    }
}

/// The segment ID of `seg{16 lowercase hex digits}.wal`.
fn parse_segment(name: &str) -> Option<SegmentId> {
    let hex = name.strip_prefix("seg")?.strip_suffix(".wal")?;
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if hex.len() != 16 || !hex.bytes().all(lower_hex) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn names_roundtrip_and_reject_near_misses() {
        assert_eq!(FileName::Segment(1).to_string(), "seg0000000000000001.wal");
        assert_eq!(
            FileName::parse("seg0000000000000001.wal"),
            Some(FileName::Segment(1))
        );
        let max = FileName::Segment(u64::MAX);
        assert_eq!(FileName::parse(&max.to_string()), Some(max));
        let torn = FileName::TornTail(3, 100);
        assert_eq!(torn.to_string(), "seg0000000000000003.wal.torn-100");
        assert_eq!(FileName::parse(&torn.to_string()), Some(torn));
        assert_eq!(
            FileName::parse("seg0000000000000003.wal.torn-0"),
            Some(FileName::TornTail(3, 0))
        );
        for bad in [
            "seg000000000000001.wal",
            "seg00000000000000001.wal",
            "seg000000000000000A.wal",
            "Seg0000000000000001.wal",
            "seg+000000000000001.wal",
            "seg0000000000000001.wal.torn-024",
            "seg0000000000000001.wal.torn-",
            "seg0000000000000001.wal.torn-1x",
            "seg000000000000001.wal.torn-1",
            "LOCK",
            "",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }
}
