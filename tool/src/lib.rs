//! `wal-tool`: the `wal` command-line tool, which appends records to a
//! write-ahead log directory and looks inside one (`append`, `dump`,
//! `tail`, `verify`, `stats`, `checkpoint`, `repair`), and `wal-wasi`, the
//! same tool as a WASI guest.
//!
//! One implementation runs on every host: a host supplies a [`Host`], how to
//! open a WAL for appending and a directory for reading (`host::native`
//! over `wal-host-std`, `host::wasi` over `wal-host-wasi`); everything
//! else (flags, output, exit codes) is here, so both tools behave the same.
//!
//! The modules, each using only those after it:
//! - the binaries and [`host`]'s two hosts, which call [`run`];
//! - [`run`] (here): the command line (`args`) to one of the `commands`,
//!   one file each: `append`, `dump`, `tail`, `verify`, `stats`,
//!   `checkpoint`, `repair`;
//! - what the commands use: `input` (the input lines and their parsing),
//!   `durable` (`append`'s `durable N SEG:OFF` lines), `records` (how
//!   `dump` and `tail` print a record), `signals` (SIGINT and SIGTERM end
//!   `tail`), `progress` (progress on a
//!   terminal), `output` (the shared stdout), `exit` (exit codes), and the
//!   [`Host`] and [`Appender`] traits.
//!
//! Exit codes: 0 success; 1 an error (bad input line, corruption, I/O);
//! 2 a torn tail on the newest segment (`verify`, `dump`, `stats`: reported,
//! not repaired); 64 a usage error.
// Unsafe code only in `signals` (installing a signal handler).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod commands;
mod durable;
mod exit;
pub mod host;
mod input;
mod output;
mod progress;
mod records;
mod signals;

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use clap::Parser;

pub use args::Cli;
use args::Command;
use commands::{append::append, checkpoint::checkpoint, dump::dump, repair::repair};
use commands::{stats::stats, tail::tail, verify::verify};
pub use exit::{EXIT_ERROR, EXIT_TORN, EXIT_USAGE};
pub use host::{Appender, Host};
use output::{lock, Locked};
use records::RecordFormat;
pub use signals::request_stop;

/// The tool's standard streams.
pub struct Io<'a> {
    /// Standard input (append reads records from it).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output, shared with the `durable N` printer.
    pub stdout: Arc<Mutex<dyn Write + Send>>,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
    /// Whether `stderr` is the process's stderr and a terminal: progress is
    /// shown only then, drawn on the process's stderr.
    pub stderr_is_terminal: bool,
}

/// Runs the tool with `args` (the program name first) and returns the exit code.
pub fn run<H: Host>(host: &H, args: impl IntoIterator<Item = OsString>, io: Io<'_>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let text = e.render().to_string();
            if e.use_stderr() {
                let _ = write!(io.stderr, "{text}");
            } else {
                let mut out = lock(&io.stdout);
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
            return code;
        }
    };
    let Io {
        stdin,
        stdout,
        stderr,
        stderr_is_terminal: tty,
    } = io;
    let result = match cli.command {
        Command::Append(a) => append(host, &a.dir, a.config(), stdin, stdout, stderr, tty),
        Command::Dump {
            dir,
            segment,
            from,
            positions,
            format,
        } => dump(
            host,
            &dir,
            segment,
            from,
            RecordFormat { format, positions },
            &mut Locked(stdout),
            stderr,
            tty,
        ),
        Command::Tail {
            dir,
            from,
            positions,
            format,
            until_idle_ms,
        } => tail(
            host,
            &dir,
            from,
            RecordFormat { format, positions },
            until_idle_ms.map(std::time::Duration::from_millis),
            &mut Locked(stdout),
        ),
        Command::Checkpoint {
            dir,
            through,
            recycle,
        } => checkpoint(host, &dir, through, recycle, &mut Locked(stdout), stderr),
        Command::Verify { dir } => verify(host, &dir, &mut Locked(stdout), tty),
        Command::Stats { dir } => stats(host, &dir, &mut Locked(stdout), stderr, tty),
        Command::Repair { dir } => repair(host, &dir, &mut Locked(stdout)),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            let _ = writeln!(stderr, "error: {msg}");
            EXIT_ERROR
        }
    }
}

/// Runs the tool as this process, over `host`: the process's arguments and
/// standard streams, progress shown when stderr is a terminal. Returns the
/// exit code.
pub fn run_process<H: Host>(host: &H) -> i32 {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut stderr = std::io::stderr();
    let io = Io {
        stdin: &mut stdin,
        stdout: Arc::new(Mutex::new(std::io::stdout())),
        stderr_is_terminal: stderr.is_terminal(),
        stderr: &mut stderr,
    };
    run(host, std::env::args_os(), io)
}
