//! The entries of a frame's decompressed payload: one series' records from
//! one flush each, back to back, filling the payload exactly.

use alloc::vec::Vec;

use super::corruption::{Corruption, EntryFault};
use super::{u32_at, u64_at};

/// The longest value a record may hold.
pub const MAX_VALUE_LEN: usize = u16::MAX as usize;
/// Bytes an entry takes besides its records: `len`, `series_id`, `count`.
pub const ENTRY_OVERHEAD: usize = 8 + 8 + 4;
/// Bytes a record adds to its entry besides the value: timestamp and value length.
pub const RECORD_OVERHEAD: usize = 8 + 2;

/// Appends one entry to `out`.
pub fn encode(out: &mut Vec<u8>, series_id: u64, timestamps: &[i64], values: &[&[u8]]) {
    debug_assert_eq!(timestamps.len(), values.len());
    let values_len: usize = values.iter().map(|v| 2 + v.len()).sum();
    let len = 12 + 8 * timestamps.len() + values_len;
    out.reserve(8 + len);
    out.extend_from_slice(&(len as u64).to_le_bytes());
    out.extend_from_slice(&series_id.to_le_bytes());
    out.extend_from_slice(&(timestamps.len() as u32).to_le_bytes());
    for ts in timestamps {
        out.extend_from_slice(&ts.to_le_bytes());
    }
    for v in values {
        out.extend_from_slice(&(v.len() as u16).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// One entry of a decoded payload, borrowing its bytes. Its timestamps and
/// values have been checked to fill it exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The series of every record in the entry.
    pub series_id: u64,
    count: usize,
    timestamps: &'a [u8],
    values: &'a [u8],
}

impl<'a> EntryRef<'a> {
    /// How many records the entry holds (at least 1).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false: an entry holds at least one record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records' timestamps, in write order.
    pub fn timestamps(&self) -> impl ExactSizeIterator<Item = i64> + 'a {
        self.timestamps
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
    }

    /// The records' values, in write order.
    pub fn values(&self) -> Values<'a> {
        Values { rest: self.values }
    }
}

/// Iterator over the values of a checked entry.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        // The entry was checked at decode time; these `get`s cannot fail, but
        // stay checked so that no input can make this panic.
        let (head, rest) = self.rest.split_at_checked(2)?;
        let (value, rest) =
            rest.split_at_checked(u16::from_le_bytes([head[0], head[1]]) as usize)?;
        self.rest = rest;
        Some(value)
    }
}

/// Decodes and checks every entry of a decompressed payload. Returns the
/// first fault with its offset inside the payload.
pub fn decode_all(payload: &[u8]) -> Result<Vec<EntryRef<'_>>, Corruption> {
    let mut out = Vec::new();
    for_each(payload, |e| out.push(e))?;
    Ok(out)
}

/// Checks every entry of a decompressed payload, calling `f` on each.
pub fn for_each<'a>(payload: &'a [u8], mut f: impl FnMut(EntryRef<'a>)) -> Result<(), Corruption> {
    let mut at = 0usize;
    if payload.is_empty() {
        return Err(Corruption::BadEntry {
            at: 0,
            what: EntryFault::LenTruncated,
        });
    }
    while at < payload.len() {
        let entry = decode_entry(&payload[at..]).map_err(|what| Corruption::BadEntry {
            at: at as u64,
            what,
        })?;
        at += 8 + entry.0;
        f(entry.1);
    }
    Ok(())
}

/// The entries of a payload, decoded lazily; stops at the end or at the
/// first malformed entry (use [`for_each`] to learn about that).
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    rest: &'a [u8],
    /// The payload already passed [`for_each`]: skip re-walking values.
    checked: bool,
}

/// Iterates the entries of `payload` without collecting them.
pub fn entries(payload: &[u8]) -> Entries<'_> {
    Entries {
        rest: payload,
        checked: false,
    }
}

