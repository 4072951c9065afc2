//! The subcommands of the WAL's command-line tools, written once and run by
//! every host: the native `wal` (in `wal-host-std`) and the WASI guest
//! `wal-wasi` (in `wal-host-wasi`). A host supplies a [`Host`]: how to open a
//! WAL for appending and a directory for reading; everything else (flags,
//! output, exit codes) is here, so both tools behave the same.
//!
//! Exit codes: 0 success; 1 an error (bad input line, corruption, I/O);
//! 2 a torn tail on the newest segment (`verify`, `dump`: reported, not
//! repaired); 64 a usage error.
#![deny(missing_docs)]

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use wal_core::segment::{self, Ending, NameKind, SegmentId};
use wal_core::storage::Storage;
use wal_core::{Completion, Config, Error, SyncPolicy};

pub mod host;

pub use host::{Appender, Host};

/// Exit code: a torn tail on the newest segment.
pub const EXIT_TORN: i32 = 2;
/// Exit code: usage error.
pub const EXIT_USAGE: i32 = 64;

/// Look inside, and append to, a write-ahead log directory.
#[derive(Parser, Debug)]
#[command(name = "wal", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Append JSON-lines records from stdin; print `durable N` as records become durable.
    ///
    /// Each line: {"series_id": 7, "timestamp": 1700000000000000000, "value_hex": "6869"}.
    /// Blank lines are skipped. A bad line stops the run with an error naming its line
    /// number; the records before it are still written and durable.
    Append {
        /// The WAL directory (created if missing, recovered if not).
        dir: String,
        /// Flush the buffer once its entries reach this many bytes.
        #[arg(long, default_value_t = Config::default().buffer_size)]
        buffer_size: usize,
        /// Rotate before a segment would pass this many bytes.
        #[arg(long, default_value_t = Config::default().file_size)]
        file_size: u64,
        /// Store frames raw (no snappy).
        #[arg(long)]
        no_compression: bool,
        /// When frames are synced.
        #[arg(long, value_enum, default_value_t = SyncArg::Always)]
        sync: SyncArg,
        /// Flush once the oldest buffered record has waited this long; 0 turns time-based
        /// flushing off, so the same input gives the same bytes.
        #[arg(long, default_value_t = 10)]
        flush_interval_ms: u64,
    },
    /// Print every record, in order.
    Dump {
        /// The WAL directory.
        dir: String,
        /// Only this segment.
        #[arg(long)]
        segment: Option<SegmentId>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check every segment, read-only. Exit 0 when all is valid, 1 on corruption,
    /// 2 when the newest segment has a torn tail (not repaired here).
    Verify {
        /// The WAL directory.
        dir: String,
    },
    /// Per segment: bytes, frames, entries, records, series, timestamps, compression ratio.
    Stats {
        /// The WAL directory.
        dir: String,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SyncArg {
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Jsonl,
}

/// The tool's standard streams.
pub struct Io<'a> {
    /// Standard input (append reads records from it).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output, shared with the `durable N` printer.
    pub stdout: Arc<Mutex<dyn Write + Send>>,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
    /// Whether stderr is a terminal (progress is shown only then).
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
                let mut out = io.stdout.lock().unwrap_or_else(|p| p.into_inner());
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
        stderr_is_terminal,
    } = io;
    let result = match cli.command {
        Command::Append {
            dir,
            buffer_size,
            file_size,
            no_compression,
            sync,
            flush_interval_ms,
        } => {
            let config = Config {
                compression: !no_compression,
                file_size,
                buffer_size,
                flush_interval: (flush_interval_ms > 0)
                    .then(|| Duration::from_millis(flush_interval_ms)),
                sync: match sync {
                    SyncArg::Always => SyncPolicy::Always,
                    SyncArg::Never => SyncPolicy::Never,
                },
                ..Config::default()
            };
            append(host, &dir, config, stdin, stdout, stderr)
        }
        Command::Dump {
            dir,
            segment,
            format,
        } => {
            let mut out = Locked(stdout);
            dump(
                host,
                &dir,
                segment,
                format,
                &mut out,
                stderr,
                stderr_is_terminal,
            )
        }
        Command::Verify { dir } => {
            verify(host, &dir, &mut Locked(stdout), stderr, stderr_is_terminal)
        }
        Command::Stats { dir } => {
            stats(host, &dir, &mut Locked(stdout), stderr, stderr_is_terminal)
        }
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            let _ = writeln!(stderr, "error: {msg}");
            1
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

/// Writes through the shared stdout.
struct Locked(Arc<Mutex<dyn Write + Send>>);

impl Write for Locked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

fn io_err(e: std::io::Error) -> String {
    format!("cannot write output: {e}")
}

// ---------------------------------------------------------------- append

/// The input record, parsed without copying the hex string (or checking it
/// is UTF-8: the hex decoder checks every byte anyway).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputRecord<'a> {
    series_id: u64,
    timestamp: i64,
    value_hex: &'a [u8],
}

/// Parses one input line into a record: returns its series and timestamp,
/// and leaves its value in `value` (reused from line to line). Errors name
/// the field at fault.
fn parse_line(line: &[u8], value: &mut Vec<u8>) -> Result<(u64, i64), String> {
    // The fast path: a well-formed line whose hex has no JSON escapes.
    if let Ok(r) = serde_json::from_slice::<InputRecord<'_>>(line) {
        let hex = r.value_hex;
        value.clear();
        value.resize(hex.len() / 2, 0);
        if hex.len() % 2 == 0 && const_hex::decode_to_slice(hex, value).is_ok() {
            return Ok((r.series_id, r.timestamp));
        }
    }
    // Otherwise find what is wrong, field by field, for the error message.
    let v: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("expected a JSON object with series_id, timestamp and value_hex")?;
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "series_id" | "timestamp" | "value_hex"))
    {
        return Err(format!(
            "unknown field `{k}` (expected series_id, timestamp, value_hex)"
        ));
    }
    let field = |name: &str| {
        obj.get(name)
            .ok_or_else(|| format!("missing field `{name}`"))
    };
    let sid = field("series_id")?;
    let series_id = sid.as_u64().ok_or_else(|| {
        format!(
            "series_id must be an integer from 0 to {}, got {sid}",
            u64::MAX
        )
    })?;
    let t = field("timestamp")?;
    let timestamp = t.as_i64().ok_or_else(|| {
        format!(
            "timestamp must be an integer from {} to {}, got {t}",
            i64::MIN,
            i64::MAX
        )
    })?;
    let h = field("value_hex")?;
    let hex_str = h
        .as_str()
        .ok_or_else(|| format!("value_hex must be a string of hex digits, got {h}"))?;
    *value = const_hex::decode(hex_str).map_err(|e| format!("value_hex is not valid hex: {e}"))?;
    Ok((series_id, timestamp))
}

