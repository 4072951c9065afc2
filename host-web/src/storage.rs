//! [`OpfsStorage`]: the core's [`Storage`] over a [`Pool`], and
//! [`OpfsFile`], one WAL file in a pool file (its bytes after the pool
//! file's header).

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use embedded_io::{ErrorType, Read, Seek, SeekFrom, Write};
use wal_core::{FileName, SegmentFile, Storage};

use crate::error::WebError;
use crate::pool::Pool;
use crate::slot::HEADER_LEN;

/// The WAL's directory on the OPFS: a shared handle on its [`Pool`]
/// (clones share it; the WAL, its readers and the host each hold one).
#[derive(Clone)]
pub struct OpfsStorage {
    pool: Rc<RefCell<Pool>>,
}

impl OpfsStorage {
    /// A storage on `pool`.
    pub fn new(pool: Rc<RefCell<Pool>>) -> Self {
        OpfsStorage { pool }
    }

    /// The pool under it.
    pub fn pool(&self) -> &Rc<RefCell<Pool>> {
        &self.pool
    }

    /// Every WAL file and its bytes (what an export hands out), by name.
    pub fn export(&mut self) -> Result<Vec<(FileName, Vec<u8>)>, WebError> {
        let mut names = self.list()?;
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let mut file = self.open(name)?;
            let mut bytes = alloc::vec![0u8; file.len()? as usize];
            file.read_exact(&mut bytes).map_err(|e| match e {
                embedded_io::ReadExactError::Other(e) => e,
                embedded_io::ReadExactError::UnexpectedEof => WebError::new(
                    "export",
                    Some(alloc::format!("{name}")),
                    "UnexpectedEof",
                    "the file ended early".into(),
                ),
            })?;
            out.push((name, bytes));
        }
        Ok(out)
    }
}

impl Storage for OpfsStorage {
    type Error = WebError;
    type File = OpfsFile;

    fn list(&mut self) -> Result<Vec<FileName>, WebError> {
        self.pool.borrow().list()
    }

    fn create(&mut self, name: FileName) -> Result<OpfsFile, WebError> {
        let (slot, generation) = self.pool.borrow_mut().create(name)?;
        Ok(self.file(name, slot, generation))
    }

    fn open(&mut self, name: FileName) -> Result<OpfsFile, WebError> {
        let (slot, generation) = self.pool.borrow().open_file(name)?;
        Ok(self.file(name, slot, generation))
    }

    fn remove(&mut self, name: FileName) -> Result<(), WebError> {
        self.pool.borrow_mut().remove(name)
    }

    /// Not supported yet (the pool could rewrite a pool file's header with
    /// the new name): recycling is off in the browser.
    fn rename(&mut self, from: FileName, _to: FileName) -> Result<(), WebError> {
        Err(WebError::new(
            "rename",
            Some(alloc::format!("{from}")),
            "NotSupported",
            "the OPFS pool does not rename files (recycling is off here)".into(),
        ))
    }

    fn can_rename(&self) -> bool {
        false
    }

    fn sync_dir(&mut self) -> Result<(), WebError> {
        self.pool.borrow_mut().sync_dir()
    }
}

impl OpfsStorage {
    fn file(&self, name: FileName, slot: usize, generation: u64) -> OpfsFile {
        OpfsFile {
            pool: self.pool.clone(),
            name,
            slot,
            generation,
            pos: 0,
        }
    }
}

/// One open WAL file: reads and writes at its position, through the pool
/// file's sync access handle. Refuses every call once the file is removed.
pub struct OpfsFile {
    pool: Rc<RefCell<Pool>>,
    name: FileName,
    slot: usize,
    generation: u64,
    pos: u64,
}

impl OpfsFile {
    fn with<T>(
        &self,
        f: impl FnOnce(&crate::handle::Handle) -> Result<T, WebError>,
    ) -> Result<T, WebError> {
        let pool = self.pool.borrow();
        f(pool.handle(self.slot, self.generation, self.name)?)
    }
}

impl ErrorType for OpfsFile {
    type Error = WebError;
}

impl Read for OpfsFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, WebError> {
        let n = self.with(|h| h.read_at(HEADER_LEN + self.pos, buf))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for OpfsFile {
    fn write(&mut self, buf: &[u8]) -> Result<usize, WebError> {
        self.with(|h| h.write_at(HEADER_LEN + self.pos, buf))?;
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), WebError> {
        Ok(()) // nothing is buffered here; `sync` makes it durable
    }
}

impl Seek for OpfsFile {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, WebError> {
        let base = match pos {
            SeekFrom::Start(p) => {
                self.pos = p;
                return Ok(p);
            }
            SeekFrom::End(d) => (self.len()?, d),
            SeekFrom::Current(d) => (self.pos, d),
        };
        match base.0.checked_add_signed(base.1) {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(WebError::new(
                "seek",
                Some(alloc::format!("{}", self.name)),
                "InvalidSeek",
                alloc::format!("{} + {} is before the start", base.0, base.1),
            )),
        }
    }
}

impl SegmentFile for OpfsFile {
    fn len(&mut self) -> Result<u64, WebError> {
        self.with(|h| Ok(h.size()?.saturating_sub(HEADER_LEN)))
    }

    fn truncate(&mut self, len: u64) -> Result<(), WebError> {
        self.with(|h| h.truncate(HEADER_LEN + len))
    }

    fn sync(&mut self) -> Result<(), WebError> {
        self.with(|h| h.flush())?;
        self.pool.borrow_mut().synced(self.slot);
        Ok(())
    }
}
