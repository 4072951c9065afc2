//! The WAL for single-threaded hosts: the write buffer, the segment log and
//! the flush policy together. Time comes in as a parameter (`now`, the
//! host's monotonic clock as a [`Duration`] since any fixed point); the core
//! never reads a clock.
//!
//! Every write's completion is called exactly once: with `Ok(())` after the
//! frame holding the record is written and (under [`SyncPolicy::Always`])
//! synced, or with the error that prevented it. A call that refuses a write
//! (bad input, closed, poisoned) calls the completion with the same error it
//! returns.
//!
//! [`SyncPolicy::Always`]: crate::SyncPolicy::Always

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

use crate::buffer::WriteBuffer;
use crate::config::Config;
use crate::error::Error;
use crate::log::{SegmentLog, SegmentReader};
use crate::recovery::RecoveryReport;
use crate::segment::{SegmentId, SegmentInfo};
use crate::storage::Storage;

/// A write's completion: called once with the outcome for its record.
pub type Completion = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// Whether a buffer holding `payload_bytes` of entries, whose oldest record
/// arrived at `oldest`, must be flushed at `now`. The one flush rule, shared
/// by every host.
pub fn flush_due(
    config: &Config,
    payload_bytes: usize,
    oldest: Option<Duration>,
    now: Duration,
) -> bool {
    payload_bytes >= config.buffer_size || deadline(config, oldest).is_some_and(|d| now >= d)
}

/// When a buffer whose oldest record arrived at `oldest` becomes due by time.
pub fn deadline(config: &Config, oldest: Option<Duration>) -> Option<Duration> {
    Some(oldest?.saturating_add(config.flush_interval?))
}

/// A single-threaded write-ahead log over a storage.
pub struct Wal<S: Storage> {
    /// `None` once closed: the storage (and any lock it holds) is released.
    log: Option<SegmentLog<S>>,
    config: Config,
    buffer: WriteBuffer<Completion>,
    frame: Vec<u8>,
    report: RecoveryReport,
    /// The segments and the active segment's summary as they were at close.
    at_close: (Vec<SegmentId>, SegmentInfo),
}

impl<S: Storage> core::fmt::Debug for Wal<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Wal")
            .field("log", &self.log)
            .field("closed", &self.log.is_none())
            .finish_non_exhaustive()
    }
}

fn refuse(completion: Option<Completion>, e: Error) -> Result<(), Error> {
    if let Some(c) = completion {
        c(Err(e.clone()));
    }
    Err(e)
}

impl<S: Storage> Wal<S> {
    /// Opens (creating or recovering) the WAL in `storage`. The config is
    /// checked first; see [`Wal::recovery`] for what open found.
    pub fn open(storage: S, config: Config) -> Result<Self, Error> {
        let (log, report) = SegmentLog::open(storage, config)?;
        let config = *log.config();
        Ok(Wal {
            log: Some(log),
            config,
            buffer: WriteBuffer::new(),
            frame: Vec::new(),
            report,
            at_close: Default::default(),
        })
    }

    /// What open found and repaired.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.report
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn log(&mut self) -> Result<&mut SegmentLog<S>, Error> {
        self.log.as_mut().ok_or(Error::Closed)
    }

    /// Buffers a record with no completion. Flushes when the buffer is full
    /// or its oldest record has waited `flush_interval` at `now`; the error
    /// of such a flush is returned.
    pub fn write(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
    ) -> Result<(), Error> {
        self.accept(series_id, timestamp, value, now, None)
    }

    /// Buffers a record whose `completion` is called once it is durable (or
    /// with the error that stopped it).
    pub fn write_with(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: impl FnOnce(Result<(), Error>) + Send + 'static,
    ) -> Result<(), Error> {
        self.accept(series_id, timestamp, value, now, Some(Box::new(completion)))
    }