/// Input lines, each handed to a parser where it lies in the reader's
/// buffer (copied only when it straddles two reads). The newline search
/// is the `memchr` crate's (SIMD on x86, ARM and wasm32 with simd128).
struct Lines<'a> {
    input: std::io::BufReader<&'a mut dyn BufRead>,
    /// The start of a line that straddles reads.
    carry: Vec<u8>,
    /// Reads from the input so far.
    reads: u64,
}

impl<'a> Lines<'a> {
    fn new(input: &'a mut dyn BufRead) -> Self {
        Lines {
            // Large reads: under WASI each read is a host call.
            input: std::io::BufReader::with_capacity(1 << 16, input),
            carry: Vec::new(),
            reads: 0,
        }
    }

    /// Parses the next line (without its `\n` or `\r\n`) with `parse`:
    /// `Ok(None)` at the end of the input, `Some(Ok(None))` for a blank
    /// line.
    fn next_with<T>(
        &mut self,
        mut parse: impl FnMut(&[u8]) -> Result<T, String>,
    ) -> std::io::Result<Option<Result<Option<T>, String>>> {
        let mut handle = |line: &[u8]| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                Ok(None)
            } else {
                parse(line).map(Some)
            }
        };
        self.carry.clear();
        loop {
            if self.input.buffer().is_empty() {
                self.reads += 1;
            }
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                // The end: a last line without a newline still counts.
                return Ok((!self.carry.is_empty()).then(|| handle(&self.carry)));
            }
            match memchr::memchr(b'\n', buf) {
                Some(i) if self.carry.is_empty() => {
                    let r = handle(&buf[..i]);
                    self.input.consume(i + 1);
                    return Ok(Some(r));
                }
                Some(i) => {
                    self.carry.extend_from_slice(&buf[..i]);
                    self.input.consume(i + 1);
                    return Ok(Some(handle(&self.carry)));
                }
                None => {
                    let n = buf.len();
                    self.carry.extend_from_slice(buf);
                    self.input.consume(n);
                }
            }
        }
    }
}

/// Counts durable records and prints `durable N` lines.
struct Progress {
    state: Mutex<ProgressState>,
    changed: Condvar,
}

