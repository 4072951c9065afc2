//! The files: one per slot, found by its name record, its length the last
//! whole record of its length log. Create, remove, write, commit (sync),
//! truncate, and mounting the table from what the flash holds.

use alloc::vec::Vec;

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};
use wal_core::FileName;

use crate::device::Device;
use crate::error::FlashError;
use crate::layout::{decode_length, encode_length, erased, Geometry};

/// A slot's state in memory.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Slot {
    /// The file it holds, if any.
    pub name: Option<FileName>,
    /// The file's length (written, not necessarily durable).
    pub len: u32,
    /// Its length as last recorded on the flash (durable).
    pub committed: u32,
    /// The next free length record.
    pub next_record: u32,
    /// Bumped when the slot's file is removed or created, so that an old
    /// handle is told `NotFound` instead of reading a newer file.
    pub generation: u32,
}

/// The device and its slots.
pub(crate) struct Table<F> {
    pub dev: Device<F>,
    pub slots: Vec<Slot>,
    /// Where the search for a free slot starts (round robin spreads wear).
    cursor: u32,
}

impl<F: NorFlash + MultiwriteNorFlash> Table<F> {
    /// The table of a freshly formatted flash.
    pub fn empty(dev: Device<F>) -> Self {
        let slots = alloc::vec![Slot::default(); dev.geo.slots as usize];
        Table {
            dev,
            slots,
            cursor: 0,
        }
    }

    /// Reads every slot's header block.
    pub fn mount(dev: Device<F>) -> Result<Self, FlashError> {
        let mut t = Self::empty(dev);
        let g = t.dev.geo;
        let mut name = [0u8; 64];
        let mut record = [0u8; 64];
        let unit = g.unit as usize;
        for s in 0..g.slots {
            let base = g.slot_base(s);
            t.dev
                .read(base, &mut name[..g.tombstone() as usize + unit])?;
            let Some(file) = Geometry::decode_name(&name) else {
                continue; // never created, or torn while it was
            };
            let t0 = g.tombstone() as usize;
            if !erased(&name[t0..t0 + unit]) {
                continue; // removed
            }
            if t.find(file).is_some() {
                return Err(FlashError::Corrupt("two files of one name"));
            }
            let slot = &mut t.slots[s as usize];
            slot.name = Some(file);
            for i in 0..g.length_records() {
                t.dev.read(base + g.length_record(i), &mut record[..unit])?;
                if erased(&record[..unit]) {
                    break;
                }
                slot.next_record = i + 1;
                // A torn record (the power went while it was programmed)
                // says nothing: the one before it stands.
                if let Some(len) =
                    decode_length(&record[..unit]).filter(|l| *l <= g.data_capacity())
                {
                    slot.len = len;
                    slot.committed = len;
                }
            }
        }
        Ok(t)
    }

