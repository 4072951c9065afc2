//! `wal-fs`: the core's [`Storage`] on a directory of real files, through
//! `std::fs`: what the native host and WASI guests both write through.
//!
//! - Segments are created with create-new. [`Storage::sync_dir`] fsyncs the
//!   directory, making the names created and removed before it durable;
//!   create and remove themselves do not (the core calls `sync_dir` where
//!   durability needs it).
//! - [`SegmentFile::sync`] is `fdatasync` (`File::sync_data`; on WASI
//!   wasi-libc's `fdatasync`, std's being a full fsync there); it also makes
//!   a truncation durable (a new length is metadata a later read needs).
//! - On WASI preview 1 ([`FsOptions::WASI`]) there is no directory fsync
//!   (and no lock), so neither is attempted: `sync_dir` does nothing there.
//!   Preview 2 ([`FsOptions::WASI_P2`]) syncs the directory, without a lock.
//! - A writable storage holds an exclusive lock on `DIR/LOCK`
//!   (`File::try_lock`) for as long as any clone of it lives, so two
//!   processes never write one directory. A read-only storage takes no lock
//!   and opens files read-only: the inspection tools use it next to a
//!   running writer.
//! - A WAL directory that open creates is fsynced into its parent
//!   (with `sync_dir`), so the directory itself survives a power loss.
// Unsafe code only in `wasi` (a libc call each for `fdatasync` and `pwrite`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

#[cfg(target_os = "wasi")]
mod wasi;

use std::fs::{self, File, OpenOptions};
#[cfg(not(all(target_os = "wasi", target_env = "p2")))]
use std::io::Write as _;
use std::io::{self, Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wal_core::{FileName, SegmentFile, SegmentId, Storage};

/// The lock file's name.
pub const LOCK_FILE: &str = "LOCK";

/// How a writable [`FsStorage`] uses the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsOptions {
    /// Take the exclusive lock on `DIR/LOCK`.
    pub lock: bool,
    /// fsync the directory in [`Storage::sync_dir`] (otherwise it does
    /// nothing).
    pub sync_dir: bool,
}

impl FsOptions {
    /// A native OS: lock, and fsync the directory.
    pub const NATIVE: FsOptions = FsOptions {
        lock: true,
        sync_dir: true,
    };
    /// WASI preview 1: no file locks and no directory fsync exist (an
    /// `fd_sync` on a directory fails), so neither is attempted. What that
    /// means for durability is documented in `wal-host-wasi`.
    pub const WASI: FsOptions = FsOptions {
        lock: false,
        sync_dir: false,
    };
    /// WASI preview 2: no file locks, but a directory can be synced
    /// (`sync` on a directory descriptor works in wasmtime's preview 2), so
    /// names are made durable as natively.
    pub const WASI_P2: FsOptions = FsOptions {
        lock: false,
        sync_dir: true,
    };
    /// The WASI options for the target being built: [`FsOptions::WASI_P2`]
    /// for `wasm32-wasip2`, [`FsOptions::WASI`] for `wasm32-wasip1` and
    /// natively (where the WASI host is built only to time it).
    pub const WASI_GUEST: FsOptions = if cfg!(all(target_os = "wasi", target_env = "p2")) {
        FsOptions::WASI_P2
    } else {
        FsOptions::WASI
    };
}

/// What a name found in a WAL directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// One of the WAL's files: a segment or a torn-tail sidecar.
    Wal(FileName),
    /// `LOCK`: the lock a writable native storage holds.
    Lock,
    /// Anything else: not the WAL's; left alone.
    Foreign,
}

impl FileKind {
    /// Classifies a name found in a WAL directory (exact patterns only).
    pub fn of(name: &str) -> FileKind {
        match FileName::parse(name) {
            Some(f) => FileKind::Wal(f),
            None if name == LOCK_FILE => FileKind::Lock,
            None => FileKind::Foreign,
        }
    }
}

