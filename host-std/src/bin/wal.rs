//! `wal`: append to and look inside a WAL directory on the native host.
//! The subcommands live in `wal-tool`; this binary plugs in files and threads.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use wal_core::segment::NameKind;
use wal_core::{Completion, Config, Error, RecoveryReport};
use wal_host_std::{FsStorage, Wal};
use wal_tool::{Appender, Host, Io};

struct Native;

struct Writer(Wal);

impl Appender for Writer {
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
    fn poll(&mut self) -> Result<(), Error> {
        Ok(()) // the background flusher keeps time
    }
    fn close(&mut self) -> Result<(), Error> {
        self.0.close()
    }
}

impl Host for Native {
    type Storage = FsStorage;
    type Writer = Writer;
    fn open_writer(&self, dir: &str, config: Config) -> Result<Writer, Error> {
        Wal::open(dir, config).map(Writer)
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

fn main() {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut stderr = std::io::stderr();
    let io = Io {
        stdin: &mut stdin,
        stdout: Arc::new(Mutex::new(std::io::stdout())),
        stderr_is_terminal: stderr.is_terminal(),
        stderr: &mut stderr,
    };
    std::process::exit(wal_tool::run(&Native, std::env::args_os(), io));
}
