//! `repair`: opens the WAL in salvage mode (taking the lock, as a writer),
//! which keeps every valid frame of a damaged newest segment and sets only
//! the damaged bytes aside, then closes it and prints what it did.

use std::io::Write;

use wal_core::{Config, RecoveryMode};

use crate::host::{Appender, Host};
use crate::output::write_failed;

/// Runs `repair` of `dir`, the report to `out`: returns the exit code, or
/// the error that stopped it (a directory that salvage cannot open is left
/// as it was).
pub(crate) fn repair<H: Host>(host: &H, dir: &str, out: &mut dyn Write) -> Result<i32, String> {
    let config = Config::default().with_recovery(RecoveryMode::Salvage);
    let mut wal = host
        .open_writer(dir, config)
        .map_err(|e| format!("cannot repair WAL {dir}: {e}"))?;
    let report = wal.recovery();
    wal.close()
        .map_err(|e| format!("cannot close WAL {dir} after repair: {e}"))?;
    let changed = report.cut.is_some()
        || report.salvaged.is_some()
        || report.restarted
        || report.released_zero_bytes > 0;
    writeln!(out, "{report}").map_err(write_failed)?;
    let verdict = if changed {
        "repaired: every valid frame is kept; what was set aside is named above"
    } else {
        "nothing to repair"
    };
    writeln!(out, "{verdict}").map_err(write_failed)?;
    Ok(0)
}
