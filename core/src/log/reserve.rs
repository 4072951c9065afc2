//! The reserve of zeros ahead of the log in the active segment: written
//! off the write path, released at rotation and close.

use embedded_io::{Seek, SeekFrom, Write};

use super::SegmentLog;
use crate::config::SyncPolicy;
use crate::error::{storage_err, Error};
use crate::storage::{SegmentFile, Storage};

/// Zeros to write reserved space from.
static ZEROS: [u8; 4096] = [0; 4096];

/// Bytes of zeros one [`SegmentLog::reserve_ahead`] call writes at most, so
/// that a host holding a lock for each call holds it briefly.
pub const RESERVE_CHUNK: u64 = 256 * 1024;

impl<S: Storage> SegmentLog<S> {
    /// Whether [`SegmentLog::reserve_ahead`] has work to do: a reservation
    /// is under way, or the log is within half of `config.reserve` of the
    /// end of its reserved space (and may reserve: see `reserve_ahead`).
    /// Cheap; a host checks it after an append to decide whether to ask its
    /// background thread to reserve.
    pub fn wants_reserve(&self) -> bool {
        let a = &self.active;
        if a.reserve_to > a.file_len {
            return true;
        }
        let reserve = self.config.reserve;
        // Only small frames gain from it: a large one appends at the disk's
        // streaming rate anyway, and pre-writing zeros for it would write
        // every byte twice. Without syncs on the write path (`Never`)
        // growing the file costs nothing extra: no reserve at all.
        let small = a.last_frame.saturating_mul(32) <= reserve;
        let headroom = a.file_len.saturating_sub(a.info.bytes);
        self.config.sync == SyncPolicy::Always
            && reserve > 0
            && small
            && headroom < reserve / 2
            && self.reserve_target() > a.file_len
            && self.poison.error().is_none()
    }

    /// Where a reservation started now would end: `config.reserve` past the
    /// log, never past `file_size`.
    fn reserve_target(&self) -> u64 {
        self.active
            .info
            .bytes
            .saturating_add(self.config.reserve)
            .min(self.config.file_size)
    }

    /// Writes reserved zeros ahead of the log in the active segment, at
    /// most [`RESERVE_CHUNK`] bytes per call; returns whether it wrote any
    /// (call it again until it returns `false`). The syncs of frames
    /// written there then overwrite allocated space instead of growing the
    /// file (on ext4 a small `fdatasync` that grows the file is about 2.4x
    /// slower). A reservation starts when the log is within half of
    /// `config.reserve` of the end of what is reserved, after a frame of at
    /// most `reserve / 32` bytes, and runs to `reserve` bytes past the log
    /// (never past `file_size`).
    ///
    /// Never part of an append: a host runs it off the write path (the
    /// thread-safe WAL on its syncer thread after a sync; the
    /// single-threaded [`crate::Wal`] after a flush's completions). The
    /// zeros are not synced here: the next sync of the log covers them.
    /// Under [`SyncPolicy::Never`] nothing is reserved (no sync is on the
    /// write path for it to speed up; it would write every byte twice). A
    /// failed write poisons the log. Released (cut) at rotation and close,
    /// so closed segments end with their last frame.
    pub fn reserve_ahead(&mut self) -> Result<bool, Error> {
        if self.poison.error().is_some() || !self.wants_reserve() {
            return Ok(false);
        }
        if self.active.reserve_to <= self.active.file_len {
            self.active.reserve_to = self.reserve_target();
        }
        let a = &mut self.active;
        let id = a.info.id;
        let end = a.reserve_to.min(a.file_len.saturating_add(RESERVE_CHUNK));
        let r = (|| {
            a.file
                .seek(SeekFrom::Start(a.file_len))
                .map_err(storage_err("seek", id))?;
            let mut left = end - a.file_len;
            while left > 0 {
                let n = left.min(ZEROS.len() as u64) as usize;
                a.file
                    .write_all(&ZEROS[..n])
                    .map_err(storage_err("write", id))?;
                left -= n as u64;
            }
            a.file_len = end;
            a.file
                .seek(SeekFrom::Start(a.info.bytes))
                .map_err(storage_err("seek", id))?;
            Ok(())
        })();
        match r {
            Ok(()) => Ok(true),
            Err(e) => Err(self.fail_with(e)),
        }
    }

    /// Gives reserved space back: cuts the active segment to its log and
    /// syncs, so that a closed segment ends with its last frame.
    pub(super) fn release(&mut self) -> Result<(), Error> {
        let a = &mut self.active;
        let id = a.info.id;
        a.reserve_to = 0;
        if a.file_len > a.info.bytes {
            a.file
                .truncate(a.info.bytes)
                .map_err(storage_err("truncate", id))?;
            a.file_len = a.info.bytes;
        }
        a.file.sync().map_err(storage_err("sync", id))?;
        a.durable = a.info.bytes;
        self.counts.syncs += 1;
        Ok(())
    }
}
