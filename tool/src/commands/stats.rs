//! `stats`: a table with one row per segment: bytes, frames, entries,
//! records, series, first and last timestamp, compression ratio.

use std::collections::HashSet;
use std::io::Write;

use super::{describe, report, ReadDir};
use crate::host::Host;
use crate::output::write_failed;

/// Runs `stats` of `dir`, the table to `out`: returns the exit code, or the
/// error that stopped it. `tty`: stderr is a terminal (show progress).
pub(crate) fn stats<H: Host>(
    host: &H,
    dir: &str,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    let ids = d.ids.clone();
    d.show_progress(tty, "reading", &ids);
    let progress = d.progress.clone();
    let mut line = |text: String| {
        progress
            .on_stdout(|| writeln!(out, "{text}"))
            .map_err(write_failed)
    };
    line(format!(
        "{:>8} {:>12} {:>8} {:>10} {:>10} {:>8} {:>20} {:>20} {:>6}",
        "segment",
        "bytes",
        "frames",
        "entries",
        "records",
        "series",
        "min_timestamp",
        "max_timestamp",
        "ratio"
    ))?;
    let mut code = 0;
    for &id in &ids {
        let mut series = HashSet::new();
        let (info, ending) = d.inspect(id, |_, e| {
            series.insert(e.series_id);
        })?;
        // The stored bytes: all but the segment header and frame headers.
        let stored = info.bytes.saturating_sub(24 + 16 * info.frames);
        let ratio = if stored == 0 {
            1.0
        } else {
            info.payload_bytes as f64 / stored as f64
        };
        let ts = |t: Option<i64>| t.map_or("-".to_string(), |t| t.to_string());
        line(format!(
            "{:>8} {:>12} {:>8} {:>10} {:>10} {:>8} {:>20} {:>20} {:>6.2}",
            id,
            info.bytes,
            info.frames,
            info.entries,
            info.records,
            series.len(),
            ts(info.min_timestamp),
            ts(info.max_timestamp),
            ratio
        ))?;
        if let Some((c, msg)) = describe(id, &ending) {
            report(stderr, &progress, c, &msg);
            code = code.max(c);
        }
    }
    Ok(code)
}