/// A WAL directory on the local file system.
#[derive(Clone, Debug)]
pub struct FsStorage {
    dir: PathBuf,
    /// The held lock, if one was taken; kept only to be released when the
    /// last clone drops.
    _lock: Option<Arc<File>>,
    writable: bool,
    sync_dir: bool,
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

impl FsStorage {
    /// Opens `dir` for writing, creating it (and its parents) if missing, and
    /// takes the exclusive lock on `dir/LOCK`. Fails clearly when `dir` is a
    /// file, cannot be created or written, or is locked by another process.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        Self::open_with(dir, FsOptions::NATIVE)
    }

    /// Opens `dir` for writing as [`FsStorage::open`] does, using the
    /// platform as `options` say.
    pub fn open_with(dir: impl AsRef<Path>, options: FsOptions) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if dir.exists() && !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        create_dir(&dir, options.sync_dir)?;
        if !options.lock {
            return Ok(FsStorage {
                dir,
                _lock: None,
                writable: true,
                sync_dir: options.sync_dir,
            });
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(|e| with_path(e, "cannot open lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "{} is locked by another process (it holds {LOCK_FILE})",
                        dir.display()
                    ),
                ))
            }
            Err(fs::TryLockError::Error(e)) => return Err(with_path(e, "cannot lock", &lock_path)),
        }
        Ok(FsStorage {
            dir,
            _lock: Some(Arc::new(lock)),
            writable: true,
            sync_dir: options.sync_dir,
        })
    }

    /// Opens `dir` for reading only: no lock is taken and nothing is ever
    /// written. Fails clearly when `dir` is missing or is not a directory.
    pub fn read_only(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let meta =
            fs::metadata(&dir).map_err(|e| with_path(e, "cannot open WAL directory", &dir))?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Ok(FsStorage {
            dir,
            _lock: None,
            writable: false,
            sync_dir: false,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of file `name`.
    pub fn path(&self, name: FileName) -> PathBuf {
        self.dir.join(name.to_string())
    }

    /// The path of segment `id`.
    pub fn segment_path(&self, id: SegmentId) -> PathBuf {
        self.path(FileName::Segment(id))
    }

    /// Every file name in the directory that is not a segment (torn-tail
    /// sidecars, the lock file, foreign files), sorted, with what each is.
    pub fn other_files(&self) -> io::Result<Vec<(String, FileKind)>> {
        let mut out = vec![];
        for e in fs::read_dir(&self.dir).map_err(|e| with_path(e, "cannot list", &self.dir))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            match FileKind::of(&name) {
                FileKind::Wal(FileName::Segment(_)) => {}
                kind => out.push((name, kind)),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Names in the directory that are not the WAL's at all (for the verify
    /// tool to report; they are left alone).
    pub fn foreign_files(&self) -> io::Result<Vec<String>> {
        Ok(self
            .other_files()?
            .into_iter()
            .filter(|(_, k)| *k == FileKind::Foreign)
            .map(|(n, _)| n)
            .collect())
    }

    fn writable(&self) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "storage opened read-only",
            ));
        }
        Ok(())
    }

    fn create_path(&self, path: &Path) -> io::Result<FsFile> {
        self.writable()?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| with_path(e, "cannot create", path))?;
        Ok(FsFile { file })
    }
}

/// Creates the WAL directory `dir` (and missing parents) if it does not
/// exist; with `sync`, fsyncs each created directory into its parent, so
/// that a power loss cannot take the directory (and the segments created in
/// it) back.
fn create_dir(dir: &Path, sync: bool) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // The outermost missing ancestor, so every level created is synced.
    let mut missing = vec![dir.to_path_buf()];
    while let Some(parent) = missing.last().and_then(|d| d.parent()) {
        if parent.as_os_str().is_empty() || parent.is_dir() {
            break;
        }
        missing.push(parent.to_path_buf());
    }
    fs::create_dir_all(dir).map_err(|e| with_path(e, "cannot create WAL directory", dir))?;
    if sync {
        for created in missing.iter().rev() {
            let parent = match created.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            sync_dir(Some(parent)).map_err(|e| with_path(e, "cannot sync directory", parent))?;
        }
    }
    Ok(())
}

