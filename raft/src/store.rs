//! [`LogStore`]: openraft's log storage over the thread-safe WAL. Every
//! change is a record of one ordered stream (see [`crate::record`]); the
//! index and the vote live in the store's state, rebuilt at open.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogId, RaftTypeConfig, StorageError, Vote};
use wal::{Config, FsStorage, Wal};
use wal_host_std::ThreadedStorage;

use crate::error::{blocking, Error};
use crate::reader::LogReader;
use crate::record::{self, entry_parts, truncate_value, Kind, SERIES};
use crate::state::{catch_up, lock, Loc, Nid, Slot, State};
use crate::RaftEntry;

/// Entries appended are held in memory until the WAL is read back for
/// their places (a catch-up) once they pass this many encoded bytes.
pub const MEM_LIMIT: usize = 4 << 20;

/// openraft's log storage (`RaftLogStorage` and `RaftLogReader`) over the
/// thread-safe WAL. Open it from a blocking context (before the runtime
/// runs, or in `spawn_blocking`): open replays the WAL. Its methods run
/// their I/O on tokio's blocking pool and the WAL's threads, never on the
/// async executor's threads: an append buffers its records on the
/// executor's thread only while the WAL has room (a write that never
/// waits), and finishes on the blocking pool when it has not.
pub struct LogStore<C: RaftTypeConfig, S: ThreadedStorage = FsStorage>
where
    S::File: Send,
{
    pub(crate) wal: Wal<S>,
    pub(crate) state: Arc<Mutex<State<C>>>,
    /// Appends that met backpressure (see [`LogStore::appends_held_back`]).
    held_back: AtomicU64,
}

impl<C: RaftEntry> LogStore<C, FsStorage> {
    /// Opens (or creates) the log in directory `dir`: opens the WAL and
    /// rebuilds the index by one replay. Blocking.
    pub fn open(dir: impl AsRef<Path>, config: Config) -> Result<Self, Error> {
        Self::with_wal(Wal::open(dir, config)?)
    }
}

impl<C: RaftEntry, S: ThreadedStorage> LogStore<C, S>
where
    S::File: Send,
{
    /// The log held by `wal`, which nothing else writes to. Blocking (one
    /// replay).
    pub fn with_wal(wal: Wal<S>) -> Result<Self, Error> {
        let state = State::rebuild(&wal)?;
        Ok(LogStore {
            wal,
            state: Arc::new(Mutex::new(state)),
            held_back: AtomicU64::new(0),
        })
    }

    /// The WAL underneath (for stats; writing to it breaks the log).
    pub fn wal(&self) -> &Wal<S> {
        &self.wal
    }

    /// A reader sharing this store's index.
    pub fn reader(&self) -> LogReader<C, S> {
        LogReader {
            wal: self.wal.clone(),
            state: self.state.clone(),
        }
    }

    /// How many appended entries are held in memory, and their bytes.
    pub fn in_memory(&self) -> (usize, usize) {
        let st = lock(&self.state);
        let n = st
            .slots
            .values()
            .filter(|s| matches!(s.loc, Loc::Mem { .. }))
            .count();
        (n, st.mem_bytes)
    }

    /// How many appends since open met backpressure (the WAL's buffers
    /// waiting for the disk were full) and finished writing on tokio's
    /// blocking pool rather than on the executor's thread: a sign the
    /// disk is slower than the log is fed.
    pub fn appends_held_back(&self) -> u64 {
        self.held_back.load(Ordering::Relaxed)
    }

    /// Flushes and closes the WAL (blocking). Readers fail afterwards.
    pub fn close(&self) -> Result<(), Error> {
        Ok(self.wal.close()?)
    }

    /// The state, or the failure that stopped the store.
    fn usable(&self) -> Result<MutexGuard<'_, State<C>>, Error> {
        let st = lock(&self.state);
        match &st.failed {
            Some(e) => Err(Error::Failed(e.clone())),
            None => Ok(st),
        }
    }

    /// Whether the store still takes changes.
    fn check(&self) -> Result<(), Error> {
        self.usable().map(drop)
    }

    /// Marks the store failed by `e` (every later change is refused).
    fn fail(&self, e: Error) -> Error {
        let mut st = lock(&self.state);
        if st.failed.is_none() {
            st.failed = Some(e.to_string());
        }
        e
    }

    /// Writes one record and waits until it is durable, off the executor.
    async fn write_durable(&self, kind: Kind, value: Vec<u8>) -> Result<(), Error> {
        self.check()?;
        let wal = self.wal.clone();
        let r = blocking(move || {
            let handle = wal.write(SERIES, kind.timestamp(), &value)?;
            Ok(handle.wait()?)
        })
        .await;
        lock(&self.state).written += 1;
        r.map(|_| ()).map_err(|e| self.fail(e))
    }

    /// Reads back what became durable since the last catch-up, so that the
    /// entries held in memory are held by place (blocking work).
    async fn catch_up(&self) -> Result<(), Error> {
        let (from, seq) = {
            let st = lock(&self.state);
            (st.indexed_through, st.indexed_records)
        };
        let wal = self.wal.clone();
        let read = blocking(move || catch_up(&wal, from, seq)).await?;
        lock(&self.state).caught_up(&read);
        Ok(())
    }
}

