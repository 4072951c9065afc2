//! The write buffer: records grouped by series, in first-arrival order,
//! with the exact size of the entries they will encode to, and the
//! completions waiting on them.
//!
//! The table from series ID to slot is only ever looked up, never iterated:
//! entries are encoded in slot order, which is the order in which each series
//! first arrived, so the same writes give the same bytes on every host.
//!
//! Each record is stored as it arrives as a one-record entry, after room
//! for the frame header: while no series repeats, that is the frame
//! already, and sealing hands it over without copying a byte (many series,
//! each written once per buffer, as a metrics scrape writes them).
//! Once a series repeats, sealing regroups the records into one entry per
//! series from the same bytes.

use alloc::vec::Vec;
use core::hash::BuildHasher;
use core::time::Duration;

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};

use crate::config::Config;
use crate::error::Error;
use crate::format::entry::{ENTRY_OVERHEAD, RECORD_OVERHEAD};
use crate::format::{frame, MAX_VALUE_LEN};
use crate::summary::FrameStats;

/// Whether a buffer holding `payload_bytes` of entries, whose oldest record
/// arrived at `oldest`, must be flushed at `now`. The one flush rule, shared
/// by every host.
pub fn flush_due(
    config: &Config,
    payload_bytes: usize,
    oldest: Option<Duration>,
    now: Duration,
) -> bool {
    payload_bytes >= config.buffer_size || deadline(config, oldest).is_some_and(|d| now >= d)
}

/// When a buffer whose oldest record arrived at `oldest` becomes due by time.
pub fn deadline(config: &Config, oldest: Option<Duration>) -> Option<Duration> {
    Some(oldest?.saturating_add(config.flush_interval?))
}

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
    /// Where its one-record entry starts in `values`.
    start: usize,
    /// The next record of the same series (`NONE` for the last).
    next: usize,
}

const NONE: usize = usize::MAX;

/// Bytes of a one-record entry before its value: the entry's `len`,
/// `series_id` and `count`, the timestamp and the value's length.
const ONE_RECORD_ENTRY: usize = ENTRY_OVERHEAD + RECORD_OVERHEAD;

/// Buffered records and their completions (`C`: whatever the host uses to
/// tell a writer how its record fared).
#[derive(Debug)]
pub struct WriteBuffer<C> {
    /// Series ID to slot: one probe per push, new series or not (a map's
    /// `entry` probes again to insert).
    index: HashTable<(u64, usize)>,
    hasher: DefaultHashBuilder,
    /// Slots in first-arrival order.
    slots: Vec<Slot>,
    /// Records in arrival order, each linked to its series' next one: flat
    /// vectors that keep their capacity from one buffer to the next (no
    /// vector per series, which a reused buffer would keep at the largest
    /// size that series ever needed).
    records: Vec<Record>,
    /// The frame header's room, then every record as a one-record entry
    /// (`ONE_RECORD_ENTRY` bytes, then the value), in arrival order: one
    /// allocation about `buffer_size` long (empty until the first push).
    values: Vec<u8>,
    /// A series has more than one record: sealing must regroup.
    regroup: bool,
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
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            slots: Vec::new(),
            records: Vec::new(),
            values: Vec::new(),
            regroup: false,
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
    #[inline]
    pub fn push(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: Option<C>,
    ) -> Result<usize, Error> {
        Self::check_value(value)?;
        if self.values.is_empty() {
            self.values.resize(frame::HEADER_LEN, 0);
        }
        let this = self.records.len();
        let start = self.values.len();
        let encoded = 2 + value.len();
        let hasher = &self.hasher;
        match self.index.entry(
            hasher.hash_one(series_id),
            |&(s, _)| s == series_id,
            |&(s, _)| hasher.hash_one(s),
        ) {
            Entry::Occupied(o) => {
                let slot = &mut self.slots[o.get().1];
                self.records[slot.last].next = this;
                slot.last = this;
                slot.count += 1;
                slot.values_len += encoded;
                self.regroup = true;
            }
            Entry::Vacant(v) => {
                v.insert((series_id, self.slots.len()));
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
        // The record as an entry of its own: len, series_id, count (1),
        // timestamp, value length, value.
        let mut head = [0u8; ONE_RECORD_ENTRY];
        head[0..8].copy_from_slice(&((ONE_RECORD_ENTRY - 8 + value.len()) as u64).to_le_bytes());
        head[8..16].copy_from_slice(&series_id.to_le_bytes());
        head[16..20].copy_from_slice(&1u32.to_le_bytes());
        head[20..28].copy_from_slice(&timestamp.to_le_bytes());
        head[28..30].copy_from_slice(&(value.len() as u16).to_le_bytes());
        self.values.reserve(ONE_RECORD_ENTRY + value.len());
        self.values.extend_from_slice(&head);
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

    /// Encodes the buffer as a raw frame into `out` (whatever it held is
    /// replaced): 16 header bytes left for the log to fill in, then the
    /// entries. Empties the buffer. When no series repeated, the buffer's
    /// own vector already holds the frame and is swapped with `out`, whose
    /// allocation the buffer then reuses.
    pub fn seal_into(&mut self, out: &mut Vec<u8>) -> Sealed<C> {
        if !self.regroup && !self.values.is_empty() {
            // Every entry holds one record: the arena is the frame. The
            // caller's vector becomes the next arena.
            core::mem::swap(out, &mut self.values);
        } else {
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
                    // The value with its length, after the record's entry
                    // head.
                    let at = rec.start + ONE_RECORD_ENTRY - 2;
                    let len = u16::from_le_bytes([self.values[at], self.values[at + 1]]);
                    out.extend_from_slice(&self.values[at..at + 2 + len as usize]);
                    r = rec.next;
                }
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
        self.regroup = false;
        self.index.clear();
        self.payload_bytes = 0;
        self.stats = FrameStats::default();
        self.min_timestamp = i64::MAX;
        self.max_timestamp = i64::MIN;
        self.oldest = None;
    }
}
