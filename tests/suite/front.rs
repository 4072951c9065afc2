//! The WALs the suite runs against, behind one trait: the single-threaded
//! core `wal_core::Wal` (time passed in) and, natively, the thread-safe
//! `wal::Wal` (its own threads and clock; `now` is ignored).

use std::time::Duration;

use wal_core::{Config, Error, RecoveryReport, SegmentId, SegmentInfo, SegmentReader, Storage};

/// A WAL front the behavioural suite drives.
pub trait Front: Sized + std::fmt::Debug {
    /// The storage it runs on.
    type S: Storage;
    /// Opens (creating or recovering) the WAL in `storage`.
    fn open(storage: Self::S, config: Config) -> Result<Self, Error>;
    /// Buffers a record that arrived at `now`.
    fn write(&mut self, series: u64, ts: i64, value: &[u8], now: Duration) -> Result<(), Error>;
    /// Buffers a record with a completion.
    fn write_with(
        &mut self,
        series: u64,
        ts: i64,
        value: &[u8],
        now: Duration,
        done: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error>;
    /// Writes everything buffered, synced, completed.
    fn flush(&mut self) -> Result<(), Error>;
    /// Closes the active segment.
    fn rotate(&mut self) -> Result<SegmentInfo, Error>;
    /// Streams a segment's entries.
    #[allow(clippy::type_complexity)]
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<<Self::S as Storage>::File>, Error>;
    /// What a segment holds.
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error>;
    /// Deletes a closed segment.
    fn delete(&mut self, id: SegmentId) -> Result<(), Error>;
    /// Every segment, ascending.
    fn segments(&self) -> Vec<SegmentId>;
    /// What the active segment holds.
    fn active(&mut self) -> SegmentInfo;
    /// What open found.
    fn recovery(&self) -> RecoveryReport;
    /// Flushes, syncs, completes everything, releases the storage.
    fn close(&mut self) -> Result<(), Error>;
}

impl<S: Storage> Front for wal_core::Wal<S> {
    type S = S;
    fn open(storage: S, config: Config) -> Result<Self, Error> {
        wal_core::Wal::open(storage, config)
    }
    fn write(&mut self, series: u64, ts: i64, value: &[u8], now: Duration) -> Result<(), Error> {
        wal_core::Wal::write(self, series, ts, value, now)
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
    fn flush(&mut self) -> Result<(), Error> {
        wal_core::Wal::flush(self)
    }
    fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        wal_core::Wal::rotate(self)
    }
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        wal_core::Wal::read(self, id)
    }
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        wal_core::Wal::info(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_core::Wal::delete(self, id)
    }
    fn segments(&self) -> Vec<SegmentId> {
        wal_core::Wal::segments(self)
    }
    fn active(&mut self) -> SegmentInfo {
        wal_core::Wal::active(self).clone()
    }
    fn recovery(&self) -> RecoveryReport {
        wal_core::Wal::recovery(self).clone()
    }
    fn close(&mut self) -> Result<(), Error> {
        wal_core::Wal::close(self)
    }
}

#[cfg(not(target_os = "wasi"))]
impl<S: wal_host_std::ThreadedStorage> Front for wal_host_std::Wal<S> {
    type S = S;
    fn open(storage: S, config: Config) -> Result<Self, Error> {
        wal_host_std::Wal::with_storage(storage, config)
    }
    fn write(&mut self, series: u64, ts: i64, value: &[u8], _: Duration) -> Result<(), Error> {
        wal_host_std::Wal::write(self, series, ts, value).map(drop)
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
    fn flush(&mut self) -> Result<(), Error> {
        wal_host_std::Wal::flush(self)
    }
    fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        wal_host_std::Wal::rotate(self)
    }
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        wal_host_std::Wal::read(self, id)
    }
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        wal_host_std::Wal::info(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_host_std::Wal::delete(self, id)
    }
    fn segments(&self) -> Vec<SegmentId> {
        wal_host_std::Wal::segments(self)
    }
    fn active(&mut self) -> SegmentInfo {
        wal_host_std::Wal::active(self)
    }
    fn recovery(&self) -> RecoveryReport {
        wal_host_std::Wal::recovery(self).clone()
    }
    fn close(&mut self) -> Result<(), Error> {
        wal_host_std::Wal::close(self)
    }
}
