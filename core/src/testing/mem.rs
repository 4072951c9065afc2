//! `MemStorage`: an in-memory [`Storage`] that keeps, for every file, what
//! has been written and what has been made durable, and can inject faults.
//!
//! Clones share one "disk", so a test can keep a handle, let the WAL own
//! another, and then inspect the bytes, inject a fault, or [`crash`] it: the
//! crash image keeps what was synced plus a chosen prefix of what was not, as
//! a power cut would.
//!
//! [`crash`]: MemStorage::crash

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use embedded_io::{ErrorKind, ErrorType, Read, Seek, SeekFrom, Write};
use spin::Mutex;

use crate::error::{BackendError, ErrorKind as WalErrorKind};
use crate::format::FileName;
use crate::storage::{SegmentFile, Storage};

/// A file: its current bytes, and what its last sync left durable, kept as
/// the length at that sync plus the synced bytes changed since (so that
/// appending and syncing, the log's usual pattern, copies nothing extra).
#[derive(Clone, Debug)]
struct FileData {
    data: Vec<u8>,
    /// The file's length at the last sync.
    durable_len: usize,
    /// Synced bytes overwritten or truncated away since the last sync, as
    /// (offset, the bytes as they were), in the order they were saved.
    /// Where two overlap, the earlier one holds the synced bytes.
    undo: Vec<(usize, Vec<u8>)>,
    /// Lowest offset changed since the last sync (`usize::MAX` when clean).
    dirty_from: usize,
}

impl FileData {
    /// A file holding `bytes`, all durable.
    fn synced(bytes: Vec<u8>) -> Self {
        FileData {
            durable_len: bytes.len(),
            data: bytes,
            undo: Vec::new(),
            dirty_from: usize::MAX,
        }
    }

    /// The contents as of the last sync.
    fn durable(&self) -> Vec<u8> {
        let mut image = self.data[..self.data.len().min(self.durable_len)].to_vec();
        // Bytes past the current end were truncated away: the undo log has
        // them.
        image.resize(self.durable_len, 0);
        for (at, bytes) in self.undo.iter().rev() {
            image[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        image
    }

    /// Saves the synced bytes in `start..end` before they change.
    fn save(&mut self, start: usize, end: usize) {
        let end = end.min(self.durable_len).min(self.data.len());
        if start < end {
            self.undo.push((start, self.data[start..end].to_vec()));
        }
    }

    /// Makes the current contents the durable ones.
    fn sync(&mut self) {
        self.durable_len = self.data.len();
        self.undo.clear();
        self.dirty_from = usize::MAX;
    }
}

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with an I/O error and changes nothing (a write
    /// that fails this way writes no bytes).
    Fail,
    /// A write stores only its first `n` bytes, then fails.
    TearWrite(usize),
    /// A write fails as "storage full" and stores nothing.
    Full,
}

#[derive(Debug, Default)]
struct Disk {
    files: BTreeMap<FileName, FileData>,
    /// Count of mutating operations (create, write, truncate, sync, remove,
    /// sync_dir).
    ops: u64,
    /// Faults keyed by the mutating-operation number they hit.
    faults: BTreeMap<u64, Fault>,
    /// Fail every sync from now on.
    fail_syncs: bool,
    /// Total bytes the disk holds at most.
    capacity: Option<u64>,
    /// From this mutating operation on, the power is off: every mutating
    /// operation fails and changes nothing.
    power_off_at: Option<u64>,
    /// Every mutating operation so far, in order.
    op_log: Vec<Op>,
    /// The allocation of the largest file removed, emptied, for the next
    /// file created (as a disk reuses freed blocks): a log that deletes
    /// segments as it goes does not grow each new one from nothing.
    spare: Vec<u8>,
}

/// A mutating operation, as recorded in [`MemStorage::op_log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A file was created.
    Create(FileName),
    /// Bytes were written.
    Write(FileName),
    /// A file was cut.
    Truncate(FileName),
    /// A file was synced.
    Sync(FileName),
    /// A file was removed.
    Remove(FileName),
    /// The directory was synced.
    SyncDir,
}

impl Disk {
    /// Counts a mutating op and returns the fault planned for it, if any.
    fn next_op(&mut self, op: Op) -> Option<Fault> {
        let n = self.ops;
        self.ops += 1;
        self.op_log.push(op);
        if self.power_off_at.is_some_and(|p| n >= p) {
            return Some(Fault::Fail);
        }
        self.faults.remove(&n)
    }

    fn used(&self) -> u64 {
        self.files.values().map(|f| f.data.len() as u64).sum()
    }
}

/// The in-memory storage backend. Cheap to clone; clones share the disk.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    disk: Arc<Mutex<Disk>>,
}

