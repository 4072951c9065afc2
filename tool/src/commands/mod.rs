//! The subcommands, one file each: [`append`], [`repair`] and
//! [`checkpoint`] write (as the writer, taking the lock), and [`dump`],
//! [`verify`], [`stats`] and [`tail`] read, through what they share here: a
//! directory opened read-only ([`ReadDir`]) and how a segment's ending is
//! reported ([`describe`], [`report`]).

pub(crate) mod append;
pub(crate) mod checkpoint;
pub(crate) mod dump;
pub(crate) mod repair;
pub(crate) mod stats;
pub(crate) mod tail;
pub(crate) mod verify;

use std::io::Write;

use wal_core::scan::{self, Ending};
use wal_core::storage::segment_ids;
use wal_core::{EntryRef, Error, SegmentInfo};
use wal_core::{FileName, SegmentId};
use wal_core::{SegmentFile, Storage};

use crate::exit::{EXIT_ERROR, EXIT_TORN};
use crate::host::Host;
use crate::progress::Progress;

/// A WAL directory opened read-only, with its segments, and progress over
/// the segments a command goes through.
pub(crate) struct ReadDir<S> {
    storage: S,
    /// Segment IDs, ascending.
    pub(crate) ids: Vec<SegmentId>,
    /// Progress over the segments' bytes (hidden unless
    /// [`ReadDir::show_progress`] was called on a terminal).
    pub(crate) progress: Progress,
    /// What the command is doing, for the progress message ("verifying").
    verb: &'static str,
    /// Segments the command goes through, and bytes of those inspected so far.
    segments: usize,
    inspected: usize,
    done: u64,
}

impl<S: Storage> ReadDir<S> {
    /// Opens `dir` read-only through `host` and lists its segments.
    pub(crate) fn open<H: Host<Storage = S>>(host: &H, dir: &str) -> Result<Self, String> {
        let mut storage = host.read_only(dir)?;
        let ids = segment_ids(&mut storage).map_err(|e| format!("cannot list {dir}: {e}"))?;
        Ok(ReadDir {
            storage,
            ids,
            progress: Progress::hidden(),
            verb: "",
            segments: 0,
            inspected: 0,
            done: 0,
        })
    }

    /// When `on` (stderr is a terminal), shows a bar over the bytes of the
    /// `selected` segments, which the command will inspect in order.
    pub(crate) fn show_progress(&mut self, on: bool, verb: &'static str, selected: &[SegmentId]) {
        if !on {
            return;
        }
        let total = selected.iter().map(|&id| self.len(id)).sum();
        self.progress = Progress::over_bytes(true, total);
        self.verb = verb;
        self.segments = selected.len();
    }

    /// Segment `id`'s length in bytes, for progress (0 if it cannot be had:
    /// inspecting it will say why).
    pub(crate) fn len(&mut self, id: SegmentId) -> u64 {
        self.storage
            .open(FileName::Segment(id))
            .ok()
            .and_then(|mut f| f.len().ok())
            .unwrap_or(0)
    }

    /// Inspects segment `id` (see [`scan::inspect`]), calling `visit` for
    /// each entry; the newest segment's trailing damage counts as a torn
    /// tail.
    pub(crate) fn inspect(
        &mut self,
        id: SegmentId,
        mut visit: impl FnMut(&scan::Frame<'_>, EntryRef<'_>),
    ) -> Result<(SegmentInfo, Ending), String> {
        let mut file = self
            .storage
            .open(FileName::Segment(id))
            .map_err(|e| format!("cannot open {}: {e}", FileName::Segment(id)))?;
        let newest = self.ids.last() == Some(&id);
        if !self.progress.is_shown() {
            return scan::inspect(id, file, newest, visit).map_err(|e| e.to_string());
        }
        let len = file.len().unwrap_or(0);
        let (base, i, n, verb) = (self.done, self.inspected, self.segments, self.verb);
        self.progress
            .message(|| format!("{verb} segment {}/{n}", i + 1));
        let progress = &self.progress;
        let mut frame = None;
        let result = scan::inspect(id, file, newest, |f, e| {
            // Once per frame, not per entry.
            if frame != Some(f.offset) {
                frame = Some(f.offset);
                progress.position(base + f.end());
            }
            visit(f, e)
        });
        self.inspected += 1;
        self.done += len;
        self.progress.position(self.done);
        result.map_err(|e| e.to_string())
    }
}

/// What a segment's ending means for the exit code, and the message that
/// says so; `None` for a clean ending.
pub(crate) fn describe(id: SegmentId, ending: &Ending) -> Option<(i32, String)> {
    match ending {
        Ending::Clean => None,
        Ending::TornTail { offset, bytes, reason, .. } => Some((
            EXIT_TORN,
            format!(
                "{}: torn tail at byte offset {offset} ({bytes} bytes): {reason}; not repaired (opening the WAL sets it aside)",
                FileName::Segment(id)
            ),
        )),
        Ending::Damaged {
            offset,
            reason,
            frames_after,
            records_after,
        } => Some((
            EXIT_ERROR,
            Error::Damaged {
                segment: id,
                offset: *offset,
                reason: reason.clone(),
                frames_after: *frames_after,
                records_after: *records_after,
            }
            .to_string(),
        )),
        Ending::Corrupt { offset, reason } => Some((
            EXIT_ERROR,
            Error::Corrupt { segment: id, offset: *offset, reason: reason.clone() }.to_string(),
        )),
    }
}

/// Prints a [`describe`]d ending on stderr, as an error (corruption) or a
/// warning (a torn tail).
pub(crate) fn report(stderr: &mut dyn Write, progress: &Progress, code: i32, msg: &str) {
    let level = if code == EXIT_ERROR {
        "error"
    } else {
        "warning"
    };
    progress.on_stderr(|| {
        let _ = writeln!(stderr, "{level}: {msg}");
    });
}
