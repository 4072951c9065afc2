//! The verdicts of the replay, tail, retention and rotation workloads
//! (the others' are in `main.rs`), with the arithmetic that decides them
//! kept in small functions, unit-tested.

use crate::row::Row;
use crate::{find, paired_line, ratio_line};

/// Tail latency target: p99 from completion to tail, in microseconds.
const TAIL_P99_US: f64 = 1000.0;

/// Whether a capped log held at most `cap + segment` bytes.
fn within_cap(held: f64, bound: f64) -> bool {
    held <= bound
}

/// What a rotation adds to writers' waits: the longest gap across a
/// rotation less the usual gap between two syncs' completions, in syncs
/// (median sync time); target at most 1.
fn rotation_stall_in_syncs(longest: f64, usual: f64, sync: f64) -> f64 {
    (longest - usual).max(0.0) / sync
}

pub fn replay(rows: &[Row]) {
    for r in rows
        .iter()
        .filter(|r| r.name == "replay" && r.system == "wal")
    {
        let api = r.variant.ends_with(", replay API");
        let base = r.variant.trim_end_matches(", replay API");
        if r.variant.starts_with("raw") && !api {
            let gb = r.payload_mb_per_s.unwrap() / 1000.0;
            println!(
                "- replay {}: {gb:.2} GB/s of payload (target >= 1 GB/s) {}",
                r.variant,
                if gb >= 1.0 { "MET" } else { "MISSED" }
            );
        } else if r.variant.starts_with("raw") {
            if let Some(p) = &r.paired {
                let l = find(rows, "replay", base, "read-loop");
                let medians = r.disk_mb_per_s.zip(l.and_then(|l| l.disk_mb_per_s));
                paired_line(
                    &format!(
                        "replay {}: segment-file MB/s vs a plain read() loop over the same files",
                        r.variant
                    ),
                    p,
                    medians.map(|(o, b)| o / b),
                    0.8,
                );
            }
        } else if let Some(s) = find(rows, "replay", base, "snap") {
            ratio_line(
                &format!("replay {}: payload MB/s vs snap decompressing", r.variant),
                r.payload_mb_per_s,
                s.payload_mb_per_s,
                if api { 0.85 } else { 0.7 },
                true,
            );
        }
    }
}

pub fn tail(rows: &[Row]) {
    for r in rows.iter().filter(|r| r.name == "tail") {
        let (Some(p50), Some(p99)) = (r.p50_us, r.p99_us) else {
            continue;
        };
        let judged = r.variant.ends_with("(default)");
        println!(
            "- tail {}: completion to tail p50 {p50:.0} us, p99 {p99:.0} us, max {:.0} us; write to tail p99 {:.2} ms (target: completion to tail p99 <= 1 ms{}) {}",
            r.variant,
            r.figure("max_us").unwrap_or(f64::NAN),
            r.figure("write_to_tail_p99_ms").unwrap_or(f64::NAN),
            if judged { ", judged here" } else { "" },
            if p99 <= TAIL_P99_US { "MET" } else { "MISSED" }
        );
    }
}

pub fn retention(rows: &[Row]) {
    for r in rows.iter().filter(|r| r.name == "retention") {
        let Some(p) = &r.paired else { continue };
        let (Some(held), Some(bound)) = (r.figure("max_held_bytes"), r.figure("bound_bytes"))
        else {
            continue;
        };
        let mib = |b: f64| b / (1 << 20) as f64;
        println!(
            "- retention {}: most held {:.1} MiB (stats and the directory's allocated size, sampled every 2 ms) vs cap + one segment {:.0} MiB (target: at most that) {}",
            r.variant,
            mib(held),
            mib(bound),
            if within_cap(held, bound) { "MET" } else { "MISSED" }
        );
        let free = rows
            .iter()
            .find(|f| f.name == "retention" && f.variant.ends_with("no retention"));
        let medians = r
            .disk_mb_per_s
            .zip(free.and_then(|f| f.disk_mb_per_s))
            .map_or(String::new(), |(o, b)| {
                format!("; the rows' medians give {:.2}x", o / b)
            });
        let mut sorted = p.ratios.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        println!(
            "- retention {}: ingest MB/s vs the same ingest without retention, round by round: median {:.2}x ({:.2} to {:.2} over {} rounds{medians}) (no target: reported)",
            r.variant,
            p.median(),
            sorted[0],
            sorted[sorted.len() - 1],
            sorted.len(),
        );
    }
}

pub fn rotation(rows: &[Row]) {
    for r in rows.iter().filter(|r| r.name == "rotation") {
        let (Some(longest), Some(usual), Some(sync)) = (
            r.figure("longest_rotation_gap_ms"),
            r.figure("usual_gap_ms"),
            r.figure("sync_p50_ms"),
        ) else {
            continue;
        };
        if r.figure("rotations") == Some(0.0) {
            println!(
                "- rotation {}: no rotation seen by the writers (target: adds at most one sync) NOT MEASURED",
                r.variant
            );
            continue;
        }
        let x = rotation_stall_in_syncs(longest, usual, sync);
        println!(
            "- rotation {}: longest gap across a rotation {longest:.2} ms, usual gap {usual:.2} ms, so a rotation adds {:.2} ms = {x:.2}x the median sync {sync:.3} ms; the gap itself {:.2}x (target: adds at most one sync) {}",
            r.variant,
            (longest - usual).max(0.0),
            longest / sync,
            if x <= 1.0 { "MET" } else { "MISSED" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_allows_one_segment_over() {
        let mib = (1 << 20) as f64;
        assert!(within_cap(320.0 * mib, 256.0 * mib + 64.0 * mib));
        assert!(!within_cap(320.0 * mib + 1.0, 320.0 * mib));
    }

    #[test]
    fn a_rotation_is_judged_on_what_it_adds() {
        // A gap of 2.5 ms where a sync's completions come 0.5 ms apart:
        // 2 ms added, 4 syncs of 0.5 ms.
        assert_eq!(rotation_stall_in_syncs(2.5, 0.5, 0.5), 4.0);
        // No longer than usual: nothing added.
        assert_eq!(rotation_stall_in_syncs(0.4, 0.5, 0.5), 0.0);
    }
}
