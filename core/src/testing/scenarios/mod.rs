//! The core's behavioural scenarios, written once over any [`Storage`]:
//! write, grouping by series, flush by size, by time and on demand, rotate,
//! read, delete, reopen, reserved space, the cut of a torn tail, and the
//! life cycle (positions, replay, durable-only reads, checkpoints).
//!
//! They are plain functions returning `Result<(), String>` (no panics, no
//! std), so the same code runs in a host's `cargo test` (the root package's
//! `tests/scenarios.rs`, over `MemStorage` and files), in the flash
//! storage's tests, and on a microcontroller (`targets/cortex-m`, under
//! QEMU) where a failed assertion must be reported, not unwound. Behind the
//! non-default `scenarios` feature.
//!
//! A scenario gets a [`Medium`]: a way to make an empty storage and to open
//! the storage again on what the last one left, as after a restart. Every
//! scenario uses [`base`], a configuration without compression (a
//! microcontroller build has no snappy) whose segments stay small: a medium
//! must hold [`MAX_FILES`] files of up to [`MAX_FILE_BYTES`] bytes each.
//!
//! ```
//! # #[cfg(feature = "mem")] {
//! use wal_core::testing::{scenarios, MemStorage};
//!
//! struct Mem(MemStorage);
//! impl scenarios::Medium for Mem {
//!     type S = MemStorage;
//!     fn fresh(&mut self) -> MemStorage {
//!         self.0 = MemStorage::new();
//!         self.0.clone()
//!     }
//!     fn reopen(&mut self) -> MemStorage {
//!         self.0 = self.0.crash(); // only what was made durable
//!         self.0.clone()
//!     }
//! }
//! let summary = scenarios::run_all(&mut Mem(MemStorage::new()), |_, _| {});
//! assert_eq!(summary.failed, 0);
//! # }
//! ```

mod lifecycle;
mod reopen;
mod segments;
mod write;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Debug;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use embedded_io::{Read, Seek, SeekFrom};

use crate::config::Config;
use crate::error::Error;
use crate::format::{FileName, SegmentId};
use crate::position::Position;
use crate::storage::{SegmentFile, Storage};
use crate::wal::Wal;

/// What a scenario runs on.
pub trait Medium {
    /// The storage.
    type S: Storage;
    /// An empty storage: whatever an earlier one held is gone.
    fn fresh(&mut self) -> Self::S;
    /// A storage on what the last one left, as after a restart (or a power
    /// cut: only what was synced has to be there). A scenario calls it only
    /// once the WAL and every file of the previous storage are dropped.
    fn reopen(&mut self) -> Self::S;
}

/// A scenario's outcome: `Err` names the line that failed and why.
pub type Outcome = Result<(), String>;

/// One scenario.
pub struct Scenario<M> {
    /// Its name (a sentence in snake case, as a test name).
    pub name: &'static str,
    /// Runs it.
    pub run: fn(&mut M) -> Outcome,
}

/// Files a scenario keeps at once, at most (segments and sidecars).
pub const MAX_FILES: usize = 24;
/// Bytes a scenario's file reaches, at most.
pub const MAX_FILE_BYTES: u64 = 24 * 1024;

/// The configuration every scenario starts from: no compression, buffers
/// of 4 KiB, segments of at most 16 KiB, no reserve
/// (`reserved_space_is_used_then_released` turns it on), the default flush
/// interval and sync policy.
pub fn base() -> Config {
    Config::default()
        .with_compression(false)
        .with_buffer_size(4096)
        .with_file_size(16 * 1024)
        .with_reserve(0)
}

/// Every scenario, in the order [`run_all`] runs them.
pub fn all<M: Medium>() -> Vec<Scenario<M>> {
    macro_rules! list {
        ($($module:ident::$name:ident),* $(,)?) => {
            alloc::vec![$(Scenario { name: stringify!($name), run: $module::$name::<M> }),*]
        };
    }
    list![
        write::flushes_on_demand_and_completes_each_record_exactly_once,
        write::records_group_by_series_in_first_arrival_order,
        write::flushes_when_the_buffer_is_full,
        write::flushes_when_the_interval_passes,
        write::a_value_over_65535_bytes_is_refused_and_nothing_is_buffered,
        segments::rotate_returns_the_closed_segment,
        segments::rotates_when_file_size_would_be_passed,
        segments::a_frame_larger_than_file_size_gets_its_own_segment,
        segments::read_streams_closed_and_active_segments,
        segments::delete_removes_closed_segments_only,
        reopen::reopen_after_close_keeps_everything,
        reopen::reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside,
        reopen::a_torn_tail_cut_in_the_middle_of_a_frame_is_set_aside,
        reopen::reserved_space_is_used_then_released,
        reopen::sync_never_still_completes_and_reopens,
        lifecycle::completions_give_positions_and_replay_resumes_from_any_of_them,
        lifecycle::readers_see_only_durable_frames,
        lifecycle::replay_and_checkpoint_refuse_positions_they_cannot_use,
        lifecycle::checkpoint_deletes_closed_segments_wholly_before_it,
        lifecycle::retention_by_size_bounds_the_log_and_reports_what_it_removed,
        lifecycle::retention_by_age_keeps_the_newest_record_time_and_learns_old_segments_at_reopen,
        lifecycle::recycled_segments_reuse_checkpointed_files_and_read_back_only_their_own_records,
    ]
}

/// What [`run_all`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// The failures: scenario name and why.
    pub failures: Vec<(&'static str, String)>,
}

