//! [`LogReader`]: openraft's log reader, sharing the store's index.
//! Entries held in memory are cloned; the others are read from the WAL on
//! tokio's blocking pool, one replay per call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use openraft::{OptionalSend, RaftLogReader, StorageError};
use wal::{FsStorage, Wal};
use wal_host_std::ThreadedStorage;

use crate::error::{blocking, Error};
use crate::record::decode;
use crate::state::{lock, Loc, Nid, State};
use crate::walk::read_at;
use crate::RaftEntry;

/// Reads the log's entries (a clone of the store's view; cheap to clone).
pub struct LogReader<C: openraft::RaftTypeConfig, S: ThreadedStorage = FsStorage>
where
    S::File: Send,
{
    pub(crate) wal: Wal<S>,
    pub(crate) state: Arc<Mutex<State<C>>>,
}

impl<C: openraft::RaftTypeConfig, S: ThreadedStorage> Clone for LogReader<C, S>
where
    S::File: Send,
{
    fn clone(&self) -> Self {
        LogReader {
            wal: self.wal.clone(),
            state: self.state.clone(),
        }
    }
}

impl<C: RaftEntry, S: ThreadedStorage> LogReader<C, S>
where
    S::File: Send,
{
    /// The last committed log id saved (what openraft last told the store).
    pub fn committed(&self) -> Option<openraft::LogId<Nid<C>>> {
        lock(&self.state).committed.clone()
    }

    /// The entries with an index in `range`, in order (those the log does
    /// not hold are left out).
    pub async fn entries(
        &self,
        range: impl std::ops::RangeBounds<u64>,
    ) -> Result<Vec<C::Entry>, Error> {
        let mut got = BTreeMap::new();
        let mut wanted = Vec::new();
        {
            let st = lock(&self.state);
            for (&index, slot) in st.slots.range(range) {
                match &slot.loc {
                    Loc::Mem { entry, .. } => {
                        got.insert(index, entry.clone());
                    }
                    Loc::At(place) => wanted.push((index, *place)),
                }
            }
        }
        if !wanted.is_empty() {
            wanted.sort_by_key(|w| w.1);
            let frames: BTreeMap<u64, wal::Position> =
                wanted.iter().map(|(i, p)| (*i, p.frame)).collect();
            let wal = self.wal.clone();
            let read = blocking(move || read_at(&wal, &wanted)).await?;
            for (index, bytes) in read {
                let entry: C::Entry = decode(&bytes).map_err(|e| Error::Corrupt {
                    at: frames.get(&index).copied().unwrap_or(wal::Position::START),
                    reason: format!("entry {index}: {}", e.0),
                })?;
                got.insert(index, entry);
            }
        }
        Ok(got.into_values().collect())
    }
}

impl<C: RaftEntry, S: ThreadedStorage> RaftLogReader<C> for LogReader<C, S>
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
        self.entries(range).await.map_err(|e| e.read_logs())
    }
}
