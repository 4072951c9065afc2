//! The memory workload: peak RSS of ingest at two sizes.

use super::ingest::ingest_ours;
use super::{human, tmp};
use crate::row::Row;

/// Memory: peak RSS of the ingest workload at two sizes (it must not grow
/// with the data written).
pub fn memory(quick: bool) -> Vec<Row> {
    let sizes: [u64; 2] = if quick {
        [32 << 20, 128 << 20]
    } else {
        [1 << 30, 4 << 30]
    };
    sizes
        .iter()
        .map(|&b| {
            let dir = tmp();
            let (mut r, _, _) = ingest_ours(b, 64 << 10, dir.path(), false);
            r.name = "memory".into();
            r.variant = format!("ingest {} at 64 KiB", human(b));
            r
        })
        .collect()
}