#[derive(Default)]
struct ProgressState {
    durable: u64,
    printed: u64,
    done: bool,
    /// The printer sleeps until the count changes (and only then needs a
    /// wake-up: completions run per record, and a wake-up each cost a
    /// futex call and a thread switch per record).
    printer_idle: bool,
}

/// The printer writes at most one `durable N` line per this interval; the
/// records completed meanwhile are counted in the next line.
const PRINT_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

impl Progress {
    fn record_durable(&self, n: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if n > s.durable {
            s.durable = n;
            if s.printer_idle {
                s.printer_idle = false;
                self.changed.notify_all();
            }
        }
    }

    /// Prints `durable N` if more records are durable than last printed.
    fn print_pending(&self, out: &Mutex<dyn Write + Send>) {
        let n = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.durable == s.printed {
                return;
            }
            s.printed = s.durable;
            s.durable
        };
        let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "durable {n}");
        let _ = out.flush();
    }

    /// The printer thread's loop: print each change until `done`, at most
    /// one line per [`PRINT_EVERY`] (the last count is always printed).
    fn printer(&self, out: &Mutex<dyn Write + Send>) {
        loop {
            {
                let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                while s.durable == s.printed && !s.done {
                    s.printer_idle = true;
                    s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                s.printer_idle = false;
                if s.durable == s.printed && s.done {
                    return;
                }
            }
            self.print_pending(out);
            // Let completions gather into the next line (close cuts this short).
            let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if !s.done {
                drop(
                    self.changed
                        .wait_timeout(s, PRINT_EVERY)
                        .unwrap_or_else(|p| p.into_inner()),
                );
            }
        }
    }

    fn finish(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.done = true;
        drop(s);
        self.changed.notify_all();
    }
}

fn append<H: Host>(
    host: &H,
    dir: &str,
    config: Config,
    stdin: &mut dyn BufRead,
    stdout: Arc<Mutex<dyn Write + Send>>,
    stderr: &mut dyn Write,
) -> Result<i32, String> {
    let mut wal = host
        .open_writer(dir, config)
        .map_err(|e| format!("cannot open WAL {dir}: {e}"))?;
    let _ = writeln!(stderr, "{}", wal.recovery());
    let progress = Arc::new(Progress {
        state: Mutex::default(),
        changed: Condvar::new(),
    });
    // Print from a thread where the host has threads, so `durable N` appears
    // as soon as a frame is synced even while stdin is quiet; on a host
    // without threads (WASI) completions run inside our calls, and we print
    // after each one.
    let printer = {
        let (p, out) = (progress.clone(), stdout.clone());
        std::thread::Builder::new()
            .name("durable-printer".into())
            .spawn(move || p.printer(&*out))
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
        let (p, n) = (progress.clone(), count);
        let done: Completion = Box::new(move |r| {
            if r.is_ok() {
                p.record_durable(n)
            }
        });
        if let Err(e) = wal.write_with(series, ts, &value, done) {
            failure = Some(format!("line {lineno}: {e}"));
            break;
        }
        if printer.is_none() {
            progress.print_pending(&*stdout);
        }
    }
    let closed = wal.close();
    progress.finish();
    match printer {
        Some(t) => {
            let _ = t.join();
        }
        None => progress.print_pending(&*stdout),
    }
    if let Err(e) = closed {
        failure.get_or_insert(format!("closing the WAL: {e}"));
    }
    match failure {
        Some(msg) => Err(msg),
        None => Ok(0),
    }
}

// ---------------------------------------------------------------- read-only commands

/// A WAL directory opened read-only, with its segments.
struct ReadDir<S> {
    storage: S,
    /// Segment IDs, ascending.
    ids: Vec<SegmentId>,
}

impl<S: Storage> ReadDir<S> {
    fn open<H: Host<Storage = S>>(host: &H, dir: &str) -> Result<Self, String> {
        let mut storage = host.read_only(dir)?;
        let ids = storage
            .list()
            .map_err(|e| format!("cannot list {dir}: {e}"))?;
        Ok(ReadDir { storage, ids })
    }

    /// Inspects segment `id` (see [`segment::inspect`]); the newest segment's
    /// trailing damage counts as a torn tail.
    fn inspect(
        &mut self,
        id: SegmentId,
        visit: impl FnMut(&segment::Frame<'_>, wal_core::EntryRef<'_>),
    ) -> Result<(wal_core::SegmentInfo, Ending), String> {
        let file = self
            .storage
            .open(id)
            .map_err(|e| format!("cannot open {}: {e}", segment::file_name(id)))?;
        let newest = self.ids.last() == Some(&id);
        segment::inspect(id, file, newest, visit).map_err(|e| e.to_string())
    }
}

