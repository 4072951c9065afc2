//! File names in a WAL directory (FORMAT.md, "Directory"): segments
//! `seg{ID}.wal`, sidecars `seg{ID}.wal.torn-{OFFSET}` (then
//! `...torn-{OFFSET}.1`, `.2`, ... when that name is taken) and free files
//! `free{ID}.wal` kept for recycling. Only
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
    /// `seg{ID}.wal.torn-{OFFSET}`, or `seg{ID}.wal.torn-{OFFSET}.{COPY}`
    /// for `copy` >= 1: the bytes recovery set aside from segment `ID` at
    /// byte `OFFSET` (decimal, no leading zeros). A later recovery that
    /// sets bytes aside at the same offset takes the next free `copy`, so
    /// no sidecar is ever overwritten.
    TornTail {
        /// The segment the bytes came from.
        segment: SegmentId,
        /// Where in it they started.
        offset: u64,
        /// 0 for the first sidecar at this offset, then 1, 2, ...
        copy: u32,
    },
    /// `free{ID}.wal`: the file of segment `ID`, gone from the log, kept to
    /// be recycled as a later segment (its bytes are stale, never read).
    Free(SegmentId),
}

impl FileName {
    /// The file a name in a WAL directory stands for, when it is exactly
    /// one of the WAL's patterns; `None` for anything else.
    pub fn parse(name: &str) -> Option<FileName> {
        if let Some(id) = parse_segment(name) {
            return Some(FileName::Segment(id));
        }
        if let Some(id) = name.strip_prefix("free").and_then(parse_hex_wal) {
            return Some(FileName::Free(id));
        }
        let (seg, rest) = name.split_once(".torn-")?;
        let (off, copy) = match rest.split_once('.') {
            None => (rest, 0),
            Some((off, copy)) => match parse_decimal(copy)? {
                0 => return None, // the first copy has no suffix
                n => (off, u32::try_from(n).ok()?),
            },
        };
        Some(FileName::TornTail {
            segment: parse_segment(seg)?,
            offset: parse_decimal(off)?,
            copy,
        })
    }

    /// The sidecar for bytes set aside from `segment` at `offset`, copy 0.
    pub fn torn_tail(segment: SegmentId, offset: u64) -> FileName {
        FileName::TornTail {
            segment,
            offset,
            copy: 0,
        }
    }

    /// The segment the file belongs to.
    pub fn segment(&self) -> SegmentId {
        match *self {
            FileName::Segment(id) | FileName::TornTail { segment: id, .. } | FileName::Free(id) => {
                id
            }
        }
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileName::Segment(id) => write!(f, "seg{id:016x}.wal"),
            FileName::Free(id) => write!(f, "free{id:016x}.wal"),
            FileName::TornTail {
                segment,
                offset,
                copy: 0,
            } => write!(f, "seg{segment:016x}.wal.torn-{offset}"),
            FileName::TornTail {
                segment,
                offset,
                copy,
            } => write!(f, "seg{segment:016x}.wal.torn-{offset}.{copy}"),
        }
    }
}

/// A decimal number with no sign and no leading zeros.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

/// The segment ID of `seg{16 lowercase hex digits}.wal`.
fn parse_segment(name: &str) -> Option<SegmentId> {
    parse_hex_wal(name.strip_prefix("seg")?)
}

/// The ID of `{16 lowercase hex digits}.wal`.
fn parse_hex_wal(name: &str) -> Option<SegmentId> {
    let hex = name.strip_suffix(".wal")?;
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
        let torn = FileName::torn_tail(3, 100);
        assert_eq!(torn.to_string(), "seg0000000000000003.wal.torn-100");
        assert_eq!(FileName::parse(&torn.to_string()), Some(torn));
        assert_eq!(
            FileName::parse("seg0000000000000003.wal.torn-0"),
            Some(FileName::torn_tail(3, 0))
        );
        let copy = FileName::TornTail {
            segment: 3,
            offset: 100,
            copy: 2,
        };
        assert_eq!(copy.to_string(), "seg0000000000000003.wal.torn-100.2");
        assert_eq!(FileName::parse(&copy.to_string()), Some(copy));
        let free = FileName::Free(5);
        assert_eq!(free.to_string(), "free0000000000000005.wal");
        assert_eq!(FileName::parse(&free.to_string()), Some(free));
        for bad in [
            "free000000000000005.wal",
            "free0000000000000005.wal.torn-1",
            "seg000000000000001.wal",
            "seg00000000000000001.wal",
            "seg000000000000000A.wal",
            "Seg0000000000000001.wal",
            "seg+000000000000001.wal",
            "seg0000000000000001.wal.torn-024",
            "seg0000000000000001.wal.torn-",
            "seg0000000000000001.wal.torn-1x",
            "seg000000000000001.wal.torn-1",
            "seg0000000000000001.wal.torn-1.0",
            "seg0000000000000001.wal.torn-1.01",
            "seg0000000000000001.wal.torn-1.x",
            "seg0000000000000001.wal.torn-1.2.3",
            "LOCK",
            "",
        ] {
            assert_eq!(FileName::parse(bad), None, "{bad}");
        }
    }
}
