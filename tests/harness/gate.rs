//! [`GatedStorage`]: the in-memory storage with a [`Gate`] in front of every
//! sync. While the gate is shut, a sync (through any handle, the syncer's
//! too) waits at it, its bytes written but not durable; opening the gate
//! lets it through. So a test can hold the disk at a point of its choosing
//! and see what the WAL does meanwhile, without sleeping and hoping.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use embedded_io::{ErrorType, Read, Seek, SeekFrom, Write};
use wal_core::host::SyncHandle;
use wal_core::testing::{MemError, MemFile, MemStorage};
use wal_core::{FileName, SegmentFile, Storage};

/// A sync held this long at a shut gate goes through anyway, so that a
/// test that never opens it cannot hang the syncer forever (the test's own
/// time limit, shorter, fails it first).
const HOLD_AT_MOST: Duration = Duration::from_secs(120);

/// Where syncs wait while it is shut.
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    shut: bool,
    /// Syncs waiting at the gate now.
    held: usize,
    /// Syncs that went through.
    passed: u64,
}

impl Gate {
    /// Syncs from now on wait.
    pub fn shut(&self) {
        self.state.lock().unwrap().shut = true;
    }

    /// Lets every waiting sync, and every later one, through.
    pub fn open(&self) {
        self.state.lock().unwrap().shut = false;
        self.changed.notify_all();
    }

    /// Shuts the gate until the guard returned is dropped (also when the
    /// test fails, so that the WAL it drops can close).
    pub fn shut_until_dropped(self: &Arc<Self>) -> OpenOnDrop {
        self.shut();
        OpenOnDrop(self.clone())
    }

    /// Syncs waiting at the gate now.
    pub fn held(&self) -> usize {
        self.state.lock().unwrap().held
    }

    /// Syncs that went through so far.
    pub fn passed(&self) -> u64 {
        self.state.lock().unwrap().passed
    }

    /// Waits until at least `n` syncs wait at the gate; false after `limit`.
    pub fn wait_held(&self, n: usize, limit: Duration) -> bool {
        let start = Instant::now();
        let mut st = self.state.lock().unwrap();
        while st.held < n {
            let Some(left) = limit.checked_sub(start.elapsed()) else {
                return false;
            };
            st = self.changed.wait_timeout(st, left).unwrap().0;
        }
        true
    }

    /// Called by every sync before it runs.
    fn pass(&self) {
        let start = Instant::now();
        let mut st = self.state.lock().unwrap();
        if st.shut {
            st.held += 1;
            self.changed.notify_all();
            while st.shut && start.elapsed() < HOLD_AT_MOST {
                st = self.changed.wait_timeout(st, HOLD_AT_MOST).unwrap().0;
            }
            st.held -= 1;
        }
        st.passed += 1;
        self.changed.notify_all();
    }
}

/// Opens its gate when dropped.
#[must_use]
pub struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// [`MemStorage`] with a [`Gate`] in front of its syncs.
#[derive(Clone, Debug)]
pub struct GatedStorage {
    pub inner: MemStorage,
    pub gate: Arc<Gate>,
}

impl GatedStorage {
    /// A fresh in-memory disk, its gate open.
    pub fn new() -> Self {
        GatedStorage {
            inner: MemStorage::new(),
            gate: Arc::new(Gate::default()),
        }
    }
}

/// A [`MemFile`] whose syncs pass the storage's gate.
#[derive(Debug)]
pub struct GatedFile {
    inner: MemFile,
    gate: Arc<Gate>,
}

impl Storage for GatedStorage {
    type Error = MemError;
    type File = GatedFile;

    fn list(&mut self) -> Result<Vec<FileName>, MemError> {
        self.inner.list()
    }

    fn create(&mut self, name: FileName) -> Result<GatedFile, MemError> {
        let inner = self.inner.create(name)?;
        Ok(GatedFile {
            inner,
            gate: self.gate.clone(),
        })
    }

    fn open(&mut self, name: FileName) -> Result<GatedFile, MemError> {
        let inner = self.inner.open(name)?;
        Ok(GatedFile {
            inner,
            gate: self.gate.clone(),
        })
    }

    fn remove(&mut self, name: FileName) -> Result<(), MemError> {
        self.inner.remove(name)
    }

    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), MemError> {
        self.inner.rename(from, to)
    }

    fn sync_dir(&mut self) -> Result<(), MemError> {
        self.inner.sync_dir()
    }
}

impl ErrorType for GatedFile {
    type Error = MemError;
}

impl Read for GatedFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MemError> {
        self.inner.read(buf)
    }
}

impl Write for GatedFile {
    fn write(&mut self, buf: &[u8]) -> Result<usize, MemError> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> Result<(), MemError> {
        self.inner.flush()
    }
}

impl Seek for GatedFile {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, MemError> {
        self.inner.seek(pos)
    }
}

impl SegmentFile for GatedFile {
    fn len(&mut self) -> Result<u64, MemError> {
        self.inner.len()
    }

    fn truncate(&mut self, len: u64) -> Result<(), MemError> {
        self.inner.truncate(len)
    }

    fn sync(&mut self) -> Result<(), MemError> {
        self.gate.pass();
        self.inner.sync()
    }
}

impl SyncHandle for GatedFile {
    fn sync_handle(&self) -> Result<Self, MemError> {
        Ok(GatedFile {
            inner: self.inner.sync_handle()?,
            gate: self.gate.clone(),
        })
    }
}
