//! `dump`: every record, in storage order, as text or JSON lines.

use std::io::{BufWriter, Write};

use wal_core::SegmentId;

use super::{describe, report, ReadDir};
use crate::args::Format;
use crate::exit::EXIT_ERROR;
use crate::host::Host;
use crate::output::write_failed;
use crate::progress::AroundProgress;

/// Runs `dump` of `dir` (only segment `only`, if given) to `out`: returns
/// the exit code, or the error that stopped it. `tty`: stderr is a terminal
/// (show progress).
pub(crate) fn dump<H: Host>(
    host: &H,
    dir: &str,
    only: Option<SegmentId>,
    format: Format,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
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
        let (_, ending) = d.inspect(id, |_, e| {
            for (ts, v) in e.timestamps().zip(e.values()) {
                let r = match format {
                    Format::Jsonl => writeln!(
                        out,
                        "{{\"segment\": {id}, \"series_id\": {}, \"timestamp\": {ts}, \"value_hex\": \"{}\"}}",
                        e.series_id,
                        const_hex::encode(v)
                    ),
                    Format::Text => {
                        writeln!(out, "segment {id} series {} timestamp {ts} value {}", e.series_id, v.escape_ascii())
                    }
                };
                if let Err(err) = r {
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
