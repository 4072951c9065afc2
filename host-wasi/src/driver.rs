//! The guest side: the core's single-threaded [`Wal`] over files in a
//! preopened directory, with the WASI monotonic clock.
//!
//! WASI (preview 1 and 2) has no threads, so there is no background flusher: a
//! buffer is flushed when it fills, on demand (`flush`, `rotate`, `close`),
//! and when a call ([`Wal::write_with`], [`Wal::poll`]) finds that
//! `flush_interval` has passed. A host that wants time-based flushing while
//! idle calls `poll` when [`Wal::next_deadline`] passes. Without a
//! syncer thread, the frames of full buffers are written at once and share
//! one sync (at most 32 frames or 1 MiB, or `flush_interval`; see
//! [`wal_core::Wal`]), which is what keeps the guest near the native host's
//! speed.
//!
//! # Durability on WASI
//!
//! Segment data is synced with `fd_datasync` (preview 1) or
//! `descriptor.sync-data` (preview 2) exactly as on the native host, so a
//! completion that says `Ok` under `SyncPolicy::Always` means the frame's
//! bytes reached stable storage. Neither preview can lock a file. Preview 1
//! cannot fsync a directory either (`fd_sync` on a directory fails in
//! wasmtime); preview 2 can (`sync` on a directory descriptor), and the
//! guest built for `wasm32-wasip2` does ([`OPTIONS`]). So:
//!
//! - Under preview 1, the *name* of a newly created segment, or the removal
//!   of a deleted one, is not made durable by the WAL itself. On Linux ext4
//!   (data=ordered) and XFS, the fdatasync of the new segment's header
//!   commits its directory entry in practice, but POSIX does not promise it:
//!   on another file system a power loss shortly after a rotation could lose
//!   the new segment (and the records acknowledged in it), or bring a
//!   deleted segment back. A process crash loses nothing: the host OS still
//!   has the directory. Under preview 2 the names are durable as natively.
//! - Nothing stops two guests (or a guest and a native writer) from writing
//!   one directory at once. Give each WAL directory to one writer.

use std::path::Path;
use std::time::{Duration, Instant};

use wal_core::{
    Config, Error, Position, RecoveryReport, Replay, SegmentId, SegmentInfo, SegmentReader, Stats,
};
use wal_fs::{FsFile, FsOptions, FsStorage};

/// A WAL in a WASI preopened directory: `wal::Wal` on WASI. The same
/// methods as the native thread-safe `Wal`, taking `&mut self` (there is
/// one thread); `write` buffers without a handle to wait on (call
/// [`Wal::flush`], or pass a completion to [`Wal::write_with`]).
#[derive(Debug)]
pub struct Wal {
    wal: wal_core::Wal<FsStorage>,
    epoch: Instant,
}

/// How the WASI host uses the platform: [`FsOptions::WASI_GUEST`], which is
/// no lock and a directory fsync under preview 2, no lock and no directory
/// fsync under preview 1 (and natively, where this host is built only to
/// time it). See the module docs.
pub const OPTIONS: FsOptions = FsOptions::WASI_GUEST;

/// The storage the WASI host uses: files in `dir`, with [`OPTIONS`].
pub fn storage(dir: impl AsRef<Path>) -> Result<FsStorage, Error> {
    FsStorage::open_with(dir, OPTIONS).map_err(|e| Error::storage("open directory", None, e))
}

impl Wal {
    /// Opens (creating or recovering) the WAL in `dir`.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Self, Error> {
        Ok(Wal {
            wal: wal_core::Wal::open(storage(dir)?, config)?,
            epoch: Instant::now(),
        })
    }

    /// The WASI monotonic clock, as this WAL keeps time (since open).
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// What open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        self.wal.recovery()
    }

    /// Buffers a record; `done` is called once it is durable or has failed.
    pub fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        done: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        let now = self.now();
        self.write_with_at(series_id, timestamp, value, now, done)
    }

    /// As [`Wal::write_with`], with the arrival time taken by the
    /// caller from [`Wal::now`]: records that arrived together (one
    /// read of input) can share one reading of the clock, which is a host
    /// call under WASI. A `now` earlier than the last one only makes
    /// flushes come sooner.
    pub fn write_with_at(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        done: impl FnOnce(Result<Position, Error>) + Send + 'static,
    ) -> Result<(), Error> {
        self.wal.write_with(series_id, timestamp, value, now, done)
    }

    /// Buffers a record with no completion.
    pub fn write(&mut self, series_id: u64, timestamp: i64, value: &[u8]) -> Result<(), Error> {
        let now = self.now();
        self.wal.write(series_id, timestamp, value, now)
    }

    /// Flushes if `flush_interval` has passed for the oldest buffered record.
    pub fn poll(&mut self) -> Result<(), Error> {
        let now = self.now();
        self.wal.poll(now)
    }

    /// When a time-based flush becomes due (measured from open).
    pub fn next_deadline(&self) -> Option<Duration> {
        self.wal.next_deadline()
    }

    /// Writes the buffer as one frame and completes its records.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.wal.flush()
    }

    /// Flushes and starts the next segment; returns the closed one's summary.
    pub fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        self.wal.rotate()
    }

    /// Streams segment `id`'s entries.
    pub fn read(&mut self, id: SegmentId) -> Result<SegmentReader<FsFile>, Error> {
        self.wal.read(id)
    }

    /// The end of the durable log (see [`wal_core::Wal::durable`]).
    pub fn durable(&self) -> Result<Position, Error> {
        self.wal.durable()
    }

    /// Every durable record from `from` on, in log order, with its frame's
    /// position (see [`wal_core::Wal::replay`]).
    pub fn replay(&mut self, from: Position) -> Result<Replay<&mut FsStorage>, Error> {
        self.wal.replay(from)
    }

    /// The segments retention deleted since the last call (see
    /// [`wal_core::Wal::take_removed`]).
    pub fn take_removed(&mut self) -> Vec<SegmentId> {
        self.wal.take_removed()
    }

    /// A snapshot: counters since open and what the log holds (see
    /// [`wal_core::Wal::stats`]).
    pub fn stats(&mut self) -> Result<Stats, Error> {
        self.wal.stats()
    }

    /// Deletes every closed segment wholly before `through` (see
    /// [`wal_core::Wal::checkpoint`]); returns their IDs.
    pub fn checkpoint(&mut self, through: Position) -> Result<Vec<SegmentId>, Error> {
        self.wal.checkpoint(through)
    }

    /// What segment `id` holds (a closed segment is scanned and checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        self.wal.info(id)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        self.wal.config()
    }

    /// Deletes closed segment `id`.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        self.wal.delete(id)
    }

    /// Every segment, ascending.
    pub fn segments(&self) -> Vec<SegmentId> {
        self.wal.segments()
    }

    /// Flushes, syncs and completes everything.
    pub fn close(&mut self) -> Result<(), Error> {
        self.wal.close()
    }
}
