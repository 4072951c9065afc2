//! The crate's one error type, and the kinds a caller can match on.
//!
//! Errors are `Clone` because one failure (a failed sync, say) is delivered
//! to the completion of every record of the batch it hit. A storage backend's
//! own error is therefore captured as its [`ErrorKind`] and its message,
//! together with the operation and the segment involved.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::format::{Corruption, FileName, SegmentId};
use crate::position::Position;

/// Everything that can go wrong in the WAL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A value longer than [`crate::format::MAX_VALUE_LEN`] bytes was written; nothing was buffered.
    ValueTooLarge {
        /// The length of the refused value.
        len: usize,
    },
    /// The WAL was closed; the call did nothing.
    Closed,
    /// An earlier write or sync failed, so the WAL accepts no more work until
    /// it is reopened (recovery then decides what is on disk).
    Poisoned {
        /// The failure that poisoned the WAL.
        cause: Box<Error>,
    },
    /// A segment holds bytes that are not a valid log.
    Corrupt {
        /// The segment that holds them.
        segment: SegmentId,
        /// Byte offset in the segment file of the header or frame that is invalid.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
    },
    /// The newest segment is damaged, and valid frames follow the damage
    /// that no power cut explains (no lost, zeroed sector in front of them):
    /// not a torn write (which can only damage the end of the log) but
    /// damage in the middle of it, with acknowledged records after it. Open
    /// refused and changed nothing; [`crate::RecoveryMode::Salvage`] keeps
    /// every valid frame and sets only the damaged bytes aside.
    Damaged {
        /// The segment.
        segment: SegmentId,
        /// Byte offset of the first invalid header or frame.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
        /// Valid frames found after the damage.
        frames_after: u64,
        /// Records in them.
        records_after: u64,
    },
    /// No segment with this ID exists.
    UnknownSegment {
        /// The ID asked for.
        id: SegmentId,
    },
    /// A read from `position` ([`crate::Replay`], a tail) cannot start: the
    /// segment it is in was deleted (by a checkpoint, retention or
    /// `delete`), so records after it may be gone. The log now starts at
    /// `oldest`.
    PositionGone {
        /// The position asked for.
        position: Position,
        /// Where the log starts now.
        oldest: Position,
    },
    /// A read from `position` cannot start: no frame starts there (an
    /// offset inside a frame, or past a segment's end).
    NotAFrame {
        /// The position asked for.
        position: Position,
    },
    /// A read from `position` cannot start: it is past the durable end of
    /// the log, `end`.
    PastEnd {
        /// The position asked for.
        position: Position,
        /// Where the durable log ends now.
        end: Position,
    },
    /// A tail fell behind what the log keeps: the segment it was reading
    /// was deleted before it read it (the hard cap `Config::max_bytes`,
    /// a checkpoint or a delete past it). Records after `position` up to
    /// `oldest` were not seen; start a new tail.
    Lagged {
        /// Where the tail was.
        position: Position,
        /// Where the log starts now.
        oldest: Position,
    },
    /// The active segment cannot be deleted (rotate first).
    ActiveSegment {
        /// The active segment's ID.
        id: SegmentId,
    },
    /// A configuration value was refused at open.
    InvalidConfig {
        /// The field, as named in [`crate::Config`].
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The storage backend failed.
    Storage(StorageError),
    /// The WAL dropped this write's completion without an outcome (a panic
    /// on one of its threads, or a bug): whether the record is durable is
    /// not known. The WAL is poisoned; reopen it to find out.
    Lost,
    /// An internal invariant did not hold. This is a bug in the WAL; it is
    /// reported instead of panicking.
    LogicBug(&'static str),
    /// The call would wait for the very thread that is running it: a
    /// thread-safe WAL's callback called `flush`, waited on a write, or
    /// closed the WAL, and that wait could only end after the callback
    /// returns. Nothing was waited for (a close was started, a write stays
    /// buffered); call it from outside the callback to wait.
    WouldDeadlock,
    /// Code running for the WAL panicked (its storage, or a bug in the WAL):
    /// caught and reported. Once it changed the storage, the WAL is
    /// poisoned by it.
    Panicked {
        /// What the WAL was doing (`"writing a frame"`, `"syncing"`, ...).
        during: &'static str,
        /// The panic's message.
        message: String,
    },
}

/// What kind of failure an [`Error`] is, for callers that act on it
/// (retry elsewhere when the disk is full, wait for a lock, give up on
/// corruption) without parsing messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The call's input was refused (a value too large, a bad config, the
    /// active segment passed to `delete`); nothing was done.
    InvalidInput,
    /// The WAL is closed.
    Closed,
    /// An earlier failure poisoned the WAL ([`Error::cause`] tells which).
    Poisoned,
    /// A segment's bytes are not a valid log.
    Corrupt,
    /// A segment, file or directory that does not exist.
    NotFound,
    /// The storage is full (`ENOSPC`, a quota, a capacity limit).
    StorageFull,
    /// Another writer holds the WAL directory's lock.
    Locked,
    /// The storage refused access (permissions, a read-only file system).
    PermissionDenied,
    /// Any other failure of the storage backend.
    Io,
    /// An internal invariant did not hold, or code running for the WAL
    /// panicked: a bug in the WAL or in its storage.
    Bug,
}