/// Runs every scenario on `medium`, calling `each` with each one's name
/// and outcome as it finishes.
pub fn run_all<M: Medium>(medium: &mut M, mut each: impl FnMut(&str, &Outcome)) -> Summary {
    let mut summary = Summary::default();
    for s in all::<M>() {
        let outcome = (s.run)(medium);
        each(s.name, &outcome);
        match outcome {
            Ok(()) => summary.passed += 1,
            Err(why) => {
                summary.failed += 1;
                summary.failures.push((s.name, why));
            }
        }
    }
    summary
}

/// Fails the scenario with the line and a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(alloc::format!("line {}: {}", line!(), alloc::format!($($msg)+)));
        }
    };
}
/// Fails the scenario unless the two values are equal, showing both.
macro_rules! ensure_eq {
    ($a:expr, $b:expr $(, $($msg:tt)+)?) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    #[allow(unused_mut)]
                    let mut why = alloc::format!(
                        "line {}: {} != {}: {:?} != {:?}",
                        line!(), stringify!($a), stringify!($b), a, b
                    );
                    $(why.push_str(&alloc::format!(" ({})", alloc::format!($($msg)+)));)?
                    return Err(why);
                }
            }
        }
    };
}
use {ensure, ensure_eq};

/// A `Result`'s error as the scenario's failure, naming the caller's line.
trait Check<T> {
    /// `Ok` as is; `Err` as "line N: what: the error".
    fn check(self, what: &str) -> Result<T, String>;
}

impl<T, E: Debug> Check<T> for Result<T, E> {
    #[track_caller]
    fn check(self, what: &str) -> Result<T, String> {
        let line = core::panic::Location::caller().line();
        self.map_err(|e| format!("line {line}: {what}: {e:?}"))
    }
}

/// One record as written.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    series_id: u64,
    timestamp: i64,
    value: Vec<u8>,
}

fn rec(series_id: u64, timestamp: i64, value: &[u8]) -> Rec {
    Rec {
        series_id,
        timestamp,
        value: value.to_vec(),
    }
}

/// A deterministic workload of `n` records over `series` series, values of
/// up to 99 bytes.
fn workload(n: usize, series: u64, seed: u64) -> Vec<Rec> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 100) as usize;
            let value: Vec<u8> = (0..len).map(|j| b"abcdefghij"[(j + i) % 10]).collect();
            rec(x % series, 1_700_000_000_000_000_000 + i as i64, &value)
        })
        .collect()
}

const T0: Duration = Duration::ZERO;

fn write_all<S: Storage>(wal: &mut Wal<S>, recs: &[Rec]) -> Outcome {
    for r in recs {
        wal.write(r.series_id, r.timestamp, &r.value, T0)
            .check("write")?;
    }
    Ok(())
}

/// Every record of segment `id`, in read order.
fn read_records<S: Storage>(wal: &mut Wal<S>, id: SegmentId) -> Result<Vec<Rec>, String> {
    let mut out = Vec::new();
    for entry in wal.read(id).check("read")? {
        let entry = entry.check("read an entry")?;
        for (ts, v) in entry.timestamps.iter().zip(&entry.values) {
            out.push(rec(entry.series_id, *ts, v));
        }
    }
    Ok(out)
}

/// Every record of every segment, in read order.
fn read_all<S: Storage>(wal: &mut Wal<S>) -> Result<Vec<Rec>, String> {
    let mut out = Vec::new();
    for id in wal.segments() {
        out.extend(read_records(wal, id)?);
    }
    Ok(out)
}

/// The records per series, in order: what a reader must preserve.
fn by_series(recs: &[Rec]) -> BTreeMap<u64, Vec<(i64, Vec<u8>)>> {
    let mut m: BTreeMap<u64, Vec<(i64, Vec<u8>)>> = BTreeMap::new();
    for r in recs {
        m.entry(r.series_id)
            .or_default()
            .push((r.timestamp, r.value.clone()));
    }
    m
}

/// One frame's records in the order they come back: grouped by series in
/// first-arrival order, write order inside a series.
fn frame_order(recs: &[Rec]) -> Vec<Rec> {
    let mut order: Vec<u64> = Vec::new();
    for r in recs {
        if !order.contains(&r.series_id) {
            order.push(r.series_id);
        }
    }
    order
        .iter()
        .flat_map(|s| recs.iter().filter(move |r| r.series_id == *s).cloned())
        .collect()
}

/// A completion counter (no locks: it runs on bare metal).
#[derive(Clone, Default)]
struct Acks {
    ok: Arc<AtomicUsize>,
    errors: Arc<AtomicUsize>,
}

impl Acks {
    fn callback(&self) -> impl FnOnce(Result<Position, Error>) + Send + 'static {
        let me = self.clone();
        move |r| {
            let counter = if r.is_ok() { &me.ok } else { &me.errors };
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn ok(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }
    fn errors(&self) -> usize {
        self.errors.load(Ordering::SeqCst)
    }
}

/// The bytes of file `name`, through the storage.
fn file_bytes<S: Storage>(storage: &mut S, name: FileName) -> Result<Vec<u8>, String> {
    let mut file = storage.open(name).check("open")?;
    let len = file.len().check("len")?;
    file.seek(SeekFrom::Start(0)).check("seek")?;
    let mut bytes = alloc::vec![0u8; len as usize];
    file.read_exact(&mut bytes)
        .map_err(|e| format!("read {name}: {e:?}"))?;
    Ok(bytes)
}

/// The length of file `name`, through the storage.
fn file_len<S: Storage>(storage: &mut S, name: FileName) -> Result<u64, String> {
    storage.open(name).check("open")?.len().check("len")
}
