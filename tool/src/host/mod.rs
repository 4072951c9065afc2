//! What a host gives the tool ([`Host`], [`Appender`]), and the two hosts:
//! `native` (files and threads, the `wal` binary) and `wasi` (the
//! single-threaded WASI driver, the `wal-wasi` binary).
//!
//! Both hosts read a directory the same way, through the native host's
//! [`FsStorage`] opened read-only; only how `append` writes differs.

use wal_core::{Completion, Config, Error, RecoveryReport};
use wal_core::{Position, SegmentId, Storage};
use wal_fs::FileKind;

#[cfg(not(target_os = "wasi"))]
pub mod native;
#[cfg(any(target_os = "wasi", feature = "wasi-host"))]
pub mod wasi;

use wal_fs::FsStorage;

/// What a host provides to the tool.
pub trait Host {
    /// Storage for read-only inspection.
    type Storage: Storage;
    /// The WAL `append` writes through.
    type Writer: Appender;
    /// Opens (creating or recovering) the WAL in `dir` for appending.
    fn open_writer(&self, dir: &str, config: Config) -> Result<Self::Writer, Error>;
    /// Opens `dir` read-only, without a lock. Errors name the directory.
    fn read_only(&self, dir: &str) -> Result<Self::Storage, String>;
    /// The names in `dir` that are not segments, with what each is.
    fn other_files(&self, dir: &str) -> Result<Vec<(String, FileKind)>, String>;
}

/// A WAL that `append` (and `repair`, `checkpoint`) can write through.
pub trait Appender {
    /// What open found and repaired.
    fn recovery(&self) -> RecoveryReport;
    /// Buffers a record; `done` is called once it is durable or has failed.
    fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        done: Completion,
    ) -> Result<(), Error>;
    /// Deletes every closed segment wholly before `through`, durably;
    /// returns their IDs, oldest first (see `wal_core::Wal::checkpoint`).
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error>;
    /// Flushes, syncs and completes everything.
    fn close(&mut self) -> Result<(), Error>;
    /// New input was read: the records parsed from it arrived now. A host
    /// that keeps time in its calls (WASI) can read its clock once here
    /// instead of once per record; a host with a flusher thread ignores it.
    fn input_arrived(&mut self) {}
}

/// [`Host::read_only`] for both hosts: `dir` opened read-only, without a lock.
fn read_only(dir: &str) -> Result<FsStorage, String> {
    FsStorage::read_only(dir).map_err(|e| e.to_string())
}

/// [`Host::other_files`] for both hosts.
fn other_files(dir: &str) -> Result<Vec<(String, FileKind)>, String> {
    FsStorage::read_only(dir)
        .and_then(|s| s.other_files())
        .map_err(|e| e.to_string())
}
