//! A deterministic append/truncate/purge/vote workload on the log store,
//! the model of what it was told and what it acknowledged, and the checks
//! a reopened store must pass: the vote never goes back, no hole, no
//! truncated entry reappears, every append whose callback said flushed is
//! there (unless a later truncate or purge was asked for), and every
//! entry read back holds what was appended.

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, Vote};
use std::collections::{BTreeMap, BTreeSet};
use wal_host_std::ThreadedStorage;
use wal_raft::{KvConfig, LogStore, Request};

/// One step of the workload.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Save the vote of this term (node 1).
    Vote(u64),
    /// Append entries `from..=to` of this term, in one call.
    Append { term: u64, from: u64, to: u64 },
    /// Save the committed id of this index.
    Commit(u64),
    /// Truncate from this index on.
    Truncate(u64),
    /// Purge up to this index.
    Purge(u64),
}

/// The workload: terms grow at each truncation, so a log id is never
/// appended twice; every seventh entry and entry 12 are larger than one
/// WAL value.
pub const STEPS: &[Step] = &[
    Step::Vote(1),
    Step::Append {
        term: 1,
        from: 1,
        to: 4,
    },
    Step::Commit(2),
    Step::Append {
        term: 1,
        from: 5,
        to: 5,
    },
    Step::Append {
        term: 1,
        from: 6,
        to: 8,
    },
    Step::Truncate(6),
    Step::Vote(2),
    Step::Append {
        term: 2,
        from: 6,
        to: 10,
    },
    Step::Purge(3),
    Step::Append {
        term: 2,
        from: 11,
        to: 16,
    },
    Step::Commit(12),
    Step::Purge(10),
    Step::Truncate(15),
    Step::Vote(3),
    Step::Append {
        term: 3,
        from: 15,
        to: 22,
    },
    Step::Purge(18),
    Step::Vote(4),
    Step::Append {
        term: 4,
        from: 23,
        to: 26,
    },
];

/// The payload of entry `index` of `term`.
pub fn value(term: u64, index: u64) -> Vec<u8> {
    let len = match index {
        12 => 200_000,
        i if i % 7 == 0 => 100_000,
        _ => 200,
    };
    (0..len)
        .map(|i| (i as u64 ^ (term * 31 + index)) as u8)
        .collect()
}

/// Log id `index` of `term` (leader node 1).
pub fn log_id(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// The entry at `index` of `term`.
pub fn entry(term: u64, index: u64) -> Entry<KvConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Request {
            key: format!("k{index}"),
            value: value(term, index),
        }),
    }
}

/// What the workload asked for and what it was told succeeded.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Every vote asked for.
    pub votes_tried: Vec<Vote<u64>>,
    /// The last vote whose save returned Ok.
    pub vote_acked: Option<Vote<u64>>,
    /// Entries acknowledged flushed and not since asked to go: by index.
    pub must: BTreeMap<u64, LogId<u64>>,
    /// Every log id appended.
    pub tried: BTreeSet<LogId<u64>>,
    /// Log ids whose truncation returned Ok.
    pub truncated: BTreeSet<LogId<u64>>,
    /// Every purge asked for, and the last that returned Ok.
    pub purges_tried: Vec<LogId<u64>>,
    /// The last purge that returned Ok.
    pub purge_acked: Option<LogId<u64>>,
    /// The live log as the workload sees it (index -> log id).
    pub live: BTreeMap<u64, LogId<u64>>,
}

/// Runs `steps` on `store`, updating `model`; stops at the first error
/// (a power cut) and returns it.
pub async fn run<S: ThreadedStorage>(
    store: &mut LogStore<KvConfig, S>,
    steps: &[Step],
    model: &mut Model,
) -> Result<(), String>
where
    S::File: Send + Sync,
{
    for step in steps {
        match *step {
            Step::Vote(term) => {
                let v = Vote::new(term, 1);
                model.votes_tried.push(v);
                store.save_vote(&v).await.map_err(|e| e.to_string())?;
                model.vote_acked = Some(v);
            }
            Step::Append { term, from, to } => {
                let entries: Vec<_> = (from..=to).map(|i| entry(term, i)).collect();
                for i in from..=to {
                    model.tried.insert(log_id(term, i));
                    model.live.insert(i, log_id(term, i));
                }
                store
                    .blocking_append(entries)
                    .await
                    .map_err(|e| e.to_string())?;
                for i in from..=to {
                    model.must.insert(i, log_id(term, i));
                }
            }
            Step::Commit(index) => {
                let id = model.live.get(&index).copied();
                store.save_committed(id).await.map_err(|e| e.to_string())?;
            }
            Step::Truncate(index) => {
                let gone: Vec<_> = model.live.split_off(&index).into_values().collect();
                model.must.split_off(&index);
                store
                    .truncate(log_id(0, index))
                    .await
                    .map_err(|e| e.to_string())?;
                model.truncated.extend(gone);
            }
            Step::Purge(index) => {
                let id = model.live[&index];
                model.purges_tried.push(id);
                model.must = model.must.split_off(&(index + 1));
                model.live = model.live.split_off(&(index + 1));
                store.purge(id).await.map_err(|e| e.to_string())?;
                model.purge_acked = Some(id);
            }
        }
    }
    Ok(())
}

/// Checks a reopened store against `model`; returns what it read (vote
/// and last purged), for the next check.
pub async fn check<S: ThreadedStorage>(
    store: &mut LogStore<KvConfig, S>,
    model: &Model,
) -> Option<Vote<u64>>
where
    S::File: Send + Sync,
{
    let vote = store.read_vote().await.expect("read the vote");
    if let Some(acked) = model.vote_acked {
        let v = vote.expect("a vote was saved, and none is read back");
        assert!(v >= acked, "the vote went back: {v} < {acked}");
    }
    if let Some(v) = vote {
        assert!(model.votes_tried.contains(&v), "a vote never saved: {v}");
    }
    let state = store.get_log_state().await.expect("the log state");
    if let Some(p) = model.purge_acked {
        let purged = state
            .last_purged_log_id
            .expect("a purge returned Ok, none is read back");
        assert!(purged >= p, "the purge went back: {purged} < {p}");
    }
    if let Some(p) = state.last_purged_log_id {
        assert!(
            model.purges_tried.contains(&p),
            "a purge never asked for: {p}"
        );
    }
    let entries = store.try_get_log_entries(..).await.expect("read the log");
    let mut expect_next = state.last_purged_log_id.map(|p| p.index + 1);
    for e in &entries {
        let id = e.log_id;
        if let Some(n) = expect_next {
            assert_eq!(id.index, n, "a hole in the log before {id}");
        }
        expect_next = Some(id.index + 1);
        assert!(model.tried.contains(&id), "an entry never appended: {id}");
        assert!(
            !model.truncated.contains(&id),
            "a truncated entry came back: {id}"
        );
        let EntryPayload::Normal(req) = &e.payload else {
            panic!("entry {id} is not a write")
        };
        assert!(
            req.value == value(id.leader_id.term, id.index),
            "entry {id} holds other bytes"
        );
    }
    let last = entries
        .last()
        .map(|e| e.log_id)
        .or(state.last_purged_log_id);
    assert_eq!(state.last_log_id, last, "the log state's last id");
    let present: BTreeMap<u64, LogId<u64>> =
        entries.iter().map(|e| (e.log_id.index, e.log_id)).collect();
    for (index, id) in &model.must {
        assert_eq!(
            present.get(index),
            Some(id),
            "a flushed entry is missing: {id}"
        );
    }
    vote
}
