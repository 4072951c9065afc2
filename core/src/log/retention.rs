//! Retention by size ([`Config::retain_bytes`], [`Config::max_bytes`]):
//! which closed segments go after a rotation. The log only takes them off
//! its list; the host removes their files ([`super::remove_segments`]), as
//! for a checkpoint, where it does not hold up writers.
//!
//! [`Config::retain_bytes`]: crate::Config::retain_bytes
//! [`Config::max_bytes`]: crate::Config::max_bytes

use alloc::vec::Vec;

use super::SegmentLog;
use crate::error::{storage_err, Error};
use crate::format::{FileName, SegmentId};
use crate::storage::{SegmentFile, Storage};

impl<S: Storage> SegmentLog<S> {
    /// Whether retention is configured.
    fn retains(&self) -> bool {
        self.config.retain_bytes.is_some() || self.config.max_bytes.is_some()
    }

    /// At open, with retention configured: the size of every closed
    /// segment (an open and a length each; nothing is read), and a first
    /// pass due (the caps may have shrunk since the log was written).
    pub(super) fn measure_closed(&mut self) -> Result<(), Error> {
        if !self.retains() {
            return Ok(());
        }
        self.measure_unknown()?;
        self.retention_due = !self.closed.is_empty();
        Ok(())
    }

    /// Learns the size of every closed segment not measured yet (one from
    /// before the open): an open and a length each, nothing read.
    pub(super) fn measure_unknown(&mut self) -> Result<(), Error> {
        for &id in &self.closed {
            if !self.sizes.contains_key(&id) {
                let len = self
                    .storage
                    .open(FileName::Segment(id))
                    .and_then(|mut f| f.len())
                    .map_err(storage_err("len", id))?;
                self.sizes.insert(id, len);
            }
        }
        Ok(())
    }

    /// Whether a rotation (or the open) left retention work: call
    /// [`SegmentLog::retention_unlist`]. Cheap.
    pub fn wants_retention(&self) -> bool {
        self.retention_due && self.retains()
    }

    /// Bytes all segments' files hold (the active one's with its reserved
    /// zeros), as far
    /// as their sizes are known (all of them with retention configured, or
    /// after [`SegmentLog::stats`]).
    pub fn bytes_held(&self) -> u64 {
        let closed: u64 = self.closed.iter().filter_map(|id| self.sizes.get(id)).sum();
        closed + self.active.file_len
    }

    /// Takes off the list the closed segments retention lets go, oldest
    /// first, and returns them: while all segments hold more than
    /// `retain_bytes`, each one below `protect` (the oldest segment a live
    /// tail still has to read, if any); while they hold more than
    /// `max_bytes`, each one whatever a tail needs. The host then removes
    /// their files ([`super::remove_segments`]) and lists again those it
    /// could not remove ([`SegmentLog::relist`]).
    pub fn retention_unlist(&mut self, protect: Option<SegmentId>) -> Vec<SegmentId> {
        if !self.wants_retention() {
            return Vec::new();
        }
        self.retention_due = false;
        let (soft, hard) = (self.config.retain_bytes, self.config.max_bytes);
        let mut held = self.bytes_held();
        let mut out = Vec::new();
        while let Some(&oldest) = self.closed.first() {
            let over_hard = hard.is_some_and(|cap| held > cap);
            let free = protect.is_none_or(|p| oldest < p);
            let over_soft = soft.is_some_and(|cap| held > cap) && free;
            if !over_hard && !over_soft {
                break;
            }
            self.closed.remove(0);
            held -= self.sizes.get(&oldest).copied().unwrap_or(0);
            out.push(oldest);
        }
        self.counts.retained_out += out.len() as u64;
        // Sizes of segments gone by other ways (a checkpoint, a delete).
        let first = out.first().or(self.closed.first()).copied();
        let active = self.active.info.id;
        self.sizes
            .retain(|&id, _| first.is_some_and(|f| id >= f) && id < active);
        out
    }

    /// Removes the files of segments `ids`, taken off the list (by
    /// [`SegmentLog::retention_unlist`] or
    /// [`SegmentLog::checkpoint_unlist`]), durably; lists again those it
    /// could not remove.
    pub fn remove_unlisted(&mut self, ids: &[SegmentId]) -> Result<(), Error> {
        if let Err((e, back)) = super::remove_segments(&mut self.storage, ids) {
            back.iter().for_each(|&id| self.relist(id));
            return Err(e);
        }
        Ok(())
    }
}