/// An error of [`MemStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemError {
    /// Its kind.
    pub kind: ErrorKind,
    /// What happened.
    pub what: &'static str,
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }
}
impl core::error::Error for MemError {}
impl embedded_io::Error for MemError {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}
impl BackendError for MemError {
    fn wal_kind(&self) -> WalErrorKind {
        match self.kind {
            ErrorKind::OutOfMemory => WalErrorKind::StorageFull,
            ErrorKind::NotFound => WalErrorKind::NotFound,
            _ => WalErrorKind::Io,
        }
    }
}

const INJECTED: MemError = MemError {
    kind: ErrorKind::Other,
    what: "injected I/O failure",
};
const FULL: MemError = MemError {
    kind: ErrorKind::OutOfMemory,
    what: "storage full",
};
const NOT_FOUND: MemError = MemError {
    kind: ErrorKind::NotFound,
    what: "no such file",
};
const EXISTS: MemError = MemError {
    kind: ErrorKind::AlreadyExists,
    what: "file already exists",
};

impl MemStorage {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current bytes of a file (written, synced or not).
    pub fn contents(&self, key: FileName) -> Option<Vec<u8>> {
        self.disk.lock().files.get(&key).map(|f| f.data.clone())
    }

    /// The bytes of a file as of its last sync.
    pub fn durable_contents(&self, key: FileName) -> Option<Vec<u8>> {
        self.disk.lock().files.get(&key).map(FileData::durable)
    }

    /// Every file on the disk.
    pub fn files(&self) -> Vec<FileName> {
        self.disk.lock().files.keys().copied().collect()
    }

    /// Replaces (or creates) a file's contents, all durable: for building
    /// corrupt or foreign inputs in tests.
    pub fn put(&self, key: FileName, bytes: Vec<u8>) {
        self.disk.lock().files.insert(key, FileData::synced(bytes));
    }

    /// How many mutating operations (create, write, truncate, sync, remove,
    /// sync_dir) have run so far. Fault positions count from the same numbering.
    pub fn mutating_ops(&self) -> u64 {
        self.disk.lock().ops
    }

    /// Every mutating operation so far, in order (index = operation number).
    pub fn op_log(&self) -> Vec<Op> {
        self.disk.lock().op_log.clone()
    }

    /// Injects `fault` into mutating operation number `op` (0-based, as
    /// counted by [`MemStorage::mutating_ops`]). A fault that does not apply
    /// to the operation kind (a torn write on a sync) makes it fail.
    pub fn inject(&self, op: u64, fault: Fault) {
        self.disk.lock().faults.insert(op, fault);
    }

    /// Makes every later sync fail (or stops doing so).
    pub fn fail_syncs(&self, on: bool) {
        self.disk.lock().fail_syncs = on;
    }

    /// Limits the total bytes of all files; writes past it fail as full.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.disk.lock().capacity = bytes;
    }

    /// The disk as a power cut would leave it. A file exists in the image
    /// when its creation was made durable, which under the [`Storage`]
    /// contract is when `create` returned (a create that failed, or the
    /// power cut stopped, left nothing); a removal is durable when `remove`
    /// returned. Each file keeps what was synced, with the first
    /// `keep(key, unsynced)` of its unsynced bytes (those from the lowest
    /// offset written since the last sync to the end; the result is capped
    /// at their count) laid over it, as a power cut in the middle of
    /// in-order writes would leave it. An unsynced truncation is lost.
    /// Faults and limits are not carried over.
    pub fn crash_with(&self, mut keep: impl FnMut(FileName, usize) -> usize) -> MemStorage {
        let disk = self.disk.lock();
        let mut files = BTreeMap::new();
        for (key, f) in &disk.files {
            let mut image = f.durable();
            // The unsynced bytes: everything from the lowest offset changed
            // since the last sync. Writes land in order, so a power cut
            // leaves some prefix of them on the media, over the synced image.
            if f.dirty_from != usize::MAX && f.data.len() > f.dirty_from {
                let unsynced = &f.data[f.dirty_from..];
                let n = keep(*key, unsynced.len()).min(unsynced.len());
                let end = f.dirty_from + n;
                if image.len() < end {
                    image.resize(end, 0);
                }
                image[f.dirty_from..end].copy_from_slice(&unsynced[..n]);
            }
            files.insert(*key, FileData::synced(image));
        }
        MemStorage {
            disk: Arc::new(Mutex::new(Disk {
                files,
                ..Default::default()
            })),
        }
    }

    /// The disk after a power cut that lost everything not synced.
    pub fn crash(&self) -> MemStorage {
        self.crash_with(|_, _| 0)
    }

    /// The disk after a power cut that kept, of each file's unsynced
    /// appended bytes, a prefix of a length chosen by `seed` (the same seed
    /// gives the same image).
    pub fn crash_seeded(&self, seed: u64) -> MemStorage {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        self.crash_with(move |_, unsynced| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Favour the edges (nothing, everything) as often as the middle.
            match x % 4 {
                0 => 0,
                1 => unsynced,
                _ => (x >> 8) as usize % (unsynced + 1),
            }
        })
    }

    /// Cuts the power at mutating operation number `op`: it and every later
    /// mutating operation fail and change nothing, as on a machine that is
    /// off. Take the image with [`MemStorage::crash_seeded`] afterwards.
    pub fn cut_power_at(&self, op: u64) {
        self.disk.lock().power_off_at = Some(op);
    }

    fn file(&self, key: FileName) -> MemFile {
        MemFile {
            disk: self.disk.clone(),
            key,
            pos: 0,
        }
    }

    fn create_key(&mut self, key: FileName) -> Result<MemFile, MemError> {
        let mut disk = self.disk.lock();
        match disk.next_op(Op::Create(key)) {
            None => {}
            Some(Fault::Full) => return Err(FULL),
            Some(_) => return Err(INJECTED),
        }
        if disk.files.contains_key(&key) {
            return Err(EXISTS);
        }
        let mut data = core::mem::take(&mut disk.spare);
        data.clear();
        disk.files.insert(key, FileData::synced(data));
        drop(disk);
        Ok(self.file(key))
    }
}

