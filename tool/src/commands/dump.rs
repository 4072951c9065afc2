//! `dump`: every record, in storage order, as text or JSON lines; or, with
//! `--from`, the log from a position on (a replay through the core's
//! [`Replay`], which checks where it starts).

use std::io::{BufWriter, Write};

use wal_core::format::frame::MAX_PAYLOAD_LEN;
use wal_core::{Error, Position, Replay, SegmentId, Storage};

use super::{describe, report, ReadDir};
use crate::exit::EXIT_ERROR;
use crate::host::Host;
use crate::output::write_failed;
use crate::progress::AroundProgress;
use crate::records::RecordFormat;

/// Runs `dump` of `dir` (only segment `only`, or from position `from`, if
/// given) to `out`: returns the exit code, or the error that stopped it.
/// `tty`: stderr is a terminal (show progress).
#[allow(clippy::too_many_arguments)]
pub(crate) fn dump<H: Host>(
    host: &H,
    dir: &str,
    only: Option<SegmentId>,
    from: Option<Position>,
    format: RecordFormat,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    if let Some(from) = from {
        return dump_from(&mut d, from, format, out, stderr);
    }
    let selected: Vec<SegmentId> = match only {
        Some(id) if d.ids.contains(&id) => vec![id],
        Some(id) => return Err(format!("no segment {id} in {dir}")),
        None => d.ids.clone(),
    };
    d.show_progress(tty, "dumping", &selected);
    let progress = d.progress.clone();
    let mut out = BufWriter::with_capacity(
        1 << 16,
        AroundProgress {
            progress: progress.clone(),
            out,
        },
    );
    let mut code = 0;
    for id in selected {
        let mut write_err = None;
        let (_, ending) = d.inspect(id, |f, e| {
            let at = Position::new(id, f.offset);
            for (ts, v) in e.timestamps().zip(e.values()) {
                if let Err(err) = format.write(&mut out, at, e.series_id, ts, v) {
                    write_err.get_or_insert(err);
                }
            }
        })?;
        if let Some(e) = write_err {
            return Err(write_failed(e));
        }
        if let Some((c, msg)) = describe(id, &ending) {
            out.flush().map_err(write_failed)?;
            report(stderr, &progress, c, &msg);
            code = code.max(c);
            if c == EXIT_ERROR {
                break;
            }
        }
    }
    out.flush().map_err(write_failed)?;
    Ok(code)
}

/// `dump --from`: the records from `from` to the end of what the
/// directory holds, then how its newest segment ends (as `dump` reports
/// it). Where no read can start at `from`, the core's error says why.
fn dump_from<S: Storage>(
    d: &mut ReadDir<S>,
    from: Position,
    format: RecordFormat,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, String> {
    let cannot = |e: Error| format!("cannot dump from {from}: {e}");
    let mut segments = d.ids.clone();
    let Some(&newest) = segments.last() else {
        return Err(cannot(Error::PastEnd {
            position: from,
            end: Position::START,
        }));
    };
    // The log ends where the newest segment's valid frames do; one whose
    // header is not whole holds none, and the log ends with the one before.
    let (info, ending) = d.inspect(newest, |_, _| {})?;
    let end = if info.bytes >= Position::FIRST_FRAME {
        Position::new(newest, info.bytes)
    } else {
        segments.pop();
        match segments.last() {
            Some(&prev) => Position::new(prev, d.len(prev)),
            None => {
                return Err(cannot(Error::PastEnd {
                    position: from,
                    end: Position::START,
                }))
            }
        }
    };
    let replay =
        Replay::new(&mut d.storage, &segments, end, from, MAX_PAYLOAD_LEN).map_err(cannot)?;
    let mut out = BufWriter::with_capacity(1 << 16, out);
    for item in replay {
        let (at, e) = match item {
            Ok(r) => r,
            Err(e) => {
                out.flush().map_err(write_failed)?;
                return Err(e.to_string());
            }
        };
        for (&ts, v) in e.timestamps.iter().zip(&e.values) {
            format
                .write(&mut out, at, e.series_id, ts, v)
                .map_err(write_failed)?;
        }
    }
    out.flush().map_err(write_failed)?;
    match describe(newest, &ending) {
        Some((c, msg)) => {
            report(stderr, &d.progress, c, &msg);
            Ok(c)
        }
        None => Ok(0),
    }
}
