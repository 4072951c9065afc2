//! The native host of the `wal` tool: files, threads, and the subcommands of
//! `wal-tool`. The `wal` binary is a thin `main` over [`run`].

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use wal_core::segment::NameKind;
use wal_core::{Completion, Config, Error, RecoveryReport};
use wal_tool::{Appender, Host, Io};

use crate::{FsStorage, Wal};

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
        self.0.write_with(series_id, timestamp, value, done)
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
        FsStorage::read_only(dir).map_err(|e| e.to_string())
    }
    fn other_files(&self, dir: &str) -> Result<Vec<(String, NameKind)>, String> {
        FsStorage::read_only(dir)
            .and_then(|s| s.other_files())
            .map_err(|e| e.to_string())
    }
}

/// Runs the tool in this process with `args` (program name first), `stdin`
/// and the given output; returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    stdin: &mut dyn BufRead,
    stdout: Arc<Mutex<dyn Write + Send>>,
    stderr: &mut dyn Write,
) -> i32 {
    let stderr_is_terminal = std::io::stderr().is_terminal();
    wal_tool::run(
        &NativeHost,
        args,
        Io {
            stdin,
            stdout,
            stderr,
            stderr_is_terminal,
        },
    )
}