impl Storage for MemStorage {
    type Error = MemError;
    type File = MemFile;

    fn list(&mut self) -> Result<Vec<FileName>, MemError> {
        Ok(self.disk.lock().files.keys().copied().collect())
    }

    fn create(&mut self, name: FileName) -> Result<MemFile, MemError> {
        self.create_key(name)
    }

    fn open(&mut self, name: FileName) -> Result<MemFile, MemError> {
        if !self.disk.lock().files.contains_key(&name) {
            return Err(NOT_FOUND);
        }
        Ok(self.file(name))
    }

    fn remove(&mut self, name: FileName) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::Remove(name)).is_some() {
            return Err(INJECTED);
        }
        let removed = disk.files.remove(&name).ok_or(NOT_FOUND)?;
        if removed.data.capacity() > disk.spare.capacity() {
            disk.spare = removed.data;
        }
        Ok(())
    }

    fn sync_dir(&mut self) -> Result<(), MemError> {
        match self.disk.lock().next_op(Op::SyncDir) {
            None => Ok(()),
            Some(_) => Err(INJECTED),
        }
    }
}

/// An open file of a [`MemStorage`].
#[derive(Debug)]
pub struct MemFile {
    disk: Arc<Mutex<Disk>>,
    key: FileName,
    pos: u64,
}

impl MemFile {
    /// A second handle on the same file, positioned at 0 (as
    /// `std::fs::File::try_clone` gives): a host can sync through it while
    /// another thread writes through this one.
    pub fn try_clone(&self) -> MemFile {
        MemFile {
            disk: self.disk.clone(),
            key: self.key,
            pos: 0,
        }
    }
}

impl ErrorType for MemFile {
    type Error = MemError;
}

impl Read for MemFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, MemError> {
        let disk = self.disk.lock();
        let f = disk.files.get(&self.key).ok_or(NOT_FOUND)?;
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
        let f = disk.files.get_mut(&self.key).ok_or(NOT_FOUND)?;
        let n = match fault {
            None => buf.len(),
            Some(Fault::TearWrite(n)) => n.min(buf.len()),
            Some(Fault::Full) => return Err(FULL),
            Some(Fault::Fail) => return Err(INJECTED),
        };
        let Ok(start) = usize::try_from(self.pos) else {
            return Err(FULL); // past what this machine's memory can address
        };
        if f.data.len() < start {
            // A write past the end: the gap of zeros is unsynced too.
            f.dirty_from = f.dirty_from.min(f.data.len());
            f.data.resize(start, 0);
        }
        let end = start + n;
        let overlap = end.min(f.data.len());
        f.save(start, overlap);
        f.data[start..overlap].copy_from_slice(&buf[..overlap - start]);
        f.data.extend_from_slice(&buf[overlap - start..n]);
        f.dirty_from = f.dirty_from.min(start);
        self.pos = end as u64;
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
        let len = self
            .disk
            .lock()
            .files
            .get(&self.key)
            .ok_or(NOT_FOUND)?
            .data
            .len() as i128;
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
        Ok(self
            .disk
            .lock()
            .files
            .get(&self.key)
            .ok_or(NOT_FOUND)?
            .data
            .len() as u64)
    }

    fn truncate(&mut self, len: u64) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::Truncate(self.key)).is_some() {
            return Err(INJECTED);
        }
        let f = disk.files.get_mut(&self.key).ok_or(NOT_FOUND)?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len < f.data.len() {
            f.save(len, f.data.len());
            f.data.truncate(len);
            f.dirty_from = f.dirty_from.min(len);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        let fault = disk.next_op(Op::Sync(self.key));
        if fault.is_some() || disk.fail_syncs {
            return Err(INJECTED);
        }
        let f = disk.files.get_mut(&self.key).ok_or(NOT_FOUND)?;
        f.sync();
        Ok(())
    }
}
