//! `tail`: follows a live WAL directory read-only, like `tail -F`, through
//! the core's [`Follower`]: every record once, in order, as it becomes
//! durable. This is only the poll loop: polling time, sleeping and when to
//! stop belong here; what a frame is and when it may be handed out, to the
//! core.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use wal_core::{Follower, Position};

use crate::host::Host;
use crate::output::write_failed;
use crate::records::RecordFormat;
use crate::signals::{stop_on_signals, stop_requested};

/// How long `tail` sleeps when a poll found nothing new.
const POLL_EVERY: Duration = Duration::from_millis(10);

/// Runs `tail` of `dir` from `from` (the oldest segment when `None`) to
/// `out`, until a stop is requested (SIGINT, SIGTERM) or, with `idle`, that
/// long passes without a new record: exit code 0. Errors (a directory that
/// is a file, a start where no read can start, corruption) stop it.
pub(crate) fn tail<H: Host>(
    host: &H,
    dir: &str,
    from: Option<Position>,
    format: RecordFormat,
    idle: Option<Duration>,
    out: &mut dyn Write,
) -> Result<i32, String> {
    stop_on_signals();
    let mut grew = Instant::now();
    let idle_over = |grew: Instant| idle.is_some_and(|d| grew.elapsed() >= d);
    // A directory not created yet is waited for.
    let storage = loop {
        if stop_requested() || idle_over(grew) {
            return Ok(0);
        }
        if Path::new(dir).exists() {
            break host.read_only(dir)?;
        }
        std::thread::sleep(POLL_EVERY);
    };
    let mut follower = Follower::new(storage, from.unwrap_or(Position::START));
    let mut out = BufWriter::with_capacity(1 << 16, out);
    loop {
        if stop_requested() {
            return Ok(0);
        }
        let polled = follower
            .poll()
            .map_err(|e| format!("cannot follow {dir}: {e}"))?;
        if !polled.entries.is_empty() {
            for (at, e) in &polled.entries {
                for (&ts, v) in e.timestamps.iter().zip(&e.values) {
                    format
                        .write(&mut out, *at, e.series_id, ts, v)
                        .map_err(write_failed)?;
                }
            }
            out.flush().map_err(write_failed)?;
            grew = Instant::now();
        }
        if polled.more {
            continue;
        }
        if idle_over(grew) {
            return Ok(0);
        }
        std::thread::sleep(POLL_EVERY);
    }
}
