//! `MemStorage`: an in-memory [`Storage`] that keeps, for every file, what
//! has been written and what has been made durable, and for the directory
//! what it names now and what its last sync made durable; it injects
//! faults and takes crash images.
//!
//! Clones share one "disk", so a test can keep a handle, let the WAL own
//! another, and then inspect the bytes, inject a fault, cut the power, or
//! take a crash image: a new disk holding what a power cut would leave.
//! [`MemStorage::crash_seeded`] keeps an in-order prefix of each file's
//! unsynced bytes and treats names as durable on return, the kindest cut the
//! contract allows; [`MemStorage::crash_image`] with [`CrashModel::HARSH`]
//! keeps any subset of the 512-byte blocks written since each file's last
//! sync and only the names a directory sync made durable, the harshest.
//!
//! Layers: `data` (one file's bytes), `disk` (files, directories, counts,
//! faults), `file` (`MemFile`), `crash` (the models and their images), this
//! module (`MemStorage`).

mod crash;
mod data;
mod disk;
mod file;

pub use crash::{CrashModel, NamesDurable, Unsynced, Writeback};
pub use disk::{Fault, MemError, Op};
pub use file::MemFile;

use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::format::FileName;
use crate::storage::Storage;
use disk::{Disk, FULL, INJECTED, NOT_FOUND};

/// The in-memory storage backend. Cheap to clone; clones share the disk.
#[derive(Clone, Debug, Default)]
pub struct MemStorage {
    disk: Arc<Mutex<Disk>>,
}

/// A xorshift step: the seeded images' only source of choices.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

impl MemStorage {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn from_disk(disk: Disk) -> Self {
        MemStorage {
            disk: Arc::new(Mutex::new(disk)),
        }
    }

    /// The current bytes of a file (written, synced or not).
    pub fn contents(&self, key: FileName) -> Option<Vec<u8>> {
        self.disk.lock().file(key, None).map(|f| f.data.clone())
    }

    /// The bytes of a file as of its last sync.
    pub fn durable_contents(&self, key: FileName) -> Option<Vec<u8>> {
        self.disk.lock().file(key, None).map(|f| f.durable())
    }

    /// Every file the directory names now.
    pub fn files(&self) -> Vec<FileName> {
        self.disk.lock().live.keys().copied().collect()
    }

    /// The files a power cut under `names` would leave named: those created
    /// and not removed as far as the media knows.
    pub fn durable_files(&self, names: NamesDurable) -> Vec<FileName> {
        let disk = self.disk.lock();
        crash::names(&disk, names).keys().copied().collect()
    }

    /// Replaces (or creates) a file's contents, all durable, its name too:
    /// for building corrupt or foreign inputs in tests. Open handles on an
    /// existing file see the new bytes.
    pub fn put(&self, key: FileName, bytes: Vec<u8>) {
        self.disk.lock().put(key, bytes);
    }

    /// How many mutating operations (create, write, truncate, sync, remove,
    /// sync_dir) have run so far. Fault positions count from the same
    /// numbering.
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

    /// Makes every later file sync fail (or stops doing so). Directory
    /// syncs are not affected.
    pub fn fail_syncs(&self, on: bool) {
        self.disk.lock().fail_syncs = on;
    }