    /// The slot holding `name`.
    pub fn find(&self, name: FileName) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.name == Some(name))
            .map(|s| s as u32)
    }

    /// Creates `name`, empty, durably.
    pub fn create(&mut self, name: FileName) -> Result<u32, FlashError> {
        if self.find(name).is_some() {
            return Err(FlashError::Exists);
        }
        let n = self.slots.len() as u32;
        let s = (0..n)
            .map(|i| (self.cursor + i) % n)
            .find(|s| self.slots[*s as usize].name.is_none())
            .ok_or(FlashError::Full)?;
        let g = self.dev.geo;
        for b in 0..g.slot_blocks {
            self.dev.erase_if_dirty(g.slot_base(s) + b * g.erase)?;
        }
        let mut record = [0u8; 64];
        let len = g.encode_name(name, &mut record);
        self.dev.program(g.slot_base(s), &record[..len])?;
        let slot = &mut self.slots[s as usize];
        *slot = Slot {
            name: Some(name),
            generation: slot.generation.wrapping_add(1),
            ..Slot::default()
        };
        self.cursor = (s + 1) % n;
        Ok(s)
    }

    /// Removes the file in slot `s`, durably: one tombstone programmed.
    pub fn remove(&mut self, s: u32) -> Result<(), FlashError> {
        let g = self.dev.geo;
        self.dev
            .program(g.slot_base(s) + g.tombstone(), &[0u8; 8])?;
        let slot = &mut self.slots[s as usize];
        slot.name = None;
        slot.generation = slot.generation.wrapping_add(1);
        Ok(())
    }

    /// Writes `data` at `pos` of slot `s`'s file (zeros fill a gap past
    /// its end).
    pub fn write(&mut self, s: u32, pos: u32, data: &[u8]) -> Result<(), FlashError> {
        let g = self.dev.geo;
        let end = u64::from(pos) + data.len() as u64;
        if end > u64::from(g.data_capacity()) {
            return Err(FlashError::Full);
        }
        let len = self.slots[s as usize].len;
        if pos > len {
            let zeros = [0u8; 64];
            let mut at = len;
            while at < pos {
                let n = (pos - at).min(64);
                self.write(s, at, &zeros[..n as usize])?;
                at += n;
            }
        }
        let base = g.data_base(s);
        let mut at = pos;
        let mut rest = data;
        while !rest.is_empty() {
            let block = at / g.erase * g.erase;
            let n = ((block + g.erase - at) as usize).min(rest.len());
            self.write_in_block(s, block, at, &rest[..n], base)?;
            at += n as u32;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// One write that stays inside the data block at `block`.
    fn write_in_block(
        &mut self,
        s: u32,
        block: u32,
        at: u32,
        piece: &[u8],
        base: u32,
    ) -> Result<(), FlashError> {
        let slot = self.slots[s as usize];
        let end = at + piece.len() as u32;
        if at >= slot.committed && self.dev.can_program(base + at, piece)? {
            // Past the durable end, on bits still set: program in place. A
            // power cut here can only damage bytes no one relies on yet.
            self.dev.program(base + at, piece)?;
        } else if block >= slot.len {
            // The block holds nothing of this file: erase, then program.
            self.dev.erase(base + block)?;
            self.dev.program(base + at, piece)?;
        } else {
            // Overwriting durable bytes, or bits already cleared: rewrite the
            // block through the journal, keeping the file's other bytes.
            let keep = (slot.len.min(block + self.dev.geo.erase) - block) as usize;
            let new_len = (slot.len.max(end).min(block + self.dev.geo.erase) - block) as usize;
            let mut buf = core::mem::take(&mut self.dev.block);
            let read = self.dev.read(base + block, &mut buf[..keep]);
            buf[keep..].fill(0xFF);
            let off = (at - block) as usize;
            buf[off..off + piece.len()].copy_from_slice(piece);
            self.dev.block = buf;
            read?;
            self.dev.rewrite(base + block, new_len)?;
        }
        let slot = &mut self.slots[s as usize];
        slot.len = slot.len.max(end);
        Ok(())
    }

    /// Records slot `s`'s current length on the flash (its sync).
    pub fn commit(&mut self, s: u32) -> Result<(), FlashError> {
        let slot = self.slots[s as usize];
        if slot.len == slot.committed {
            return Ok(());
        }
        let g = self.dev.geo;
        let unit = g.unit as usize;
        let mut record = [0u8; 64];
        encode_length(slot.len, &mut record[..unit]);
        let base = g.slot_base(s);
        let next = if slot.next_record < g.length_records() {
            self.dev
                .program(base + g.length_record(slot.next_record), &record[..unit])?;
            slot.next_record + 1
        } else {
            // The log is full: a fresh header block holding the name and
            // this one record, through the journal.
            self.dev.stats.compactions += 1;
            let name = slot.name.ok_or(FlashError::NotFound)?;
            let mut buf = core::mem::take(&mut self.dev.block);
            buf.fill(0xFF);
            g.encode_name(name, &mut buf);
            let at = g.length_record(0) as usize;
            buf[at..at + unit].copy_from_slice(&record[..unit]);
            self.dev.block = buf;
            self.dev.rewrite(base, at + unit)?;
            1
        };
        let slot = &mut self.slots[s as usize];
        slot.committed = slot.len;
        slot.next_record = next;
        Ok(())
    }

    /// Cuts slot `s`'s file to `len`: the new length is recorded at once;
    /// the bytes past it are erased (the block holding the new end is
    /// rewritten through the journal with what stays).
    pub fn truncate(&mut self, s: u32, len: u32) -> Result<(), FlashError> {
        let old = self.slots[s as usize].len;
        if len >= old {
            return Ok(());
        }
        self.slots[s as usize].len = len;
        self.commit(s)?;
        let g = self.dev.geo;
        let base = g.data_base(s);
        let block = len / g.erase * g.erase;
        let mut next = block;
        if len > block {
            next += g.erase;
            let end = old.min(next);
            if !self.dev.is_erased(base + len, end - len)? {
                let keep = (len - block) as usize;
                let mut buf = core::mem::take(&mut self.dev.block);
                let read = self.dev.read(base + block, &mut buf[..keep]);
                self.dev.block = buf;
                read?;
                self.dev.rewrite(base + block, keep)?;
            }
        }
        while next < old {
            self.dev.erase(base + next)?;
            next += g.erase;
        }
        Ok(())
    }
}
