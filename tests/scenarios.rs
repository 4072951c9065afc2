//! The core's behavioural scenarios (`wal_core::testing::scenarios`, the
//! ones the Cortex-M harness runs under QEMU) on this host: in memory,
//! reopened from the crash image (only what was synced), and on real files
//! (natively and, built for `wasm32-wasip1` or `wasm32-wasip2`, under a
//! WASI runtime).

use wal::{FsOptions, FsStorage};
use wal_core::testing::scenarios::{self, Medium};
use wal_core::testing::MemStorage;

/// Runs every scenario, printing each failure, and fails if any did.
fn run_all<M: Medium>(medium: &mut M) {
    let summary = scenarios::run_all(medium, |name, outcome| {
        if let Err(why) = outcome {
            eprintln!("FAILED {name}: {why}");
        }
    });
    assert_eq!(summary.failures, vec![]);
    assert_eq!(summary.passed, scenarios::all::<M>().len());
    assert!(summary.passed >= 15, "{} scenarios", summary.passed);
}

/// In memory; a reopen sees only what was synced.
struct Mem(MemStorage);

impl Medium for Mem {
    type S = MemStorage;
    fn fresh(&mut self) -> MemStorage {
        self.0 = MemStorage::new();
        self.0.clone()
    }
    fn reopen(&mut self) -> MemStorage {
        self.0 = self.0.crash();
        self.0.clone()
    }
}

#[test]
fn every_scenario_passes_in_memory() {
    run_all(&mut Mem(MemStorage::new()));
}

/// A temporary directory per scenario (under WASI, in the preopened one).
struct Files(Option<tempfile::TempDir>);

/// This host's storage options.
const OPTIONS: FsOptions = if cfg!(target_os = "wasi") {
    FsOptions::WASI_GUEST
} else {
    FsOptions::NATIVE
};

impl Medium for Files {
    type S = FsStorage;
    fn fresh(&mut self) -> FsStorage {
        let dir = if cfg!(target_os = "wasi") {
            let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
            tempfile::tempdir_in(base).unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        let storage = FsStorage::open_with(dir.path(), OPTIONS).unwrap();
        self.0 = Some(dir);
        storage
    }
    fn reopen(&mut self) -> FsStorage {
        FsStorage::open_with(self.0.as_ref().unwrap().path(), OPTIONS).unwrap()
    }
}

#[test]
fn every_scenario_passes_on_files() {
    run_all(&mut Files(None));
}
