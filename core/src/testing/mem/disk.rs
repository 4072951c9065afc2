//! The shared "disk" of a `MemStorage`: its files, its directory as it is
//! and as the last directory sync left it, the operation count, faults and
//! the power switch.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::fmt;

use embedded_io::ErrorKind;

use super::data::FileData;
use crate::error::{BackendError, ErrorKind as WalErrorKind};
use crate::format::FileName;

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

/// A mutating operation, as recorded in `MemStorage::op_log`.
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
    /// A file was renamed (from, to).
    Rename(FileName, FileName),
    /// The directory was synced.
    SyncDir,
}

/// An error of `MemStorage`.
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

pub(super) const INJECTED: MemError = MemError {
    kind: ErrorKind::Other,
    what: "injected I/O failure",
};
pub(super) const FULL: MemError = MemError {
    kind: ErrorKind::OutOfMemory,
    what: "storage full",
};
pub(super) const NOT_FOUND: MemError = MemError {
    kind: ErrorKind::NotFound,
    what: "no such file",
};
pub(super) const EXISTS: MemError = MemError {
    kind: ErrorKind::AlreadyExists,
    what: "file already exists",
};

/// A directory: names to file numbers.
pub(super) type Dir = BTreeMap<FileName, u64>;

#[derive(Debug, Default)]
pub(super) struct Disk {
    /// Every file by number: those the directory names now, and removed
    /// ones that a durable directory still names (they come back after a
    /// power cut).
    pub(super) files: BTreeMap<u64, FileData>,
    next_file: u64,
    /// The directory as it is now.
    pub(super) live: Dir,
    /// The directory as the last directory sync left it.
    pub(super) dir_synced: Dir,
    /// As `dir_synced`, with each file whose own sync committed its
    /// creation since (ext4's behaviour).
    pub(super) dir_or_file_synced: Dir,
    /// Names created or removed in `live` since the last directory sync:
    /// the only ones a directory sync changes (so that a sync costs what
    /// changed, not the size of the directory).
    dirty: BTreeSet<FileName>,
    /// Every name each file was given (created, then renamed), to tell
    /// whether any directory still names it.
    names_of: BTreeMap<u64, BTreeSet<FileName>>,
    /// Count of mutating operations (create, write, truncate, sync, remove,
    /// sync_dir).
    pub(super) ops: u64,
    /// Faults keyed by the mutating-operation number they hit.
    pub(super) faults: BTreeMap<u64, Fault>,
    /// Fail every file sync from now on.
    pub(super) fail_syncs: bool,
    /// Total bytes the disk holds at most.
    pub(super) capacity: Option<u64>,
    /// From this mutating operation on, the power is off: every mutating
    /// operation fails and changes nothing.
    pub(super) power_off_at: Option<u64>,
    /// Every mutating operation so far, in order.
    pub(super) op_log: Vec<Op>,
    /// The allocation of the largest file dropped, emptied, for the next
    /// file created (as a disk reuses freed blocks): a log that deletes
    /// segments as it goes does not grow each new one from nothing.
    spare: Vec<u8>,
}

impl Disk {
    /// A disk holding `files`, everything durable, names included.
    pub(super) fn durable(files: impl IntoIterator<Item = (FileName, Vec<u8>)>) -> Self {
        let mut disk = Disk::default();
        for (name, bytes) in files {
            disk.put(name, bytes);
        }
        disk
    }

    /// Counts a mutating op and returns the fault planned for it, if any.
    pub(super) fn next_op(&mut self, op: Op) -> Option<Fault> {
        let n = self.ops;
        self.ops += 1;
        self.op_log.push(op);
        if self.power_off_at.is_some_and(|p| n >= p) {
            return Some(Fault::Fail);
        }
        self.faults.remove(&n)
    }

    /// Bytes held by the files the directory names now.
    pub(super) fn used(&self) -> u64 {
        self.live
            .values()
            .filter_map(|n| self.files.get(n))
            .map(|f| f.data.len() as u64)
            .sum()
    }

    /// The file `name` names now, or file number `number` (a handle's)
    /// when given, under whatever name the directory gives it now: a handle
    /// on a file removed since it was opened finds nothing; one on a file
    /// renamed since still finds it, as on POSIX.
    pub(super) fn file(&self, name: FileName, number: Option<u64>) -> Option<&FileData> {
        let n = self.live_number(name, number)?;
        self.files.get(&n)
    }

    /// As [`Disk::file`], to change it.
    pub(super) fn file_mut(
        &mut self,
        name: FileName,
        number: Option<u64>,
    ) -> Option<&mut FileData> {
        let n = self.live_number(name, number)?;
        self.files.get_mut(&n)
    }

    fn live_number(&self, name: FileName, number: Option<u64>) -> Option<u64> {
        match number {
            None => self.live.get(&name).copied(),
            Some(n) => self.live_name(n).map(|_| n),
        }
    }

