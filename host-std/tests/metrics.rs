//! The `metrics` feature: the WAL's counters and sync histogram reach an
//! installed recorder, and agree with `stats()`.
#![cfg(feature = "metrics")]

use std::collections::HashMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use wal_core::testing::MemStorage;
use wal_core::Config;
use wal_host_std::Wal;

#[test]
fn the_counters_and_the_sync_histogram_reach_the_recorder_and_agree_with_stats() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let cfg = Config::default()
        .with_compression(false)
        .with_buffer_size(512)
        .with_file_size(4096)
        .with_retain_bytes(Some(8192));
    let wal = Wal::with_storage(MemStorage::new(), cfg).unwrap();
    for i in 0..400 {
        wal.write(i % 3, i as i64, &[7u8; 40])
            .unwrap()
            .wait()
            .unwrap();
    }
    let stats = wal.stats().unwrap();
    wal.close().unwrap();
    let mut counters = HashMap::new();
    let mut syncs_seen = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        match value {
            DebugValue::Counter(n) => {
                counters.insert(key.key().name().to_string(), n);
            }
            DebugValue::Histogram(v) if key.key().name() == "wal_sync_seconds" => {
                syncs_seen = v.len() as u64;
                assert!(v.iter().all(|s| s.into_inner() >= 0.0));
            }
            _ => {}
        }
    }
    assert_eq!(counters.get("wal_records_total"), Some(&400));
    assert_eq!(counters.get("wal_frames_total"), Some(&stats.frames));
    assert_eq!(
        counters.get("wal_payload_bytes_total"),
        Some(&stats.payload_bytes)
    );
    assert_eq!(
        counters.get("wal_stored_bytes_total"),
        Some(&stats.stored_bytes)
    );
    assert_eq!(counters.get("wal_rotations_total"), Some(&stats.rotations));
    assert!(stats.rotations > 3, "{stats:?}");
    assert_eq!(
        counters.get("wal_removed_segments_total"),
        Some(&stats.removed_by_retention)
    );
    assert!(stats.removed_by_retention > 0);
    let timed = stats.sync_latency.expect("timed").count;
    assert_eq!(counters.get("wal_syncs_total"), Some(&timed));
    assert_eq!(syncs_seen, timed);
}
