//! A small key-value state machine for openraft ([`KvStateMachine`]) and
//! its type config ([`KvConfig`]): what the storage suite and the `raft-kv`
//! example run on. Applied state lives in memory; snapshots (the whole
//! map) can be kept in a file, so that a restart loads the last snapshot
//! and openraft re-applies the log after it, and the log before it can be
//! purged.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use crate::error::{blocking, Error};
use crate::state::lock;

/// A write: set `key` to `value` (arbitrary bytes, empty allowed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The key.
    pub key: String,
    /// The value (a byte string to serde: one copy in the log's binary
    /// encoding, not a sequence of numbers).
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// What applying a write answers: the key's value before it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The value the key had, if any.
    pub previous: Option<Vec<u8>>,
}

openraft::declare_raft_types!(
    /// The type config of the key-value store: u64 node ids, nodes with an
    /// address, [`Request`] and [`Response`].
    pub KvConfig:
        D = Request,
        R = Response,
);

/// The node id of [`KvConfig`].
pub type NodeId = u64;

/// A snapshot as kept in a file: its meta and the map.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Sm {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    data: BTreeMap<String, Vec<u8>>,
    snapshot: Option<StoredSnapshot>,
    built: u64,
}

/// The key-value state machine (cheap to clone: clones share it).
#[derive(Clone, Debug, Default)]
pub struct KvStateMachine {
    sm: Arc<Mutex<Sm>>,
    /// Where snapshots are kept, if anywhere.
    file: Option<PathBuf>,
}

const SNAPSHOT_FILE: &str = "snapshot.json";

impl KvStateMachine {
    /// An empty state machine whose snapshots live in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A state machine whose snapshots are kept in `dir` (created if
    /// missing), loaded from the last one there. Blocking.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Encode(format!("create {}: {e}", dir.display())))?;
        let file = dir.join(SNAPSHOT_FILE);
        let mut sm = Sm::default();
        match std::fs::read(&file) {
            Ok(bytes) => {
                let stored: StoredSnapshot = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Encode(format!("{}: {e}", file.display())))?;
                sm.data = serde_json::from_slice(&stored.data)
                    .map_err(|e| Error::Encode(format!("{}: {e}", file.display())))?;
                sm.last_applied = stored.meta.last_log_id;
                sm.membership = stored.meta.last_membership.clone();
                sm.snapshot = Some(stored);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Encode(format!("read {}: {e}", file.display()))),
        }
        Ok(KvStateMachine {
            sm: Arc::new(Mutex::new(sm)),
            file: Some(file),
        })
    }

    /// The value of `key` in the applied state.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.sm).data.get(key).cloned()
    }

    /// The last log id applied.
    pub fn last_applied(&self) -> Option<LogId<NodeId>> {
        lock(&self.sm).last_applied
    }

    /// Keeps `stored` as the current snapshot (in its file first, if any).
    async fn keep(&self, stored: StoredSnapshot) -> Result<(), StorageError<NodeId>> {
        if let Some(file) = self.file.clone() {
            let s = stored.clone();
            blocking(move || write_file(&file, &s))
                .await
                .map_err(|e| e.storage(ErrorSubject::Snapshot(None), ErrorVerb::Write))?;
        }
        lock(&self.sm).snapshot = Some(stored);
        Ok(())
    }
}

/// Writes `stored` to a temporary file, syncs it, renames it over `file`
/// and syncs the directory.
fn write_file(file: &Path, stored: &StoredSnapshot) -> Result<(), Error> {
    let io = |e: std::io::Error| Error::Encode(format!("write {}: {e}", file.display()));
    let tmp = file.with_extension("tmp");
    let bytes = serde_json::to_vec(stored).map_err(|e| Error::Encode(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, file).map_err(io)?;
    if let Some(dir) = file.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

fn sm_error(e: impl std::error::Error + 'static) -> StorageError<NodeId> {
    StorageIOError::new(
        ErrorSubject::StateMachine,
        ErrorVerb::Read,
        openraft::AnyError::new(&e),
    )
    .into()
}

impl RaftSnapshotBuilder<KvConfig> for KvStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<KvConfig>, StorageError<NodeId>> {
        let stored = {
            let mut sm = lock(&self.sm);
            let data = serde_json::to_vec(&sm.data).map_err(sm_error)?;
            sm.built += 1;
            let snapshot_id = match sm.last_applied {
                Some(id) => format!("{}-{}-{}", id.leader_id, id.index, sm.built),
                None => format!("none-{}", sm.built),
            };
            let meta = SnapshotMeta {
                last_log_id: sm.last_applied,
                last_membership: sm.membership.clone(),
                snapshot_id,
            };
            StoredSnapshot { meta, data }
        };
        self.keep(stored.clone()).await?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(stored.data)),
        })
    }
}

impl RaftStateMachine<KvConfig> for KvStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let sm = lock(&self.sm);
        Ok((sm.last_applied, sm.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = openraft::Entry<KvConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut sm = lock(&self.sm);
        let mut out = Vec::new();
        for entry in entries {
            sm.last_applied = Some(entry.log_id);
            out.push(match entry.payload {
                EntryPayload::Blank => Response::default(),
                EntryPayload::Normal(req) => Response {
                    previous: sm.data.insert(req.key, req.value),
                },
                EntryPayload::Membership(m) => {
                    sm.membership = StoredMembership::new(Some(entry.log_id), m);
                    Response::default()
                }
            });
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let data = snapshot.into_inner();
        let map: BTreeMap<String, Vec<u8>> = serde_json::from_slice(&data).map_err(sm_error)?;
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data,
        };
        self.keep(stored).await?;
        let mut sm = lock(&self.sm);
        sm.data = map;
        sm.last_applied = meta.last_log_id;
        sm.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<KvConfig>>, StorageError<NodeId>> {
        Ok(lock(&self.sm).snapshot.clone().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}
