//! `FlashStorage` and `FlashFile`: the core's `Storage` and `SegmentFile`
//! over the slot table. Clones of a handle share the table (one flash).

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use embedded_io::{ErrorType, Read, Seek, SeekFrom, Write};
use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};
use wal_core::{FileName, SegmentFile, Storage};

use crate::device::{Device, FlashStats};
use crate::error::{driver, FlashError};
use crate::layout::{Geometry, RESERVED_BLOCKS};
use crate::slots::Table;

/// The WAL's storage on a NOR flash: see the crate docs for the layout.
pub struct FlashStorage<F> {
    table: Rc<RefCell<Table<F>>>,
}

impl<F> Clone for FlashStorage<F> {
    fn clone(&self) -> Self {
        FlashStorage {
            table: self.table.clone(),
        }
    }
}

impl<F> core::fmt::Debug for FlashStorage<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlashStorage").finish_non_exhaustive()
    }
}

fn geometry<F: NorFlash>(flash: &F, slot_blocks: u32) -> Result<Geometry, FlashError> {
    if F::READ_SIZE != 1 {
        return Err(FlashError::Geometry(
            "reads must be byte-addressable (READ_SIZE 1)",
        ));
    }
    Geometry::new(flash.capacity(), F::ERASE_SIZE, F::WRITE_SIZE, slot_blocks)
        .map_err(FlashError::Geometry)
}

impl<F: NorFlash + MultiwriteNorFlash> FlashStorage<F> {
    /// Formats `flash` into files of up to `slot_blocks - 1` erase blocks
    /// each (one more block per file holds its name and length log), and
    /// mounts it. Everything it held is gone.
    pub fn format(mut flash: F, slot_blocks: u32) -> Result<Self, FlashError> {
        let geo = geometry(&flash, slot_blocks)?;
        let erase = geo.erase;
        for b in 0..RESERVED_BLOCKS {
            flash.erase(b * erase, (b + 1) * erase).map_err(driver)?;
        }
        let mut dev = Device::new(flash, geo);
        for s in 0..geo.slots {
            dev.erase_if_dirty(geo.slot_base(s))?;
        }
        let mut record = [0u8; 64];
        let n = geo.encode_super(&mut record);
        dev.program(0, &record[..n])?;
        Ok(Self::from_table(Table::empty(dev)))
    }

    /// Mounts a formatted `flash`: finishes a block rewrite a power cut
    /// interrupted, then reads every slot's header block.
    pub fn mount(mut flash: F) -> Result<Self, FlashError> {
        let mut record = [0u8; 64];
        flash.read(0, &mut record).map_err(driver)?;
        let (erase, write, slot_blocks, slots) =
            Geometry::decode_super(&record).ok_or(FlashError::NotFormatted)?;
        let geo = geometry(&flash, slot_blocks)?;
        if (erase, write, slots) != (geo.erase, geo.write, geo.slots) {
            return Err(FlashError::Geometry(
                "formatted with other block sizes or capacity",
            ));
        }
        let mut dev = Device::new(flash, geo);
        dev.replay()?;
        Ok(Self::from_table(Table::mount(dev)?))
    }

    fn from_table(table: Table<F>) -> Self {
        FlashStorage {
            table: Rc::new(RefCell::new(table)),
        }
    }

    /// Files that can exist at once.
    pub fn slots(&self) -> u32 {
        self.table.borrow().dev.geo.slots
    }

    /// Bytes one file can hold.
    pub fn file_capacity(&self) -> u32 {
        self.table.borrow().dev.geo.data_capacity()
    }

    /// What this storage has done to the flash since it was mounted.
    pub fn stats(&self) -> FlashStats {
        self.table.borrow().dev.stats
    }

    /// Runs `f` on the flash driver (to read its own counters, say).
    pub fn with_flash<R>(&self, f: impl FnOnce(&mut F) -> R) -> R {
        f(&mut self.table.borrow_mut().dev.flash)
    }

    fn file(&self, slot: u32) -> FlashFile<F> {
        let generation = self.table.borrow().slots[slot as usize].generation;
        FlashFile {
            table: self.table.clone(),
            slot,
            generation,
            pos: 0,
        }
    }
}

