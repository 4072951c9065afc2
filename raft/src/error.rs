//! The crate's one error: what opening or using the log store can fail
//! with, and its translation into openraft's `StorageError`.

use std::fmt;

use openraft::{AnyError, ErrorSubject, ErrorVerb, NodeId, StorageError, StorageIOError};
use wal::Position;

use crate::record::BadRecord;

/// What opening, reading or writing the log store failed with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The WAL failed (I/O, a poisoned or closed WAL, corruption it found).
    Wal(wal::Error),
    /// A record in the WAL is not a raft record this crate wrote, or does
    /// not decode: the log is refused rather than guessed at.
    Corrupt {
        /// The frame holding the record.
        at: Position,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry the index points at is not where it should be (a segment
    /// deleted under a reader, or a bug): nothing is returned for it.
    Missing {
        /// The entry's log index.
        index: u64,
    },
    /// A serialization of a vote, log id or entry failed.
    Encode(String),
    /// An earlier write failed: the store refuses every later change
    /// (its WAL is poisoned or closed; reopen it).
    Failed(String),
    /// A blocking task could not run or panicked.
    Task(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Wal(e) => write!(f, "raft log: {e}"),
            Error::Corrupt { at, reason } => {
                write!(
                    f,
                    "raft log: the record in the frame at {at} is bad: {reason}"
                )
            }
            Error::Missing { index } => {
                write!(
                    f,
                    "raft log: entry {index} is not at the position the index holds"
                )
            }
            Error::Encode(e) => write!(f, "raft log: cannot encode or decode: {e}"),
            Error::Failed(e) => {
                write!(
                    f,
                    "raft log: an earlier write failed ({e}); reopen the store"
                )
            }
            Error::Task(e) => write!(f, "raft log: a blocking task failed: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Wal(e) => Some(e),
            _ => None,
        }
    }
}

impl From<wal::Error> for Error {
    fn from(e: wal::Error) -> Self {
        Error::Wal(e)
    }
}

impl Error {
    /// A bad record at `at`.
    pub(crate) fn corrupt(at: Position, e: BadRecord) -> Self {
        Error::Corrupt { at, reason: e.0 }
    }

    /// As openraft's error, for `subject` and `verb`.
    pub(crate) fn storage<NID: NodeId>(
        &self,
        subject: ErrorSubject<NID>,
        verb: ErrorVerb,
    ) -> StorageError<NID> {
        StorageIOError::new(subject, verb, AnyError::new(self)).into()
    }

    /// As openraft's error on reading the log.
    pub(crate) fn read_logs<NID: NodeId>(&self) -> StorageError<NID> {
        self.storage(ErrorSubject::Logs, ErrorVerb::Read)
    }

    /// As openraft's error on writing the log.
    pub(crate) fn write_logs<NID: NodeId>(&self) -> StorageError<NID> {
        self.storage(ErrorSubject::Logs, ErrorVerb::Write)
    }

    /// As openraft's error on writing the vote.
    pub(crate) fn write_vote<NID: NodeId>(&self) -> StorageError<NID> {
        self.storage(ErrorSubject::Vote, ErrorVerb::Write)
    }
}

/// Runs blocking work `f` on tokio's blocking pool: never on the async
/// executor's threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Task(e.to_string()))?
}
