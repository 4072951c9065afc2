//! `append`: JSON-lines records from stdin into the WAL, printing
//! `durable N SEG:OFF` as the first N become durable (the log durable
//! through position SEG:OFF).

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use wal_core::{Completion, Config};

use crate::durable::Durable;
use crate::host::{Appender, Host};
use crate::input::{parse_line, Lines};
use crate::progress::Progress;

/// Runs `append` into `dir`: returns the exit code, or the error that
/// stopped it (the records before it are still written and durable).
/// `tty`: stderr is a terminal (show the input read so far).
pub(crate) fn append<H: Host>(
    host: &H,
    dir: &str,
    config: Config,
    stdin: &mut dyn BufRead,
    stdout: Arc<Mutex<dyn Write + Send>>,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut wal = host
        .open_writer(dir, config)
        .map_err(|e| format!("cannot open WAL {dir}: {e}"))?;
    let _ = writeln!(stderr, "{}", wal.recovery());
    let durable = Arc::new(Durable::default());
    let progress = Progress::reading_input(tty);
    // Print from a thread where the host has threads, so `durable N` appears
    // as soon as a frame is synced even while stdin is quiet; on a host
    // without threads (WASI) completions run inside our calls, and we print
    // after each one.
    let printer = {
        let (d, out, p) = (durable.clone(), stdout.clone(), progress.clone());
        std::thread::Builder::new()
            .name("durable-printer".into())
            .spawn(move || d.printer(&*out, &p))
            .ok()
    };
    let mut failure: Option<String> = None;
    let mut count = 0u64;
    let mut lines = Lines::new(stdin);
    let mut lineno = 0u64;
    let mut value = Vec::new();
    let mut reads = 0;
    loop {
        let parsed = match lines.next_with(|l| parse_line(l, &mut value)) {
            Ok(None) => break,
            Ok(Some(p)) => p,
            Err(e) => {
                failure = Some(format!("line {}: cannot read input: {e}", lineno + 1));
                break;
            }
        };
        if lines.reads != reads {
            reads = lines.reads;
            wal.input_arrived();
            progress.input_read(lines.bytes, count);
        }
        lineno += 1;
        let (series, ts) = match parsed {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                failure = Some(format!("line {lineno}: {e}"));
                break;
            }
        };
        count += 1;
        let (d, n) = (durable.clone(), count);
        let done = Completion::new(move |r| {
            if let Ok(position) = r {
                d.record_durable(n, position)
            }
        });
        if let Err(e) = wal.write_with(series, ts, &value, done) {
            failure = Some(format!("line {lineno}: {e}"));
            break;
        }
        if printer.is_none() {
            durable.print_pending(&*stdout, &progress);
        }
    }
    let closed = wal.close();
    durable.finish();
    match printer {
        Some(t) => {
            let _ = t.join();
        }
        None => durable.print_pending(&*stdout, &progress),
    }
    if let Err(e) = closed {
        failure.get_or_insert(format!("closing the WAL: {e}"));
    }
    match failure {
        Some(msg) => Err(msg),
        None => Ok(0),
    }
}
