//! Retention by size ([`Config::retain_bytes`], [`Config::max_bytes`]) and
//! by age in record time ([`Config::retain_age`]): which closed segments go
//! after a rotation. The log only takes them off
//! its list; the host removes their files ([`super::remove_segments`]), as
//! for a checkpoint, where it does not hold up writers.
//!
//! [`Config::retain_bytes`]: crate::Config::retain_bytes
//! [`Config::max_bytes`]: crate::Config::max_bytes
//! [`Config::retain_age`]: crate::Config::retain_age

use alloc::vec::Vec;

use super::SegmentLog;
use crate::error::{storage_err, Error};
use crate::format::{FileName, SegmentId};
use crate::storage::{SegmentFile, Storage};

impl<S: Storage> SegmentLog<S> {
    /// Whether retention is configured.
    fn retains(&self) -> bool {
        self.config.retain_bytes.is_some()
            || self.config.max_bytes.is_some()
            || self.config.retain_age.is_some()
    }

    /// The newest record timestamp the log knows of (the active segment's,
    /// and each closed segment's learnt so far): "now" for retention by age.
    fn newest_known(&self) -> Option<i64> {
        self.newest
            .values()
            .flatten()
            .copied()
            .chain(self.active.info.max_timestamp)
            .max()
    }

    /// Whether retention by age lets closed segment `id` go: `None` when
    /// its newest record is not known yet ([`SegmentLog::age_to_learn`]).
    /// A segment that holds no record is old.
    fn too_old(&self, id: SegmentId) -> Option<bool> {
        let age = self.config.retain_age?;
        let newest = *self.newest.get(&id)?;
        let (Some(t), Some(now)) = (newest, self.newest_known()) else {
            return Some(true);
        };
        let age = i64::try_from(age.as_nanos()).unwrap_or(i64::MAX);
        Some(now.saturating_sub(t) > age)
    }

    /// The oldest closed segment whose newest record retention by age has
    /// to know before it can decide (a segment from before the open,
    /// never read): read it ([`super::OpenedSegment::info`], without the
    /// log lock on a threaded host) and tell [`SegmentLog::learn_age`].
    /// `None` when nothing needs learning (no age rule, or the oldest
    /// segments known are young enough to stay).
    pub fn age_to_learn(&self) -> Option<SegmentId> {
        if !self.wants_retention() || self.config.retain_age.is_none() {
            return None;
        }
        for &id in &self.closed {
            match self.too_old(id) {
                None => return Some(id),
                Some(true) => continue,
                Some(false) => return None,
            }
        }
        None
    }

    /// Records the newest record timestamp of closed segment `id` (`None`
    /// when it holds no record), as read for [`SegmentLog::age_to_learn`].
    pub fn learn_age(&mut self, id: SegmentId, newest: Option<i64>) {
        if self.closed.binary_search(&id).is_ok() {
            self.newest.insert(id, newest);
        }
    }

    /// Learns, reading through the log's own storage, every age retention
    /// by age needs (the single-threaded WAL, which has no lock to keep).
    pub fn learn_ages(&mut self) -> Result<(), Error> {
        while let Some(id) = self.age_to_learn() {
            let info = self.open_segment(id)?.info()?;
            self.learn_age(id, info.max_timestamp);
        }
        Ok(())
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
    /// `retain_bytes`, or while the oldest is too old for `retain_age`,
    /// each one below `protect` (the oldest segment a live tail still has
    /// to read, if any); while they hold more than `max_bytes`, each one
    /// whatever a tail needs. An age not learnt yet
    /// ([`SegmentLog::age_to_learn`]) keeps the segment. The host then removes
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
            let old = self.too_old(oldest) == Some(true) && free;
            if !over_hard && !over_soft && !old {
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
        let keep = |id: SegmentId| first.is_some_and(|f| id >= f) && id < active;
        self.sizes.retain(|&id, _| keep(id));
        self.newest.retain(|&id, _| keep(id));
        out
    }

    /// Removes the files of segments `ids`, taken off the list (by
    /// [`SegmentLog::retention_unlist`] or
    /// [`SegmentLog::checkpoint_unlist`]), durably, or keeps them as free
    /// files for recycling while the pool has room; lists again those it
    /// could not remove.
    pub fn remove_unlisted(&mut self, ids: &[SegmentId]) -> Result<(), Error> {
        let room = self.recycle_room();
        match super::retire_segments(&mut self.storage, ids, room) {
            Ok(freed) => {
                self.add_free(&freed);
                Ok(())
            }
            Err((e, back, freed)) => {
                self.add_free(&freed);
                back.iter().for_each(|&id| self.relist(id));
                Err(e)
            }
        }
    }
}