    /// The name the directory gives file number `n` now, if any.
    fn live_name(&self, n: u64) -> Option<FileName> {
        self.names_of
            .get(&n)?
            .iter()
            .copied()
            .find(|name| self.live.get(name) == Some(&n))
    }

    /// The number of the file `name` names now.
    pub(super) fn number(&self, name: FileName) -> Option<u64> {
        self.live.get(&name).copied()
    }

    /// Creates file `name`, empty (its name not durable), and returns its
    /// number.
    pub(super) fn create(&mut self, name: FileName) -> Result<u64, MemError> {
        if self.live.contains_key(&name) {
            return Err(EXISTS);
        }
        let mut data = core::mem::take(&mut self.spare);
        data.clear();
        let n = self.next_file;
        self.next_file += 1;
        self.files.insert(n, FileData::synced(data));
        self.live.insert(name, n);
        self.names_of.entry(n).or_default().insert(name);
        self.dirty.insert(name);
        Ok(n)
    }

    /// Renames `from` to `to` in the directory as it is now (`to` must not
    /// exist).
    pub(super) fn rename(&mut self, from: FileName, to: FileName) -> Result<(), MemError> {
        if self.live.contains_key(&to) {
            return Err(EXISTS);
        }
        let n = self.live.remove(&from).ok_or(NOT_FOUND)?;
        self.live.insert(to, n);
        self.names_of.entry(n).or_default().insert(to);
        self.dirty.insert(from);
        self.dirty.insert(to);
        Ok(())
    }

    /// Removes `name` from the directory as it is now.
    pub(super) fn remove(&mut self, name: FileName) -> Result<(), MemError> {
        let n = self.live.remove(&name).ok_or(NOT_FOUND)?;
        self.dirty.insert(name);
        self.drop_unnamed([n]);
        Ok(())
    }

    /// Syncs file number `number` (opened as `name`): its contents, and in
    /// `dir_or_file_synced` its name as it is now (the journal commit that
    /// ext4 runs for a file's sync carries its rename too).
    pub(super) fn sync(&mut self, name: FileName, number: u64) -> Result<(), MemError> {
        self.file_mut(name, Some(number)).ok_or(NOT_FOUND)?.sync();
        let now = self.live_name(number).ok_or(NOT_FOUND)?;
        let mut old: Vec<u64> = self
            .dir_or_file_synced
            .insert(now, number)
            .into_iter()
            .collect();
        let others: Vec<FileName> = self.names_of[&number]
            .iter()
            .copied()
            .filter(|&nm| nm != now && self.dir_or_file_synced.get(&nm) == Some(&number))
            .collect();
        for nm in others {
            self.dir_or_file_synced.remove(&nm);
        }
        old.retain(|&o| o != number);
        self.drop_unnamed(old);
        Ok(())
    }

    /// Makes the directory as it is now durable.
    pub(super) fn sync_dir(&mut self) {
        // Every name not dirty already reads the same in all three.
        let mut old = Vec::new();
        for name in core::mem::take(&mut self.dirty) {
            let now = self.live.get(&name).copied();
            for dir in [&mut self.dir_synced, &mut self.dir_or_file_synced] {
                let was = match now {
                    Some(n) => dir.insert(name, n),
                    None => dir.remove(&name),
                };
                old.extend(was.filter(|&w| Some(w) != now));
            }
        }
        self.drop_unnamed(old);
    }

    /// Replaces (or creates) file `name` with `bytes`, all durable, its
    /// name too. An existing file keeps its number (open handles see the
    /// new bytes).
    pub(super) fn put(&mut self, name: FileName, bytes: Vec<u8>) {
        let n = match self.live.get(&name) {
            Some(&n) => n,
            None => {
                let n = self.next_file;
                self.next_file += 1;
                self.live.insert(name, n);
                self.names_of.entry(n).or_default().insert(name);
                n
            }
        };
        self.files.insert(n, FileData::synced(bytes));
        let old = [
            self.dir_synced.insert(name, n),
            self.dir_or_file_synced.insert(name, n),
        ];
        self.drop_unnamed(old.into_iter().flatten());
    }

    /// Forgets those of files `maybe` that no directory names any more,
    /// keeping the largest allocation for the next file created.
    fn drop_unnamed(&mut self, maybe: impl IntoIterator<Item = u64>) {
        for n in maybe {
            let Some(names) = self.names_of.get(&n) else {
                continue; // dropped already
            };
            let named = names.iter().any(|name| {
                [&self.live, &self.dir_synced, &self.dir_or_file_synced]
                    .iter()
                    .any(|dir| dir.get(name) == Some(&n))
            });
            if named {
                continue;
            }
            self.names_of.remove(&n);
            if let Some(f) = self.files.remove(&n) {
                if f.data.capacity() > self.spare.capacity() {
                    self.spare = f.data;
                }
            }
        }
    }
}
