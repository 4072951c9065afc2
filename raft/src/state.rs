//! What the log store knows in memory: the vote, the committed and purged
//! log ids, and an index from log index to entry. An entry is held by its
//! place in the WAL (a position and an ordinal: a few dozen bytes), or,
//! from its append until the next catch-up (see [`State::catch_up`]), in
//! memory. Rebuilt at open by one replay of the WAL.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::{Mutex, MutexGuard};

use openraft::{LogId, RaftLogId, RaftTypeConfig, Vote};
use serde::de::DeserializeOwned;
use wal::Position;
use wal_host_std::ThreadedStorage;

use crate::error::Error;
use crate::record::{decode, decode_index, decode_part, BadRecord, Kind};
use crate::walk::{walk, Fed, Joiner, Place};

/// The node id of a type config.
pub type Nid<C> = <C as RaftTypeConfig>::NodeId;

/// Where an entry is.
#[derive(Clone, Debug)]
pub enum Loc<E> {
    /// In memory, as appended; `seq` is the ordinal of its first record
    /// among those written since open, `bytes` its encoded length.
    Mem {
        /// The entry.
        entry: E,
        /// The ordinal of its first record among those written since open.
        seq: u64,
        /// Its encoded length (what it costs in memory, roughly).
        bytes: usize,
    },
    /// In the WAL: its first part's place.
    At(Place),
}

/// One entry of the index.
#[derive(Clone, Debug)]
pub struct Slot<C: RaftTypeConfig> {
    /// The entry's log id.
    pub log_id: LogId<Nid<C>>,
    /// Where it is.
    pub loc: Loc<C::Entry>,
}

/// The log store's state.
pub struct State<C: RaftTypeConfig> {
    /// The last vote saved.
    pub vote: Option<Vote<Nid<C>>>,
    /// The last committed log id saved.
    pub committed: Option<LogId<Nid<C>>>,
    /// The last purged log id.
    pub purged: Option<LogId<Nid<C>>>,
    /// The entries, by index.
    pub slots: BTreeMap<u64, Slot<C>>,
    /// The bytes of the entries held in memory.
    pub mem_bytes: usize,
    /// The records written since open.
    pub written: u64,
    /// Where the last catch-up (or open) stopped reading the WAL.
    pub indexed_through: Position,
    /// How many of the records written since open were before
    /// `indexed_through`.
    pub indexed_records: u64,
    /// Why the store refuses changes, once a write failed.
    pub failed: Option<String>,
}

