//! The behavioural suite: every test is written once, generic over a
//! [`Backend`] (a directory of segment files and a way to open a storage on
//! it), and instantiated per backend with [`behavioural_suite!`]: in memory,
//! on real files, and under wasmtime.
#![allow(dead_code)]

mod errors;
mod flush;
#[path = "../front/mod.rs"]
mod front;
mod lost_writes;
mod recovery;
mod segments;
mod vectors;

pub use errors::*;
pub use flush::*;
pub use front::Front;
pub use lost_writes::*;
pub use recovery::*;
pub use segments::*;
pub use vectors::*;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wal_core::{Config, Error, Position, SegmentId, Storage};

/// A WAL directory under test.
pub trait Backend: Sized {
    /// The storage the WAL runs on.
    type S: Storage;
    /// A new, empty directory.
    fn fresh() -> Self;
    /// A storage handle on the directory (a new one for every open).
    fn storage(&self) -> Self::S;
    /// The bytes of file `name`, if it exists.
    fn read_file(&self, name: &str) -> Option<Vec<u8>>;
    /// Replaces (or creates) file `name` with `bytes`, as damage from outside.
    fn write_file(&self, name: &str, bytes: &[u8]);
    /// Every file name in the directory, sorted.
    fn names(&self) -> Vec<String>;
}

/// One record as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub series_id: u64,
    pub timestamp: i64,
    pub value: Vec<u8>,
}

fn rec(series_id: u64, timestamp: i64, value: &[u8]) -> Rec {
    Rec {
        series_id,
        timestamp,
        value: value.to_vec(),
    }
}

/// A deterministic workload of `n` records over `series` series.
pub fn workload(n: usize, series: u64, seed: u64) -> Vec<Rec> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 200) as usize;
            let value: Vec<u8> = (0..len).map(|j| b"abcdefghij"[(j + i) % 10]).collect();
            rec(x % series, 1_700_000_000_000_000_000 + i as i64, &value)
        })
        .collect()
}

fn raw(cfg: Config) -> Config {
    cfg.with_compression(false)
}

fn t0() -> Duration {
    Duration::ZERO
}

/// Every record of segment `id`, in read order.
pub fn read_records<W: Front>(wal: &mut W, id: SegmentId) -> Vec<Rec> {
    let mut out = vec![];
    for entry in wal.read(id).unwrap() {
        let entry = entry.unwrap();
        for (ts, v) in entry.timestamps.iter().zip(&entry.values) {
            out.push(rec(entry.series_id, *ts, v));
        }
    }
    out
}

/// Every record of every segment, in read order.
pub fn read_all<W: Front>(wal: &mut W) -> Vec<Rec> {
    wal.segments()
        .into_iter()
        .flat_map(|id| read_records(wal, id))
        .collect()
}

/// The records per series, in order: what a reader must preserve.
pub fn by_series(recs: &[Rec]) -> BTreeMap<u64, Vec<(i64, Vec<u8>)>> {
    let mut m: BTreeMap<u64, Vec<(i64, Vec<u8>)>> = BTreeMap::new();
    for r in recs {
        m.entry(r.series_id)
            .or_default()
            .push((r.timestamp, r.value.clone()));
    }
    m
}

/// The order in which one frame's records come back: grouped by series in
/// first-arrival order, write order inside a series.
pub fn frame_order(recs: &[Rec]) -> Vec<Rec> {
    let mut order: Vec<u64> = vec![];
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

fn write_all<W: Front>(wal: &mut W, recs: &[Rec]) {
    for r in recs {
        wal.write(r.series_id, r.timestamp, &r.value, t0()).unwrap();
    }
}

/// A completion counter: how many completions fired, and their errors.
#[derive(Clone, Default)]
pub struct Acks {
    pub ok: Arc<AtomicUsize>,
    pub errors: Arc<Mutex<Vec<Error>>>,
}

impl Acks {
    pub fn callback(&self) -> impl FnOnce(Result<Position, Error>) + Send + 'static {
        let me = self.clone();
        move |r| match r {
            Ok(_) => {
                me.ok.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) => me.errors.lock().unwrap().push(e),
        }
    }
    pub fn ok(&self) -> usize {
        self.ok.load(Ordering::SeqCst)
    }
    pub fn errors(&self) -> Vec<Error> {
        self.errors.lock().unwrap().clone()
    }
}

/// Instantiates every test of the suite for a backend type: once on the
/// single-threaded core WAL (module `single`) and, natively, once on the
/// thread-safe WAL (module `threaded`). Four tests watch the moment a
/// frame is written (a full buffer, `poll(now)`, `next_deadline`) or zeros
/// are reserved, which the core WAL does inside the call and the
/// thread-safe WAL's flusher and syncer do on their own time: they run on
/// the core WAL only (tests/threads.rs and tests/threads_admin.rs cover the
/// threads).
#[macro_export]
macro_rules! behavioural_suite {
    ($backend:ty) => {
        mod single {
            use super::*;
            type W = wal_core::Wal<<$backend as suite::Backend>::S>;
            $crate::behavioural_suite!(@tests $backend, W; common);
            $crate::behavioural_suite!(@core_only $backend;
                flushes_when_the_buffer_is_full,
                flushes_when_the_interval_passes,
                no_time_flush_when_the_interval_is_off,
                reserved_space_is_used_then_released,
            );
        }
        #[cfg(not(target_os = "wasi"))]
        mod threaded {
            use super::*;
            type W = wal_host_std::Wal<<$backend as suite::Backend>::S>;
            $crate::behavioural_suite!(@tests $backend, W; common);
        }
    };
    (@tests $backend:ty, $w:ty; common) => {
        $crate::behavioural_suite!(@each $backend, $w;
            vector_one_frame_raw_is_reproduced_byte_for_byte,
            vector_rotate_raw_is_reproduced_byte_for_byte,
            vectors_are_read_back_exactly,
            records_group_by_series_in_first_arrival_order,
            flushes_on_demand_and_completes_each_record_exactly_once,
            rotate_returns_the_closed_segment,
            rotates_when_file_size_would_be_passed,
            a_frame_larger_than_file_size_gets_its_own_segment,
            read_streams_closed_and_active_segments,
            delete_removes_closed_segments_only,
            reopen_after_close_keeps_everything,
            reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside,
            strict_recovery_refuses_a_torn_tail,
            damage_in_the_middle_of_the_newest_segment_refuses_to_open_and_salvage_keeps_every_valid_frame,
            a_damaged_header_in_front_of_frames_refuses_to_open_and_salvage_keeps_them,
            valid_frames_after_a_lost_sector_are_a_torn_tail,
            damage_no_power_cut_explains_in_front_of_valid_frames_is_refused,
            a_torn_tail_is_cut_and_its_sidecar_never_overwritten,
            a_segment_never_written_is_started_over_even_in_strict_mode,
            a_torn_segment_header_is_set_aside_and_recreated,
            a_whole_foreign_header_on_the_newest_segment_is_refused_not_repaired,
            the_same_writes_give_the_same_bytes,
            a_value_over_65535_bytes_is_refused_and_nothing_is_buffered,
            a_write_after_close_is_an_error,
            invalid_config_is_refused_at_open_naming_the_field,
            sync_never_still_completes_and_reopens,
        );
    };
    (@each $backend:ty, $w:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                suite::$name::<$backend, $w>()
            }
        )*
    };
    (@core_only $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                suite::$name::<$backend>()
            }
        )*
    };
}
