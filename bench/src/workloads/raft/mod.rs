//! Workload 13, raft (feature `raft`): the log store of `wal-raft` against
//! the raw thread-safe WAL on the same entries ([`log_store`]), and three
//! `raft-kv` processes on loopback taking writes from 1 and 64 concurrent
//! clients ([`cluster`]).

mod cluster;
mod log_store;

use crate::row::Row;

/// Both parts of the workload.
pub fn raft(quick: bool) -> Vec<Row> {
    let mut rows = log_store::log_store(quick);
    rows.extend(cluster::cluster(quick));
    rows
}

/// The verdicts: the log store's appends/s at least 0.9x the raw WAL's
/// (overhead at most 10%), round by round.
pub fn verdicts(rows: &[Row]) {
    for r in rows
        .iter()
        .filter(|r| r.name == "raft" && r.system == "wal-raft")
    {
        if let Some(p) = &r.paired {
            crate::paired_line(
                &format!("raft {}: appends/s vs the raw WAL", r.variant),
                p,
                None,
                0.9,
            );
        }
    }
}
