//! The report of what open found, set aside and kept.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::format::{Corruption, FileName, SegmentId};

/// The report open returns: what it found and what it cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files found at open.
    pub segments_found: usize,
    /// The oldest segment present after open.
    pub first_segment: SegmentId,
    /// The segment new frames go to (the newest).
    pub active_segment: SegmentId,
    /// Whether open created the active segment (the directory was empty).
    pub created: bool,
    /// Valid frames in the active segment.
    pub frames: u64,
    /// Records in those frames.
    pub records: u64,
    /// Bytes of the active segment's log (header and valid frames).
    pub bytes: u64,
    /// The torn tail set aside, if there was one.
    pub cut: Option<TornTail>,
    /// What [`crate::RecoveryMode::Salvage`] kept and lost, if it had to.
    pub salvaged: Option<Salvaged>,
    /// The newest segment had never been written (a crash in the middle of
    /// a rotation left it empty or holding part of its header, or zeros):
    /// it was started over. It held no data.
    pub restarted: bool,
    /// Zero bytes of reserved space released after the last frame.
    pub released_zero_bytes: u64,
}

/// A torn tail cut from the newest segment at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment it was cut from.
    pub segment: SegmentId,
    /// Where the segment's log ended (the cut).
    pub offset: u64,
    /// How many bytes were cut.
    pub bytes: u64,
    /// Why the bytes at `offset` are not a valid frame (or header).
    pub reason: Corruption,
    /// The sidecar file that keeps the cut bytes.
    pub sidecar: String,
    /// Valid frames found in the cut bytes: written after blocks that a
    /// power cut lost (each stretch of damage in front of them holds a zero
    /// sector), so never acknowledged. Zero for an ordinary torn write.
    pub frames_after: u64,
    /// Records in them.
    pub records_after: u64,
}

/// What salvage did with a damaged newest segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvaged {
    /// The segment.
    pub segment: SegmentId,
    /// Where the damage started (the first invalid header or frame).
    pub offset: u64,
    /// What was wrong there.
    pub reason: Corruption,
    /// The sidecar that keeps every byte from `offset` to the end of the
    /// file as it was, valid frames included.
    pub sidecar: String,
    /// Valid frames found after the damage and kept in the log, in order.
    pub frames_kept: u64,
    /// Records in them.
    pub records_kept: u64,
    /// The byte ranges of the original file, `(offset, length)`, that held
    /// no valid frame and are now only in the sidecar.
    pub lost: Vec<(u64, u64)>,
}

impl Salvaged {
    /// Bytes lost from the log (kept in the sidecar).
    pub fn lost_bytes(&self) -> u64 {
        self.lost.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            write!(
                f,
                "new WAL: created {}",
                FileName::Segment(self.active_segment)
            )?;
        } else {
            write!(
                f,
                "recovered {} segment(s) ({}..={}); active {} holds {} frame(s), {} record(s), {} bytes",
                self.segments_found,
                self.first_segment,
                self.active_segment,
                FileName::Segment(self.active_segment),
                self.frames,
                self.records,
                self.bytes
            )?;
        }
        match &self.cut {
            None => f.write_str("; nothing cut")?,
            Some(t) => {
                write!(
                    f,
                    "; cut a torn tail of {} byte(s) at offset {} of {} ({})",
                    t.bytes,
                    t.offset,
                    FileName::Segment(t.segment),
                    t.reason
                )?;
                if t.frames_after > 0 {
                    write!(
                        f,
                        ", holding {} valid frame(s) with {} record(s) written after blocks the \
                         power cut lost (never acknowledged)",
                        t.frames_after, t.records_after
                    )?;
                }
                if !t.sidecar.is_empty() {
                    write!(f, ", kept in {}", t.sidecar)?;
                }
            }
        }
        if let Some(s) = &self.salvaged {
            write!(
                f,
                "; salvaged {}: damage at offset {} ({}); kept {} valid frame(s) with {} record(s) \
                 found after it; lost {} byte(s) in {} range(s) holding no valid frame",
                FileName::Segment(s.segment),
                s.offset,
                s.reason,
                s.frames_kept,
                s.records_kept,
                s.lost_bytes(),
                s.lost.len()
            )?;
            for (at, n) in &s.lost {
                write!(f, " [{at}, +{n})")?;
            }
            write!(
                f,
                "; everything from offset {} is kept in {}",
                s.offset, s.sidecar
            )?;
        }
        if self.restarted {
            f.write_str("; the newest segment had never been written and was started over")?;
        }
        if self.released_zero_bytes > 0 {
            write!(
                f,
                "; released {} byte(s) of reserved zero space",
                self.released_zero_bytes
            )?;
        }
        Ok(())
    }
}