/// Iterates the entries of a payload that [`for_each`] accepted,
/// without walking each entry's values again (they were checked then). On
/// any other input it still cannot panic or read out of bounds: [`Values`]
/// stays checked.
pub(crate) fn checked_entries(payload: &[u8]) -> Entries<'_> {
    Entries {
        rest: payload,
        checked: true,
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = EntryRef<'a>;
    fn next(&mut self) -> Option<EntryRef<'a>> {
        let decoded = if self.checked {
            decode_entry_head(self.rest).map(|(len, e, _)| (len, e))
        } else {
            decode_entry(self.rest)
        };
        match decoded {
            Ok((len, e)) => {
                self.rest = &self.rest[8 + len..];
                Some(e)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Decodes the entry at the start of `bytes` up to its values, which are
/// returned unchecked (and also as the entry's `values`); returns its `len`
/// field, the entry and the number of values to expect.
fn decode_entry_head(bytes: &[u8]) -> Result<(usize, EntryRef<'_>, usize), EntryFault> {
    let len_bytes = bytes.get(..8).ok_or(EntryFault::LenTruncated)?;
    let len = u64_at(len_bytes, 0..8);
    let rest = (bytes.len() - 8) as u64;
    if len > rest {
        return Err(EntryFault::LenPastPayload);
    }
    let len = len as usize;
    let body = &bytes[8..8 + len];
    if body.len() < 12 {
        return Err(EntryFault::TooShort);
    }
    let series_id = u64_at(body, 0..8);
    let count = u32_at(body, 8..12) as usize;
    if count == 0 {
        return Err(EntryFault::ZeroCount);
    }
    let after_header = &body[12..];
    // count <= u32::MAX, so 8 * count cannot overflow a u64; compare before slicing.
    let ts_len = 8 * count as u64;
    if ts_len > after_header.len() as u64 {
        return Err(EntryFault::TimestampsPastEntry);
    }
    let (timestamps, values) = after_header.split_at(ts_len as usize);
    Ok((
        len,
        EntryRef {
            series_id,
            count,
            timestamps,
            values,
        },
        count,
    ))
}

/// Decodes and checks the entry at the start of `bytes`; returns its `len`
/// field and the entry.
fn decode_entry(bytes: &[u8]) -> Result<(usize, EntryRef<'_>), EntryFault> {
    let (len, entry, count) = decode_entry_head(bytes)?;
    // Walk the value lengths with one bounds check each: `at` may pass the
    // end only after the last value (at most by 2 + u16::MAX, no overflow),
    // which the final comparison tells apart from trailing bytes.
    let values = entry.values;
    let mut at = 0usize;
    for _ in 0..count {
        let Some(b) = values.get(at..at + 2) else {
            return Err(EntryFault::ValuePastEntry);
        };
        at += 2 + u16::from_le_bytes([b[0], b[1]]) as usize;
    }
    match at.cmp(&values.len()) {
        core::cmp::Ordering::Equal => Ok((len, entry)),
        core::cmp::Ordering::Greater => Err(EntryFault::ValuePastEntry),
        core::cmp::Ordering::Less => Err(EntryFault::TrailingBytes),
    }
}

/// An owned entry: one series' records from one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The series of every record.
    pub series_id: u64,
    /// Timestamps (nanoseconds since the Unix epoch), in write order.
    pub timestamps: Vec<i64>,
    /// Values, in write order, one per timestamp.
    pub values: Vec<Vec<u8>>,
}

impl Entry {
    /// How many records the entry holds.
    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    /// True when the entry holds no records (never for a decoded entry).
    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }
}

impl From<EntryRef<'_>> for Entry {
    fn from(e: EntryRef<'_>) -> Entry {
        Entry {
            series_id: e.series_id,
            timestamps: e.timestamps().collect(),
            values: e.values().map(<[u8]>::to_vec).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// One entry of `body` bytes (series 9), with `len` set to `len`.
    fn raw_entry(len: u64, body: &[u8]) -> Vec<u8> {
        let mut out = len.to_le_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    /// An entry body: series 9, `count`, the timestamps, then `rest`.
    fn body(count: u32, timestamps: usize, rest: &[u8]) -> Vec<u8> {
        let mut b = 9u64.to_le_bytes().to_vec();
        b.extend_from_slice(&count.to_le_bytes());
        b.extend(core::iter::repeat_n(0u8, 8 * timestamps));
        b.extend_from_slice(rest);
        b
    }

    fn fault_at(payload: &[u8]) -> (u64, EntryFault) {
        match for_each(payload, |_| {}) {
            Err(Corruption::BadEntry { at, what }) => (at, what),
            other => panic!("expected a bad entry, got {other:?}"),
        }
    }

    #[test]
    fn every_entry_fault_is_found_and_placed() {
        let mut good = Vec::new();
        encode(&mut good, 1, &[10, 11], &[b"ab", b""]);
        let at = good.len() as u64;
        let cases: Vec<(Vec<u8>, EntryFault)> = vec![
            (vec![1, 2, 3], EntryFault::LenTruncated),
            (raw_entry(100, &[0; 20]), EntryFault::LenPastPayload),
            (raw_entry(11, &[0; 11]), EntryFault::TooShort),
            (raw_entry(12, &body(0, 0, &[])), EntryFault::ZeroCount),
            (
                raw_entry(20, &body(2, 1, &[])),
                EntryFault::TimestampsPastEntry,
            ),
            // The first value's length (5) runs past the entry.
            (
                raw_entry(24, &body(1, 1, &[5, 0, 1, 2])),
                EntryFault::ValuePastEntry,
            ),
            // Two records, but the second has no length bytes.
            (
                raw_entry(31, &body(2, 2, &[1, 0, 7])),
                EntryFault::ValuePastEntry,
            ),
            // The second value's length is cut after one byte.
            (
                raw_entry(32, &body(2, 2, &[1, 0, 7, 0])),
                EntryFault::ValuePastEntry,
            ),
            (
                raw_entry(23, &body(1, 1, &[0, 0, 3])),
                EntryFault::TrailingBytes,
            ),
        ];
        for (bad, want) in cases {
            // Alone, and after a good entry (the offset moves with it).
            assert_eq!(fault_at(&bad), (0, want), "{bad:?}");
            let mut after = good.clone();
            after.extend_from_slice(&bad);
            assert_eq!(fault_at(&after), (at, want), "{bad:?} after a good entry");
            // The lazy iterator yields the good entry, then stops.
            let seen: Vec<_> = entries(&after).map(|e| e.series_id).collect();
            assert_eq!(seen, [1]);
        }
        assert_eq!(fault_at(&[]), (0, EntryFault::LenTruncated));
    }

    #[test]
    fn checked_entries_yield_what_the_check_saw() {
        let mut payload = Vec::new();
        encode(&mut payload, 1, &[10, 11], &[b"ab", b""]);
        encode(&mut payload, 2, &[-5], &[&[0xff; 300]]);
        encode(&mut payload, 3, &[1, 2, 3], &[b"x", b"yz", b"w"]);
        let mut checked = Vec::new();
        for_each(&payload, |e| checked.push(e)).unwrap();
        let lazy: Vec<_> = entries(&payload).collect();
        let trusted: Vec<_> = checked_entries(&payload).collect();
        assert_eq!(checked, lazy);
        assert_eq!(checked, trusted);
        let values: Vec<Vec<&[u8]>> = trusted.iter().map(|e| e.values().collect()).collect();
        assert_eq!(values[0], [&b"ab"[..], b""]);
        assert_eq!(values[1], [&[0xff; 300][..]]);
        assert_eq!(values[2], [&b"x"[..], b"yz", b"w"]);
        let ts: Vec<i64> = trusted[2].timestamps().collect();
        assert_eq!(ts, [1, 2, 3]);
    }

    #[test]
    fn values_of_a_damaged_entry_stop_without_panicking() {
        // `checked_entries` on bytes that were never checked: a value
        // length past the end ends the values; nothing reads out of bounds.
        let bad = raw_entry(24, &body(1, 1, &[5, 0, 1, 2]));
        let got: Vec<_> = checked_entries(&bad).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].values().count(), 0);
    }
}
