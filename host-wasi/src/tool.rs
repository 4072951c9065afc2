//! The WASI host of the `wal-wasi` tool: the same subcommands as the native
//! `wal` (from `wal-tool`), over [`WasiWal`].

use wal_core::segment::NameKind;
use wal_core::{Completion, Config, Error, RecoveryReport};
use wal_host_std::FsStorage;
use wal_tool::{Appender, Host};

use crate::driver::WasiWal;

/// The WASI tool host.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasiHost;

impl Appender for WasiWal {
    fn recovery(&self) -> RecoveryReport {
        WasiWal::recovery(self).clone()
    }
    fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        done: Completion,
    ) -> Result<(), Error> {
        WasiWal::write_with(self, series_id, timestamp, value, done)
    }
    fn close(&mut self) -> Result<(), Error> {
        WasiWal::close(self)
    }
}

impl Host for WasiHost {
    type Storage = FsStorage;
    type Writer = WasiWal;
    fn open_writer(&self, dir: &str, config: Config) -> Result<WasiWal, Error> {
        WasiWal::open(dir, config)
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
