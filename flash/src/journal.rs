//! Rewriting one erase block so that a power cut at any moment leaves
//! either its old contents or its new ones: the new contents go to the
//! journal first (two erase blocks after the superblock), with a header
//! that checks them; then the block is erased and programmed; then the
//! journal record is marked done. Mounting replays a record that is whole
//! and not marked done (replaying is idempotent).
//!
//! ```text
//! journal: | magic "WALJ" | target address | length | CRC-32C | (pad to unit)
//!          | new contents (length bytes, pad to unit) | done marker (unit) |
//! ```
//! The done marker is erased (0xFF) until the rewrite finished; anything
//! else means done. The journal is erased lazily, before its next use.

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};
use wal_core::checksum::crc32c;

use crate::device::Device;
use crate::error::FlashError;
use crate::layout::{erased, le32, round_up};

const MAGIC: u32 = 0x4A4C_4157; // "WALJ"

impl<F: NorFlash + MultiwriteNorFlash> Device<F> {
    fn header_len(&self) -> u32 {
        round_up(16, self.geo.unit)
    }

    fn done_at(&self, len: u32) -> u32 {
        self.geo.journal() + self.header_len() + round_up(len, self.geo.unit)
    }

    fn crc(target: u32, content: &[u8]) -> u32 {
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&target.to_le_bytes());
        head[4..].copy_from_slice(&(content.len() as u32).to_le_bytes());
        crc32c(&head) ^ crc32c(content)
    }

    /// Replaces the erase block at `target` with `self.block[..len]` (the
    /// rest of the block erased), power-safely.
    pub fn rewrite(&mut self, target: u32, len: usize) -> Result<(), FlashError> {
        self.stats.journaled_rewrites += 1;
        let j = self.geo.journal();
        for b in 0..self.journal_dirty {
            self.erase(j + b * self.geo.erase)?;
        }
        self.journal_dirty = 0;
        let content = core::mem::take(&mut self.block);
        let written = self.log_and_apply(target, &content[..len]);
        self.block = content;
        written
    }

    fn log_and_apply(&mut self, target: u32, content: &[u8]) -> Result<(), FlashError> {
        let j = self.geo.journal();
        let done = self.done_at(content.len() as u32);
        self.journal_dirty = (done + self.geo.unit - j).div_ceil(self.geo.erase);
        self.program(j + self.header_len(), content)?;
        let mut head = [0xFFu8; 16];
        head[..4].copy_from_slice(&MAGIC.to_le_bytes());
        head[4..8].copy_from_slice(&target.to_le_bytes());
        head[8..12].copy_from_slice(&(content.len() as u32).to_le_bytes());
        head[12..16].copy_from_slice(&Self::crc(target, content).to_le_bytes());
        // From here on, a power cut is finished by the next mount.
        self.program(j, &head)?;
        self.apply(target, content)?;
        self.program(done, &[0u8; 8])
    }

    fn apply(&mut self, target: u32, content: &[u8]) -> Result<(), FlashError> {
        self.erase(target)?;
        self.program(target, content)
    }

    /// At mount: finishes a rewrite a power cut interrupted.
    pub fn replay(&mut self) -> Result<(), FlashError> {
        let j = self.geo.journal();
        // Anything programmed (a record, part of one, a torn erase) is
        // erased before the next use.
        for b in 0..2 {
            if !self.is_erased(j + b * self.geo.erase, self.geo.erase)? {
                self.journal_dirty = b + 1;
            }
        }
        let mut head = [0u8; 16];
        self.read(j, &mut head)?;
        if erased(&head) {
            return Ok(());
        }
        let (target, len) = (le32(&head[4..8]), le32(&head[8..12]));
        let g = self.geo;
        let target_ok =
            target % g.erase == 0 && target >= g.slot_base(0) && target < g.slot_base(g.slots);
        if le32(&head[..4]) != MAGIC || !target_ok || len > g.erase {
            return Ok(()); // torn before the header was whole: nothing applied
        }
        let mut marker = [0u8; 8];
        self.read(self.done_at(len), &mut marker)?;
        if !erased(&marker) {
            return Ok(()); // finished
        }
        let mut content = core::mem::take(&mut self.block);
        let read = self.read(j + self.header_len(), &mut content[..len as usize]);
        let result = match read {
            Ok(()) if Self::crc(target, &content[..len as usize]) == le32(&head[12..16]) => {
                self.stats.journaled_rewrites += 1;
                self.apply(target, &content[..len as usize])
                    .and_then(|()| self.program(self.done_at(len), &[0u8; 8]))
            }
            other => other,
        };
        self.block = content;
        result
    }
}
