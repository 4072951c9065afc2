//! How long the WAL's syncs took: a histogram for [`wal_core::Stats`].

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use wal_core::SyncLatency;

/// Sync durations in microseconds, 1 µs to an hour, 3 significant digits.
pub(crate) struct SyncTimes {
    hist: Mutex<Option<Histogram<u64>>>,
}

impl std::fmt::Debug for SyncTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncTimes")
            .field("latency", &self.latency())
            .finish()
    }
}

impl SyncTimes {
    pub(crate) fn new() -> Self {
        SyncTimes {
            hist: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).ok()),
        }
    }

    /// Records one sync (or a frame's write and sync) that took `took`.
    pub(crate) fn record(&self, took: Duration) {
        crate::metrics::sync(took);
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut hist = self.hist.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = hist.as_mut() {
            h.saturating_record(us);
        }
    }

    /// The percentiles so far (`None` before the first sync).
    pub(crate) fn latency(&self) -> Option<SyncLatency> {
        let hist = self.hist.lock().unwrap_or_else(|p| p.into_inner());
        let h = hist.as_ref().filter(|h| !h.is_empty())?;
        let us = Duration::from_micros;
        Some(SyncLatency {
            count: h.len(),
            p50: us(h.value_at_quantile(0.5)),
            p99: us(h.value_at_quantile(0.99)),
            max: us(h.max()),
        })
    }
}
