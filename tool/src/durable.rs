//! `append`'s `durable N SEG:OFF` lines: a count of the records durable so
//! far and the position the log is durable through (the end of the frame
//! holding record N, from its completion), raised by completions (from the
//! WAL's threads, or inside its calls), and printed to stdout at most once
//! per [`PRINT_EVERY`].

use std::io::Write;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use wal_core::Position;

use crate::output::lock;
use crate::progress::Progress;

/// The printer writes at most one `durable N SEG:OFF` line per this interval; the
/// records completed meanwhile are counted in the next line.
const PRINT_EVERY: Duration = Duration::from_millis(10);

/// Counts durable records and prints `durable N SEG:OFF` lines.
#[derive(Default)]
pub(crate) struct Durable {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    durable: u64,
    /// Where the log is durable through, as record `durable`'s completion said.
    position: Position,
    printed: u64,
    done: bool,
    /// The printer sleeps until the count changes (and only then needs a
    /// wake-up: completions run per record, and a wake-up each cost a
    /// futex call and a thread switch per record).
    printer_idle: bool,
}

impl Durable {
    /// The first `n` records are durable, the log through `position`.
    pub(crate) fn record_durable(&self, n: u64, position: Position) {
        let mut s = lock(&self.state);
        if n > s.durable {
            s.durable = n;
            s.position = s.position.max(position);
            if s.printer_idle {
                s.printer_idle = false;
                self.changed.notify_all();
            }
        }
    }

    /// Prints `durable N SEG:OFF` if more records are durable than last printed.
    pub(crate) fn print_pending(&self, out: &Mutex<dyn Write + Send>, progress: &Progress) {
        let (n, position) = {
            let mut s = lock(&self.state);
            if s.durable == s.printed {
                return;
            }
            s.printed = s.durable;
            (s.durable, s.position)
        };
        progress.on_stdout(|| {
            let mut out = lock(out);
            let _ = writeln!(out, "durable {n} {position}");
            let _ = out.flush();
        });
    }

    /// The printer thread's loop: print each change until [`Durable::finish`],
    /// at most one line per [`PRINT_EVERY`] (the last count is always
    /// printed).
    pub(crate) fn printer(&self, out: &Mutex<dyn Write + Send>, progress: &Progress) {
        loop {
            {
                let mut s = lock(&self.state);
                while s.durable == s.printed && !s.done {
                    s.printer_idle = true;
                    s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                s.printer_idle = false;
                if s.durable == s.printed && s.done {
                    return;
                }
            }
            self.print_pending(out, progress);
            // Let completions gather into the next line (close cuts this short).
            let s = lock(&self.state);
            if !s.done {
                drop(
                    self.changed
                        .wait_timeout(s, PRINT_EVERY)
                        .unwrap_or_else(|p| p.into_inner()),
                );
            }
        }
    }

    /// No more completions: the printer prints the last count and returns.
    pub(crate) fn finish(&self) {
        let mut s = lock(&self.state);
        s.done = true;
        drop(s);
        self.changed.notify_all();
    }
}
