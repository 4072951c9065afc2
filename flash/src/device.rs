//! The flash and the operations everything above is built from: read,
//! program at any byte offset (padding partial words with 0xFF, which
//! leaves their other bits as they are), erase a block, ask whether bytes
//! are erased or could be programmed to a value. Counts what it does.

use alloc::vec;
use alloc::vec::Vec;

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};

use crate::error::{driver, FlashError};
use crate::layout::Geometry;

/// What the storage has done to the flash so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlashStats {
    /// Bytes the WAL wrote into files (what it asked for, before any
    /// rewrite).
    pub file_bytes_written: u64,
    /// Bytes programmed (file data, records, rewrites, journal copies).
    pub bytes_programmed: u64,
    /// Erase blocks erased.
    pub erases: u64,
    /// Blocks rewritten through the journal (an overwrite of durable
    /// bytes, a truncation inside a block, a full length log compacted).
    pub journaled_rewrites: u64,
    /// Of those, header blocks whose length log was full.
    pub compactions: u64,
}

/// Bytes read or checked at a time on the stack.
const CHUNK: usize = 64;

/// The flash, its geometry, a block of scratch memory and the journal's state.
pub(crate) struct Device<F> {
    pub flash: F,
    pub geo: Geometry,
    /// One erase block of scratch (a block being rewritten).
    pub block: Vec<u8>,
    /// Journal blocks programmed since they were last erased.
    pub journal_dirty: u32,
    pub stats: FlashStats,
}

impl<F: NorFlash + MultiwriteNorFlash> Device<F> {
    pub fn new(flash: F, geo: Geometry) -> Self {
        Device {
            flash,
            block: vec![0xFF; geo.erase as usize],
            geo,
            journal_dirty: 0,
            stats: FlashStats::default(),
        }
    }

    pub fn read(&mut self, addr: u32, out: &mut [u8]) -> Result<(), FlashError> {
        self.flash.read(addr, out).map_err(driver)
    }

    /// Programs `data` at `addr`, any alignment: partial words at either
    /// end are padded with 0xFF (programming a 1 leaves a bit as it is).
    pub fn program(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        if data.is_empty() {
            return Ok(());
        }
        let w = self.geo.write as usize;
        let mut at = addr as usize;
        let mut rest = data;
        // A partial first word.
        let head = at % w;
        if head != 0 || rest.len() < w {
            let mut word = [0xFFu8; 64];
            let n = (w - head).min(rest.len());
            word[head..head + n].copy_from_slice(&rest[..n]);
            self.program_aligned((at - head) as u32, &word[..w])?;
            at += n;
            rest = &rest[n..];
        }
        // Whole words.
        let whole = rest.len() / w * w;
        if whole > 0 {
            self.program_aligned(at as u32, &rest[..whole])?;
            at += whole;
            rest = &rest[whole..];
        }
        // A partial last word.
        if !rest.is_empty() {
            let mut word = [0xFFu8; 64];
            word[..rest.len()].copy_from_slice(rest);
            self.program_aligned(at as u32, &word[..w])?;
        }
        Ok(())
    }

    fn program_aligned(&mut self, addr: u32, data: &[u8]) -> Result<(), FlashError> {
        self.stats.bytes_programmed += data.len() as u64;
        self.flash.write(addr, data).map_err(driver)
    }

    /// Erases the block at `addr`.
    pub fn erase(&mut self, addr: u32) -> Result<(), FlashError> {
        self.stats.erases += 1;
        self.flash
            .erase(addr, addr + self.geo.erase)
            .map_err(driver)
    }

    /// Whether `len` bytes at `addr` are all erased.
    pub fn is_erased(&mut self, addr: u32, len: u32) -> Result<bool, FlashError> {
        let mut buf = [0u8; CHUNK];
        let mut at = addr;
        let end = addr + len;
        while at < end {
            let n = ((end - at) as usize).min(CHUNK);
            self.read(at, &mut buf[..n])?;
            if !crate::layout::erased(&buf[..n]) {
                return Ok(false);
            }
            at += n as u32;
        }
        Ok(true)
    }

    /// Whether programming `data` at `addr` leaves exactly `data` there:
    /// every bit it needs is still 1 (programming only clears bits).
    pub fn can_program(&mut self, addr: u32, data: &[u8]) -> Result<bool, FlashError> {
        let mut buf = [0u8; CHUNK];
        for (i, want) in data.chunks(CHUNK).enumerate() {
            let have = &mut buf[..want.len()];
            self.read(addr + (i * CHUNK) as u32, have)?;
            if have.iter().zip(want).any(|(h, w)| h & w != *w) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Erases the block at `addr` unless it already is.
    pub fn erase_if_dirty(&mut self, addr: u32) -> Result<(), FlashError> {
        if !self.is_erased(addr, self.geo.erase)? {
            self.erase(addr)?;
        }
        Ok(())
    }
}