/// fsyncs directory `dir`, if given, making created and removed names durable.
fn sync_dir(dir: Option<&Path>) -> io::Result<()> {
    match dir {
        Some(d) => File::open(d)?.sync_all(),
        None => Ok(()),
    }
}

impl Storage for FsStorage {
    type Error = io::Error;
    type File = FsFile;

    fn list(&mut self) -> io::Result<Vec<FileName>> {
        let mut names = vec![];
        for e in fs::read_dir(&self.dir).map_err(|e| with_path(e, "cannot list", &self.dir))? {
            if let Some(name) = e?.file_name().to_str().and_then(FileName::parse) {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create(&mut self, name: FileName) -> io::Result<FsFile> {
        self.create_path(&self.path(name))
    }

    fn open(&mut self, name: FileName) -> io::Result<FsFile> {
        let path = self.path(name);
        // Under WASI a read-only storage still asks for write access (it
        // never writes): wasi-libc grants a descriptor the FD_DATASYNC
        // right only with it, and a follower syncs the newest segment
        // before it hands out its frames (Node's uvwasi refuses
        // `fd_datasync` otherwise). Where that is refused (a read-only
        // mount), read-only it is.
        if cfg!(target_os = "wasi") && !self.writable {
            if let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) {
                return Ok(FsFile { file });
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(self.writable)
            .open(&path)
            .map_err(|e| with_path(e, "cannot open", &path))?;
        Ok(FsFile { file })
    }

    fn remove(&mut self, name: FileName) -> io::Result<()> {
        self.writable()?;
        let path = self.path(name);
        fs::remove_file(&path).map_err(|e| with_path(e, "cannot remove", &path))
    }

    /// Renames `from` to `to` (refused if `to` exists: checked first, as
    /// `rename(2)` would replace it; the WAL's lock keeps other writers out).
    fn rename(&mut self, from: FileName, to: FileName) -> io::Result<()> {
        self.writable()?;
        let (src, dst) = (self.path(from), self.path(to));
        if fs::symlink_metadata(&dst).is_ok() {
            return Err(with_path(
                io::Error::from(io::ErrorKind::AlreadyExists),
                "cannot rename onto",
                &dst,
            ));
        }
        fs::rename(&src, &dst).map_err(|e| with_path(e, "cannot rename", &src))
    }

    /// fsyncs the directory (natively; on WASI, and for a read-only
    /// storage, does nothing).
    fn sync_dir(&mut self) -> io::Result<()> {
        sync_dir(self.sync_dir.then_some(&self.dir))
            .map_err(|e| with_path(e, "cannot sync directory", &self.dir))
    }
}

/// An open segment file.
#[derive(Debug)]
pub struct FsFile {
    file: File,
}

impl FsFile {
    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// A second handle on the same open file (`File::try_clone`): a host
    /// can sync through it while another thread writes through this one;
    /// a sync through either makes durable what both wrote before it.
    pub fn try_clone(&self) -> io::Result<FsFile> {
        Ok(FsFile {
            file: self.file.try_clone()?,
        })
    }
}

impl embedded_io::ErrorType for FsFile {
    type Error = io::Error;
}

impl embedded_io::Read for FsFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

impl embedded_io::Write for FsFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            #[cfg(all(target_os = "wasi", target_env = "p2"))]
            let written = wasi::write(&mut self.file, buf);
            #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
            let written = self.file.write(buf);
            match written {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(all(target_os = "wasi", target_env = "p2"))]
        return wasi::write_all(&mut self.file, buf);
        #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
        self.file.write_all(buf)
    }
}

impl embedded_io::Seek for FsFile {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> io::Result<u64> {
        self.file.seek(pos.into())
    }
}

impl SegmentFile for FsFile {
    fn len(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&mut self) -> io::Result<()> {
        #[cfg(target_os = "wasi")]
        return wasi::sync_data(&self.file);
        #[cfg(not(target_os = "wasi"))]
        self.file.sync_data()
    }
}

impl wal_core::host::SyncHandle for FsFile {
    fn sync_handle(&self) -> io::Result<FsFile> {
        self.try_clone()
    }
}