impl<C: RaftTypeConfig> State<C>
where
    C::Entry: DeserializeOwned,
{
    /// The state the WAL's records give, read in one replay from the
    /// start. A torn entry (parts missing at the end of the log, or an
    /// entry written again after a crash cut it) is left out.
    pub fn rebuild<S: ThreadedStorage>(wal: &wal::Wal<S>) -> Result<Self, Error> {
        let mut st = State {
            vote: None,
            committed: None,
            purged: None,
            slots: BTreeMap::new(),
            mem_bytes: 0,
            written: 0,
            indexed_through: Position::START,
            indexed_records: 0,
            failed: None,
        };
        let mut replay = wal.replay(Position::START)?;
        let mut joining: Option<Joiner> = None;
        walk(&mut replay, |rec| {
            let at = rec.place.frame;
            let bad = |e: BadRecord| Error::corrupt(at, e);
            if let Some(j) = joining.as_mut() {
                match j.feed(rec.kind, rec.value).map_err(bad)? {
                    Fed::More => return Ok(ControlFlow::Continue(())),
                    Fed::Done(bytes) => {
                        let (start, index) = (j.start, j.index);
                        joining = None;
                        st.insert_at(start, index, &bytes)?;
                        return Ok(ControlFlow::Continue(()));
                    }
                    Fed::Torn => joining = None,
                }
            }
            match rec.kind {
                Kind::Vote => st.vote = Some(value(at, rec.value)?),
                Kind::Committed => st.committed = value(at, rec.value)?,
                Kind::EntryPart => {
                    let index = decode_part(rec.value).map_err(bad)?.index;
                    // An append at `index` replaces everything from there.
                    st.slots.split_off(&index);
                    match Joiner::start(rec.place, rec.value).map_err(bad)? {
                        (Some(j), Fed::Done(bytes)) => st.insert_at(rec.place, j.index, &bytes)?,
                        (Some(j), Fed::More) => joining = Some(j),
                        _ => {} // a later part without its first: torn
                    }
                }
                Kind::Truncate => {
                    let index = decode_index(rec.value).map_err(bad)?;
                    st.slots.split_off(&index);
                }
                Kind::Purge => {
                    let id: LogId<Nid<C>> = value(at, rec.value)?;
                    st.purge(id);
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        st.indexed_through = replay.next_position();
        Ok(st)
    }

    fn insert_at(&mut self, place: Place, index: u64, bytes: &[u8]) -> Result<(), Error> {
        let entry: C::Entry = decode(bytes).map_err(|e| {
            Error::corrupt(place.frame, BadRecord(format!("entry {index}: {}", e.0)))
        })?;
        let log_id = entry.get_log_id().clone();
        if log_id.index != index {
            let reason = format!("entry part says index {index}, its entry {}", log_id.index);
            return Err(Error::corrupt(place.frame, BadRecord(reason)));
        }
        self.slots.insert(
            index,
            Slot {
                log_id,
                loc: Loc::At(place),
            },
        );
        Ok(())
    }
}

impl<C: RaftTypeConfig> State<C> {
    /// Forgets every entry up to `id` and remembers `id` as purged.
    pub fn purge(&mut self, id: LogId<Nid<C>>) {
        if self.purged.as_ref().is_some_and(|p| *p >= id) {
            return;
        }
        let kept = self.slots.split_off(&(id.index + 1));
        for slot in std::mem::replace(&mut self.slots, kept).into_values() {
            self.forget(&slot);
        }
        self.purged = Some(id);
    }

    /// Forgets every entry from `index` on.
    pub fn truncate(&mut self, index: u64) {
        for slot in self.slots.split_off(&index).into_values() {
            self.forget(&slot);
        }
    }

    fn forget(&mut self, slot: &Slot<C>) {
        if let Loc::Mem { bytes, .. } = slot.loc {
            self.mem_bytes -= bytes;
        }
    }

    /// The last log id there is (the last purged one if no entry is left).
    pub fn last_log_id(&self) -> Option<LogId<Nid<C>>> {
        self.slots
            .last_key_value()
            .map(|(_, s)| s.log_id.clone())
            .or(self.purged.clone())
    }

    /// Records what a catch-up read: the entries first written at the
    /// record ordinals found are at their places.
    pub fn caught_up(&mut self, read: &CaughtUp) {
        for &(index, seq, place) in &read.found {
            if let Some(slot) = self.slots.get_mut(&index) {
                if let Loc::Mem { seq: s, bytes, .. } = slot.loc {
                    if s == seq {
                        slot.loc = Loc::At(place);
                        self.mem_bytes -= bytes;
                    }
                }
            }
        }
        self.indexed_through = read.end;
        self.indexed_records += read.records;
    }
}

/// What a catch-up read from the WAL.
pub struct CaughtUp {
    /// Each entry's index, the ordinal of its first record among those
    /// written since open, and its place.
    pub found: Vec<(u64, u64, Place)>,
    /// Where the read stopped.
    pub end: Position,
    /// How many records it read.
    pub records: u64,
}

/// Reads the durable records after the last catch-up and finds the places
/// of the entries appended since (blocking): what [`State::caught_up`]
/// takes.
pub fn catch_up<S: ThreadedStorage>(
    wal: &wal::Wal<S>,
    from: Position,
    first_seq: u64,
) -> Result<CaughtUp, Error> {
    let mut replay = wal.replay(from)?;
    let mut found = Vec::new();
    let mut seq = first_seq;
    walk(&mut replay, |rec| {
        if rec.kind == Kind::EntryPart {
            let part = decode_part(rec.value).map_err(|e| Error::corrupt(rec.place.frame, e))?;
            if part.part == 0 {
                found.push((part.index, seq, rec.place));
            }
        }
        seq += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(CaughtUp {
        found,
        end: replay.next_position(),
        records: seq - first_seq,
    })
}

fn value<T: DeserializeOwned>(at: Position, bytes: &[u8]) -> Result<T, Error> {
    decode(bytes).map_err(|e| Error::corrupt(at, e))
}

/// Locks `m`, whatever a panic holding it left (the state is changed in
/// steps that each leave it whole).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
