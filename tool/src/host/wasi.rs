//! The WASI host: the same subcommands as the native host, over
//! [`WasiWal`], the single-threaded driver (completions run inside its
//! calls). The `wal-wasi` binary runs the tool over [`WasiHost`]; built
//! natively (feature `wasi-host`) it times the guest's program without
//! wasmtime.

use std::time::Duration;

use wal_core::{Completion, Config, Error, Position, RecoveryReport, SegmentId};
use wal_fs::FileKind;
use wal_fs::FsStorage;
use wal_host_wasi::Wal as WasiWal;

use super::{Appender, Host};

/// The WASI tool host.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasiHost;

/// `append`'s writer under WASI: a [`WasiWal`] and the time the last input
/// arrived, read once per read of input rather than once per record.
pub struct WasiAppender {
    wal: WasiWal,
    arrived: Duration,
}

impl Appender for WasiAppender {
    fn recovery(&self) -> RecoveryReport {
        self.wal.recovery().clone()
    }
    fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        done: Completion,
    ) -> Result<(), Error> {
        self.wal
            .write_with_at(series_id, timestamp, value, self.arrived, move |r| {
                done.complete(r)
            })
    }
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        self.wal.checkpoint(through)
    }
    fn close(&mut self) -> Result<(), Error> {
        self.wal.close()
    }
    fn input_arrived(&mut self) {
        self.arrived = self.wal.now();
    }
}

impl Host for WasiHost {
    type Storage = FsStorage;
    type Writer = WasiAppender;
    fn open_writer(&self, dir: &str, config: Config) -> Result<WasiAppender, Error> {
        let wal = WasiWal::open(dir, config)?;
        let arrived = wal.now();
        Ok(WasiAppender { wal, arrived })
    }
    fn read_only(&self, dir: &str) -> Result<FsStorage, String> {
        super::read_only(dir)
    }
    fn other_files(&self, dir: &str) -> Result<Vec<(String, FileKind)>, String> {
        super::other_files(dir)
    }
}
