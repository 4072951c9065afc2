//! One file's bytes: what has been written, and what its last sync made
//! durable.

use alloc::vec::Vec;

/// A file: its current bytes, and what its last sync left durable, kept as
/// the length at that sync plus the synced bytes changed since (so that
/// appending and syncing, the log's usual pattern, copies nothing extra).
#[derive(Clone, Debug)]
pub(super) struct FileData {
    /// The current bytes.
    pub(super) data: Vec<u8>,
    /// The file's length at the last sync.
    durable_len: usize,
    /// Synced bytes overwritten or truncated away since the last sync, as
    /// (offset, the bytes as they were), in the order they were saved.
    /// Where two overlap, the earlier one holds the synced bytes.
    undo: Vec<(usize, Vec<u8>)>,
    /// Lowest offset changed since the last sync (`usize::MAX` when clean).
    dirty_from: usize,
}

impl FileData {
    /// A file holding `bytes`, all durable.
    pub(super) fn synced(bytes: Vec<u8>) -> Self {
        FileData {
            durable_len: bytes.len(),
            data: bytes,
            undo: Vec::new(),
            dirty_from: usize::MAX,
        }
    }

    /// The contents as of the last sync.
    pub(super) fn durable(&self) -> Vec<u8> {
        let mut image = self.data[..self.data.len().min(self.durable_len)].to_vec();
        // Bytes past the current end were truncated away: the undo log has
        // them.
        image.resize(self.durable_len, 0);
        for (at, bytes) in self.undo.iter().rev() {
            image[*at..*at + bytes.len()].copy_from_slice(bytes);
        }
        image
    }

    /// The lowest offset changed since the last sync, if any was.
    pub(super) fn dirty_from(&self) -> Option<usize> {
        (self.dirty_from != usize::MAX).then_some(self.dirty_from)
    }

    /// Saves the synced bytes in `start..end` before they change.
    fn save(&mut self, start: usize, end: usize) {
        let end = end.min(self.durable_len).min(self.data.len());
        if start < end {
            self.undo.push((start, self.data[start..end].to_vec()));
        }
    }

    /// Writes `buf` at `start` (a gap of zeros first, when that is past the
    /// end).
    pub(super) fn write(&mut self, start: usize, buf: &[u8]) {
        if self.data.len() < start {
            // A write past the end: the gap of zeros is unsynced too.
            self.dirty_from = self.dirty_from.min(self.data.len());
            self.data.resize(start, 0);
        }
        let end = start + buf.len();
        let overlap = end.min(self.data.len());
        self.save(start, overlap);
        self.data[start..overlap].copy_from_slice(&buf[..overlap - start]);
        self.data.extend_from_slice(&buf[overlap - start..]);
        self.dirty_from = self.dirty_from.min(start);
    }

    /// Cuts the file to `len` bytes (nothing when it is not longer).
    pub(super) fn truncate(&mut self, len: usize) {
        if len < self.data.len() {
            self.save(len, self.data.len());
            self.data.truncate(len);
            self.dirty_from = self.dirty_from.min(len);
        }
    }

    /// Makes the current contents the durable ones.
    pub(super) fn sync(&mut self) {
        self.durable_len = self.data.len();
        self.undo.clear();
        self.dirty_from = usize::MAX;
    }
}