    /// Limits the total bytes of all files; writes past it fail as full.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.disk.lock().capacity = bytes;
    }

    /// The disk as a power cut would leave it, names durable on return
    /// ([`NamesDurable::OnReturn`]: a create that failed, or that the power
    /// cut stopped, left nothing). Each file keeps what was synced, with the
    /// first `keep(key, unsynced)` of its unsynced bytes (those from the
    /// lowest offset written since the last sync to the end; the result is
    /// capped at their count) laid over it, as a power cut in the middle of
    /// in-order writes would leave it. An unsynced truncation is lost.
    /// Faults and limits are not carried over.
    pub fn crash_with(&self, mut keep: impl FnMut(FileName, usize) -> usize) -> MemStorage {
        let disk = self.disk.lock();
        Self::from_disk(crash::image(&disk, NamesDurable::OnReturn, |key, f| {
            crash::prefix(f, |n| keep(key, n))
        }))
    }

    /// The disk after a power cut that lost everything not synced (names
    /// durable on return).
    pub fn crash(&self) -> MemStorage {
        self.crash_with(|_, _| 0)
    }

    /// The disk after a power cut that kept, of each file's unsynced
    /// appended bytes, a prefix of a length chosen by `seed` (the same seed
    /// gives the same image), names durable on return:
    /// [`CrashModel::PREFIX`].
    pub fn crash_seeded(&self, seed: u64) -> MemStorage {
        self.crash_image(seed, CrashModel::PREFIX)
    }

    /// The disk after a power cut under `model`, each choice it leaves
    /// open made by `seed` (the same seed gives the same image). Half the
    /// time a file's unsynced writes are all lost or all kept, the other
    /// half each block (or the prefix's length) is chosen at random.
    pub fn crash_image(&self, seed: u64, model: CrashModel) -> MemStorage {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        match model.writeback {
            Writeback::Prefix => {
                let disk = self.disk.lock();
                Self::from_disk(crash::image(&disk, model.names, |_, f| {
                    crash::prefix(f, |unsynced| {
                        let r = next(&mut x);
                        // Favour the edges (nothing, everything) as often
                        // as the middle.
                        match r % 4 {
                            0 => 0,
                            1 => unsynced,
                            // In u64, then cast (it is at most `unsynced`):
                            // the same images on 32-bit targets as on
                            // 64-bit ones.
                            _ => ((r >> 8) % (unsynced as u64 + 1)) as usize,
                        }
                    })
                }))
            }
            Writeback::Blocks { size } => {
                // Per file: a mode, then the choices.
                let mut file: Option<(FileName, u64)> = None;
                self.crash_image_with(size, model.names, |key, _| {
                    let mode = match file {
                        Some((k, mode)) if k == key => mode,
                        _ => {
                            let mode = next(&mut x) % 4;
                            file = Some((key, mode));
                            mode
                        }
                    };
                    match mode {
                        0 => false,
                        1 => true,
                        _ => next(&mut x) & (1 << 20) != 0,
                    }
                })
            }
        }
    }

    /// The disk after a power cut that keeps the names `names` says, and
    /// of each file kept, its synced bytes with the blocks of `size` bytes
    /// written since laid over them where `landed(file, block)` says they
    /// reached the media ([`Unsynced`] says what is asked, in which order).
    /// Exactly: with `L` the file's current length and `D` its synced one,
    /// the image's length is `L` if `landed(file, Unsynced::Length)` (asked
    /// only when `L != D`); otherwise `D`, or when `L > D` the end of the
    /// last block that landed, if that is more (capped at `L`). Each byte
    /// below that length is the current byte (zero past `L`) if its block
    /// landed, else the synced byte (zero past `D`). Faults and limits are
    /// not carried over.
    pub fn crash_image_with(
        &self,
        size: usize,
        names: NamesDurable,
        mut landed: impl FnMut(FileName, Unsynced) -> bool,
    ) -> MemStorage {
        let disk = self.disk.lock();
        Self::from_disk(crash::image(&disk, names, |key, f| {
            crash::blocks(f, size, |u| landed(key, u))
        }))
    }

    /// Cuts the power at mutating operation number `op`: it and every later
    /// mutating operation fail and change nothing, as on a machine that is
    /// off. Take the image with [`MemStorage::crash_seeded`] or
    /// [`MemStorage::crash_image`] afterwards.
    pub fn cut_power_at(&self, op: u64) {
        self.disk.lock().power_off_at = Some(op);
    }
}

impl Storage for MemStorage {
    type Error = MemError;
    type File = MemFile;

    fn list(&mut self) -> Result<Vec<FileName>, MemError> {
        Ok(self.files())
    }

    fn create(&mut self, name: FileName) -> Result<MemFile, MemError> {
        let mut disk = self.disk.lock();
        match disk.next_op(Op::Create(name)) {
            None => {}
            Some(Fault::Full) => return Err(FULL),
            Some(_) => return Err(INJECTED),
        }
        let number = disk.create(name)?;
        drop(disk);
        Ok(MemFile::new(self.disk.clone(), name, number))
    }

    fn open(&mut self, name: FileName) -> Result<MemFile, MemError> {
        let number = self.disk.lock().number(name).ok_or(NOT_FOUND)?;
        Ok(MemFile::new(self.disk.clone(), name, number))
    }

    fn remove(&mut self, name: FileName) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::Remove(name)).is_some() {
            return Err(INJECTED);
        }
        disk.remove(name)
    }

    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::Rename(from, to)).is_some() {
            return Err(INJECTED);
        }
        disk.rename(from, to)
    }

    fn sync_dir(&mut self) -> Result<(), MemError> {
        let mut disk = self.disk.lock();
        if disk.next_op(Op::SyncDir).is_some() {
            return Err(INJECTED);
        }
        disk.sync_dir();
        Ok(())
    }
}
