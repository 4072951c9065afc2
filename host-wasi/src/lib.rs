//! `wal-host-wasi`: the portable WAL inside a WASI runtime, and the native
//! launcher that runs it.
//!
//! - Guest side (any target, built for `wasm32-wasip1`): [`driver::WasiWal`],
//!   the core's single-threaded WAL over files in a preopened directory with
//!   the WASI clock (read its docs for what WASI preview 1 means for
//!   durability). The `wal-wasi` command (in `wal-tool`) runs the native
//!   `wal` tool's subcommands over it.
//! - Native side: [`launcher`], which embeds wasmtime and wasmtime-wasi
//!   (preview 1) to run a guest with exactly the directories given, and the
//!   `wasi-run` binary built on it, also used as the cargo runner for
//!   `--target wasm32-wasip1`.
#![deny(missing_docs)]

pub mod driver;
#[cfg(not(target_os = "wasi"))]
pub mod launcher;

pub use driver::WasiWal;
pub use wal_host_std::{FsOptions, FsStorage};

/// Wraps a file-system error of opening a WAL directory.
fn fs_error(e: std::io::Error) -> wal_core::Error {
    wal_core::Error::storage("open directory", None, e)
}
