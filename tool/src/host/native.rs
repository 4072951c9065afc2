//! The native host: files ([`FsStorage`]) and the thread-safe [`Wal`], whose
//! flusher and syncer threads complete records as frames are synced. The
//! `wal` binary runs the tool over [`NativeHost`]; [`run`] runs it in this
//! process over given streams (tests and benchmarks).

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use wal_core::{Completion, Config, Error, Position, RecoveryReport, SegmentId};
use wal_fs::FileKind;
use wal_fs::FsStorage;
use wal_host_std::Wal;

use super::{Appender, Host};
use crate::Io;

/// The native tool host.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeHost;

/// `append` through the thread-safe WAL: completions arrive from the WAL's
/// threads as frames are synced.
pub struct NativeWriter(Wal);

impl Appender for NativeWriter {
    fn recovery(&self) -> RecoveryReport {
        self.0.recovery().clone()
    }
    fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        done: Completion,
    ) -> Result<(), Error> {
        self.0
            .write_with(series_id, timestamp, value, move |r| done.complete(r))
    }
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        self.0.checkpoint(through)
    }
    fn close(&mut self) -> Result<(), Error> {
        self.0.close()
    }
}

impl Host for NativeHost {
    type Storage = FsStorage;
    type Writer = NativeWriter;
    fn open_writer(&self, dir: &str, config: Config) -> Result<NativeWriter, Error> {
        Wal::open(dir, config).map(NativeWriter)
    }
    fn read_only(&self, dir: &str) -> Result<FsStorage, String> {
        super::read_only(dir)
    }
    fn other_files(&self, dir: &str) -> Result<Vec<(String, FileKind)>, String> {
        super::other_files(dir)
    }
}

/// Runs the tool over [`NativeHost`] in this process with `args` (program
/// name first), `stdin` and the given output; returns the exit code.
/// Nothing is drawn on a terminal: `stderr` here is the caller's.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    stdin: &mut dyn BufRead,
    stdout: Arc<Mutex<dyn Write + Send>>,
    stderr: &mut dyn Write,
) -> i32 {
    crate::run(
        &NativeHost,
        args,
        Io {
            stdin,
            stdout,
            stderr,
            stderr_is_terminal: false,
        },
    )
}
