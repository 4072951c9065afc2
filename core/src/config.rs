//! WAL configuration, checked at open.

use alloc::format;
use core::time::Duration;

use crate::error::Error;
use crate::format::{entry, frame, header, MAX_VALUE_LEN};

/// When appended frames are made durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every frame is synced before any of its records is completed (a
    /// host that syncs on a second thread may cover several frames with one
    /// sync): a completion that says `Ok` means the record survives a power
    /// loss.
    #[default]
    Always,
    /// Never sync on the write path (only at rotation and close): a
    /// completion that says `Ok` means the record reached the storage (the
    /// OS page cache, for files), which survives a process crash but not a
    /// power loss.
    Never,
}

/// What open does when the newest segment does not end cleanly (FORMAT.md,
/// "Validity and recovery"). Whatever the mode, open never cuts a byte that
/// a valid frame follows, and says in its report what it set aside.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryMode {
    /// Cut only a provable torn write: non-zero bytes after the last valid
    /// frame in which no valid frame can be found (or a torn header with
    /// nothing valid after it), or in which every valid frame follows a
    /// sector of zeros that a power cut lost (so was written after the last
    /// sync, never acknowledged; the report counts them). They are copied
    /// to a sidecar first. Other damage followed by valid frames refuses to
    /// open with [`Error::Damaged`], changing nothing. (RocksDB's
    /// `kTolerateCorruptedTailRecords`.)
    #[default]
    TolerateTornTail,
    /// Refuse any torn tail as well ([`Error::Corrupt`]); only a segment
    /// that was never written (a crash in the middle of a rotation leaves it
    /// empty, or holding part of its header) is started over. (RocksDB's
    /// `kAbsoluteConsistency`.)
    Strict,
    /// Keep every valid frame: the bytes from the damage to the end of the
    /// file go to a sidecar, the valid frames found in them are moved up
    /// behind the last good frame, in order, and the report lists the byte
    /// ranges lost. (RocksDB's `kSkipAnyCorruptedRecords`, but nothing is
    /// skipped silently.)
    Salvage,
}

