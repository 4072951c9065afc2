//! What opening a WAL found, and what it repaired.

use alloc::string::String;
use core::fmt;

use crate::error::Corruption;
use crate::segment::{self, SegmentId};

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
    /// The sidecar file that keeps the cut bytes (empty when there were none
    /// to keep, i.e. an empty segment file with no header).
    pub sidecar: String,
    /// Valid frames found *inside* the cut bytes (for the segment, CRC and
    /// entries checked). A torn write leaves none: any here means the log
    /// was damaged in the middle, and records that may have been
    /// acknowledged are in the sidecar, not in the WAL.
    pub frames_after: u64,
    /// Records in those frames.
    pub records_after: u64,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.created {
            write!(
                f,
                "new WAL: created {}",
                segment::file_name(self.active_segment)
            )?;
        } else {
            write!(
                f,
                "recovered {} segment(s) ({}..={}); active {} holds {} frame(s), {} record(s), {} bytes",
                self.segments_found,
                self.first_segment,
                self.active_segment,
                segment::file_name(self.active_segment),
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
                    segment::file_name(t.segment),
                    t.reason
                )?;
                if !t.sidecar.is_empty() {
                    write!(f, ", kept in {}", t.sidecar)?;
                }
                if t.frames_after > 0 {
                    write!(
                        f,
                        "; WARNING: {} valid frame(s) with {} record(s) follow the damage inside the cut bytes: \
                         this is damage in the middle of the log, not a torn write, and those records are \
                         only in the sidecar",
                        t.frames_after, t.records_after
                    )?;
                }
            }
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
