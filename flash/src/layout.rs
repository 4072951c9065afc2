//! Where everything lives on the flash, and the small records kept there:
//! the superblock, a slot's name record, tombstone and length log. Pure
//! arithmetic and bytes; no I/O.

use wal_core::checksum::crc32c;
use wal_core::FileName;

/// Erase blocks before the first slot: the superblock, then two for the
/// journal of block rewrites.
pub(crate) const RESERVED_BLOCKS: u32 = 3;

/// The superblock's magic and version.
const SUPER_MAGIC: &[u8; 8] = b"WALFLSH1";
/// A name record's magic.
const NAME_MAGIC: u32 = 0x4E4C_4157; // "WALN"
/// Bytes of a name record before padding to the write size.
const NAME_BYTES: u32 = 32;
/// Bytes of the superblock record before padding.
const SUPER_BYTES: u32 = 28;

/// The flash's geometry and how it is divided, fixed when it is formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Erase block size.
    pub erase: u32,
    /// Program granularity.
    pub write: u32,
    /// Bytes of one length record, tombstone or journal marker: 8, or the
    /// write size when that is larger.
    pub unit: u32,
    /// Erase blocks per slot: one header block, the rest data.
    pub slot_blocks: u32,
    /// Slots (files that can exist at once).
    pub slots: u32,
}

/// Rounds `n` up to a multiple of `to` (a power of two).
pub(crate) fn round_up(n: u32, to: u32) -> u32 {
    (n + to - 1) & !(to - 1)
}

impl Geometry {
    /// The geometry of a flash of `capacity` bytes with these block sizes,
    /// cut into slots of `slot_blocks` erase blocks, or why not.
    pub fn new(
        capacity: usize,
        erase: usize,
        write: usize,
        slot_blocks: u32,
    ) -> Result<Self, &'static str> {
        let (Ok(capacity), Ok(erase), Ok(write)) = (
            u32::try_from(capacity),
            u32::try_from(erase),
            u32::try_from(write),
        ) else {
            return Err("flash larger than 4 GiB");
        };
        if !write.is_power_of_two() || write > 64 {
            return Err("write size must be a power of two of at most 64 bytes");
        }
        if !erase.is_power_of_two() || erase < 256 || erase < 8 * write {
            return Err("erase size must be a power of two of at least 256 bytes");
        }
        if slot_blocks < 2 {
            return Err("a slot needs a header block and a data block");
        }
        let unit = write.max(8);
        let blocks = capacity / erase;
        let slots = blocks.saturating_sub(RESERVED_BLOCKS) / slot_blocks;
        if slots == 0 {
            return Err("the flash holds no slot of that size");
        }
        Ok(Geometry {
            erase,
            write,
            unit,
            slot_blocks,
            slots,
        })
    }

    /// Where the journal starts.
    pub fn journal(&self) -> u32 {
        self.erase
    }

    /// Where slot `s`'s header block starts.
    pub fn slot_base(&self, s: u32) -> u32 {
        (RESERVED_BLOCKS + s * self.slot_blocks) * self.erase
    }

    /// Where slot `s`'s data starts.
    pub fn data_base(&self, s: u32) -> u32 {
        self.slot_base(s) + self.erase
    }

    /// Bytes a file can hold.
    pub fn data_capacity(&self) -> u32 {
        (self.slot_blocks - 1) * self.erase
    }

    /// The tombstone's offset in a header block.
    pub fn tombstone(&self) -> u32 {
        round_up(NAME_BYTES, self.unit)
    }

    /// Length record `i`'s offset in a header block.
    pub fn length_record(&self, i: u32) -> u32 {
        self.tombstone() + self.unit * (1 + i)
    }

    /// Length records a header block holds.
    pub fn length_records(&self) -> u32 {
        (self.erase - self.length_record(0)) / self.unit
    }

    /// The superblock record (padded with 0xFF to a multiple of `unit`).
    pub fn encode_super(&self, out: &mut [u8]) -> usize {
        let n = round_up(SUPER_BYTES, self.unit) as usize;
        out[..n].fill(0xFF);
        out[..8].copy_from_slice(SUPER_MAGIC);
        out[8..12].copy_from_slice(&self.erase.to_le_bytes());
        out[12..16].copy_from_slice(&self.write.to_le_bytes());
        out[16..20].copy_from_slice(&self.slot_blocks.to_le_bytes());
        out[20..24].copy_from_slice(&self.slots.to_le_bytes());
        let crc = crc32c(&out[..24]);
        out[24..28].copy_from_slice(&crc.to_le_bytes());
        n
    }

    /// The geometry a superblock records, if `bytes` is a valid one.
    pub fn decode_super(bytes: &[u8]) -> Option<(u32, u32, u32, u32)> {
        let b = bytes.get(..SUPER_BYTES as usize)?;
        if &b[..8] != SUPER_MAGIC || crc32c(&b[..24]) != le32(&b[24..28]) {
            return None;
        }
        Some((
            le32(&b[8..12]),
            le32(&b[12..16]),
            le32(&b[16..20]),
            le32(&b[20..24]),
        ))
    }

    /// A name record for `name`, padded with 0xFF; returns its length.
    pub fn encode_name(&self, name: FileName, out: &mut [u8]) -> usize {
        let n = self.tombstone() as usize;
        out[..n].fill(0xFF);
        let (kind, segment, offset, copy) = match name {
            FileName::Segment(id) => (0u32, id, 0, 0),
            FileName::TornTail {
                segment,
                offset,
                copy,
            } => (1, segment, offset, copy),
            FileName::Free(id) => (2, id, 0, 0),
        };
        out[0..4].copy_from_slice(&NAME_MAGIC.to_le_bytes());
        out[4..8].copy_from_slice(&kind.to_le_bytes());
        out[8..16].copy_from_slice(&segment.to_le_bytes());
        out[16..24].copy_from_slice(&offset.to_le_bytes());
        out[24..28].copy_from_slice(&copy.to_le_bytes());
        let crc = crc32c(&out[..28]);
        out[28..32].copy_from_slice(&crc.to_le_bytes());
        n
    }

    /// The name a name record holds, if `bytes` is a whole one.
    pub fn decode_name(bytes: &[u8]) -> Option<FileName> {
        let b = bytes.get(..NAME_BYTES as usize)?;
        if le32(&b[0..4]) != NAME_MAGIC || crc32c(&b[..28]) != le32(&b[28..32]) {
            return None;
        }
        let segment = le64(&b[8..16]);
        match le32(&b[4..8]) {
            0 => Some(FileName::Segment(segment)),
            1 => Some(FileName::TornTail {
                segment,
                offset: le64(&b[16..24]),
                copy: le32(&b[24..28]),
            }),
            2 => Some(FileName::Free(segment)),
            _ => None,
        }
    }
}

/// A length record: the length and its checksum, padded with 0xFF to
/// `out.len()` (the unit).
pub(crate) fn encode_length(len: u32, out: &mut [u8]) {
    out.fill(0xFF);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&length_crc(len).to_le_bytes());
}

/// What a programmed length record says: `Some(len)` when whole, `None`
/// when torn (a power cut while it was programmed).
pub(crate) fn decode_length(bytes: &[u8]) -> Option<u32> {
    let len = le32(&bytes[..4]);
    (le32(&bytes[4..8]) == length_crc(len)).then_some(len)
}

fn length_crc(len: u32) -> u32 {
    // Seeded apart from the other records, so that no other record reads
    // as a length record.
    crc32c(&len.to_le_bytes()) ^ 0x4C45_4E47
}

/// Whether every byte is erased.
pub(crate) fn erased(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0xFF)
}

pub(crate) fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}