/// The WAL's settings. Field names follow BanyanDB's (`wal_compression`,
/// `wal_file_size`, `wal_buffer_size`) without the prefix.
///
/// Start from [`Config::default`] and change what you need with the
/// `with_*` setters; the struct is `#[non_exhaustive]`, so new settings
/// can be added without breaking callers.
///
/// ```
/// use wal_core::{Config, SyncPolicy};
/// let config = Config::default()
///     .with_buffer_size(1 << 20)
///     .with_sync(SyncPolicy::Never);
/// assert_eq!(config.buffer_size, 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Compress frames with snappy (stored raw when that does not shrink them).
    pub compression: bool,
    /// A segment rotates before a frame would take it past this many bytes.
    /// A single frame larger than this gets a segment of its own.
    pub file_size: u64,
    /// The buffer is flushed as one frame once its encoded entries reach this
    /// many bytes.
    pub buffer_size: usize,
    /// The buffer is flushed once its oldest record has waited this long;
    /// `None` turns time-based flushing off.
    pub flush_interval: Option<Duration>,
    /// When frames are synced.
    pub sync: SyncPolicy,
    /// What open does when the newest segment does not end cleanly.
    pub recovery: RecoveryMode,
    /// Bytes of zeros written ahead of the log in the active segment, so
    /// that each frame's sync overwrites allocated space instead of growing
    /// the file: on ext4 that is the difference between about 5,000 and
    /// 7,900 small syncs per second. Written off the write path, once the
    /// log is within half of this of the end of what is reserved (by the
    /// thread-safe WAL's syncer thread after a sync; by the single-threaded
    /// WAL after a flush's completions), and synced by the log's next sync,
    /// never on its own. Released (cut) when the segment closes, so closed
    /// segments end with their last frame. Never reserves past
    /// `file_size`. Used only after frames of at most `reserve / 32` bytes
    /// (32 KiB by default): larger frames append at the disk's streaming
    /// rate anyway. Not used under [`SyncPolicy::Never`] (no sync on the
    /// write path to speed up). 0 turns it off.
    pub reserve: u64,
    /// Retention by size: after each rotation, the oldest closed segments
    /// are deleted while all segments together hold more than this many
    /// bytes, except one a live tail of the thread-safe WAL still has to
    /// read. `None` (the default): segments go only by `checkpoint` or
    /// `delete`.
    pub retain_bytes: Option<u64>,
    /// A hard cap on the bytes all segments hold: after each rotation the
    /// oldest closed segments are deleted until they fit, even one a live
    /// tail still has to read (that tail then gets [`Error::Lagged`]). So
    /// the log never holds more than this plus the active segment's
    /// growth (at most `file_size`). `None` (the default): no cap.
    pub max_bytes: Option<u64>,
    /// Retention by age, in record time: after each rotation, the oldest
    /// closed segments are deleted while the newest record each holds is
    /// older than the newest record of the log by more than this (the
    /// timestamps written, nanoseconds since the Unix epoch; not the wall
    /// clock, which the core does not have: a log nobody writes to keeps
    /// what it holds). Like `retain_bytes`, it keeps a segment a live tail
    /// still has to read. A closed segment from before the open is read
    /// once to learn its newest record (off the log lock on the thread-safe
    /// WAL). `None` (the default): no age rule.
    pub retain_age: Option<Duration>,
    /// Recycled segments: up to this many files of segments that a
    /// checkpoint or retention deleted are kept (as `free{ID}.wal`) and
    /// reused as new segments at rotation (renamed, header rewritten; the
    /// stale frames are invalid under the new ID: FORMAT.md, "Recycled
    /// segments"), so the writes of a steady checkpointing log overwrite
    /// allocated blocks instead of growing files. A frame in a recycled
    /// segment is synced before the next is written (at most one frame in
    /// flight, which recovery relies on). Needs [`SyncPolicy::Always`], a
    /// recovery mode other than [`RecoveryMode::Strict`] (the stale bytes
    /// after a crash cannot be told from a torn write) and a storage that
    /// renames (not flash). 0 (the default): deleted segments' files are
    /// removed.
    pub recycle: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            compression: true,
            file_size: 64 * 1024 * 1024,
            buffer_size: 16 * 1024,
            flush_interval: Some(Duration::from_millis(10)),
            sync: SyncPolicy::Always,
            recovery: RecoveryMode::TolerateTornTail,
            reserve: 1024 * 1024,
            retain_bytes: None,
            max_bytes: None,
            retain_age: None,
            recycle: 0,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $field:ident: $ty:ty;)*) => {
        impl Config {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets [`Config::compression`].
    with_compression: compression: bool;
    /// Sets [`Config::file_size`].
    with_file_size: file_size: u64;
    /// Sets [`Config::buffer_size`].
    with_buffer_size: buffer_size: usize;
    /// Sets [`Config::flush_interval`].
    with_flush_interval: flush_interval: Option<Duration>;
    /// Sets [`Config::sync`].
    with_sync: sync: SyncPolicy;
    /// Sets [`Config::recovery`].
    with_recovery: recovery: RecoveryMode;
    /// Sets [`Config::reserve`].
    with_reserve: reserve: u64;
    /// Sets [`Config::retain_bytes`].
    with_retain_bytes: retain_bytes: Option<u64>;
    /// Sets [`Config::max_bytes`].
    with_max_bytes: max_bytes: Option<u64>;
    /// Sets [`Config::retain_age`].
    with_retain_age: retain_age: Option<Duration>;
    /// Sets [`Config::recycle`].
    with_recycle: recycle: usize;
}

/// The smallest `buffer_size` accepted.
pub const MIN_BUFFER_SIZE: usize = 64;
/// The largest `buffer_size` accepted (1 GiB).
pub const MAX_BUFFER_SIZE: usize = 1 << 30;

impl Config {
    /// The longest frame payload this configuration reads as valid: a
    /// segment's worth (`file_size`), or one buffer overshot by one record
    /// when that is more. A longer frame is corruption, never an
    /// allocation.
    pub fn max_frame_len(&self) -> u64 {
        let one_buffer =
            (self.buffer_size + entry::ENTRY_OVERHEAD + entry::RECORD_OVERHEAD + MAX_VALUE_LEN)
                as u64;
        self.file_size.max(one_buffer).min(frame::MAX_PAYLOAD_LEN)
    }

    /// The longest frame this configuration writes, header included: one
    /// buffer overshot by one record. After a crash in a recycled segment
    /// at most this much after the log's end can be a torn write.
    pub fn max_written_frame(&self) -> u64 {
        (frame::HEADER_LEN
            + self.buffer_size
            + entry::ENTRY_OVERHEAD
            + entry::RECORD_OVERHEAD
            + MAX_VALUE_LEN) as u64
    }

    /// Checks every field; the error names the first field refused and why.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, reason| Err(Error::InvalidConfig { field, reason });
        if self.buffer_size < MIN_BUFFER_SIZE || self.buffer_size > MAX_BUFFER_SIZE {
            return bad(
                "buffer_size",
                format!(
                    "{} bytes is outside the accepted range {MIN_BUFFER_SIZE}..={MAX_BUFFER_SIZE}",
                    self.buffer_size
                ),
            );
        }
        let min_file = (header::LEN + frame::HEADER_LEN + self.buffer_size) as u64;
        if self.file_size < min_file {
            return bad(
                "file_size",
                format!(
                    "{} bytes cannot hold one full buffer (buffer_size {} + {} bytes of headers = {min_file})",
                    self.file_size,
                    self.buffer_size,
                    header::LEN + frame::HEADER_LEN
                ),
            );
        }
        if self.flush_interval == Some(Duration::ZERO) {
            return bad(
                "flush_interval",
                "zero would flush on every write; use None to turn time-based flushing off".into(),
            );
        }
        for (field, cap) in [
            ("retain_bytes", self.retain_bytes),
            ("max_bytes", self.max_bytes),
        ] {
            if cap.is_some_and(|c| c < self.file_size) {
                return bad(
                    field,
                    format!(
                        "{} bytes is less than one segment (file_size {}): the active segment alone can hold more",
                        cap.unwrap_or(0),
                        self.file_size
                    ),
                );
            }
        }
        if self.retain_age == Some(Duration::ZERO) {
            return bad(
                "retain_age",
                "zero would delete every closed segment at each rotation; use checkpoint for that, or None".into(),
            );
        }
        if self.recycle > 0 && self.sync != SyncPolicy::Always {
            return bad(
                "recycle",
                "needs SyncPolicy::Always: recovery of a recycled segment counts on each frame being synced before the next".into(),
            );
        }
        if self.recycle > 0 && self.recovery == RecoveryMode::Strict {
            return bad(
                "recycle",
                "cannot be used with RecoveryMode::Strict: after a crash, the stale bytes after a recycled segment's log cannot be told from a torn write".into(),
            );
        }
        if self.compression && !crate::compress::Compressor::snappy_available() {
            return bad(
                "compression",
                "this build has no snappy support (the `snappy` feature is off)".into(),
            );
        }
        Ok(())
    }
}
