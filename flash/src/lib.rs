//! `wal-flash`: the portable WAL's [`Storage`](wal_core::Storage) on NOR
//! flash, over any `embedded-storage` [`NorFlash`] driver that allows a
//! word to be programmed more than once ([`MultiwriteNorFlash`]: SPI NOR
//! and most parallel NOR; not flash with per-word ECC). `no_std` + `alloc`,
//! no `unsafe`. `SimFlash` (feature `sim`) is a flash in RAM for tests
//! and the Cortex-M harness (`targets/cortex-m`).
//!
//! ```
//! # #[cfg(feature = "sim")] {
//! use wal_core::{Config, Wal};
//! use wal_flash::{FlashStorage, SimFlash};
//!
//! let chip = SimFlash::<4, 4096>::new(64);                // 256 KiB
//! let storage = FlashStorage::format(chip.clone(), 7).unwrap(); // files of 24 KiB
//! let config = Config::default()
//!     .with_compression(false)                            // no snappy without std
//!     .with_buffer_size(4096)
//!     .with_file_size(16 * 1024)
//!     .with_reserve(0);                                   // see "Reserved space"
//! let mut wal = Wal::open(storage, config).unwrap();
//! wal.write(7, 1, b"cpu=0.42", core::time::Duration::ZERO).unwrap();
//! wal.close().unwrap();
//! let wal = Wal::open(FlashStorage::mount(chip).unwrap(), config).unwrap();
//! assert_eq!(wal.recovery().records, 1);
//! # }
//! ```
//!
//! # Layout
//!
//! The flash is cut into erase blocks (`ERASE_SIZE`) and, at
//! [`FlashStorage::format`], into fixed slots of `slot_blocks` blocks:
//!
//! ```text
//! block 0      superblock: "WALFLSH1", erase and write size, slot_blocks, slots, CRC
//! blocks 1-2   the journal of block rewrites (see below)
//! then         slot 0 | slot 1 | ... | slot N-1
//!
//! a slot:      header block | data block 1 | ... | data block slot_blocks-1
//! header:      name record (32 bytes: magic, segment or sidecar, ID, offset, copy, CRC)
//!              tombstone   (8 bytes, or the write size: erased while the file lives)
//!              length log  (records of 8 bytes: length, CRC; the last whole one counts)
//! ```
//!
//! A file is one slot, its bytes the slot's data blocks in order, so a file
//! holds at most `(slot_blocks - 1) * ERASE_SIZE` bytes (a write past that
//! fails as [`FlashError::Full`], which the WAL reports as storage full)
//! and at most `slots` files exist at once: size `Config::file_size` and
//! the slots from the segments you keep. Free slots are taken round robin.
//!
//! # The `Storage` contract on flash
//!
//! - `create` erases what the slot still holds, then programs the name
//!   record: durable when it returns; a record torn by a power cut fails
//!   its CRC and the slot stays free.
//! - `remove` programs the tombstone (one word, clearing bits only): durable
//!   when it returns. The slot's blocks are erased when it is next created.
//! - `sync_dir` has nothing left to do (names are durable on return) and
//!   returns `Ok`.
//! - A write past the durable length onto erased bits is programmed in
//!   place (it only clears bits). Anything else, an overwrite of durable
//!   bytes or of bits already cleared, rewrites that erase block through
//!   the journal: the new contents go to the journal with a CRC, then the
//!   block is erased and programmed, then the journal record is marked
//!   done; mounting finishes a rewrite a power cut interrupted. Each block
//!   is so replaced whole or not at all.
//! - `sync` appends a length record: NOR programming is synchronous, so the
//!   bytes are already on the flash and the length makes them part of the
//!   file. A power cut before it leaves the last recorded length (unsynced
//!   bytes lost, which the contract allows). When the log is full the
//!   header block is rewritten through the journal with the name and one
//!   record (one erase per `length records` syncs: 503 with 4 KiB blocks).
//! - `truncate` records the new length at once, then erases the blocks
//!   past it and rewrites the block holding the new end (when anything
//!   past the end is programmed) with what stays, through the journal.
//!
//! # Reserved space
//!
//! `Config::reserve` pre-writes zeros so that a file system need not grow
//! the file at each sync. On flash a slot is allocated whole already and a
//! sync costs one length record whatever the size, so the reserve buys
//! nothing; and each frame then overwrites programmed zeros, a journaled
//! block rewrite (three erases) per frame. It stays correct (the shared
//! scenarios run it) but set `reserve` to 0 on flash.
//!
//! # Wear
//!
//! Writing a file's bytes costs one erase per erase block when the slot is
//! recreated; a sync one record; a truncation inside a block and a full
//! length log a journaled rewrite (the target block and one or two journal
//! blocks). The journal blocks are the most erased; there is no wear
//! levelling beyond taking free slots round robin. [`FlashStats`] counts
//! what the storage did; the harness prints erases per MiB written.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::host_endian_bytes)]

extern crate alloc;

mod layout;

mod error;

mod device;

mod journal;

mod slots;

mod storage;

#[cfg(feature = "sim")]
mod sim;

pub use device::FlashStats;
pub use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlash};
pub use error::FlashError;
#[cfg(feature = "sim")]
pub use sim::{SimFlash, SimStats};
pub use storage::{FlashFile, FlashStorage};