    fn accept(
        &mut self,
        series_id: u64,
        timestamp: i64,
        value: &[u8],
        now: Duration,
        completion: Option<Completion>,
    ) -> Result<(), Error> {
        let log = match &self.log {
            Some(log) => log,
            None => return refuse(completion, Error::Closed),
        };
        if let Some(e) = log.poisoned() {
            let e = e.clone().poisoned();
            return refuse(completion, e);
        }
        if let Err(e) = WriteBuffer::<Completion>::check_value(value) {
            return refuse(completion, e);
        }
        let bytes = self
            .buffer
            .push(series_id, timestamp, value, now, completion)?;
        if flush_due(&self.config, bytes, self.buffer.oldest(), now) {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes if the oldest buffered record has waited `flush_interval` at
    /// `now`. Hosts call this when [`Wal::next_deadline`] passes.
    pub fn poll(&mut self, now: Duration) -> Result<(), Error> {
        if self.log.is_some()
            && flush_due(
                &self.config,
                self.buffer.payload_bytes(),
                self.buffer.oldest(),
                now,
            )
        {
            self.flush()?;
        }
        Ok(())
    }

    /// When the buffer becomes due for a time-based flush, if it holds
    /// anything and time-based flushing is on.
    pub fn next_deadline(&self) -> Option<Duration> {
        deadline(&self.config, self.buffer.oldest())
    }

    /// Records buffered and not yet flushed.
    pub fn buffered_records(&self) -> u64 {
        self.buffer.records()
    }

    /// Writes the buffer as one frame (synced per policy), then completes its
    /// records. Does nothing when the buffer is empty and the log healthy.
    pub fn flush(&mut self) -> Result<(), Error> {
        let log = self.log.as_mut().ok_or(Error::Closed)?;
        if self.buffer.is_empty() {
            return match log.poisoned() {
                Some(e) => Err(e.clone().poisoned()),
                None => Ok(()),
            };
        }
        let sealed = self.buffer.seal_into(&mut self.frame);
        let result = log.append(&mut self.frame, &sealed.stats).map(|_| ());
        for c in sealed.completions {
            c(result.clone());
        }
        result
    }

    /// Flushes, closes the active segment and starts the next. Returns what
    /// the closed segment holds.
    pub fn rotate(&mut self) -> Result<SegmentInfo, Error> {
        self.flush()?;
        self.log()?.rotate()
    }

    /// Streams segment `id`'s entries, a frame at a time (the active segment
    /// up to its last flushed frame).
    pub fn read(&mut self, id: SegmentId) -> Result<SegmentReader<S::File>, Error> {
        self.log()?.read(id)
    }

    /// What segment `id` holds (a closed segment is scanned and checked).
    pub fn info(&mut self, id: SegmentId) -> Result<SegmentInfo, Error> {
        self.log()?.info(id)
    }

    /// Deletes closed segment `id`.
    pub fn delete(&mut self, id: SegmentId) -> Result<(), Error> {
        self.log()?.delete(id)
    }

    /// Every segment, ascending; the last is the active one (after close:
    /// as they were at close).
    pub fn segments(&self) -> Vec<SegmentId> {
        match &self.log {
            Some(log) => log.segments(),
            None => self.at_close.0.clone(),
        }
    }

    /// The active segment's summary (after close: as it was at close).
    pub fn active(&self) -> &SegmentInfo {
        match &self.log {
            Some(log) => log.active(),
            None => &self.at_close.1,
        }
    }

    /// Flushes, syncs, and completes everything, then releases the storage;
    /// later calls get [`Error::Closed`]. Closing twice is allowed and does
    /// nothing. Returns the first failure.
    pub fn close(&mut self) -> Result<(), Error> {
        if self.log.is_none() {
            return Ok(());
        }
        let flushed = self.flush();
        // Anything still buffered is failed, never dropped silently.
        let err = flushed.clone().err().unwrap_or(Error::Closed);
        for c in self.buffer.drain_completions() {
            c(Err(err.clone()));
        }
        let Some(mut log) = self.log.take() else {
            return Ok(());
        };
        let synced = log.close();
        self.at_close = (log.segments(), log.active().clone());
        flushed?;
        synced
    }

    /// The storage underneath (`None` once closed).
    pub fn storage_mut(&mut self) -> Option<&mut S> {
        self.log.as_mut().map(SegmentLog::storage_mut)
    }
}

impl<S: Storage> Drop for Wal<S> {
    /// Closes the WAL if it was not: everything buffered is written and
    /// synced, and every completion is called.
    fn drop(&mut self) {
        let _ = self.close();
    }
}