impl<C: RaftEntry, S: ThreadedStorage> LogStore<C, S>
where
    S::File: Send,
{
    /// Writes `entries` (each cut into parts), `flushed` firing once they
    /// are durable. On the executor's thread while the WAL has room (no
    /// thread woken but the flusher); the rest, when backpressure would
    /// hold a write back, on tokio's blocking pool. Counts the records
    /// written into the state, whatever happens.
    async fn write_entries(
        &self,
        entries: Vec<C::Entry>,
        first_seq: u64,
        flushed: LogFlushed<C>,
    ) -> Result<Written<C::Entry>, Error> {
        let done = move |r: Result<wal::Position, wal::Error>| {
            flushed.log_io_completed(r.map(|_| ()).map_err(io::Error::other));
        };
        let mut a = Appending::<C, _>::new(entries, first_seq, done);
        let r = a.run(&self.wal, false);
        let (r, mut a) = match r {
            Ok(false) => {
                // Backpressure: the rest from a thread that may wait.
                self.held_back.fetch_add(1, Ordering::Relaxed);
                let wal = self.wal.clone();
                blocking(move || Ok((a.run(&wal, true), a))).await?
            }
            r => (r, a),
        };
        lock(&self.state).written = a.seq;
        match r {
            Ok(_) => Ok(a.written),
            Err(e) => Err(a.fail(e)),
        }
    }
}

/// One append on its way into the WAL: its entries encoded and written
/// one by one (so the first frames go to the disk while later entries
/// are encoded), the last record carrying the callback `done`.
struct Appending<C: RaftTypeConfig, D> {
    /// Entries not yet encoded.
    entries: std::vec::IntoIter<C::Entry>,
    /// The current entry's parts not yet written, the next one last.
    pending: Vec<Vec<u8>>,
    /// Entries encoded so far, each with its first record's ordinal and
    /// its encoded length.
    written: Written<C::Entry>,
    /// The ordinal of the next record to write.
    seq: u64,
    /// The callback, until handed to the WAL with the last record.
    done: Option<D>,
}