/// Shows `verb segment i/n` on a terminal.
fn progress_line(stderr: &mut dyn Write, on: bool, verb: &str, i: usize, n: usize) {
    if on && n > 1 {
        let _ = write!(stderr, "\r{verb} segment {}/{n}", i + 1);
        if i + 1 == n {
            let _ = write!(stderr, "\r\x1b[K");
        }
        let _ = stderr.flush();
    }
}

fn describe(id: SegmentId, ending: &Ending) -> Option<(i32, String)> {
    match ending {
        Ending::Clean => None,
        Ending::TornTail { offset, bytes, reason } => Some((
            EXIT_TORN,
            format!(
                "{}: torn tail at byte offset {offset} ({bytes} bytes): {reason}; not repaired (opening the WAL sets it aside)",
                segment::file_name(id)
            ),
        )),
        Ending::Corrupt { offset, reason } => {
            Some((1, Error::Corrupt { segment: id, offset: *offset, reason: reason.clone() }.to_string()))
        }
    }
}

fn dump<H: Host>(
    host: &H,
    dir: &str,
    only: Option<SegmentId>,
    format: Format,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    let ids = d.ids.clone();
    let selected: Vec<SegmentId> = match only {
        Some(id) if ids.contains(&id) => vec![id],
        Some(id) => return Err(format!("no segment {id} in {dir}")),
        None => ids.clone(),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut code = 0;
    for (i, id) in selected.iter().enumerate() {
        progress_line(stderr, tty, "dumping", i, selected.len());
        let mut write_err = None;
        let (_, ending) = d.inspect(*id, |_, e| {
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
            return Err(io_err(e));
        }
        if let Some((c, msg)) = describe(*id, &ending) {
            out.flush().map_err(io_err)?;
            let _ = writeln!(
                stderr,
                "{}: {msg}",
                if c == 1 { "error" } else { "warning" }
            );
            code = code.max(c);
            if c == 1 {
                break;
            }
        }
    }
    out.flush().map_err(io_err)?;
    Ok(if code == 1 { 1 } else { code })
}

fn verify<H: Host>(
    host: &H,
    dir: &str,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    let ids = d.ids.clone();
    let (mut frames, mut entries, mut records) = (0u64, 0u64, 0u64);
    let (mut corrupt, mut torn) = (false, false);
    for (i, id) in ids.iter().enumerate() {
        progress_line(stderr, tty, "verifying", i, ids.len());
        let (info, ending) = d.inspect(*id, |_, _| {})?;
        frames += info.frames;
        entries += info.entries;
        records += info.records;
        match describe(*id, &ending) {
            None => writeln!(
                out,
                "{}: ok, {} frames, {} entries, {} records",
                segment::file_name(*id),
                info.frames,
                info.entries,
                info.records
            )
            .map_err(io_err)?,
            Some((code, msg)) => {
                writeln!(
                    out,
                    "{}",
                    if code == 1 {
                        format!("CORRUPT {msg}")
                    } else {
                        format!("TORN {msg}")
                    }
                )
                .map_err(io_err)?;
                corrupt |= code == 1;
                torn |= code == EXIT_TORN;
            }
        }
    }
    for (name, kind) in host.other_files(dir)? {
        let note = match kind {
            NameKind::TornTail(..) => "a torn tail set aside by an earlier recovery",
            NameKind::Lock => continue,
            _ => "not a WAL file; left alone",
        };
        writeln!(out, "note: {name}: {note}").map_err(io_err)?;
    }
    writeln!(
        out,
        "{} segments, {frames} frames, {entries} entries, {records} records",
        ids.len()
    )
    .map_err(io_err)?;
    let verdict = if corrupt {
        "corrupt"
    } else if torn {
        "torn tail on the newest segment"
    } else {
        "valid"
    };
    writeln!(out, "{verdict}").map_err(io_err)?;
    Ok(if corrupt {
        1
    } else if torn {
        EXIT_TORN
    } else {
        0
    })
}

fn stats<H: Host>(
    host: &H,
    dir: &str,
    out: &mut dyn Write,
    stderr: &mut dyn Write,
    tty: bool,
) -> Result<i32, String> {
    let mut d = ReadDir::open(host, dir)?;
    let ids = d.ids.clone();
    writeln!(
        out,
        "{:>8} {:>12} {:>8} {:>10} {:>10} {:>8} {:>20} {:>20} {:>6}",
        "segment",
        "bytes",
        "frames",
        "entries",
        "records",
        "series",
        "first_timestamp",
        "last_timestamp",
        "ratio"
    )
    .map_err(io_err)?;
    let mut code = 0;
    for (i, id) in ids.iter().enumerate() {
        progress_line(stderr, tty, "reading", i, ids.len());
        let mut series = HashSet::new();
        let (info, ending) = d.inspect(*id, |_, e| {
            series.insert(e.series_id);
        })?;
        let stored = info.bytes.saturating_sub(24 + 16 * info.frames);
        let ratio = if stored == 0 {
            1.0
        } else {
            info.payload_bytes as f64 / stored as f64
        };
        let ts = |t: Option<i64>| t.map_or("-".to_string(), |t| t.to_string());
        writeln!(
            out,
            "{:>8} {:>12} {:>8} {:>10} {:>10} {:>8} {:>20} {:>20} {:>6.2}",
            id,
            info.bytes,
            info.frames,
            info.entries,
            info.records,
            series.len(),
            ts(info.first_timestamp),
            ts(info.last_timestamp),
            ratio
        )
        .map_err(io_err)?;
        if let Some((c, msg)) = describe(*id, &ending) {
            let _ = writeln!(
                stderr,
                "{}: {msg}",
                if c == 1 { "error" } else { "warning" }
            );
            code = code.max(c);
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> Result<(u64, i64, Vec<u8>), String> {
        let mut value = b"left from the line before".to_vec();
        parse_line(line, &mut value).map(|(s, t)| (s, t, value))
    }

    #[test]
    fn input_lines_parse_or_say_what_is_wrong() {
        assert_eq!(
            parse(br#"{"series_id": 7, "timestamp": -3, "value_hex": "6869"}"#),
            Ok((7, -3, b"hi".to_vec()))
        );
        // JSON escapes in the hex string are decoded (the slow path).
        assert_eq!(
            parse(br#"{"series_id": 7, "timestamp": 1, "value_hex": "\u00368"}"#),
            Ok((7, 1, b"h".to_vec()))
        );
        // Not UTF-8: an error naming the JSON, not a panic.
        let err =
            parse(b"{\"series_id\": 7, \"timestamp\": 1, \"value_hex\": \"\xff\"}").unwrap_err();
        assert!(
            err.contains("invalid JSON") || err.contains("value_hex"),
            "{err}"
        );
        let cases = [
            (
                r#"{"series_id": 7, "timestamp": 1, "value_hex": "6g"}"#,
                "not valid hex",
            ),
            (
                r#"{"series_id": 7, "timestamp": 1, "value_hex": "686"}"#,
                "not valid hex",
            ),
            (
                r#"{"series_id": -1, "timestamp": 1, "value_hex": ""}"#,
                "series_id",
            ),
            (
                r#"{"series_id": 18446744073709551616, "timestamp": 1, "value_hex": ""}"#,
                "series_id must be",
            ),
            (
                r#"{"series_id": 1, "timestamp": 9223372036854775808, "value_hex": ""}"#,
                "timestamp must be",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1.5, "value_hex": ""}"#,
                "timestamp must be",
            ),
            (
                r#"{"series_id": 1, "value_hex": ""}"#,
                "missing field `timestamp`",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1, "value_hex": 5}"#,
                "value_hex must be a string",
            ),
            (
                r#"{"series_id": 1, "timestamp": 1, "value_hex": "", "extra": 1}"#,
                "unknown field `extra`",
            ),
            ("[1, 2]", "expected a JSON object"),
            ("not json", "invalid JSON"),
        ];
        for (line, want) in cases {
            let err = parse(line.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_split_on_newlines_wherever_the_reads_end() {
        let text = b"one\r\n\n  \t\ntwo\nthree-is-longer-than-a-read\nlast without newline";
        let want: Vec<Option<String>> = vec![
            Some("one".into()),
            None,
            None,
            Some("two".into()),
            Some("three-is-longer-than-a-read".into()),
            Some("last without newline".into()),
        ];
        for step in [1, 2, 3, 5, 7, 64, 1 << 20] {
            let mut input = std::io::BufReader::with_capacity(step, Trickle { data: text, step });
            let mut lines = Lines::new(&mut input);
            let mut got = vec![];
            while let Some(l) = lines
                .next_with(|l| Ok(String::from_utf8(l.to_vec()).unwrap()))
                .unwrap()
            {
                got.push(l.unwrap());
            }
            assert_eq!(got, want, "reads of {step} bytes");
            // One count per read of input, and two that find the end (the
            // last line has no newline, so its end is found by a read too).
            let expect = text.len().div_ceil(step) as u64 + 2;
            assert_eq!(lines.reads, expect, "reads of {step} bytes");
        }
    }
}