impl<F: NorFlash + MultiwriteNorFlash> Storage for FlashStorage<F> {
    type Error = FlashError;
    type File = FlashFile<F>;

    fn list(&mut self) -> Result<Vec<FileName>, FlashError> {
        Ok(self
            .table
            .borrow()
            .slots
            .iter()
            .filter_map(|s| s.name)
            .collect())
    }

    fn create(&mut self, name: FileName) -> Result<FlashFile<F>, FlashError> {
        let slot = self.table.borrow_mut().create(name)?;
        Ok(self.file(slot))
    }

    fn open(&mut self, name: FileName) -> Result<FlashFile<F>, FlashError> {
        let slot = self.table.borrow().find(name).ok_or(FlashError::NotFound)?;
        Ok(self.file(slot))
    }

    fn remove(&mut self, name: FileName) -> Result<(), FlashError> {
        let mut t = self.table.borrow_mut();
        let slot = t.find(name).ok_or(FlashError::NotFound)?;
        t.remove(slot)
    }

    /// Not supported (a slot's name is programmed once): recycling is off
    /// on flash, where a slot is reused by erasing it anyway.
    fn rename(&mut self, _from: FileName, _to: FileName) -> Result<(), FlashError> {
        Err(FlashError::Geometry(
            "renaming a file is not supported on flash",
        ))
    }

    fn can_rename(&self) -> bool {
        false
    }

    /// Nothing to do: a name is programmed into its slot's header block
    /// by `create`, and a removal's tombstone by `remove`, before either
    /// returns (flash has no write cache), so both are durable already.
    fn sync_dir(&mut self) -> Result<(), FlashError> {
        Ok(())
    }
}

/// An open file of a [`FlashStorage`].
pub struct FlashFile<F> {
    table: Rc<RefCell<Table<F>>>,
    slot: u32,
    generation: u32,
    pos: u64,
}

impl<F> core::fmt::Debug for FlashFile<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FlashFile")
            .field("slot", &self.slot)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl<F: NorFlash + MultiwriteNorFlash> FlashFile<F> {
    /// The table, if this handle's file still exists.
    fn live(&self) -> Result<core::cell::RefMut<'_, Table<F>>, FlashError> {
        let t = self.table.borrow_mut();
        let s = t.slots[self.slot as usize];
        if s.name.is_none() || s.generation != self.generation {
            return Err(FlashError::NotFound);
        }
        Ok(t)
    }
}

impl<F> ErrorType for FlashFile<F> {
    type Error = FlashError;
}

impl<F: NorFlash + MultiwriteNorFlash> Read for FlashFile<F> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, FlashError> {
        let mut t = self.live()?;
        let len = u64::from(t.slots[self.slot as usize].len);
        let n = (len.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        if n > 0 {
            let addr = t.dev.geo.data_base(self.slot) + self.pos as u32;
            t.dev.read(addr, &mut buf[..n])?;
        }
        drop(t);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<F: NorFlash + MultiwriteNorFlash> Write for FlashFile<F> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, FlashError> {
        let pos = u32::try_from(self.pos).map_err(|_| FlashError::Full)?;
        let mut t = self.live()?;
        t.dev.stats.file_bytes_written += buf.len() as u64;
        t.write(self.slot, pos, buf)?;
        drop(t);
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), FlashError> {
        Ok(())
    }
}

impl<F: NorFlash + MultiwriteNorFlash> Seek for FlashFile<F> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, FlashError> {
        let len = i128::from(self.live()?.slots[self.slot as usize].len);
        let target = match pos {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::End(d) => len + i128::from(d),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
        };
        self.pos =
            u64::try_from(target).map_err(|_| FlashError::Geometry("seek before the start"))?;
        Ok(self.pos)
    }
}

impl<F: NorFlash + MultiwriteNorFlash> SegmentFile for FlashFile<F> {
    fn len(&mut self) -> Result<u64, FlashError> {
        Ok(u64::from(self.live()?.slots[self.slot as usize].len))
    }

    fn truncate(&mut self, len: u64) -> Result<(), FlashError> {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.live()?.truncate(self.slot, len)
    }

    fn sync(&mut self) -> Result<(), FlashError> {
        self.live()?.commit(self.slot)
    }
}
