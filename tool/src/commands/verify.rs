//! `verify`: every segment checked, read-only, with per-segment counts,
//! notes on files that are not segments, totals and a verdict.

use std::io::Write;

use wal_core::FileName;
use wal_fs::FileKind;

use super::{describe, ReadDir};
use crate::exit::{EXIT_ERROR, EXIT_TORN};
use crate::host::Host;
use crate::output::write_failed;

/// Runs `verify` of `dir`, the report to `out`: returns the exit code (0
/// valid, 1 corrupt, 2 a torn tail), or the error that stopped it. `tty`:
/// stderr is a terminal (show progress).
pub(crate) fn verify<H: Host>(
    host: &H,
    dir: &str,
    out: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    let ids = d.ids.clone();
    d.show_progress(tty, "verifying", &ids);
    let progress = d.progress.clone();
    let mut line = |text: String| {
        progress
            .on_stdout(|| writeln!(out, "{text}"))
            .map_err(write_failed)
    };
    let (mut frames, mut entries, mut records) = (0u64, 0u64, 0u64);
    let (mut corrupt, mut torn) = (false, false);
    for &id in &ids {
        let (info, ending) = d.inspect(id, |_, _| {})?;
        frames += info.frames;
        entries += info.entries;
        records += info.records;
        match describe(id, &ending) {
            None => line(format!(
                "{}: ok, {} frames, {} entries, {} records",
                FileName::Segment(id),
                info.frames,
                info.entries,
                info.records
            ))?,
            Some((code, msg)) => {
                line(if code == EXIT_ERROR {
                    format!("CORRUPT {msg}")
                } else {
                    format!("TORN {msg}")
                })?;
                corrupt |= code == EXIT_ERROR;
                torn |= code == EXIT_TORN;
            }
        }
    }
    for (name, kind) in host.other_files(dir)? {
        let note = match kind {
            FileKind::Wal(FileName::TornTail { .. }) => {
                "a torn tail set aside by an earlier recovery"
            }
            FileKind::Wal(FileName::Free(_)) => "a free file kept for recycling (stale, not read)",
            FileKind::Lock => continue,
            _ => "not a WAL file; left alone",
        };
        line(format!("note: {name}: {note}"))?;
    }
    line(format!(
        "{} segments, {frames} frames, {entries} entries, {records} records",
        ids.len()
    ))?;
    let verdict = if corrupt {
        "corrupt"
    } else if torn {
        "torn tail on the newest segment"
    } else {
        "valid"
    };
    line(verdict.to_string())?;
    Ok(if corrupt {
        EXIT_ERROR
    } else if torn {
        EXIT_TORN
    } else {
        0
    })
}
