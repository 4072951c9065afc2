//! The two WALs the suite, the sweeps and the model drive, behind one
//! trait: the single-threaded core `wal_core::Wal` (time passed in) and,
//! natively, the thread-safe `wal_host_std::Wal` (its own threads and clock;
//! `now` is ignored, `poll` does nothing).
#![allow(dead_code)]

use std::time::Duration;

use wal_core::testing::MemStorage;
use wal_core::{
    Config, Error, Position, RecoveryReport, SegmentId, SegmentInfo, SegmentReader, Storage,
};

/// A WAL front the behavioural suite drives.
pub trait Front: Sized + std::fmt::Debug {
    /// The storage it runs on.
    type S: Storage;
    /// Its name, for messages.
    const NAME: &'static str;
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
        done: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error>;
    /// Time has passed: flushes what is due (the thread-safe WAL's own
    /// threads do that).
    fn poll(&mut self, now: Duration) -> Result<(), Error>;
    /// Writes everything buffered, synced, completed.
    fn flush(&mut self) -> Result<(), Error>;
    /// Closes the active segment.
    fn rotate(&mut self) -> Result<SegmentInfo, Error>;
    /// Streams a segment's entries.
    #[allow(clippy::type_complexity)]
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<<Self::S as Storage>::File>, Error>;
    /// The timestamps of every durable record from `from`, by replay.
    fn replay_timestamps(&mut self, from: Position) -> Result<Vec<i64>, Error>;
    /// What a segment holds.
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error>;
    /// Deletes a closed segment.
    fn delete(&mut self, id: SegmentId) -> Result<(), Error>;
    /// Deletes the closed segments wholly before `through`.
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error>;
    /// The segments retention deleted since the last call (none when a
    /// removal failed: those stay listed).
    fn take_removed(&mut self) -> Vec<SegmentId>;
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
    const NAME: &'static str = "core";
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
        done: impl FnOnce(Result<Position, Error>) + Send + 'static,
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
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        wal_core::Wal::read(self, id)
    }
    fn replay_timestamps(&mut self, from: Position) -> Result<Vec<i64>, Error> {
        let mut out = Vec::new();
        for item in wal_core::Wal::replay(self, from)? {
            out.extend(item?.1.timestamps);
        }
        Ok(out)
    }
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        wal_core::Wal::info(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_core::Wal::delete(self, id)
    }
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        wal_core::Wal::checkpoint(self, through)
    }
    fn take_removed(&mut self) -> Vec<SegmentId> {
        wal_core::Wal::take_removed(self)
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
    const NAME: &'static str = "thread-safe";
    fn open(storage: S, config: Config) -> Result<Self, Error> {
        wal_host_std::Wal::with_storage(storage, config)
    }
    // Writes try the never-waiting form first (what an async caller such
    // as wal-raft does) and wait for room only when it is refused, so the
    // sweeps and the fuzzer drive both.
    fn write(&mut self, series: u64, ts: i64, value: &[u8], _: Duration) -> Result<(), Error> {
        if wal_host_std::Wal::try_write(self, series, ts, value)?.is_none() {
            wal_host_std::Wal::write(self, series, ts, value)?;
        }
        Ok(())
    }
    fn write_with(
        &mut self,
        series: u64,
        ts: i64,
        value: &[u8],
        _: Duration,
        done: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        match wal_host_std::Wal::try_write_with(self, series, ts, value, done)? {
            None => Ok(()),
            Some(done) => wal_host_std::Wal::write_with(self, series, ts, value, done),
        }
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
    fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        wal_host_std::Wal::read(self, id)
    }
    fn replay_timestamps(&mut self, from: Position) -> Result<Vec<i64>, Error> {
        let mut out = Vec::new();
        for item in wal_host_std::Wal::replay(self, from)? {
            out.extend(item?.1.timestamps);
        }
        Ok(out)
    }
    fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        wal_host_std::Wal::info(self, id)
    }
    fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        wal_host_std::Wal::delete(self, id)
    }
    fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        wal_host_std::Wal::checkpoint(self, through)
    }
    fn take_removed(&mut self) -> Vec<SegmentId> {
        // A failed removal's error comes first; then the list.
        wal_host_std::Wal::take_removed(self)
            .or_else(|_| wal_host_std::Wal::take_removed(self))
            .unwrap_or_default()
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

/// The segments a test may delete and know what it deleted: on the core
/// WAL every one (the active one is refused), on the thread-safe WAL those
/// closed when listed. Its threads rotate on their own, so the segment
/// active when listed may take more frames after a test read it, close, and
/// then be deleted with them.
pub fn deletable<W: Front>(wal: &W) -> Vec<SegmentId> {
    let mut ids = wal.segments();
    if W::NAME != "core" {
        ids.pop();
    }
    ids
}

/// A WAL on [`MemStorage`], either front (what the sweeps and the model
/// drive).
pub trait MemFront: Front<S = MemStorage> {}

impl<T: Front<S = MemStorage>> MemFront for T {}

/// The single-threaded core WAL in memory.
pub type Core = wal_core::Wal<MemStorage>;

/// The thread-safe WAL in memory.
#[cfg(not(target_os = "wasi"))]
pub type Threaded = wal_host_std::Wal<MemStorage>;