impl<C: RaftEntry, D> Appending<C, D>
where
    D: FnOnce(Result<wal::Position, wal::Error>) + Send + 'static,
{
    fn new(entries: Vec<C::Entry>, first_seq: u64, done: D) -> Self {
        Appending {
            written: Vec::with_capacity(entries.len()),
            entries: entries.into_iter(),
            pending: Vec::new(),
            seq: first_seq,
            done: Some(done),
        }
    }

    /// Writes what is left. With `wait` false it never blocks: it stops at
    /// the first record backpressure would hold back (`Ok(false)`).
    /// `Ok(true)`: all written, the flush asked for.
    fn run<S: ThreadedStorage>(&mut self, wal: &Wal<S>, wait: bool) -> Result<bool, Error>
    where
        S::File: Send,
    {
        let ts = Kind::EntryPart.timestamp();
        loop {
            if self.pending.is_empty() {
                let Some(entry) = self.entries.next() else {
                    break;
                };
                let bytes = encode(&entry)?;
                let index = entry.get_log_id().index;
                let mut parts = entry_parts(index, &bytes).map_err(|e| Error::Encode(e.0))?;
                parts.reverse();
                self.pending = parts;
                self.written.push((entry, self.seq, bytes.len()));
            }
            let value = self.pending.last().expect("a part");
            let last = self.pending.len() == 1 && self.entries.len() == 0;
            let buffered = match (last, wait) {
                (false, true) => {
                    drop(wal.write(SERIES, ts, value)?);
                    true
                }
                (false, false) => wal.try_write(SERIES, ts, value)?.is_some(),
                (true, _) => {
                    let cb = self
                        .done
                        .take()
                        .ok_or(Error::Task("the flushed callback is gone".into()))?;
                    if wait {
                        wal.write_with(SERIES, ts, value, cb)?;
                    } else {
                        // No room: the callback comes back, uncalled.
                        self.done = wal.try_write_with(SERIES, ts, value, cb)?;
                    }
                    self.done.is_none()
                }
            };
            if !buffered {
                return Ok(false);
            }
            self.pending.pop();
            self.seq += 1;
        }
        // Written now rather than after the WAL's flush interval (not
        // waited for: the callback says when the entries are durable).
        wal.flush_soon()?;
        Ok(true)
    }

    /// Fails the callback with `e`, unless the WAL has it (a write the WAL
    /// refused called it with its own error).
    fn fail(&mut self, e: Error) -> Error {
        if let Some(cb) = self.done.take() {
            let io = io::Error::other(e.to_string());
            cb(Err(wal::Error::storage("append", None, io)));
        }
        e
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    record::encode(v).map_err(|e| Error::Encode(e.0))
}

/// Entries as written by one append: each with the ordinal of its first
/// record and its encoded length.
type Written<E> = Vec<(E, u64, usize)>;

impl<C: RaftEntry, S: ThreadedStorage> openraft::RaftLogReader<C> for LogStore<C, S>
where
    S::File: Send + Sync,
{
    async fn try_get_log_entries<RB>(
        &mut self,
        range: RB,
    ) -> Result<Vec<C::Entry>, StorageError<Nid<C>>>
    where
        RB: std::ops::RangeBounds<u64> + Clone + std::fmt::Debug + OptionalSend,
    {
        self.reader().try_get_log_entries(range).await
    }
}

impl<C: RaftEntry, S: ThreadedStorage> RaftLogStorage<C> for LogStore<C, S>
where
    S::File: Send + Sync,
{
    type LogReader = LogReader<C, S>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, StorageError<Nid<C>>> {
        let st = lock(&self.state);
        Ok(LogState {
            last_purged_log_id: st.purged.clone(),
            last_log_id: st.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote<Nid<C>>) -> Result<(), StorageError<Nid<C>>> {
        let value = encode(vote).map_err(|e| e.write_vote())?;
        self.write_durable(Kind::Vote, value)
            .await
            .map_err(|e| e.write_vote())?;
        lock(&self.state).vote = Some(vote.clone());
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<Nid<C>>>, StorageError<Nid<C>>> {
        Ok(lock(&self.state).vote.clone())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<Nid<C>>>,
    ) -> Result<(), StorageError<Nid<C>>> {
        // Not waited for: openraft re-learns the committed index from the
        // leader; a committed id lost in a crash is only an older one.
        let value = encode(&committed).map_err(|e| e.write_logs())?;
        self.check().map_err(|e| e.write_logs())?;
        let wal = self.wal.clone();
        // Off the executor: a write may wait for room (backpressure).
        let r = blocking(move || {
            wal.write(SERIES, Kind::Committed.timestamp(), &value)?;
            Ok(())
        })
        .await;
        match r {
            Ok(()) => {
                let mut st = lock(&self.state);
                st.written += 1;
                st.committed = committed;
                Ok(())
            }
            Err(e) => Err(self.fail(e).write_logs()),
        }
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<Nid<C>>>, StorageError<Nid<C>>> {
        Ok(lock(&self.state).committed.clone())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<C>,
    ) -> Result<(), StorageError<Nid<C>>>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<C::Entry> = entries.into_iter().collect();
        if entries.is_empty() {
            callback.log_io_completed(Ok(()));
            return Ok(());
        }
        let first_seq = match self.usable() {
            Ok(st) => st.written,
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                return Err(e.write_logs());
            }
        };
        let written = self.write_entries(entries, first_seq, callback).await;
        let written = written.map_err(|e| self.fail(e).write_logs())?;
        let over = {
            let mut st = lock(&self.state);
            for (entry, seq, bytes) in written {
                let log_id = entry.get_log_id().clone();
                st.truncate(log_id.index);
                st.mem_bytes += bytes;
                let loc = Loc::Mem { entry, seq, bytes };
                st.slots.insert(log_id.index, Slot { log_id, loc });
            }
            st.mem_bytes > MEM_LIMIT
        };
        if over {
            self.catch_up().await.map_err(|e| e.read_logs())?;
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<Nid<C>>) -> Result<(), StorageError<Nid<C>>> {
        self.write_durable(Kind::Truncate, truncate_value(log_id.index))
            .await
            .map_err(|e| e.write_logs())?;
        lock(&self.state).truncate(log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<Nid<C>>) -> Result<(), StorageError<Nid<C>>> {
        self.check().map_err(|e| e.write_logs())?;
        let wal = self.wal.clone();
        let state = self.state.clone();
        let r = blocking(move || purge(&wal, &state, log_id)).await;
        r.map_err(|e| self.fail(e).write_logs())
    }
}

/// Purges every entry up to `log_id`: forgets them, writes the vote, the
/// committed id and a purge record after everything already in the log,
/// waits until they are durable, then checkpoints the WAL before the
/// first entry kept (and before the records just written), so that whole
/// segments holding only what is purged go. Blocking.
fn purge<C: RaftEntry, S: ThreadedStorage>(
    wal: &Wal<S>,
    state: &Mutex<State<C>>,
    log_id: LogId<Nid<C>>,
) -> Result<(), Error>
where
    S::File: Send,
{
    wal.flush()?;
    let (from, seq) = {
        let st = lock(state);
        (st.indexed_through, st.indexed_records)
    };
    let read = catch_up(wal, from, seq)?;
    let durable = wal.durable()?;
    let (first_kept, vote, committed) = {
        let mut st = lock(state);
        st.caught_up(&read);
        st.purge(log_id.clone());
        let first = st.slots.values().next().map(|s| match &s.loc {
            Loc::At(place) => place.frame,
            Loc::Mem { .. } => durable,
        });
        (first, st.vote.clone(), st.committed.clone())
    };
    let mut records = vec![];
    if let Some(v) = vote {
        records.push((Kind::Vote, encode(&v)?));
    }
    if committed.is_some() {
        records.push((Kind::Committed, encode(&committed)?));
    }
    records.push((Kind::Purge, encode(&log_id)?));
    let mut last = None;
    for (kind, value) in &records {
        last = Some(wal.write(SERIES, kind.timestamp(), value)?);
        lock(state).written += 1;
    }
    if let Some(h) = last {
        h.wait()?;
    }
    let through = first_kept.map_or(durable, |p| p.min(durable));
    wal.checkpoint(through)?;
    Ok(())
}
