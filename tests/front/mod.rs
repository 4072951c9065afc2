//! The two WALs the sweeps and the model drive, behind one trait: the
//! single-threaded core `wal_core::Wal` (time passed in) and, natively, the
//! thread-safe `wal_host_std::Wal` (its own threads and clock; `now` is
//! ignored, `poll` does nothing).
#![allow(dead_code)]

use std::time::Duration;

use wal_core::testing::{MemFile, MemStorage};
use wal_core::{Config, Error, RecoveryReport, SegmentId, SegmentInfo, SegmentReader};

/// A WAL on [`MemStorage`], either front.
pub trait Front: Sized {
    /// Its name, for messages.
    const NAME: &'static str;
    /// Opens (creating or recovering) the WAL in `storage`.
    fn open(storage: MemStorage, config: Config) -> Result<Self, Error>;
    /// Buffers a record with a completion.
    fn write_with(
        &mut self,
        series: u64,
        ts: i64,
        value: &[u8],
        now: Duration,
        done: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error>;
    /// Time has passed: flushes what is due (the thread-safe WAL's own
    /// threads do that).
    fn poll(&mut self, now: Duration) -> Result<(), Error>;
    /// Writes everything buffered, synced, completed.
    fn flush(&mut self) -> Result<(), Error>;
    /// Closes the active segment.
    fn rotate(&mut self) -> Result<SegmentInfo, Error>;
    /// Streams a segment's entries.
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<MemFile>, Error>;
    /// Deletes a closed segment.
    fn delete(&mut self, id: SegmentId) -> Result<(), Error>;
    /// Every segment, ascending.
    fn segments(&self) -> Vec<SegmentId>;
    /// What open found.
    fn recovery(&self) -> RecoveryReport;
    /// Flushes, syncs, completes everything, releases the storage.
    fn close(&mut self) -> Result<(), Error>;
}

/// The single-threaded core WAL.
pub type Core = wal_core::Wal<MemStorage>;

impl Front for Core {
    const NAME: &'static str = "core";
    fn open(storage: MemStorage, config: Config) -> Result<Self, Error> {
        wal_core::Wal::open(storage, config)
    }
    fn write_with(
        &mut self,
        series: u64,
        ts: i64,
        value: &[u8],
        now: Duration,
        done: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        wal_core::Wal::write_with(self, series, ts, value, now, done)
    }
    fn poll(&mut self, now: Duration) -> Result<(), Error> {
        wal_core::Wal::poll(self, now)
    }
    fn flush(&mut self) -> Result<(), Error> {
        wal_core::Wal::flush(self)
    }
    fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        wal_core::Wal::rotate(self)
    }
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<MemFile>, Error> {
        wal_core::Wal::read(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_core::Wal::delete(self, id)
    }
    fn segments(&self) -> Vec<SegmentId> {
        wal_core::Wal::segments(self)
    }
    fn recovery(&self) -> RecoveryReport {
        wal_core::Wal::recovery(self).clone()
    }
    fn close(&mut self) -> Result<(), Error> {
        wal_core::Wal::close(self)
    }
}

/// The thread-safe WAL.
#[cfg(not(target_os = "wasi"))]
pub type Threaded = wal_host_std::Wal<MemStorage>;

#[cfg(not(target_os = "wasi"))]
impl Front for Threaded {
    const NAME: &'static str = "thread-safe";
    fn open(storage: MemStorage, config: Config) -> Result<Self, Error> {
        wal_host_std::Wal::with_storage(storage, config)
    }
    fn write_with(
        &mut self,
        series: u64,
        ts: i64,
        value: &[u8],
        _: Duration,
        done: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        wal_host_std::Wal::write_with(self, series, ts, value, done)
    }
    fn poll(&mut self, _: Duration) -> Result<(), Error> {
        Ok(())
    }
    fn flush(&mut self) -> Result<(), Error> {
        wal_host_std::Wal::flush(self)
    }
    fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        wal_host_std::Wal::rotate(self)
    }
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<MemFile>, Error> {
        wal_host_std::Wal::read(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_host_std::Wal::delete(self, id)
    }
    fn segments(&self) -> Vec<SegmentId> {
        wal_host_std::Wal::segments(self)
    }
    fn recovery(&self) -> RecoveryReport {
        wal_host_std::Wal::recovery(self).clone()
    }
    fn close(&mut self) -> Result<(), Error> {
        wal_host_std::Wal::close(self)
    }
}