/// A storage backend's error type: `embedded-io`'s error, plus the
/// [`ErrorKind`] the WAL reports for it. The default maps `embedded-io`'s
/// kinds; a backend that can tell a full disk or a held lock says so.
pub trait BackendError: embedded_io::Error {
    /// The kind of WAL error this backend error becomes.
    fn wal_kind(&self) -> ErrorKind {
        match self.kind() {
            embedded_io::ErrorKind::NotFound => ErrorKind::NotFound,
            embedded_io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        }
    }
}

#[cfg(feature = "std")]
impl BackendError for std::io::Error {
    fn wal_kind(&self) -> ErrorKind {
        use std::io::ErrorKind as K;
        match self.kind() {
            K::StorageFull | K::QuotaExceeded | K::FileTooLarge => ErrorKind::StorageFull,
            K::ResourceBusy | K::WouldBlock => ErrorKind::Locked,
            K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::PermissionDenied,
            K::NotFound => ErrorKind::NotFound,
            _ => ErrorKind::Io,
        }
    }
}

/// A storage backend failure: what was being done, to which segment, and the
/// backend's own account of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    /// The operation that failed (`"create"`, `"write"`, `"sync"`, ...).
    pub op: &'static str,
    /// The segment it concerned, when there was one.
    pub segment: Option<SegmentId>,
    /// What kind of failure the backend reported.
    pub kind: ErrorKind,
    /// The backend error's message.
    pub message: String,
}

impl StorageError {
    /// Captures a backend error `err` raised by `op` on `segment`.
    pub fn new<E: BackendError>(op: &'static str, segment: Option<SegmentId>, err: E) -> Self {
        StorageError {
            op,
            segment,
            kind: err.wal_kind(),
            message: alloc::format!("{err}"),
        }
    }
}

/// A `map_err` adapter: wraps the backend error of `op` on segment `id`.
pub(crate) fn storage_err<E: BackendError>(
    op: &'static str,
    id: SegmentId,
) -> impl FnOnce(E) -> Error {
    move |e| Error::storage(op, Some(id), e)
}

impl Error {
    /// Wraps a backend error raised by `op` on `segment`.
    pub fn storage<E: BackendError>(op: &'static str, segment: Option<SegmentId>, err: E) -> Self {
        Error::Storage(StorageError::new(op, segment, err))
    }

