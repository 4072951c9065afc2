//! `wal`: the portable write-ahead log. Re-exports the core and the host
//! for the target it is built for.
pub use wal_core as core;
pub use wal_core::{
    Config, Entry, Error, RecoveryMode, RecoveryReport, SegmentId, SegmentInfo, SyncPolicy,
};
