//! `wal-host-web`: the portable WAL in the browser. The core's
//! single-threaded WAL (format, rotation, recovery: all of it, nothing
//! re-implemented here) on a storage on the Origin Private File System
//! (OPFS), and a small JS API, for `wasm32-unknown-unknown` in a dedicated
//! worker. On any other target the crate is empty.
//!
//! ```js
//! // in a dedicated worker, on an http(s) origin (file:// has no OPFS)
//! import init, { WebWal } from "./pkg/wal_host_web.js";
//! await init();
//! const wal = await WebWal.open("logs/app", { fileSize: 1 << 20 });
//! const pos = await wal.write(7n, BigInt(Date.now()) * 1000000n, bytes); // durable through pos
//! const closed = await wal.rotate();             // { id, bytes, records, ... }
//! const entries = await wal.read(closed.id);     // [{ series, timestamps, values }]
//! const all = await wal.replay();                // [{ position, series, ... }]
//! console.log(await wal.stats());
//! await wal.close();
//! ```
//!
//! # Why a pool of sync access handles
//!
//! In a dedicated worker a `FileSystemSyncAccessHandle` reads, writes,
//! truncates, flushes and sizes a file synchronously; everything else on
//! the OPFS (open, create, list, remove, rename) returns a Promise. The
//! core's [`Storage`](wal_core::Storage) is synchronous, and it creates
//! and removes files in the middle of a write (a rotation, retention).
//! Three ways out:
//!
//! - **JSPI** (`WebAssembly.Suspending` / `promising`) would let the
//!   synchronous Rust wait on a Promise. wasm-bindgen 0.2.130 has it only
//!   as an experimental surface (`#[wasm_bindgen(suspending)]` imports,
//!   `js_sys::futures::jspi_block_on_promise`, which warn as deprecated
//!   while experimental, and work only below a `promising` entry), the
//!   engine must ship JSPI and exnref (Chromium does; not every browser
//!   does), and every open, create, list or remove would become a stack
//!   switch in the middle of the core's call.
//! - **The async steps between the core's calls** would need the core to
//!   hand a rotation or a removal back to the host half done: a change of
//!   the core, or rotation re-implemented here. Neither is acceptable.
//! - **A pool** (as SQLite's `opfs-sahpool` VFS): the WAL's OPFS directory
//!   holds pool files `slot-0000`, `slot-0001`, ..., all opened (their sync
//!   access handles taken) ahead, each holding one WAL file or none, its
//!   4 KiB header saying which (see [`slot`]). Creating, removing and
//!   listing WAL files and syncing their names become header writes and
//!   flushes: synchronous. Only opening the directory and adding pool files
//!   are asynchronous; they happen at open and between calls, when free pool
//!   files run short ([`WebWal`]'s queue waits for them in call order).
//!
//! The pool wins: every `Storage` promise holds exactly (see [`pool`] for
//! how each method keeps its power-loss contract), it works in every
//! browser with OPFS, and the handles' exclusive locks are the WAL's
//! writer lock for free: a second worker or tab opening the same directory
//! fails with `Locked` (`NoModificationAllowedError`). What it costs: the
//! OPFS directory shows pool files, not the core's names
//! (`WebWal.exportFiles` hands the WAL files out by their names, byte for
//! byte what a native WAL writes); each file carries a 4 KiB header; and
//! a burst of rotations inside one call can use up the free pool files
//! (`spare`, 8 by default, is how many are kept free; a create past them
//! fails with `StorageFull`, naming the option).
//!
//! # Layers
//!
//! | module | holds |
//! |---|---|
//! | [`error`] | [`WebError`]: the op, the file, the `DOMException` |
//! | [`slot`] | a pool file's header: which WAL file it holds |
//! | [`handle`] | one pool file's sync access handle, as `Result`s |
//! | [`pool`] | the pool: the directory, the headers, the `Storage` contract |
//! | [`storage`] | [`OpfsStorage`] and [`OpfsFile`]: the core's traits on the pool |
//! | `api` | [`WebWal`]: the JS API, its queue, Promises and flush timer |
// Elsewhere the modules the docs link to are not built.
#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(unused, rustdoc::broken_intra_doc_links)
)]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
pub mod error;
#[cfg(target_arch = "wasm32")]
pub mod handle;
#[cfg(target_arch = "wasm32")]
pub mod pool;
#[cfg(target_arch = "wasm32")]
pub mod slot;
#[cfg(target_arch = "wasm32")]
pub mod storage;

#[cfg(target_arch = "wasm32")]
pub use api::WebWal;
#[cfg(target_arch = "wasm32")]
pub use error::WebError;
#[cfg(target_arch = "wasm32")]
pub use pool::Pool;
#[cfg(target_arch = "wasm32")]
pub use storage::{OpfsFile, OpfsStorage};
