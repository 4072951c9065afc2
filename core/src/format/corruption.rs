//! Why bytes are not a valid log: the reasons FORMAT.md's validity rules
//! give, as values that readers and recovery report with an offset.

use core::fmt;

use super::names::SegmentId;

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
    /// The frame's `len` is longer than any frame the WAL writes (one
    /// buffer of at most 1 GiB plus one record), or than the configuration
    /// reading it allows (see `Config::max_frame_len`).
    FrameTooLong {
        /// The stored (or, for a snappy frame, the decompressed) length.
        len: u64,
        /// The longest accepted.
        max: u64,
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
            Corruption::FrameTooLong { len, max } => write!(
                f,
                "frame length {len} is longer than the longest frame accepted ({max} bytes; \
                 a larger `file_size` raises it)"
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

impl core::error::Error for Corruption {}
