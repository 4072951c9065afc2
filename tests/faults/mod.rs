//! `Faulty`: a storage over `MemStorage` for the thread-safe WAL's fault
//! tests. It counts every storage operation (listing, creating, opening,
//! removing, syncing the directory; reading, writing, seeking, the length, cutting, syncing and
//! duplicating a file), panics at a chosen one (saying on which thread and
//! in what), holds one kind of operation made on one thread until released,
//! counts the writes of data and notes which threads wrote zeros alone
//! (reserved space), and tells when its last clone is dropped (the WAL
//! released it).
#![allow(dead_code)] // each test crate uses part of it

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use embedded_io::{ErrorType, Read, Seek, SeekFrom, Write};
use wal_core::host::SyncHandle;
use wal_core::testing::{MemError, MemFile, MemStorage};
use wal_core::{FileName, SegmentFile, Storage};

/// Where an injected panic hit.
#[derive(Clone, Debug)]
pub struct Fired {
    /// Which operation it was.
    pub what: &'static str,
    /// The name of the thread it ran on.
    pub thread: String,
}

#[derive(Debug, Default)]
struct Plan {
    ops: AtomicU64,
    panic_at: AtomicU64,
    data_writes: AtomicU64,
    fired: Mutex<Option<Fired>>,
    /// Threads that wrote zeros alone.
    zero_writers: Mutex<BTreeSet<String>>,
    /// Operations of this kind made on the thread of this name wait.
    hold: Mutex<Option<(&'static str, String)>>,
    /// Operations waiting at the hold now.
    held: AtomicU64,
    released: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Plan {
    fn op(&self, what: &'static str) {
        {
            let mut hold = lock(&self.hold);
            let me = std::thread::current();
            let here = |h: &Option<(&str, String)>| {
                h.as_ref()
                    .is_some_and(|(w, t)| *w == what && me.name() == Some(t.as_str()))
            };
            if here(&hold) {
                self.held.fetch_add(1, Ordering::SeqCst);
                while here(&hold) {
                    hold = self.released.wait(hold).unwrap_or_else(|p| p.into_inner());
                }
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let n = self.ops.fetch_add(1, Ordering::SeqCst);
        if n == self.panic_at.load(Ordering::SeqCst) {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            *lock(&self.fired) = Some(Fired { what, thread });
            panic!("injected panic at storage operation {n} ({what})");
        }
    }
}

/// Sends once when dropped: when the last clone of a [`Faulty`] goes.
#[derive(Debug)]
struct Released(Mutex<Option<mpsc::Sender<()>>>);

impl Drop for Released {
    fn drop(&mut self) {
        if let Some(tx) = lock(&self.0).take() {
            let _ = tx.send(());
        }
    }
}

/// A `MemStorage` that counts its operations and can panic at one.
#[derive(Clone, Debug)]
pub struct Faulty {
    /// The disk underneath (clone it to inspect or crash it).
    pub mem: MemStorage,
    plan: Arc<Plan>,
    _released: Arc<Released>,
}

impl Faulty {
    /// A fresh disk, and a receiver that gets `()` once every clone of the
    /// storage is dropped.
    pub fn new() -> (Faulty, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel();
        let f = Faulty {
            mem: MemStorage::new(),
            plan: Arc::new(Plan {
                panic_at: AtomicU64::new(u64::MAX),
                ..Default::default()
            }),
            _released: Arc::new(Released(Mutex::new(Some(tx)))),
        };
        (f, rx)
    }

    /// Operations so far.
    pub fn ops(&self) -> u64 {
        self.plan.ops.load(Ordering::SeqCst)
    }

    /// Panic at operation number `op` (`None`: never).
    pub fn panic_at(&self, op: Option<u64>) {
        self.plan
            .panic_at
            .store(op.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Where the injected panic hit, if it did.
    pub fn fired(&self) -> Option<Fired> {
        lock(&self.plan.fired).clone()
    }

    /// Writes of data (frames, headers) so far: writes of zeros alone
    /// (reserved space) are not counted.
    pub fn data_writes(&self) -> u64 {
        self.plan.data_writes.load(Ordering::SeqCst)
    }

    /// The names of the threads that wrote zeros alone (reserved space).
    pub fn zero_writers(&self) -> BTreeSet<String> {
        lock(&self.plan.zero_writers).clone()
    }

    /// From now on, operations `what` (`"read"`, `"remove"`, ...) made on
    /// the thread named `thread` wait until [`Faulty::release`].
    pub fn hold(&self, what: &'static str, thread: &str) {
        *lock(&self.plan.hold) = Some((what, thread.to_string()));
    }

    /// How many operations wait at the hold now.
    pub fn held(&self) -> u64 {
        self.plan.held.load(Ordering::SeqCst)
    }

    /// Lets the held operations go (and holds no more).
    pub fn release(&self) {
        *lock(&self.plan.hold) = None;
        self.plan.released.notify_all();
    }

    fn file(&self, inner: MemFile) -> FaultyFile {
        FaultyFile {
            inner,
            plan: self.plan.clone(),
        }
    }
}

impl Storage for Faulty {
    type Error = MemError;
    type File = FaultyFile;

    fn list(&mut self) -> Result<Vec<FileName>, MemError> {
        self.plan.op("list");
        self.mem.list()
    }

    fn create(&mut self, name: FileName) -> Result<FaultyFile, MemError> {
        self.plan.op("create");
        let f = self.mem.create(name)?;
        Ok(self.file(f))
    }

    fn open(&mut self, name: FileName) -> Result<FaultyFile, MemError> {
        self.plan.op("open");
        let f = self.mem.open(name)?;
        Ok(self.file(f))
    }

    fn remove(&mut self, name: FileName) -> Result<(), MemError> {
        self.plan.op("remove");
        self.mem.remove(name)
    }

    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), MemError> {
        self.plan.op("rename");
        self.mem.rename(from, to)
    }

    fn sync_dir(&mut self) -> Result<(), MemError> {
        self.plan.op("sync_dir");
        self.mem.sync_dir()
    }
}

/// A file of a [`Faulty`] storage.
#[derive(Debug)]
pub struct FaultyFile {
    inner: MemFile,
    plan: Arc<Plan>,
}

impl ErrorType for FaultyFile {
    type Error = MemError;
}

impl Read for FaultyFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MemError> {
        self.plan.op("read");
        self.inner.read(buf)
    }
}

impl Write for FaultyFile {
    fn write(&mut self, buf: &[u8]) -> Result<usize, MemError> {
        self.plan.op("write");
        if buf.iter().any(|&b| b != 0) {
            self.plan.data_writes.fetch_add(1, Ordering::SeqCst);
        } else if !buf.is_empty() {
            let me = std::thread::current().name().unwrap_or("?").to_string();
            lock(&self.plan.zero_writers).insert(me);
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> Result<(), MemError> {
        self.inner.flush()
    }
}

impl Seek for FaultyFile {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, MemError> {
        self.plan.op("seek");
        self.inner.seek(pos)
    }
}

impl SegmentFile for FaultyFile {
    fn len(&mut self) -> Result<u64, MemError> {
        self.plan.op("len");
        self.inner.len()
    }

    fn truncate(&mut self, len: u64) -> Result<(), MemError> {
        self.plan.op("truncate");
        self.inner.truncate(len)
    }

    fn sync(&mut self) -> Result<(), MemError> {
        self.plan.op("sync");
        self.inner.sync()
    }
}

impl SyncHandle for FaultyFile {
    fn sync_handle(&self) -> Result<Self, MemError> {
        self.plan.op("dup");
        Ok(FaultyFile {
            inner: self.inner.sync_handle()?,
            plan: self.plan.clone(),
        })
    }
}
