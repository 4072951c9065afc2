//! The on-disk format of FORMAT.md, as values and bytes: pure functions over
//! slices, no I/O, no panic on any input (every length is checked against
//! what remains before it is used). The bottom layer of the crate: it
//! depends only on [`crate::checksum`].
//!
//! ```text
//! segment header (24 bytes)                                      header.rs
//! +--------+---------+------------+-------+------------+
//! | WALSEG | ver u16 | seg_id u64 | flags | header_crc |   crc = CRC(bytes 0..20)
//! +--------+---------+------------+-------+------------+
//! 0        6         8            16      20           24
//!
//! frame (16-byte header + payload)                                frame.rs
//! +---------+-------+----------+---------+-------------------+
//! | crc u32 | codec | reserved | len u64 | payload (len)     |   crc = CRC(seg_id LE ++ bytes 4..16+len)
//! +---------+-------+----------+---------+-------------------+
//! 0         4       5          8         16
//!
//! entry (payload = entries back to back)                          entry.rs
//! +---------+---------------+-----------+----------------+--------------------------+
//! | len u64 | series_id u64 | count u32 | ts i64 * count | (u16 len, bytes) * count |
//! +---------+---------------+-----------+----------------+--------------------------+
//! 0         8               16          20
//! ```
//!
//! File names are in [`names`]; why bytes are not a valid log is a
//! [`Corruption`].

pub mod corruption;
pub mod entry;
pub mod frame;
pub mod header;
pub mod names;

pub use corruption::{Corruption, EntryFault};
pub use entry::{Entry, EntryRef, MAX_VALUE_LEN};
pub use frame::{Codec, FrameHeader};
pub use names::{FileName, SegmentId};

use core::ops::Range;

/// The little-endian u16 at `r` of `b` (the caller checked the length).
fn u16_at(b: &[u8], r: Range<usize>) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[r]);
    u16::from_le_bytes(a)
}

/// The little-endian u32 at `r` of `b` (the caller checked the length).
fn u32_at(b: &[u8], r: Range<usize>) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[r]);
    u32::from_le_bytes(a)
}

/// The little-endian u64 at `r` of `b` (the caller checked the length).
fn u64_at(b: &[u8], r: Range<usize>) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[r]);
    u64::from_le_bytes(a)
}
