//! `checkpoint`: opens the WAL as a writer (taking the lock), deletes every
//! closed segment wholly before a position through the core's
//! `checkpoint`, and prints what it removed.

use std::io::Write;

use wal_core::{Config, FileName, Position};

use crate::host::{Appender, Host};
use crate::output::write_failed;

/// Runs `checkpoint` of `dir` at `through`, the report to `out` (what
/// opening the WAL found to `stderr`, as `append` does): returns the exit
/// code, or the error that stopped it.
pub(crate) fn checkpoint<H: Host>(
    host: &H,
    dir: &str,
    through: Position,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, String> {
    // A checkpoint of a directory that is not there is a mistake, not a
    // reason to create a WAL.
    host.read_only(dir)?;
    let mut wal = host
        .open_writer(dir, Config::default())
        .map_err(|e| format!("cannot open WAL {dir}: {e}"))?;
    let _ = writeln!(stderr, "{}", wal.recovery());
    let result = wal.checkpoint(through);
    let closed = wal.close();
    let removed = result.map_err(|e| format!("cannot checkpoint {dir} at {through}: {e}"))?;
    for &id in &removed {
        writeln!(out, "removed {}", FileName::Segment(id)).map_err(write_failed)?;
    }
    writeln!(
        out,
        "checkpoint at {through}: {} segment{} removed",
        removed.len(),
        if removed.len() == 1 { "" } else { "s" }
    )
    .map_err(write_failed)?;
    closed.map_err(|e| format!("closing the WAL: {e}"))?;
    Ok(0)
}
