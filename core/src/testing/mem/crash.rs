//! Crash images: what a power cut leaves of a disk, under a model of what
//! reaches the media when.
//!
//! A file's bytes in an image are what its last sync made durable, with
//! some of what was written since laid over them; a name is in an image
//! when the model says its creation reached the media and its removal did
//! not.

use alloc::vec::Vec;

use super::data::FileData;
use super::disk::{Dir, Disk};
use crate::format::FileName;

/// What reaches the media of the bytes written since a file's last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writeback {
    /// In order: each file keeps a prefix of its unsynced bytes (from the
    /// lowest offset written since the last sync to the end), as a power
    /// cut in the middle of in-order writes would leave it. An unsynced
    /// truncation is lost. The model of [`MemStorage::crash_seeded`].
    ///
    /// [`MemStorage::crash_seeded`]: super::MemStorage::crash_seeded
    Prefix,
    /// In any order, a block at a time: of the blocks of `size` bytes
    /// (offsets `i * size .. (i + 1) * size`) changed since the last sync,
    /// any subset holds what was last written to it, and the rest what it
    /// durably held (zeros past the synced length). The file's length is
    /// its synced one, or its current one, or, when it grew, as far as the
    /// last block that reached the media (a hole of zeros before it). See
    /// [`MemStorage::crash_image_with`] for the exact rule.
    ///
    /// [`MemStorage::crash_image_with`]: super::MemStorage::crash_image_with
    Blocks {
        /// The block size in bytes (at least 1): 512 for a disk's sector,
        /// 4096 for a page. A 4 KiB page's outcomes are among those of its
        /// eight sectors, so 512 is the harsher model.
        size: usize,
    },
}

/// When a created or removed name reaches the media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamesDurable {
    /// When `create` or `remove` returns: the model before
    /// `Storage::sync_dir` existed, and the kindest the contract allows.
    OnReturn,
    /// Only once `Storage::sync_dir` returns: a file created since the last
    /// directory sync is gone from the image, whatever was synced into it;
    /// a file removed since comes back (with what it durably held, and
    /// whatever of its unsynced writes the writeback model lets land).
    OnDirSync,
    /// As [`NamesDurable::OnDirSync`], but a file's own sync also commits
    /// its name (its creation), as on ext4, whose `fsync` commits the
    /// journal with the new directory entry. A removal still takes a
    /// directory sync.
    OnFileSync,
}

/// A model of a power cut, for [`MemStorage::crash_image`].
///
/// [`MemStorage::crash_image`]: super::MemStorage::crash_image
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashModel {
    /// What reaches the media of each file's unsynced writes.
    pub writeback: Writeback,
    /// When names reach the media.
    pub names: NamesDurable,
}

impl CrashModel {
    /// The harshest model the `Storage` contract allows: any subset of
    /// 512-byte sectors written since the last sync, names only on a
    /// directory sync.
    pub const HARSH: CrashModel = CrashModel {
        writeback: Writeback::Blocks { size: 512 },
        names: NamesDurable::OnDirSync,
    };
    /// As [`CrashModel::HARSH`], with ext4's names: a file's sync commits
    /// its creation.
    pub const EXT4: CrashModel = CrashModel {
        writeback: Writeback::Blocks { size: 512 },
        names: NamesDurable::OnFileSync,
    };
    /// The model of [`MemStorage::crash_seeded`]: an in-order prefix of
    /// the unsynced bytes, names durable on return.
    ///
    /// [`MemStorage::crash_seeded`]: super::MemStorage::crash_seeded
    pub const PREFIX: CrashModel = CrashModel {
        writeback: Writeback::Prefix,
        names: NamesDurable::OnReturn,
    };
}

/// One thing a power cut decides about a file's unsynced writes, asked of
/// the chooser of [`MemStorage::crash_image_with`]: `true` means it reached
/// the media.
///
/// [`MemStorage::crash_image_with`]: super::MemStorage::crash_image_with
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsynced {
    /// The file's length as last set (by writes past its synced length,
    /// or by a truncation). Asked first, and only when it differs from the
    /// synced length.
    Length,
    /// Block `index` (bytes `index * size .. (index + 1) * size`). Asked
    /// in ascending order for every block from the one holding the lowest
    /// offset changed since the last sync to the last one of the longer of
    /// the synced and the current file.
    Block(usize),
}

/// The directory a model keeps after a power cut.
pub(super) fn names(disk: &Disk, names: NamesDurable) -> &Dir {
    match names {
        NamesDurable::OnReturn => &disk.live,
        NamesDurable::OnDirSync => &disk.dir_synced,
        NamesDurable::OnFileSync => &disk.dir_or_file_synced,
    }
}

/// The disk after a power cut that keeps the names `names` says and, of
/// each file kept, the bytes `image` gives.
pub(super) fn image(
    disk: &Disk,
    names_durable: NamesDurable,
    mut image: impl FnMut(FileName, &FileData) -> Vec<u8>,
) -> Disk {
    let files = names(disk, names_durable)
        .iter()
        .filter_map(|(&name, n)| Some((name, image(name, disk.files.get(n)?))))
        .collect::<Vec<_>>();
    Disk::durable(files)
}

/// The file's synced bytes with the first `keep` of its unsynced ones
/// (capped at their count) laid over them; `keep` is called only when there
/// are some, with their count.
pub(super) fn prefix(f: &FileData, keep: impl FnOnce(usize) -> usize) -> Vec<u8> {
    let mut image = f.durable();
    if let Some(from) = f.dirty_from().filter(|&d| f.data.len() > d) {
        let unsynced = &f.data[from..];
        let n = keep(unsynced.len()).min(unsynced.len());
        let end = from + n;
        if image.len() < end {
            image.resize(end, 0);
        }
        image[from..end].copy_from_slice(&unsynced[..n]);
    }
    image
}

/// The file after a power cut in which each block of `size` bytes changed
/// since its last sync holds its current bytes if `landed` says so, and
/// its durable ones otherwise (zeros past either end), and its length is
/// decided as [`Writeback::Blocks`] says.
pub(super) fn blocks(
    f: &FileData,
    size: usize,
    mut landed: impl FnMut(Unsynced) -> bool,
) -> Vec<u8> {
    let size = size.max(1);
    let durable = f.durable();
    let Some(from) = f.dirty_from() else {
        return durable;
    };
    let (cur_len, dur_len) = (f.data.len(), durable.len());
    let length_landed = cur_len != dur_len && landed(Unsynced::Length);
    let first = from / size;
    let count = cur_len.max(dur_len).div_ceil(size).saturating_sub(first);
    let kept: Vec<bool> = (first..first + count)
        .map(|i| landed(Unsynced::Block(i)))
        .collect();
    let len = if length_landed {
        cur_len
    } else if cur_len > dur_len {
        // Grown only as far as the data that reached the media.
        let reached = kept
            .iter()
            .rposition(|&k| k)
            .map_or(0, |i| (first + i + 1) * size);
        reached.min(cur_len).max(dur_len)
    } else {
        dur_len
    };
    let mut image = durable;
    image.resize(len, 0);
    for (i, _) in kept.iter().enumerate().filter(|(_, &k)| k) {
        let start = ((first + i) * size).min(len);
        let end = (start + size).min(len);
        // The block's current bytes, zeros past the current end.
        let written = end.min(f.data.len()).max(start);
        if written > start {
            image[start..written].copy_from_slice(&f.data[start..written]);
        }
        image[written..end].fill(0);
    }
    image
}
