//! The stats as they happen, through the `metrics` crate facade (feature
//! `metrics`; without it every function here is empty). Names:
//!
//! | metric | kind | what |
//! |---|---|---|
//! | `wal_frames_total` | counter | frames appended |
//! | `wal_records_total` | counter | records in them |
//! | `wal_payload_bytes_total` | counter | their entry bytes before compression |
//! | `wal_stored_bytes_total` | counter | bytes they took in segments |
//! | `wal_syncs_total` | counter | syncs (and frames written and synced in one step) |
//! | `wal_sync_seconds` | histogram | how long each took |
//! | `wal_rotations_total` | counter | rotations |
//! | `wal_removed_segments_total` | counter | segments retention deleted |

use std::time::Duration;

/// A frame of `records` records and `payload` entry bytes took `stored`.
pub(crate) fn frame(records: u64, payload: u64, stored: u64) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("wal_frames_total").increment(1);
        metrics::counter!("wal_records_total").increment(records);
        metrics::counter!("wal_payload_bytes_total").increment(payload);
        metrics::counter!("wal_stored_bytes_total").increment(stored);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (records, payload, stored);
}

/// A sync (or a frame's write and sync) took `took`.
pub(crate) fn sync(took: Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("wal_syncs_total").increment(1);
        metrics::histogram!("wal_sync_seconds").record(took.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = took;
}

/// The active segment rotated.
pub(crate) fn rotation() {
    #[cfg(feature = "metrics")]
    metrics::counter!("wal_rotations_total").increment(1);
}

/// Retention deleted `n` segments.
pub(crate) fn removed(n: usize) {
    #[cfg(feature = "metrics")]
    metrics::counter!("wal_removed_segments_total").increment(n as u64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}
