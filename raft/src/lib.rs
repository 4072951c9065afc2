//! `wal-raft`: the portable WAL as the log storage of openraft (0.9, with
//! its `storage-v2` API).
//!
//! [`LogStore`] implements `RaftLogStorage` and `RaftLogReader` over the
//! thread-safe [`wal::Wal`]. Vote, committed, entries, truncations and
//! purges are records of one ordered stream (see [`record`]); an index
//! from log index to the place of an entry in the WAL is rebuilt at open
//! by one replay (places, not payloads: entries appended since are held in
//! memory only until [`store::MEM_LIMIT`] bytes of them, then read back
//! for their places). A purge waits until its record is durable, then
//! checkpoints the WAL so that whole segments go. `append`'s flushed
//! callback fires from the WAL's completion of the entries' last record,
//! in order. Entries are kept in postcard's binary encoding; those longer
//! than one WAL value are cut into parts and joined on read. Blocking I/O
//! runs on tokio's blocking pool and the WAL's own threads (an append
//! buffers its records on the executor's thread only while the WAL has
//! room, with writes that never wait).
//!
//! ```no_run
//! # fn main() -> Result<(), wal_raft::Error> {
//! use wal_raft::{KvConfig, LogStore};
//! let store: LogStore<KvConfig> = LogStore::open("data/raft-log", wal::Config::default())?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod kv;
mod reader;
pub mod record;
mod state;
pub mod store;
mod walk;

pub use error::Error;
pub use kv::{KvConfig, KvStateMachine, Request, Response};
pub use reader::LogReader;
pub use store::LogStore;

/// A type config whose entries this store can hold: openraft's, with
/// entries that serialize (openraft's `serde` feature) and clone.
pub trait RaftEntry:
    openraft::RaftTypeConfig<Entry: Clone + serde::Serialize + serde::de::DeserializeOwned>
{
}

impl<C> RaftEntry for C where
    C: openraft::RaftTypeConfig<Entry: Clone + serde::Serialize + serde::de::DeserializeOwned>
{
}
