//! `wasi-probe`: a tiny guest for testing the launcher's edges.
//!
//! `wasi-probe trap` panics (a trap), `wasi-probe exit N` exits with N,
//! `wasi-probe read PATH` prints the file at PATH or the error (exit 1),
//! `wasi-probe dirsync PATH` opens the directory at PATH and syncs it
//! (`fd_sync`, or `sync` on a preview 2 descriptor), printing `synced` or
//! the error (exit 1): runtimes and previews differ there.
//! `wasi-probe storage-sync PATH` opens the WASI host's storage at PATH
//! (`wal_host_wasi::driver::storage`), prints its options, calls its
//! `sync_dir`, then removes the (empty) directory and calls `sync_dir`
//! again: a storage that really syncs the directory fails the second time
//! (there is nothing left to open), one that does nothing does not.

use wal_core::Storage as _;

/// Opens the guest's storage at `path` and syncs its directory, before and
/// after removing it; prints what happened.
fn storage_sync(path: &str) -> Result<(), String> {
    let mut storage = wal_host_wasi::driver::storage(path).map_err(|e| e.to_string())?;
    let options = wal_host_wasi::driver::OPTIONS;
    println!("lock={} sync_dir={}", options.lock, options.sync_dir);
    match storage.sync_dir() {
        Ok(()) => println!("synced"),
        Err(e) => println!("sync failed: {e}"),
    }
    std::fs::remove_dir(path).map_err(|e| format!("cannot remove {path}: {e}"))?;
    match storage.sync_dir() {
        Ok(()) => println!("after removal: synced"),
        Err(e) => println!("after removal: sync failed: {e}"),
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("trap") => panic!("the probe was asked to trap"),
        Some("exit") => wal_host_wasi::exit(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1)),
        Some("read") => match std::fs::read(args.get(2).map(String::as_str).unwrap_or("")) {
            Ok(bytes) => println!("read {} bytes", bytes.len()),
            Err(e) => {
                eprintln!("cannot read: {e}");
                wal_host_wasi::exit(1);
            }
        },
        Some("dirsync") => {
            match std::fs::File::open(args.get(2).map(String::as_str).unwrap_or(""))
                .and_then(|d| d.sync_all())
            {
                Ok(()) => println!("synced"),
                Err(e) => {
                    eprintln!("cannot sync: {e}");
                    wal_host_wasi::exit(1);
                }
            }
        }
        Some("storage-sync") => {
            if let Err(e) = storage_sync(args.get(2).map(String::as_str).unwrap_or("")) {
                eprintln!("cannot probe the storage: {e}");
                wal_host_wasi::exit(1);
            }
        }
        _ => {
            eprintln!(
                "usage: wasi-probe trap | exit N | read PATH | dirsync PATH | storage-sync PATH"
            );
            wal_host_wasi::exit(64);
        }
    }
}
