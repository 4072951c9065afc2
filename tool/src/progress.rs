//! Progress on a terminal: a bar over the segments' bytes for `dump`,
//! `verify` and `stats` (bytes done, rate, time left), and a spinner with
//! the bytes and records read for `append`. Drawn on the process's stderr
//! with `indicatif`, and only when the tool is told stderr is a terminal;
//! otherwise nothing at all is drawn, and no progress is even counted.
//!
//! While a bar is up, writes to stderr go through [`Progress::on_stderr`]
//! (the bar is cleared, the line written, the bar drawn again), and so do
//! writes to stdout when stdout is the same terminal
//! ([`Progress::on_stdout`], [`AroundProgress`]).

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use indicatif::{
    HumanBytes, HumanCount, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle,
};

/// A progress bar or spinner on the terminal, or nothing. Clones share it;
/// it is cleared once the last clone is dropped.
#[derive(Clone)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    /// Whether stdout is a terminal too (then its writes clear the bar first).
    stdout_is_terminal: bool,
}

impl Progress {
    /// No progress.
    pub(crate) fn hidden() -> Self {
        Progress {
            bar: None,
            stdout_is_terminal: false,
        }
    }

    /// A bar of length `len` (none: a spinner) styled with `template`, when `on`.
    fn shown(on: bool, len: Option<u64>, template: &str) -> Self {
        if !on {
            return Progress::hidden();
        }
        let style = ProgressStyle::with_template(template)
            .expect("the progress templates are valid")
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
            .with_style(style)
            .with_finish(ProgressFinish::AndClear);
        Progress {
            bar: Some(bar),
            stdout_is_terminal: std::io::stdout().is_terminal(),
        }
    }

    /// A bar over `total` bytes of segments, when `on`.
    pub(crate) fn over_bytes(on: bool, total: u64) -> Self {
        Progress::shown(
            on,
            Some(total),
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta} left)",
        )
    }

    /// A spinner for input read, when `on` (see [`Progress::input_read`]).
    pub(crate) fn reading_input(on: bool) -> Self {
        Progress::shown(on, None, "{spinner} {msg}")
    }

    /// Whether anything is drawn.
    pub(crate) fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Sets the message shown before the bar; `msg` is not called when
    /// nothing is drawn.
    pub(crate) fn message<M: Into<Cow<'static, str>>>(&self, msg: impl FnOnce() -> M) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg());
        }
    }

    /// Moves the bar to `pos` bytes done.
    pub(crate) fn position(&self, pos: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(pos);
        }
    }

    /// `bytes` and `records` of input read so far, with their rates.
    pub(crate) fn input_read(&self, bytes: u64, records: u64) {
        if let Some(bar) = &self.bar {
            let secs = bar.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "read {} ({}/s), {} records ({}/s)",
                HumanBytes(bytes),
                HumanBytes((bytes as f64 / secs) as u64),
                HumanCount(records),
                HumanCount((records as f64 / secs) as u64),
            ));
            bar.tick(); // the spinner turns with each read
        }
    }

    /// Runs `f`, which writes to stderr, with the bar cleared.
    pub(crate) fn on_stderr<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Runs `f`, which writes to stdout, with the bar cleared if stdout is
    /// the same terminal.
    pub(crate) fn on_stdout<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) if self.stdout_is_terminal => bar.suspend(f),
            _ => f(),
        }
    }
}

/// A writer to stdout whose writes go through [`Progress::on_stdout`]; under
/// a `BufWriter`, that is once per buffer, not per line.
pub(crate) struct AroundProgress<W> {
    pub(crate) progress: Progress,
    pub(crate) out: W,
}

impl<W: Write> Write for AroundProgress<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let out = &mut self.out;
        self.progress.on_stdout(|| out.write(buf))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let out = &mut self.out;
        self.progress.on_stdout(|| out.flush())
    }
}