    /// The error a later call gets once `self` has poisoned the WAL.
    pub fn poisoned(self) -> Self {
        match self {
            e @ Error::Poisoned { .. } => e,
            cause => Error::Poisoned {
                cause: Box::new(cause),
            },
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::ValueTooLarge { .. }
            | Error::InvalidConfig { .. }
            | Error::ActiveSegment { .. }
            | Error::NotAFrame { .. }
            | Error::PastEnd { .. }
            | Error::WouldDeadlock => ErrorKind::InvalidInput,
            Error::Closed => ErrorKind::Closed,
            Error::Poisoned { .. } | Error::Lost => ErrorKind::Poisoned,
            Error::Corrupt { .. } | Error::Damaged { .. } => ErrorKind::Corrupt,
            Error::UnknownSegment { .. } | Error::PositionGone { .. } | Error::Lagged { .. } => {
                ErrorKind::NotFound
            }
            Error::Storage(e) => e.kind,
            Error::LogicBug(_) | Error::Panicked { .. } => ErrorKind::Bug,
        }
    }

    /// The failure at the root of this one: for [`Error::Poisoned`], the
    /// error that poisoned the WAL; otherwise `self`.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Poisoned { cause } => cause.cause(),
            e => e,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ValueTooLarge { len } => write!(
                f,
                "value of {len} bytes is longer than the maximum of {} bytes; nothing was written",
                crate::format::MAX_VALUE_LEN
            ),
            Error::Closed => f.write_str("the WAL is closed"),
            Error::Lost => f.write_str(
                "the WAL lost this write's completion without an outcome (a panic on one of its \
                 threads?): whether the record is durable is not known; reopen the WAL to find out",
            ),
            Error::Poisoned { cause } => write!(
                f,
                "the WAL is poisoned by an earlier failure ({cause}); reopen it to recover"
            ),
            Error::Corrupt {
                segment,
                offset,
                reason,
            } => write!(
                f,
                "corrupt segment {} at byte offset {offset}: {reason}",
                FileName::Segment(*segment)
            ),
            Error::Damaged {
                segment,
                offset,
                reason,
                frames_after,
                records_after,
            } => write!(
                f,
                "segment {} is damaged at byte offset {offset} ({reason}), and {frames_after} \
                 valid frame(s) with {records_after} record(s) follow the damage: this is not a \
                 torn write, so nothing was cut or changed; open with RecoveryMode::Salvage \
                 (or run `wal repair DIR`) to keep every valid frame and set the damaged bytes aside",
                FileName::Segment(*segment)
            ),
            Error::UnknownSegment { id } => write!(f, "no segment with ID {id} exists"),
            Error::PositionGone { position, oldest } => write!(
                f,
                "position {position} is in a segment that was deleted, so records after it may \
                 be gone; the log now starts at {oldest}"
            ),
            Error::Lagged { position, oldest } => write!(
                f,
                "this tail fell behind: the segment holding position {position} was deleted \
                 before it was read (a size cap, a checkpoint or a delete); the log now starts \
                 at {oldest}"
            ),
            Error::NotAFrame { position } => {
                write!(f, "no frame starts at position {position}")
            }
            Error::PastEnd { position, end } => write!(
                f,
                "position {position} is past the durable end of the log, {end}"
            ),
            Error::ActiveSegment { id } => {
                write!(
                    f,
                    "segment {id} is the active segment; rotate before deleting it"
                )
            }
            Error::InvalidConfig { field, reason } => {
                write!(f, "invalid config `{field}`: {reason}")
            }
            Error::Storage(e) => fmt::Display::fmt(e, f),
            Error::LogicBug(what) => write!(f, "internal error (a bug in the WAL): {what}"),
            Error::WouldDeadlock => f.write_str(
                "called from inside one of this WAL's callbacks, this call would wait for the \
                 thread running the callback (records complete only after it returns), so it \
                 never would return: nothing was waited for; call it outside the callback",
            ),
            Error::Panicked { during, message } => write!(
                f,
                "a panic while {during} was caught (a bug in the WAL or its storage): {message}"
            ),
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage {} failed", self.op)?;
        if let Some(id) = self.segment {
            write!(f, " on {}", FileName::Segment(id))?;
        }
        write!(f, ": {}", self.message)
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Poisoned { cause } => Some(&**cause),
            Error::Corrupt { reason, .. } | Error::Damaged { reason, .. } => Some(reason),
            Error::Storage(e) => Some(e),
            _ => None,
        }
    }
}

impl core::error::Error for StorageError {}
