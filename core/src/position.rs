//! Where a frame is in the log: a segment and a byte offset.
//!
//! A [`Position`] names a point between frames: the start of a frame (what
//! [`crate::Replay`] gives each frame's entries) or the end of one (what a
//! write's completion gives: the log is durable through there). Positions
//! are totally ordered the way the log is: by segment, then by offset. The
//! end of a closed segment and the start of the next one are the same point
//! of the log written two ways; readers accept both.

use core::fmt;
use core::str::FromStr;

use crate::format::{header, SegmentId};

/// A point in the log: segment `segment`, byte `offset` of its file.
///
/// `Display` and `FromStr` spell it `SEGMENT:OFFSET` in decimal
/// (`3:4096`); offset 0 stands for the segment's first frame (its header
/// is [`Position::FIRST_FRAME`] bytes long). [`Position::START`] (`0:0`)
/// is before every segment: the whole log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The segment (IDs start at 1).
    pub segment: SegmentId,
    /// The byte offset in the segment's file.
    pub offset: u64,
}

impl Position {
    /// Before every segment: replaying or tailing from here starts at the
    /// oldest segment there is.
    pub const START: Position = Position {
        segment: 0,
        offset: 0,
    };

    /// The offset of a segment's first frame (the header's length).
    pub const FIRST_FRAME: u64 = header::LEN as u64;

    /// Segment `segment`, byte `offset`.
    pub const fn new(segment: SegmentId, offset: u64) -> Self {
        Position { segment, offset }
    }

    /// The first frame of segment `segment`.
    pub const fn first_frame(segment: SegmentId) -> Self {
        Position::new(segment, Self::FIRST_FRAME)
    }

    /// The same point with offset 0 written as the first frame's offset.
    pub(crate) fn canonical(self) -> Self {
        if self.offset == 0 && self.segment > 0 {
            Position::first_frame(self.segment)
        } else {
            self
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.segment, self.offset)
    }
}

/// Why a string is not a [`Position`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsePositionError {
    reason: &'static str,
}

impl fmt::Display for ParsePositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a log position ({}): expected SEGMENT:OFFSET in decimal, like 3:4096",
            self.reason
        )
    }
}

impl core::error::Error for ParsePositionError {}

impl FromStr for Position {
    type Err = ParsePositionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParsePositionError { reason };
        let (seg, off) = s.split_once(':').ok_or(err("no `:`"))?;
        let number = |t: &str, what| {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(what));
            }
            t.parse::<u64>().map_err(|_| err("a number past 2^64"))
        };
        Ok(Position {
            segment: number(seg, "the segment is not a decimal number")?,
            offset: number(off, "the offset is not a decimal number")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn positions_order_by_segment_then_offset_and_round_trip_as_text() {
        let a = Position::new(1, 900);
        let b = Position::new(2, 24);
        assert!(Position::START < a && a < b && Position::new(2, 25) > b);
        for p in [Position::START, a, b, Position::new(u64::MAX, u64::MAX)] {
            assert_eq!(p.to_string().parse::<Position>(), Ok(p));
        }
        assert_eq!(b.to_string(), "2:24");
        for bad in [
            "",
            "3",
            "3:",
            ":4",
            "a:1",
            "1:-2",
            "1:2:3",
            "+1:2",
            "99999999999999999999:0",
        ] {
            let e = bad.parse::<Position>().expect_err(bad);
            assert!(e.to_string().contains("SEGMENT:OFFSET"), "{bad}: {e}");
        }
        assert_eq!(Position::new(5, 0).canonical(), Position::first_frame(5));
        assert_eq!(Position::START.canonical(), Position::START);
    }
}
