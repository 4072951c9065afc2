//! The crate's one error type.
//!
//! Errors are `Clone` because one failure (a failed sync, say) is delivered
//! to the completion of every record of the batch it hit. A storage backend's
//! own error is therefore captured as its [`embedded_io::ErrorKind`] and its
//! message, together with the operation and the segment involved.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

use crate::segment::SegmentId;

/// Everything that can go wrong in the WAL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A value longer than [`crate::MAX_VALUE_LEN`] bytes was written; nothing was buffered.
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
    /// No segment with this ID exists.
    UnknownSegment {
        /// The ID asked for.
        id: SegmentId,
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
    /// An internal invariant did not hold. This is a bug in the WAL; it is
    /// reported instead of panicking.
    LogicBug(&'static str),
}

/// A storage backend failure: what was being done, to which segment, and the
/// backend's own account of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    /// The operation that failed (`"create"`, `"write"`, `"sync"`, ...).
    pub op: &'static str,
    /// The segment it concerned, when there was one.
    pub segment: Option<SegmentId>,
    /// The backend error's kind.
    pub kind: embedded_io::ErrorKind,
    /// The backend error's message.
    pub message: String,
}

impl StorageError {
    /// Captures a backend error `err` raised by `op` on `segment`.
    pub fn new<E: embedded_io::Error>(
        op: &'static str,
        segment: Option<SegmentId>,
        err: E,
    ) -> Self {
        StorageError {
            op,
            segment,
            kind: err.kind(),
            message: alloc::format!("{err}"),
        }
    }
}

impl Error {
    /// Wraps a backend error raised by `op` on `segment`.
    pub fn storage<E: embedded_io::Error>(
        op: &'static str,
        segment: Option<SegmentId>,
        err: E,
    ) -> Self {
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
}

/// Why a segment's bytes are not a valid log (see FORMAT.md, "Validity").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is shorter than the 24-byte segment header.
    HeaderTruncated {
        /// How many bytes the file has.
        len: u64,
    },
    /// The header does not start with `WALSEG`.
    BadMagic,
    /// The header's version is not one this reader knows.
    UnsupportedVersion(u16),
    /// The header sets flag bits this reader does not know.
    UnknownFlags(u32),
    /// The header CRC does not match bytes 0..20.
    HeaderCrcMismatch {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the header.
        computed: u32,
    },
    /// The header names another segment ID than the file name.
    SegmentIdMismatch {
        /// The ID in the header.
        found: SegmentId,
    },
    /// Fewer than 16 bytes remain for a frame header.
    FrameHeaderTruncated {
        /// Bytes left in the file.
        remaining: u64,
    },
    /// The frame's `len` runs past the end of the file.
    FrameLengthPastEnd {
        /// The stored payload length.
        len: u64,
        /// Bytes left after the frame header.
        remaining: u64,
    },
    /// The frame's `len` is zero.
    EmptyFrame,
    /// The frame CRC does not match.
    FrameCrcMismatch {
        /// CRC stored in the frame.
        stored: u32,
        /// CRC computed over the frame.
        computed: u32,
    },
    /// The frame's codec byte is not 0 (raw) or 1 (snappy).
    UnknownCodec(u8),
    /// The three reserved bytes of the frame header are not zero.
    ReservedNonZero,
    /// The frame is snappy-compressed but this build has no snappy support
    /// (the core's `snappy` feature is off).
    SnappyUnavailable,
    /// The snappy payload does not decompress.
    SnappyInvalid,
    /// An entry inside the frame's payload is malformed.
    BadEntry {
        /// Offset of the entry inside the decompressed payload.
        at: u64,
        /// What is wrong with it.
        what: EntryFault,
    },
    /// Bytes other than zeros follow the last valid frame of a segment that
    /// is not the newest (or in a read of one).
    TrailingGarbage,
}

/// What is wrong with a malformed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryFault {
    /// Fewer than 8 bytes remain for the entry's `len`.
    LenTruncated,
    /// The entry's `len` runs past the end of the payload.
    LenPastPayload,
    /// The entry is too short for its series ID and count.
    TooShort,
    /// The entry's record count is zero.
    ZeroCount,
    /// The timestamps of `count` records do not fit in the entry.
    TimestampsPastEntry,
    /// A value's length runs past the end of the entry.
    ValuePastEntry,
    /// The values end before the entry does.
    TrailingBytes,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ValueTooLarge { len } => write!(
                f,
                "value of {len} bytes is longer than the maximum of {} bytes; nothing was written",
                crate::MAX_VALUE_LEN
            ),
            Error::Closed => f.write_str("the WAL is closed"),
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
                crate::segment::file_name(*segment)
            ),
            Error::UnknownSegment { id } => write!(f, "no segment with ID {id} exists"),
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
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage {} failed", self.op)?;
        if let Some(id) = self.segment {
            write!(f, " on {}", crate::segment::file_name(id))?;
        }
        write!(f, ": {} ({:?})", self.message, self.kind)
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::HeaderTruncated { len } => {
                write!(f, "segment header truncated: file has {len} of 24 bytes")
            }
            Corruption::BadMagic => {
                f.write_str("bad magic: segment header does not start with WALSEG")
            }
            Corruption::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            Corruption::UnknownFlags(flags) => write!(f, "unknown header flags {flags:#010x}"),
            Corruption::HeaderCrcMismatch { stored, computed } => {
                write!(
                    f,
                    "header CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            Corruption::SegmentIdMismatch { found } => {
                write!(
                    f,
                    "header holds segment ID {found}, which does not match the file name"
                )
            }
            Corruption::FrameHeaderTruncated { remaining } => {
                write!(f, "frame header truncated: {remaining} of 16 bytes present")
            }
            Corruption::FrameLengthPastEnd { len, remaining } => write!(
                f,
                "frame length {len} runs past the end of the file ({remaining} bytes remain)"
            ),
            Corruption::EmptyFrame => f.write_str("frame length is zero"),
            Corruption::FrameCrcMismatch { stored, computed } => {
                write!(
                    f,
                    "frame CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            Corruption::UnknownCodec(c) => write!(f, "unknown frame codec {c}"),
            Corruption::ReservedNonZero => f.write_str("reserved frame header bytes are not zero"),
            Corruption::SnappyUnavailable => {
                f.write_str("frame is snappy-compressed but this build lacks snappy support")
            }
            Corruption::SnappyInvalid => f.write_str("snappy payload does not decompress"),
            Corruption::BadEntry { at, what } => {
                write!(f, "bad entry at payload offset {at}: {what}")
            }
            Corruption::TrailingGarbage => {
                f.write_str("non-zero bytes follow the last valid frame")
            }
        }
    }
}

impl fmt::Display for EntryFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryFault::LenTruncated => "entry length truncated",
            EntryFault::LenPastPayload => "entry length runs past the frame payload",
            EntryFault::TooShort => "entry too short for series ID and count",
            EntryFault::ZeroCount => "entry has a record count of zero",
            EntryFault::TimestampsPastEntry => "timestamps run past the entry",
            EntryFault::ValuePastEntry => "a value runs past the entry",
            EntryFault::TrailingBytes => "bytes left in the entry after its values",
        })
    }
}

impl core::error::Error for Error {}
impl core::error::Error for StorageError {}
