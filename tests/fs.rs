//! The behavioural suite on real files (`FsStorage` in a temporary
//! directory), plus what only files can show: the lock, and bad directories.
//!
//! The same file runs natively and, built for `wasm32-wasip1` or
//! `wasm32-wasip2`, under wasmtime (the runner preopens a temporary
//! directory as `/tmp`), where the storage is the WASI host's: no lock, and
//! a directory fsync under preview 2 only (`FsOptions::WASI_GUEST`).

mod suite;

use std::fs;

use suite::Backend;
use wal::{FsOptions, FsStorage};

struct Fs(tempfile::TempDir);

/// Where temporary directories go: the system's, or under WASI the
/// directory the runner preopened (`TMPDIR`, else `/tmp`).
fn tempdir() -> tempfile::TempDir {
    if cfg!(target_os = "wasi") {
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

/// This host's storage options.
const OPTIONS: FsOptions = if cfg!(target_os = "wasi") {
    FsOptions::WASI_GUEST
} else {
    FsOptions::NATIVE
};

impl Backend for Fs {
    type S = FsStorage;
    fn fresh() -> Self {
        Fs(tempdir())
    }
    fn storage(&self) -> FsStorage {
        FsStorage::open_with(self.0.path(), OPTIONS).unwrap()
    }
    fn read_file(&self, name: &str) -> Option<Vec<u8>> {
        fs::read(self.0.path().join(name)).ok()
    }
    fn write_file(&self, name: &str, bytes: &[u8]) {
        fs::write(self.0.path().join(name), bytes).unwrap()
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n != "LOCK")
            .collect();
        v.sort();
        v
    }
}

behavioural_suite!(Fs);

#[cfg(not(target_os = "wasi"))]
#[test]
fn a_second_writer_on_a_locked_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FsStorage::open(dir.path()).unwrap();
    let err = FsStorage::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ResourceBusy);
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    // The WAL says so with a kind a caller can match.
    let err = wal::Wal::open(dir.path(), wal::Config::default()).unwrap_err();
    assert_eq!(err.kind(), wal::ErrorKind::Locked, "{err:?}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    // A reader needs no lock.
    FsStorage::read_only(dir.path()).unwrap();
    drop(_first);
    FsStorage::open(dir.path()).unwrap();
}

#[test]
fn a_file_where_the_directory_should_be_is_a_clear_error() {
    let dir = tempdir();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = FsStorage::open_with(&file, OPTIONS).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    let err = FsStorage::read_only(&file).unwrap_err();
    assert!(err.to_string().contains("is not a directory"), "{err}");
    let err = FsStorage::read_only(dir.path().join("missing")).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[cfg(not(target_os = "wasi"))]
#[test]
fn foreign_files_are_left_alone_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let wal = wal::Wal::open(dir.path(), wal::Config::default()).unwrap();
    wal.close().unwrap();
    for name in [
        "notes.txt",
        "seg1.wal",
        "seg0000000000000001.wal.torn-24",
        "seg0000000000000001.WAL",
    ] {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    let wal = wal::Wal::open(dir.path(), wal::Config::default()).unwrap();
    assert_eq!(wal.segments(), vec![1]);
    wal.close().unwrap();
    let s = FsStorage::read_only(dir.path()).unwrap();
    assert_eq!(
        s.foreign_files().unwrap(),
        vec!["notes.txt", "seg0000000000000001.WAL", "seg1.wal"]
    );
    assert_eq!(fs::read(dir.path().join("notes.txt")).unwrap(), b"x");
}
