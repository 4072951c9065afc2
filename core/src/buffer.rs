//! The write buffer: records grouped by series, in first-arrival order,
//! with the exact size of the entries they will encode to, and the
//! completions waiting on them.
//!
//! The map from series ID to slot is only ever looked up, never iterated:
//! entries are encoded in slot order, which is the order in which each series
//! first arrived, so the same writes give the same bytes on every host.

use alloc::vec::Vec;
use core::time::Duration;

use hashbrown::HashMap;

use crate::codec::{frame, ENTRY_OVERHEAD, MAX_VALUE_LEN, RECORD_OVERHEAD};
use crate::error::Error;
use crate::segment::FrameStats;

#[derive(Debug, Default)]
struct Slot {
    series_id: u64,
    timestamps: Vec<i64>,
    /// Where each of its values lies in the buffer's `values` (start, end).
    spans: Vec<(usize, usize)>,
    /// The bytes its values take encoded: (u16 length, bytes) each.
    values_len: usize,
}

/// Buffered records and their completions (`C`: whatever the host uses to
/// tell a writer how its record fared).
#[derive(Debug)]
pub struct WriteBuffer<C> {
    index: HashMap<u64, usize>,
    /// Slots in first-arrival order; `slots[..used]` are live, the rest keep
    /// their capacity for the next round.
    slots: Vec<Slot>,
    used: usize,
    /// Every buffered value as encoded ((u16 length, bytes) each), in
    /// arrival order: one allocation that stays about `buffer_size` long,
    /// where values kept per series would each keep the largest capacity
    /// that series slot ever needed (a reused buffer then grows with the
    /// data written).
    values: Vec<u8>,
    completions: Vec<C>,
    payload_bytes: usize,
    stats: FrameStats,
    oldest: Option<Duration>,
}

impl<C> Default for WriteBuffer<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// What sealing a buffer leaves besides the encoded frame.
#[derive(Debug)]
pub struct Sealed<C> {
    /// The completions of the records in the frame, in write order.
    pub completions: Vec<C>,
    /// What the frame holds.
    pub stats: FrameStats,
}

impl<C> WriteBuffer<C> {
    /// An empty buffer.
    pub fn new() -> Self {
        WriteBuffer {
            index: HashMap::new(),
            slots: Vec::new(),
            used: 0,
            values: Vec::new(),
            completions: Vec::new(),
            payload_bytes: 0,
            stats: FrameStats::default(),
            oldest: None,
        }
    }

    /// Checks that a value can be written (at most 65535 bytes).
    pub fn check_value(value: &[u8]) -> Result<(), Error> {
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::ValueTooLarge { len: value.len() });
        }
        Ok(())
    }

    /// Adds a record that arrived at `now` (host monotonic time), with an
    /// optional completion. Only the first record's `now` is kept (the
    /// buffer's [`WriteBuffer::oldest`]), so a host may skip reading its
    /// clock when the buffer is not empty. Refuses a value over 65535 bytes
    /// (nothing is buffered then). Returns the encoded payload size
    /// afterwards.
    pub fn push(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: Option<C>,
    ) -> Result<usize, Error> {
        Self::check_value(value)?;
        let slot = match self.index.get(&series_id) {
            Some(&i) => &mut self.slots[i],
            None => {
                let i = self.used;
                if i == self.slots.len() {
                    self.slots.push(Slot::default());
                }
                self.used += 1;
                self.index.insert(series_id, i);
                self.payload_bytes += ENTRY_OVERHEAD;
                self.stats.entries += 1;
                let slot = &mut self.slots[i];
                slot.series_id = series_id;
                slot
            }
        };
        slot.timestamps.push(timestamp);
        let start = self.values.len();
        self.values
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        self.values.extend_from_slice(value);
        slot.spans.push((start, self.values.len()));
        slot.values_len += 2 + value.len();
        self.payload_bytes += RECORD_OVERHEAD + value.len();
        self.stats.records += 1;
        self.stats.min_timestamp = Some(
            self.stats
                .min_timestamp
                .map_or(timestamp, |m| m.min(timestamp)),
        );
        self.stats.max_timestamp = Some(
            self.stats
                .max_timestamp
                .map_or(timestamp, |m| m.max(timestamp)),
        );
        if self.oldest.is_none() {
            self.oldest = Some(now);
        }
        if let Some(c) = completion {
            self.completions.push(c);
        }
        Ok(self.payload_bytes)
    }

    /// Whether the buffer holds no record.
    pub fn is_empty(&self) -> bool {
        self.stats.records == 0
    }

    /// Records buffered.
    pub fn records(&self) -> u64 {
        self.stats.records
    }

    /// Bytes the buffered entries encode to (the frame's raw payload).
    pub fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }

    /// When the oldest buffered record arrived.
    pub fn oldest(&self) -> Option<Duration> {
        self.oldest
    }

    /// Completions waiting on the buffered records.
    pub fn completions(&self) -> usize {
        self.completions.len()
    }

    /// Takes every completion out (to fail them) and empties the buffer.
    pub fn drain_completions(&mut self) -> Vec<C> {
        let done = core::mem::take(&mut self.completions);
        self.reset();
        done
    }

    /// Encodes the buffer as a raw frame into `frame` (cleared first): 16
    /// header bytes left for the log to fill in, then the entries. Empties the
    /// buffer, keeping its allocations.
    pub fn seal_into(&mut self, out: &mut Vec<u8>) -> Sealed<C> {
        out.clear();
        out.reserve(frame::HEADER_LEN + self.payload_bytes);
        out.resize(frame::HEADER_LEN, 0);
        for slot in &self.slots[..self.used] {
            let len = 12 + 8 * slot.timestamps.len() + slot.values_len;
            out.extend_from_slice(&(len as u64).to_le_bytes());
            out.extend_from_slice(&slot.series_id.to_le_bytes());
            out.extend_from_slice(&(slot.timestamps.len() as u32).to_le_bytes());
            for ts in &slot.timestamps {
                out.extend_from_slice(&ts.to_le_bytes());
            }
            for &(start, end) in &slot.spans {
                out.extend_from_slice(&self.values[start..end]);
            }
        }
        debug_assert_eq!(out.len(), frame::HEADER_LEN + self.payload_bytes);
        let stats = FrameStats {
            payload_bytes: self.payload_bytes as u64,
            ..self.stats
        };
        // The next buffer likely holds as many records: start it with room
        // for their completions instead of growing from nothing.
        let room = self.completions.len();
        let sealed = Sealed {
            completions: core::mem::replace(&mut self.completions, Vec::with_capacity(room)),
            stats,
        };
        self.reset();
        sealed
    }

    fn reset(&mut self) {
        for slot in &mut self.slots[..self.used] {
            slot.timestamps.clear();
            slot.spans.clear();
            slot.values_len = 0;
        }
        self.values.clear();
        self.used = 0;
        self.index.clear();
        self.payload_bytes = 0;
        self.stats = FrameStats::default();
        self.oldest = None;
    }
}
