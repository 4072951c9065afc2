//! The log's counters since open, and [`SegmentLog::stats`].

use super::SegmentLog;
use crate::error::Error;
use crate::position::Position;
use crate::stats::Stats;
use crate::storage::Storage;
use crate::summary::SegmentInfo;

/// What the log counted since open.
#[derive(Default)]
pub(super) struct Counts {
    /// Every frame appended, as one summary.
    pub(super) written: SegmentInfo,
    /// Syncs the log made itself (a host's own syncs are its to count).
    pub(super) syncs: u64,
    pub(super) rotations: u64,
    /// Free files reused as new segments.
    pub(super) recycled: u64,
    /// Segments retention took off the list.
    pub(super) retained_out: u64,
}

impl<S: Storage> SegmentLog<S> {
    /// The log's part of [`Stats`]: counters since open (syncs: those the
    /// log made itself), the segments and their bytes (a closed segment
    /// not measured yet, one from before the open, is opened for its
    /// length once), where the log starts and where its durable end is
    /// as the log knows it. The host adds what it measures (sync latency,
    /// its own syncs, tails).
    pub fn stats(&mut self) -> Result<Stats, Error> {
        self.measure_unknown()?;
        let w = &self.counts.written;
        let oldest = self.closed.first().copied().unwrap_or(self.active.info.id);
        Ok(Stats {
            records: w.records,
            frames: w.frames,
            snappy_frames: w.snappy_frames,
            payload_bytes: w.payload_bytes,
            stored_bytes: w.bytes,
            syncs: self.counts.syncs,
            rotations: self.counts.rotations,
            recycled: self.counts.recycled,
            removed_by_retention: self.counts.retained_out,
            segments: self.closed.len() + 1,
            bytes_on_disk: self.bytes_held(),
            oldest: Position::first_frame(oldest),
            durable: self.durable(),
            ..Stats::default()
        })
    }

    /// Bytes of log from `from` to `to` (a tail's lag): what is left of
    /// `from`'s segment, the segments between, and `to`'s offset, as far
    /// as their sizes are known.
    pub fn bytes_between(&self, from: Position, to: Position) -> u64 {
        if from >= to {
            return 0;
        }
        if from.segment == to.segment {
            return to.offset - from.offset;
        }
        let size = |id| match id == self.active.info.id {
            true => self.active.info.bytes,
            false => self.sizes.get(&id).copied().unwrap_or(0),
        };
        let rest = size(from.segment).saturating_sub(from.offset);
        let between: u64 = self
            .segments()
            .into_iter()
            .filter(|&id| id > from.segment && id < to.segment)
            .map(size)
            .sum();
        rest + between + to.offset
    }
}
