//! The records of the raft log, as WAL records: what each kind holds and
//! its bytes. Pure values and bytes (no I/O); decoding checks every length
//! and never panics.
//!
//! Every record is written under one series, [`SERIES`], so that the WAL
//! keeps them in write order inside a frame as well as across frames (the
//! WAL groups a frame's records by series: one series is one ordered
//! stream). The record's timestamp field holds its kind:
//!
//! ```text
//!  kind (timestamp)   value
//!  1 vote             the vote, encoded
//!  2 committed        the committed log id (an option), encoded
//!  3 entry part       +--------------+-------------+------------+---------------+
//!                     | index u64 LE | parts u32 LE| part u32 LE| payload chunk |
//!                     +--------------+-------------+------------+---------------+
//!                     (one log entry encoded, cut into chunks that fit a
//!                      WAL value: parts 0..parts, consecutive records)
//!  4 truncate         index u64 LE: every entry at or after it is gone
//!  5 purge            the purged log id, encoded: every entry up to it is gone
//! ```
//!
//! "Encoded" is [postcard](https://docs.rs/postcard)'s binary form of the
//! value's serde data (openraft's types and the application's `AppData`
//! through openraft's `serde` feature): compact (a byte string is its
//! length and its bytes), and no text to format or parse on the write path.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wal::core::MAX_VALUE_LEN;

/// The WAL series every raft record is written under.
pub const SERIES: u64 = u64::from_le_bytes(*b"raft-log");

/// The header of an entry part: index, parts, part.
pub const PART_HEADER: usize = 16;

/// The most payload bytes one entry part carries.
pub const CHUNK: usize = MAX_VALUE_LEN - PART_HEADER;

/// What kind of record a WAL record is (its timestamp field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The vote.
    Vote = 1,
    /// The committed log id.
    Committed = 2,
    /// One part of a log entry.
    EntryPart = 3,
    /// Truncation: every entry from an index on is gone.
    Truncate = 4,
    /// Purge: every entry up to a log id is gone.
    Purge = 5,
}

impl Kind {
    /// The kind stored in a record's timestamp, or `None` for a record
    /// that is not one of ours.
    pub fn from_timestamp(ts: i64) -> Option<Kind> {
        Some(match ts {
            1 => Kind::Vote,
            2 => Kind::Committed,
            3 => Kind::EntryPart,
            4 => Kind::Truncate,
            5 => Kind::Purge,
            _ => return None,
        })
    }

    /// The timestamp the kind is written as.
    pub fn timestamp(self) -> i64 {
        self as i64
    }
}

/// One part of a log entry, decoded (the chunk borrowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The entry's log index.
    pub index: u64,
    /// How many parts the entry has (at least 1).
    pub parts: u32,
    /// Which part this is (`0..parts`).
    pub part: u32,
    /// The part's bytes of the encoded entry.
    pub chunk: &'a [u8],
}

/// Why a record's bytes do not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecord(pub String);

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad raft record in the WAL: {}", self.0)
    }
}

impl std::error::Error for BadRecord {}

/// A vote, a log id or an entry as the bytes the log keeps (postcard).
pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, BadRecord> {
    postcard::to_allocvec(v).map_err(|e| BadRecord(format!("cannot encode: {e}")))
}

/// The value [`encode`] made `bytes` of; every byte must be used.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BadRecord> {
    match postcard::take_from_bytes(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(BadRecord(format!(
            "{} bytes left over after the value",
            rest.len()
        ))),
        Err(e) => Err(BadRecord(format!("cannot decode: {e}"))),
    }
}

/// The values of the records that hold an entry encoded as `payload`:
/// at least one (an empty payload is one empty part).
pub fn entry_parts(index: u64, payload: &[u8]) -> Result<Vec<Vec<u8>>, BadRecord> {
    let parts = payload.len().div_ceil(CHUNK).max(1);
    let parts32 = u32::try_from(parts).map_err(|_| {
        BadRecord(format!(
            "entry {index} is too large ({} bytes)",
            payload.len()
        ))
    })?;
    let mut out = Vec::with_capacity(parts);
    for part in 0..parts {
        let chunk =
            &payload[(part * CHUNK).min(payload.len())..((part + 1) * CHUNK).min(payload.len())];
        let mut v = Vec::with_capacity(PART_HEADER + chunk.len());
        v.extend_from_slice(&index.to_le_bytes());
        v.extend_from_slice(&parts32.to_le_bytes());
        v.extend_from_slice(&(part as u32).to_le_bytes());
        v.extend_from_slice(chunk);
        out.push(v);
    }
    Ok(out)
}

/// Decodes an entry part's value.
pub fn decode_part(value: &[u8]) -> Result<Part<'_>, BadRecord> {
    if value.len() < PART_HEADER {
        return Err(BadRecord(format!(
            "an entry part of {} bytes is shorter than its {PART_HEADER}-byte header",
            value.len()
        )));
    }
    let u32_at =
        |at: usize| u32::from_le_bytes([value[at], value[at + 1], value[at + 2], value[at + 3]]);
    let index = decode_index(&value[..8])?;
    let (parts, part) = (u32_at(8), u32_at(12));
    if parts == 0 || part >= parts {
        return Err(BadRecord(format!(
            "entry {index}: part {part} of {parts} is out of range"
        )));
    }
    Ok(Part {
        index,
        parts,
        part,
        chunk: &value[PART_HEADER..],
    })
}

/// The value of a truncate record.
pub fn truncate_value(index: u64) -> Vec<u8> {
    index.to_le_bytes().to_vec()
}

/// Decodes a little-endian log index of exactly 8 bytes.
pub fn decode_index(value: &[u8]) -> Result<u64, BadRecord> {
    let bytes: [u8; 8] = value
        .try_into()
        .map_err(|_| BadRecord(format!("a log index of {} bytes, not 8", value.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_roundtrip_and_join() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let parts = entry_parts(42, &payload).unwrap();
            assert_eq!(parts.len(), len.div_ceil(CHUNK).max(1));
            let mut joined = Vec::new();
            for (i, v) in parts.iter().enumerate() {
                assert!(v.len() <= MAX_VALUE_LEN);
                let p = decode_part(v).unwrap();
                assert_eq!(
                    (p.index, p.parts as usize, p.part as usize),
                    (42, parts.len(), i)
                );
                joined.extend_from_slice(p.chunk);
            }
            assert_eq!(joined, payload);
        }
    }

    #[test]
    fn bad_parts_are_errors() {
        assert!(decode_part(&[0; 15]).is_err());
        let mut v = entry_parts(1, b"x").unwrap().remove(0);
        v[12] = 1; // part 1 of 1
        assert!(decode_part(&v).is_err());
        v[8] = 0; // 0 parts
        assert!(decode_part(&v).is_err());
        assert!(decode_index(&[1, 2, 3]).is_err());
        assert_eq!(Kind::from_timestamp(9), None);
        for k in [
            Kind::Vote,
            Kind::Committed,
            Kind::EntryPart,
            Kind::Truncate,
            Kind::Purge,
        ] {
            assert_eq!(Kind::from_timestamp(k.timestamp()), Some(k));
        }
    }
}
