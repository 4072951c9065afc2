//! `wal-host-wasi`: the portable WAL inside a WASI runtime, and the native
//! launcher that runs it.
//!
//! - Guest side (any target, built for `wasm32-wasip1`): [`driver::Wal`],
//!   the core's single-threaded WAL over files in a preopened directory with
//!   the WASI clock (read its docs for what WASI preview 1 means for
//!   durability): `wal::Wal` on WASI. The `wal-wasi` command built on it
//!   lives in `wal-tool`.
//! - Native side: [`launcher`], which embeds wasmtime and wasmtime-wasi
//!   (preview 1) to run a guest with exactly the directories given, and the
//!   `wasi-run` binary built on it, also used as the cargo runner for
//!   `--target wasm32-wasip1`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
#[cfg(not(target_os = "wasi"))]
pub mod launcher;

pub use driver::Wal;
