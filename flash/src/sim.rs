//! `SimFlash`: NOR flash in RAM, as strict as the real thing and more
//! watchful: erasing sets a block to 0xFF, programming can only clear bits
//! (a write that would need to set one is refused, so an adapter bug shows
//! instead of silently corrupting), offsets and lengths must be aligned,
//! every erase is counted per block, and the power can be cut at the N-th
//! program or erase (that one is torn, every later one fails). Clones share
//! one chip, so a test keeps a handle while a storage owns another.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashErrorKind, ReadNorFlash,
};

/// What a [`SimFlash`] has been through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Block erases.
    pub erases: u64,
    /// Bytes programmed.
    pub programmed: u64,
    /// Program and erase operations.
    pub ops: u64,
    /// Erases of each block since the chip was made.
    pub block_erases: Vec<u32>,
}

impl SimStats {
    /// The most erases any one block has had.
    pub fn max_block_erases(&self) -> u32 {
        self.block_erases.iter().copied().max().unwrap_or(0)
    }
}

#[derive(Debug)]
struct Chip {
    bytes: Vec<u8>,
    stats: SimStats,
    /// The operation number the power goes at, if planned.
    power_cut_at: Option<u64>,
}

/// NOR flash in RAM: `WRITE`-byte program granularity, `ERASE`-byte erase
/// blocks, reads at any byte.
#[derive(Clone, Debug)]
pub struct SimFlash<const WRITE: usize = 4, const ERASE: usize = 4096> {
    chip: Rc<RefCell<Chip>>,
}

impl<const WRITE: usize, const ERASE: usize> SimFlash<WRITE, ERASE> {
    /// A chip of `blocks` erase blocks, erased.
    pub fn new(blocks: usize) -> Self {
        SimFlash {
            chip: Rc::new(RefCell::new(Chip {
                bytes: vec![0xFF; blocks * ERASE],
                stats: SimStats {
                    block_erases: vec![0; blocks],
                    ..SimStats::default()
                },
                power_cut_at: None,
            })),
        }
    }

    /// What the chip has been through.
    pub fn stats(&self) -> SimStats {
        self.chip.borrow().stats.clone()
    }

    /// Cuts the power at the `n`-th program or erase from now (0 = the
    /// next): it is torn (a program stores the first half of its bytes, an
    /// erase erases the first half of its block) and every later one fails.
    pub fn cut_power_after(&self, n: u64) {
        let mut c = self.chip.borrow_mut();
        c.power_cut_at = Some(c.stats.ops + n);
    }

    /// The power back on: operations work again.
    pub fn restore_power(&self) {
        self.chip.borrow_mut().power_cut_at = None;
    }

    /// A copy of the chip's bytes, on a chip of its own with fresh
    /// counters (as a chip moved to another board).
    pub fn image(&self) -> Self {
        let c = self.chip.borrow();
        let blocks = c.bytes.len() / ERASE;
        let copy = Self::new(blocks);
        copy.chip.borrow_mut().bytes.copy_from_slice(&c.bytes);
        copy
    }

    /// The chip's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.chip.borrow().bytes.clone()
    }
}

impl Chip {
    /// Counts an operation; `Some(torn)` if it may run (`torn` when the
    /// power goes during it), `None` if the power is already off.
    fn begin(&mut self) -> Option<bool> {
        let n = self.stats.ops;
        self.stats.ops += 1;
        match self.power_cut_at {
            Some(at) if n > at => None,
            Some(at) => Some(n == at),
            None => Some(false),
        }
    }
}

impl<const WRITE: usize, const ERASE: usize> ErrorType for SimFlash<WRITE, ERASE> {
    type Error = NorFlashErrorKind;
}

impl<const WRITE: usize, const ERASE: usize> ReadNorFlash for SimFlash<WRITE, ERASE> {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), NorFlashErrorKind> {
        let c = self.chip.borrow();
        let at = offset as usize;
        let src = c
            .bytes
            .get(at..at + bytes.len())
            .ok_or(NorFlashErrorKind::OutOfBounds)?;
        bytes.copy_from_slice(src);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.chip.borrow().bytes.len()
    }
}

impl<const WRITE: usize, const ERASE: usize> NorFlash for SimFlash<WRITE, ERASE> {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = ERASE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), NorFlashErrorKind> {
        let (from, to) = (from as usize, to as usize);
        if from % ERASE != 0 || to % ERASE != 0 || from > to {
            return Err(NorFlashErrorKind::NotAligned);
        }
        let mut c = self.chip.borrow_mut();
        if to > c.bytes.len() {
            return Err(NorFlashErrorKind::OutOfBounds);
        }
        for block in (from..to).step_by(ERASE) {
            let torn = c.begin().ok_or(NorFlashErrorKind::Other)?;
            let end = if torn {
                block + ERASE / 2
            } else {
                block + ERASE
            };
            c.bytes[block..end].fill(0xFF);
            c.stats.erases += 1;
            c.stats.block_erases[block / ERASE] += 1;
            if torn {
                return Err(NorFlashErrorKind::Other);
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), NorFlashErrorKind> {
        let at = offset as usize;
        if at % WRITE != 0 || bytes.len() % WRITE != 0 {
            return Err(NorFlashErrorKind::NotAligned);
        }
        let mut c = self.chip.borrow_mut();
        if at + bytes.len() > c.bytes.len() {
            return Err(NorFlashErrorKind::OutOfBounds);
        }
        let dest = &c.bytes[at..at + bytes.len()];
        // 0xFF leaves a byte as it is; anything else must only clear bits.
        if dest
            .iter()
            .zip(bytes)
            .any(|(old, new)| *new != 0xFF && old & new != *new)
        {
            return Err(NorFlashErrorKind::Other);
        }
        let torn = c.begin().ok_or(NorFlashErrorKind::Other)?;
        let n = if torn { bytes.len() / 2 } else { bytes.len() };
        for (old, new) in c.bytes[at..at + n].iter_mut().zip(bytes) {
            *old &= new;
        }
        c.stats.programmed += n as u64;
        if torn {
            return Err(NorFlashErrorKind::Other);
        }
        Ok(())
    }
}

/// Programming a word again only clears more bits: allowed, as on most NOR.
impl<const WRITE: usize, const ERASE: usize> MultiwriteNorFlash for SimFlash<WRITE, ERASE> {}
