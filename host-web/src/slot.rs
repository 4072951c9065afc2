//! A pool file's header: which WAL file the pool file holds, if any.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "WALOPFS1"
//! 8       2     name length N, little endian (0: the pool file is free)
//! 10      N     the WAL file's name as the core spells it (FileName's Display)
//! 10+N    4     CRC-32C of bytes 0 .. 10+N, little endian
//! ...           zeros up to HEADER_LEN
//! HEADER_LEN    the WAL file's bytes, from its offset 0
//! ```
//!
//! A header that is all zeros (a new, empty pool file), has another magic,
//! or fails its CRC (torn by a power cut while it was rewritten) marks a
//! free pool file: a header is rewritten only by a create into a free pool
//! file or by a remove, and until the next directory sync both may or may
//! not have happened.

use alloc::vec::Vec;

use wal_core::checksum::crc32c;
use wal_core::FileName;

/// Bytes before the WAL file's own bytes in a pool file: one 4 KiB block,
/// so the file's bytes stay block-aligned.
pub const HEADER_LEN: u64 = 4096;

/// The part of the header that is ever written (the rest stays zeros).
pub const WRITTEN_LEN: usize = 128;

const MAGIC: &[u8; 8] = b"WALOPFS1";

/// The header naming `name`, or marking the pool file free (`None`).
pub fn encode(name: Option<FileName>) -> Vec<u8> {
    let mut out = Vec::with_capacity(WRITTEN_LEN);
    out.extend_from_slice(MAGIC);
    let text = name.map(|n| alloc::format!("{n}")).unwrap_or_default();
    // The longest name, a sidecar with a 20-digit offset and a 10-digit
    // copy, is 60 bytes: it always fits.
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out.resize(WRITTEN_LEN, 0);
    out
}

/// The WAL file a header names; `None` for a free pool file (see the
/// module docs for what counts as free).
pub fn decode(header: &[u8]) -> Option<FileName> {
    let len = u16::from_le_bytes(header.get(8..10)?.try_into().ok()?) as usize;
    if header.get(..8)? != MAGIC || len == 0 {
        return None;
    }
    let name = header.get(10..10 + len)?;
    let crc = u32::from_le_bytes(header.get(10 + len..14 + len)?.try_into().ok()?);
    if crc32c(&header[..10 + len]) != crc {
        return None;
    }
    FileName::parse(core::str::from_utf8(name).ok()?)
}
