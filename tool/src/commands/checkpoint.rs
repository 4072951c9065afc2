//! `checkpoint`: opens the WAL as a writer (taking the lock), deletes every
//! closed segment wholly before a position through the core's
//! `checkpoint`, and prints what it removed or kept for recycling.

use std::io::Write;

use wal_core::{Config, FileName, Position, Storage};

use crate::host::{Appender, Host};
use crate::output::write_failed;

/// Runs `checkpoint` of `dir` at `through`, the report to `out` (what
/// opening the WAL found to `stderr`, as `append` does): returns the exit
/// code, or the error that stopped it.
pub(crate) fn checkpoint<H: Host>(
    host: &H,
    dir: &str,
    through: Position,
    recycle: usize,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, String> {
    // A checkpoint of a directory that is not there is a mistake, not a
    // reason to create a WAL.
    let mut look = host.read_only(dir)?;
    let mut wal = host
        .open_writer(dir, Config::default().with_recycle(recycle))
        .map_err(|e| format!("cannot open WAL {dir}: {e}"))?;
    let _ = writeln!(stderr, "{}", wal.recovery());
    let result = wal.checkpoint(through);
    let closed = wal.close();
    let removed = result.map_err(|e| format!("cannot checkpoint {dir} at {through}: {e}"))?;
    let free = look.list().unwrap_or_default();
    let mut kept = 0;
    for &id in &removed {
        if free.contains(&FileName::Free(id)) {
            kept += 1;
            writeln!(
                out,
                "recycled {} (kept as {})",
                FileName::Segment(id),
                FileName::Free(id)
            )
        } else {
            writeln!(out, "removed {}", FileName::Segment(id))
        }
        .map_err(write_failed)?;
    }
    writeln!(
        out,
        "checkpoint at {through}: {} segment{} removed{}",
        removed.len(),
        if removed.len() == 1 { "" } else { "s" },
        if kept > 0 {
            format!(", {kept} kept for recycling")
        } else {
            String::new()
        }
    )
    .map_err(write_failed)?;
    closed.map_err(|e| format!("closing the WAL: {e}"))?;
    Ok(0)
}
