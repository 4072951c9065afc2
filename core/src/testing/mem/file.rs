//! An open file of a `MemStorage`.

use alloc::sync::Arc;

use embedded_io::{ErrorKind, ErrorType, Read, Seek, SeekFrom, Write};
use spin::Mutex;

use super::disk::{Disk, Fault, MemError, Op, FULL, INJECTED, NOT_FOUND};
use crate::format::FileName;
use crate::storage::SegmentFile;

/// An open file of a `MemStorage`. Once its name is removed (or names
/// another file) every call on it fails as not found.
#[derive(Debug)]
pub struct MemFile {
    disk: Arc<Mutex<Disk>>,
    key: FileName,
    /// Which file `key` named when this was opened.
    number: u64,
    pos: u64,
}

impl MemFile {
    pub(super) fn new(disk: Arc<Mutex<Disk>>, key: FileName, number: u64) -> Self {
        MemFile {
            disk,
            key,
            number,
            pos: 0,
        }
    }

    /// A second handle on the same file, positioned at 0 (as
    /// `std::fs::File::try_clone` gives): a host can sync through it while
    /// another thread writes through this one.
    pub fn try_clone(&self) -> MemFile {
        MemFile::new(self.disk.clone(), self.key, self.number)
    }

    fn len_now(&self) -> Result<usize, MemError> {
        let disk = self.disk.lock();
        Ok(disk
            .file(self.key, Some(self.number))
            .ok_or(NOT_FOUND)?
            .data
            .len())
    }
}

impl ErrorType for MemFile {
    type Error = MemError;
}

impl Read for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MemError> {
        let disk = self.disk.lock();
        let f = disk.file(self.key, Some(self.number)).ok_or(NOT_FOUND)?;
        let start = usize::try_from(self.pos).map_or(f.data.len(), |p| p.min(f.data.len()));
        let n = buf.len().min(f.data.len() - start);
        buf[..n].copy_from_slice(&f.data[start..start + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for MemFile {
    fn write(&mut self, buf: &[u8]) -> Result<usize, MemError> {
        let mut disk = self.disk.lock();
        let fault = disk.next_op(Op::Write(self.key));
        if fault.is_none() && !buf.is_empty() {
            if let Some(cap) = disk.capacity {
                if disk.used() + buf.len() as u64 > cap {
                    return Err(FULL);
                }
            }
        }
        let f = disk
            .file_mut(self.key, Some(self.number))
            .ok_or(NOT_FOUND)?;
        let n = match fault {
            None => buf.len(),
            Some(Fault::TearWrite(n)) => n.min(buf.len()),
            Some(Fault::Full) => return Err(FULL),
            Some(Fault::Fail) => return Err(INJECTED),
        };
        let Ok(start) = usize::try_from(self.pos) else {
            return Err(FULL); // past what this machine's memory can address
        };
        f.write(start, &buf[..n]);
        self.pos = (start + n) as u64;
        if n < buf.len() {
            return Err(INJECTED);
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), MemError> {
        Ok(())
    }
}

impl Seek for MemFile {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, MemError> {
        let len = self.len_now()? as i128;
        let target = match pos {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 || target > u64::MAX as i128 {
            return Err(MemError {
                kind: ErrorKind::InvalidInput,
                what: "seek out of range",
            });
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

impl SegmentFile for MemFile {
    fn len(&mut self) -> Result<u64, MemError> {
        Ok(self.len_now()? as u64)
    }

    fn truncate(&mut self, len: u64) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::Truncate(self.key)).is_some() {
            return Err(INJECTED);
        }
        let f = disk
            .file_mut(self.key, Some(self.number))
            .ok_or(NOT_FOUND)?;
        f.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        let fault = disk.next_op(Op::Sync(self.key));
        if fault.is_some() || disk.fail_syncs {
            return Err(INJECTED);
        }
        disk.sync(self.key, self.number)
    }
}
