//! [`Stats`]: a plain snapshot of what a WAL did since it opened and what
//! it holds now.

use alloc::vec::Vec;
use core::time::Duration;

use crate::position::Position;

/// How long syncs took, as a host measured them (the core has no clock).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncLatency {
    /// Syncs measured.
    pub count: u64,
    /// Half took at most this long.
    pub p50: Duration,
    /// 99 in 100 took at most this long.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
}

/// A snapshot of a WAL: counters since it opened, and what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Records written (in frames appended) since open.
    pub records: u64,
    /// Frames appended since open.
    pub frames: u64,
    /// Of those, frames stored snappy-compressed.
    pub snappy_frames: u64,
    /// Entry bytes before compression.
    pub payload_bytes: u64,
    /// Bytes the frames took in segments (headers included): after
    /// compression.
    pub stored_bytes: u64,
    /// Syncs of segment files since open.
    pub syncs: u64,
    /// Their latency, where the host measures it (the thread-safe WAL).
    pub sync_latency: Option<SyncLatency>,
    /// Rotations since open.
    pub rotations: u64,
    /// Segment files reused as new segments since open.
    pub recycled: u64,
    /// Segments retention deleted since open.
    pub removed_by_retention: u64,
    /// Segments now.
    pub segments: usize,
    /// Bytes all segment files hold now (the active one's reserved zeros
    /// included).
    pub bytes_on_disk: u64,
    /// Where the log starts: the first frame of the oldest segment.
    pub oldest: Position,
    /// Where the durable log ends.
    pub durable: Position,
    /// Each live tail's position, and how many bytes of durable log it has
    /// still to read (the thread-safe WAL).
    pub tails: Vec<(Position, u64)>,
}
