//! `wal-host-wasi`: the portable WAL inside a WASI runtime, and the native
//! launcher that runs it.
//!
//! - Guest side (any target, built for `wasm32-wasip1` or `wasm32-wasip2`):
//!   [`driver::Wal`], the core's single-threaded WAL over files in a
//!   preopened directory with the WASI clock (read its docs for what each
//!   WASI preview means for durability): `wal::Wal` on WASI; and [`exit()`],
//!   which keeps a guest's exit code intact under preview 2. The `wal-wasi`
//!   command built on them lives in `wal-tool`.
//! - Native side: [`launcher`], which embeds wasmtime and wasmtime-wasi
//!   (preview 1 modules and preview 2 components) to run a guest with
//!   exactly the directories given, and the `wasi-run` binary built on it,
//!   also used as the cargo runner for `--target wasm32-wasip1` and
//!   `--target wasm32-wasip2`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod driver;
pub mod exit;
#[cfg(not(target_os = "wasi"))]
pub mod launcher;

pub use driver::Wal;
pub use exit::exit;
