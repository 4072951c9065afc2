//! The write buffer: records grouped by series, in first-arrival order,
//! with the exact size of the entries they will encode to, and the
//! completions waiting on them.
//!
//! The map from series ID to slot is only ever looked up, never iterated:
//! entries are encoded in slot order, which is the order in which each series
//! first arrived, so the same writes give the same bytes on every host.

use alloc::vec::Vec;
use core::time::Duration;

use hashbrown::hash_map::Entry;
use hashbrown::HashMap;

use crate::codec::{frame, ENTRY_OVERHEAD, MAX_VALUE_LEN, RECORD_OVERHEAD};
use crate::error::Error;
use crate::segment::FrameStats;

/// One series' entry-to-be: its records are a chain through `records`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    series_id: u64,
    /// Its first and last record (indexes into `records`).
    first: usize,
    last: usize,
    count: usize,
    /// The bytes its values take encoded: (u16 length, bytes) each.
    values_len: usize,
}

/// One buffered record.
#[derive(Debug, Clone, Copy)]
struct Record {
    timestamp: i64,
    /// Where its encoded value ((u16 length, bytes)) starts in `values`.
    start: usize,
    /// The next record of the same series (`NONE` for the last).
    next: usize,
}

const NONE: usize = usize::MAX;

/// Buffered records and their completions (`C`: whatever the host uses to
/// tell a writer how its record fared).
#[derive(Debug)]
pub struct WriteBuffer<C> {
    index: HashMap<u64, usize>,
    /// Slots in first-arrival order.
    slots: Vec<Slot>,
    /// Records in arrival order, each linked to its series' next one: flat
    /// vectors that keep their capacity from one buffer to the next (no
    /// vector per series, which a reused buffer would keep at the largest
    /// size that series ever needed).
    records: Vec<Record>,
    /// Every buffered value as encoded ((u16 length, bytes) each), in
    /// arrival order: one allocation that stays about `buffer_size` long,
    /// where values kept per series would each keep the largest capacity
    /// that series slot ever needed (a reused buffer then grows with the
    /// data written).
    values: Vec<u8>,
    completions: Vec<C>,
    payload_bytes: usize,
    /// Entries and records so far (timestamps are kept below, without the
    /// `Option`s, and go into the frame's stats when it is sealed).
    stats: FrameStats,
    min_timestamp: i64,
    max_timestamp: i64,
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
            records: Vec::new(),
            values: Vec::new(),
            completions: Vec::new(),
            payload_bytes: 0,
            stats: FrameStats::default(),
            min_timestamp: i64::MAX,
            max_timestamp: i64::MIN,
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
        let this = self.records.len();
        let start = self.values.len();
        let encoded = 2 + value.len();
        match self.index.entry(series_id) {
            Entry::Occupied(o) => {
                let slot = &mut self.slots[*o.get()];
                self.records[slot.last].next = this;
                slot.last = this;
                slot.count += 1;
                slot.values_len += encoded;
            }
            Entry::Vacant(v) => {
                v.insert(self.slots.len());
                self.slots.push(Slot {
                    series_id,
                    first: this,
                    last: this,
                    count: 1,
                    values_len: encoded,
                });
                self.payload_bytes += ENTRY_OVERHEAD;
                self.stats.entries += 1;
            }
        }
        self.records.push(Record {
            timestamp,
            start,
            next: NONE,
        });
        self.values.reserve(encoded);
        self.values
            .extend_from_slice(&(value.len() as u16).to_le_bytes());
        self.values.extend_from_slice(value);
        self.payload_bytes += RECORD_OVERHEAD + value.len();
        self.stats.records += 1;
        self.min_timestamp = self.min_timestamp.min(timestamp);
        self.max_timestamp = self.max_timestamp.max(timestamp);
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
        for slot in &self.slots {
            let len = 12 + 8 * slot.count + slot.values_len;
            out.extend_from_slice(&(len as u64).to_le_bytes());
            out.extend_from_slice(&slot.series_id.to_le_bytes());
            out.extend_from_slice(&(slot.count as u32).to_le_bytes());
            let mut r = slot.first;
            while r != NONE {
                let rec = &self.records[r];
                out.extend_from_slice(&rec.timestamp.to_le_bytes());
                r = rec.next;
            }
            let mut r = slot.first;
            while r != NONE {
                let rec = &self.records[r];
                let len = u16::from_le_bytes([self.values[rec.start], self.values[rec.start + 1]]);
                out.extend_from_slice(&self.values[rec.start..rec.start + 2 + len as usize]);
                r = rec.next;
            }
        }
        debug_assert_eq!(out.len(), frame::HEADER_LEN + self.payload_bytes);
        let any = !self.is_empty();
        let stats = FrameStats {
            payload_bytes: self.payload_bytes as u64,
            min_timestamp: any.then_some(self.min_timestamp),
            max_timestamp: any.then_some(self.max_timestamp),
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
        self.slots.clear();
        self.records.clear();
        self.values.clear();
        self.index.clear();
        self.payload_bytes = 0;
        self.stats = FrameStats::default();
        self.min_timestamp = i64::MAX;
        self.max_timestamp = i64::MIN;
        self.oldest = None;
    }
}
