//! What a segment and a frame hold, in numbers: the summaries that
//! rotation, `info` and the tools report.

use crate::format::{frame, header, Codec, EntryRef, SegmentId};

/// What a segment holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's ID.
    pub id: SegmentId,
    /// Bytes of the segment's log: header and valid frames.
    pub bytes: u64,
    /// Frames (buffer flushes) in the segment.
    pub frames: u64,
    /// Frames stored snappy-compressed.
    pub snappy_frames: u64,
    /// Entries (one series within one frame).
    pub entries: u64,
    /// Records.
    pub records: u64,
    /// Decompressed payload bytes of all frames (for the compression ratio:
    /// `payload_bytes` against `bytes`).
    pub payload_bytes: u64,
    /// Smallest record timestamp, if any record.
    pub min_timestamp: Option<i64>,
    /// Largest record timestamp, if any record.
    pub max_timestamp: Option<i64>,
}

impl SegmentInfo {
    /// An empty segment's info.
    pub fn empty(id: SegmentId) -> Self {
        SegmentInfo {
            id,
            bytes: header::LEN as u64,
            ..Default::default()
        }
    }

    /// Adds a frame of `stored_len` payload bytes to the summary.
    pub fn add_frame(&mut self, codec: Codec, stored_len: u64, stats: &FrameStats) {
        self.bytes += frame::HEADER_LEN as u64 + stored_len;
        self.frames += 1;
        self.snappy_frames += u64::from(codec == Codec::Snappy);
        self.entries += stats.entries;
        self.records += stats.records;
        self.payload_bytes += stats.payload_bytes;
        self.min_timestamp = min_opt(self.min_timestamp, stats.min_timestamp);
        self.max_timestamp = max_opt(self.max_timestamp, stats.max_timestamp);
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Counts of one frame's contents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Entries in the frame.
    pub entries: u64,
    /// Records in the frame.
    pub records: u64,
    /// Decompressed payload bytes.
    pub payload_bytes: u64,
    /// Smallest timestamp.
    pub min_timestamp: Option<i64>,
    /// Largest timestamp.
    pub max_timestamp: Option<i64>,
}

impl FrameStats {
    /// Adds one entry's records.
    pub fn add_entry(&mut self, e: &EntryRef<'_>) {
        self.entries += 1;
        self.records += e.len() as u64;
        for ts in e.timestamps() {
            self.min_timestamp = min_opt(self.min_timestamp, Some(ts));
            self.max_timestamp = max_opt(self.max_timestamp, Some(ts));
        }
    }
}
