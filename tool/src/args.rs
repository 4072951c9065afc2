//! The command line: subcommands, flags and their help, as clap parses them.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wal_core::{Config, SyncPolicy};
use wal_core::{Position, SegmentId};

/// Append records to a write-ahead log directory and look inside one: dump
/// its records, verify every segment, print statistics, repair damage.
#[derive(Parser, Debug)]
#[command(name = "wal", version)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// One subcommand and its arguments.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Append JSON-lines records from stdin; print `durable N SEG:OFF` as records become
    /// durable (the first N records, the log durable through position SEG:OFF).
    ///
    /// Each line: {"series_id": 7, "timestamp": 1700000000000000000, "value_hex": "6869"}.
    /// Blank lines are skipped. A bad line stops the run with an error naming its line
    /// number; the records before it are still written and durable.
    Append(AppendArgs),
    /// Print every record, in order.
    Dump {
        /// The WAL directory.
        dir: String,
        /// Only this segment.
        #[arg(long, conflicts_with = "from")]
        segment: Option<SegmentId>,
        /// Start at this position (SEGMENT:OFFSET, where a frame starts, e.g. from
        /// `append`'s `durable N SEG:OFF` lines), to the end of the log.
        #[arg(long, value_name = "SEG:OFF")]
        from: Option<Position>,
        /// Print each record's frame position (text: `position SEG:OFF ...`; jsonl:
        /// `"position": "SEG:OFF"`).
        #[arg(long)]
        positions: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Follow a live WAL directory read-only, like `tail -F`: print each record once, in
    /// order, as it becomes durable; across rotations and deletions.
    ///
    /// A missing or empty directory is waited for. Runs until killed (SIGINT or SIGTERM:
    /// exit 0), or with --until-idle-ms until that long passes without a new record.
    Tail {
        /// The WAL directory.
        dir: String,
        /// Start at this position (SEGMENT:OFFSET) instead of the oldest segment.
        #[arg(long, value_name = "SEG:OFF")]
        from: Option<Position>,
        /// Print each record's frame position, as `dump --positions` does.
        #[arg(long)]
        positions: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 0 once this many milliseconds pass without a new record.
        #[arg(long, value_name = "N")]
        until_idle_ms: Option<u64>,
    },
    /// Delete every closed segment wholly before a position (taking the lock, as a writer).
    ///
    /// The segment the position is in stays, so a replay from it still works. Prints
    /// each segment file removed and a summary.
    Checkpoint {
        /// The WAL directory.
        dir: String,
        /// The position (SEGMENT:OFFSET), e.g. what a snapshot covers.
        #[arg(long, value_name = "SEG:OFF")]
        through: Position,
        /// Keep up to this many of the files as free files for recycling
        /// (`free{ID}.wal`) instead of removing them.
        #[arg(long, default_value_t = 0)]
        recycle: usize,
    },
    /// Check every segment, read-only. Exit 0 when all is valid, 1 on corruption,
    /// 2 when the newest segment has a torn tail (not repaired here).
    Verify {
        /// The WAL directory.
        dir: String,
    },
    /// Repair the newest segment, keeping every valid frame: damage set aside in a sidecar.
    ///
    /// Opens the WAL as a writer (it takes the lock) in salvage mode: a torn tail is cut,
    /// and damage followed by valid frames, which a normal open refuses, is copied to a
    /// sidecar, the valid frames after it are kept in order, and the byte ranges lost are
    /// listed. Nothing is ever deleted: every byte set aside is in the sidecar.
    Repair {
        /// The WAL directory.
        dir: String,
    },
    /// Per segment: bytes, frames, entries, records, series, timestamps, compression ratio.
    Stats {
        /// The WAL directory.
        dir: String,
    },
}

// No doc comment here: clap would take it for `append`'s help, which is the
// variant's above.
#[derive(Args, Debug)]
pub(crate) struct AppendArgs {
    /// The WAL directory (created if missing, recovered if not).
    pub(crate) dir: String,
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
    /// Retention: after each rotation delete the oldest closed segments while all
    /// segments hold more than this many bytes.
    #[arg(long)]
    retain_bytes: Option<u64>,
    /// A hard cap on the bytes all segments hold (checked after each rotation).
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Retention by age in record time: after each rotation delete the oldest closed
    /// segments while their newest record is this many seconds older than the log's
    /// newest (the timestamps written, not the wall clock).
    #[arg(long)]
    retain_age_secs: Option<u64>,
    /// Reuse up to this many files of segments that retention deleted as new segments
    /// (recycling; needs --sync always).
    #[arg(long, default_value_t = 0)]
    recycle: usize,
}

impl AppendArgs {
    /// The WAL configuration these flags ask for (the rest as default).
    pub(crate) fn config(&self) -> Config {
        Config::default()
            .with_compression(!self.no_compression)
            .with_file_size(self.file_size)
            .with_buffer_size(self.buffer_size)
            .with_flush_interval(
                (self.flush_interval_ms > 0).then(|| Duration::from_millis(self.flush_interval_ms)),
            )
            .with_sync(match self.sync {
                SyncArg::Always => SyncPolicy::Always,
                SyncArg::Never => SyncPolicy::Never,
            })
            .with_retain_bytes(self.retain_bytes)
            .with_max_bytes(self.max_bytes)
            .with_retain_age(self.retain_age_secs.map(Duration::from_secs))
            .with_recycle(self.recycle)
    }
}

/// `--sync`: when `append`'s frames are synced.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SyncArg {
    Always,
    Never,
}

/// `dump --format`: how records are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    // (No doc comments on the values: clap would print them in `--help`.)
    // `segment 1 series 7 timestamp 5 value hi`
    Text,
    // `{"segment": 1, "series_id": 7, "timestamp": 5, "value_hex": "6869"}`
    Jsonl,
}
