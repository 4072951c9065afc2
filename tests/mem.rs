//! The behavioural suite on the in-memory backend, plus what only it can
//! show: what is durable when a completion fires, failures injected into
//! writes and syncs, and power cuts.

mod suite;

use std::time::Duration;

use suite::{by_series, read_all, workload, Acks, Backend};
use wal_core::testing::{Fault, MemStorage, Op};
use wal_core::FileName;
use wal_core::{Config, Error, ErrorKind, Position, SyncPolicy, Wal};

struct Mem(MemStorage);

fn key_of(name: &str) -> FileName {
    FileName::parse(name).expect("a segment or sidecar name")
}

impl Backend for Mem {
    type S = MemStorage;
    fn fresh() -> Self {
        Mem(MemStorage::new())
    }
    fn storage(&self) -> MemStorage {
        self.0.clone()
    }
    fn read_file(&self, name: &str) -> Option<Vec<u8>> {
        self.0.contents(key_of(name))
    }
    fn write_file(&self, name: &str, bytes: &[u8]) {
        self.0.put(key_of(name), bytes.to_vec())
    }
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.files().iter().map(FileName::to_string).collect();
        v.sort();
        v
    }
}

behavioural_suite!(Mem);

const T0: Duration = Duration::ZERO;

#[test]
fn a_completion_fires_only_once_its_frame_is_durable() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), Config::default().with_compression(false)).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (s, probe) = (seen.clone(), storage.clone());
    wal.write_with(1, 1, b"must be durable", T0, move |r| {
        let durable = probe.durable_contents(FileName::Segment(1)).unwrap();
        *s.lock().unwrap() = Some((r, durable));
    })
    .unwrap();
    wal.flush().unwrap();
    let (r, durable) = seen.lock().unwrap().take().expect("completion fired");
    assert_eq!(r.map(drop), Ok(()));
    assert!(
        durable.windows(15).any(|w| w == b"must be durable"),
        "synced before the completion"
    );
}

#[test]
fn a_failed_sync_poisons_the_wal_and_fails_every_pending_completion() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), Config::default()).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"ok", T0, acks.callback()).unwrap();
    wal.flush().unwrap();
    for i in 0..10 {
        wal.write_with(i, 2, b"doomed", T0, acks.callback())
            .unwrap();
    }
    storage.fail_syncs(true);
    let err = wal.flush().unwrap_err();
    assert!(
        matches!(&err, Error::Storage(s) if s.op == "sync" && s.segment == Some(1)),
        "{err}"
    );
    assert_eq!(acks.ok(), 1);
    assert_eq!(acks.errors(), vec![err.clone(); 10]);
    // Later calls fail at once, naming the cause; the sync is not retried and reported good.
    storage.fail_syncs(false);
    let later = wal
        .write_with(1, 3, b"later", T0, acks.callback())
        .unwrap_err();
    assert_eq!(
        later,
        Error::Poisoned {
            cause: Box::new(err.clone())
        }
    );
    assert!(
        later.to_string().contains("poisoned") && later.to_string().contains("sync"),
        "{later}"
    );
    assert!(matches!(wal.rotate(), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.flush(), Err(Error::Poisoned { .. })));
    assert!(matches!(wal.close(), Err(Error::Poisoned { .. })));
    assert_eq!(acks.errors().len(), 11);
    // Reopen: recovery decides. The acknowledged record is there.
    let mut wal = Wal::open(storage.crash(), Config::default()).unwrap();
    let all = read_all(&mut wal);
    assert_eq!(all[0].value, b"ok");
    assert!(
        all.len() == 1 || all.len() == 11,
        "the failed frame is whole or absent"
    );
}

#[test]
fn a_torn_write_poisons_and_recovery_cuts_the_half_frame() {
    let storage = MemStorage::new();
    // No reserved space, so the torn frame is the whole tail (the suite's
    // reservation test covers torn frames inside reserved zeros).
    let cfg = Config::default().with_reserve(0);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    let recs = workload(200, 5, 1);
    for r in &recs {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .unwrap();
    }
    wal.flush().unwrap();
    for r in workload(50, 5, 2) {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .unwrap();
    }
    storage.inject(storage.mutating_ops(), Fault::TearWrite(37));
    let err = wal.flush().unwrap_err();
    assert!(
        matches!(&err, Error::Storage(s) if s.op == "write"),
        "{err}"
    );
    assert_eq!((acks.ok(), acks.errors().len()), (200, 50));
    drop(wal);
    // The torn bytes were never synced; a power cut keeps any prefix of them.
    for keep in [0, 10, 37] {
        let crashed = storage.crash_with(|_, n| keep.min(n));
        let mut wal = Wal::open(crashed.clone(), cfg).unwrap();
        assert_eq!(
            wal.recovery().cut.as_ref().map(|c| c.bytes).unwrap_or(0),
            keep as u64
        );
        assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
        wal.write(9, 9, b"more", T0).unwrap();
        wal.close().unwrap();
    }
}

#[test]
fn storage_full_fails_the_batch_with_a_clear_error() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), Config::default().with_compression(false)).unwrap();
    let acks = Acks::default();
    storage.set_capacity(Some(2000));
    for i in 0..40 {
        wal.write_with(1, i, &[1u8; 100], T0, acks.callback())
            .unwrap();
    }
    let err = wal.flush().unwrap_err();
    assert!(err.to_string().contains("storage full"), "{err}");
    assert_eq!(err.kind(), ErrorKind::StorageFull, "{err:?}");
    assert_eq!((acks.ok(), acks.errors().len()), (0, 40));
    // Later calls are refused as poisoned, and still say why.
    let later = wal.write(1, 99, b"x", T0).unwrap_err();
    assert_eq!(later.kind(), ErrorKind::Poisoned);
    assert_eq!(later.cause().kind(), ErrorKind::StorageFull);
    let source = std::error::Error::source(&later).expect("a poisoned error has a source");
    assert_eq!(source.to_string(), err.to_string());
}

#[test]
fn acknowledged_records_survive_a_power_cut() {
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_buffer_size(2048)
        .with_file_size(16 * 1024);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    let recs = workload(1000, 13, 3);
    for r in &recs {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .unwrap();
    }
    let acked = acks.ok();
    assert!(acked > 500 && acked < 1000, "{acked}");
    // Crash with the buffer never flushed: a prefix of the writes survives,
    // holding every acknowledged record. (It can hold more: frames of full
    // buffers written in segments that rotation synced, whose shared sync
    // had not come yet.)
    let crashed = storage.crash();
    std::mem::forget(wal); // the process died: no close on drop
    let mut wal = Wal::open(crashed, cfg).unwrap();
    let got = read_all(&mut wal);
    assert!(got.len() >= acked, "{} < {acked}", got.len());
    assert_eq!(by_series(&got), by_series(&recs[..got.len()]));
}

#[test]
fn sync_never_acknowledges_without_syncing_until_close() {
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_sync(SyncPolicy::Never)
        .with_reserve(0);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"page cache", T0, acks.callback())
        .unwrap();
    wal.flush().unwrap();
    assert_eq!(acks.ok(), 1);
    let durable = storage.durable_contents(FileName::Segment(1)).unwrap();
    assert_eq!(durable.len(), 24, "only the header was synced");
    wal.close().unwrap();
    assert!(
        storage
            .durable_contents(FileName::Segment(1))
            .unwrap()
            .len()
            > 24,
        "close syncs"
    );
}

// ---------------------------------------------------------------- shared syncs

/// Syncs of segment files recorded since `from` (an index into the op log).
fn syncs_since(storage: &MemStorage, from: usize) -> usize {
    storage.op_log()[from..]
        .iter()
        .filter(|op| matches!(op, Op::Sync(FileName::Segment(_))))
        .count()
}

/// 64-byte buffers, so each 100-byte record fills one; a 10 ms interval.
fn shared_sync_config() -> Config {
    Config::default()
        .with_compression(false)
        .with_buffer_size(64)
        .with_flush_interval(Some(Duration::from_millis(10)))
        .with_reserve(0)
}

fn record(i: u64) -> Vec<u8> {
    format!("record {i:>3} ").repeat(8).into_bytes()
}

/// A WAL on memory with [`shared_sync_config`], after `n` full-buffer
/// records (series `0..n`) written at time zero.
fn shared_sync_wal(n: u64) -> (MemStorage, Wal<MemStorage>, Acks) {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), shared_sync_config()).unwrap();
    let acks = Acks::default();
    for i in 0..n {
        wal.write_with(i, 0, &record(i), T0, acks.callback())
            .unwrap();
    }
    (storage, wal, acks)
}

#[test]
fn full_buffers_are_written_at_once_and_share_one_sync_within_the_interval() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), shared_sync_config()).unwrap();
    let from = storage.op_log().len();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for i in 0..3u64 {
        let (o, probe) = (order.clone(), storage.clone());
        let at = Duration::from_millis(i);
        wal.write_with(i, i as i64, &record(i), at, move |r| {
            let durable = probe.durable_contents(FileName::Segment(1)).unwrap();
            let needle = record(i);
            let synced = durable.windows(needle.len()).any(|w| w == needle);
            o.lock().unwrap().push((i, r, synced));
        })
        .unwrap();
    }
    // Three frames written, none synced, nothing completed.
    let written = storage.contents(FileName::Segment(1)).unwrap();
    for i in 0..3 {
        let needle = record(i);
        assert!(
            written.windows(needle.len()).any(|w| w == needle),
            "record {i} written"
        );
    }
    assert_eq!(syncs_since(&storage, from), 0);
    assert!(order.lock().unwrap().is_empty());
    // The oldest arrived at 0 ms: due at 10 ms, not before.
    assert_eq!(wal.next_deadline(), Some(Duration::from_millis(10)));
    wal.poll(Duration::from_millis(9)).unwrap();
    assert!(order.lock().unwrap().is_empty());
    wal.poll(Duration::from_millis(10)).unwrap();
    assert_eq!(syncs_since(&storage, from), 1, "one sync for three frames");
    let done = order.lock().unwrap().clone();
    let seen: Vec<_> = done
        .iter()
        .map(|(i, r, synced)| (*i, r.is_ok(), *synced))
        .collect();
    assert_eq!(
        seen,
        (0..3).map(|i| (i, true, true)).collect::<Vec<_>>(),
        "completed in write order, each after its frame was synced"
    );
    // Each completion gives the end of its own frame; the last ends the log.
    let ends: Vec<Position> = done.into_iter().map(|(_, r, _)| r.unwrap()).collect();
    assert!(ends.windows(2).all(|w| w[0] < w[1]), "{ends:?}");
    assert_eq!(ends.last().copied(), Some(wal.durable().unwrap()));
    assert_eq!(wal.next_deadline(), None);
}

#[test]
fn a_late_write_syncs_the_waiting_frames_without_a_poll() {
    let (_, mut wal, acks) = shared_sync_wal(1);
    assert_eq!(acks.ok(), 0);
    // A small record 10 ms later: the full buffer's frame has waited long
    // enough, so this write flushes both and syncs.
    wal.write_with(2, 2, b"small", Duration::from_millis(10), acks.callback())
        .unwrap();
    assert_eq!(acks.ok(), 2);
}

#[test]
fn a_batch_of_full_buffers_is_synced_without_waiting_for_time() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), shared_sync_config()).unwrap();
    let from = storage.op_log().len();
    let acks = Acks::default();
    let batch = wal_core::SYNC_BATCH_FRAMES as u64;
    for i in 0..batch - 1 {
        wal.write_with(i, 0, &record(i), T0, acks.callback())
            .unwrap();
    }
    assert_eq!((acks.ok(), syncs_since(&storage, from)), (0, 0));
    wal.write_with(batch, 0, &record(batch), T0, acks.callback())
        .unwrap();
    assert_eq!(syncs_since(&storage, from), 1);
    assert_eq!(acks.ok(), batch as usize);
    // And by bytes: frames of 600 KiB buffers, two pass SYNC_BATCH_BYTES.
    let storage = MemStorage::new();
    let cfg = shared_sync_config().with_buffer_size(600 << 10);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    let big = vec![7u8; 60_000];
    let mut n = 0;
    while acks.ok() == 0 {
        wal.write_with(n, 0, &big, T0, acks.callback()).unwrap();
        n += 1;
    }
    let frames = wal.active().frames;
    assert_eq!(frames, 2, "synced once the second frame passed 1 MiB");
    assert_eq!(acks.ok(), n as usize);
}

#[test]
fn flush_rotate_and_close_sync_the_waiting_frames_first() {
    for end in ["flush", "rotate", "close"] {
        let storage = MemStorage::new();
        let mut wal = Wal::open(storage.clone(), shared_sync_config()).unwrap();
        let from = storage.op_log().len();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let values = [record(0), record(1), b"partial".to_vec()];
        for (i, v) in values.iter().enumerate() {
            let o = order.clone();
            wal.write_with(1, i as i64, v, T0, move |r| {
                o.lock().unwrap().push((i, r.map(drop)))
            })
            .unwrap();
        }
        assert!(order.lock().unwrap().is_empty(), "{end}");
        match end {
            "flush" => wal.flush().unwrap(),
            "rotate" => drop(wal.rotate().unwrap()),
            _ => wal.close().unwrap(),
        }
        assert_eq!(
            *order.lock().unwrap(),
            vec![(0, Ok(())), (1, Ok(())), (2, Ok(()))],
            "{end}"
        );
        assert!(syncs_since(&storage, from) >= 1, "{end}");
        let durable = storage.durable_contents(FileName::Segment(1)).unwrap();
        assert!(durable.windows(7).any(|w| w == b"partial"), "{end}");
    }
    // A flush with only written frames waiting syncs them.
    let (_, mut wal, acks) = shared_sync_wal(1);
    assert_eq!(wal.buffered_records(), 0);
    wal.flush().unwrap();
    assert_eq!(acks.ok(), 1);
}

#[test]
fn a_failed_shared_sync_fails_every_waiting_completion_and_poisons() {
    let (storage, mut wal, acks) = shared_sync_wal(4);
    storage.fail_syncs(true);
    let err = wal.poll(Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(&err, Error::Storage(s) if s.op == "sync" && s.segment == Some(1)),
        "{err}"
    );
    assert_eq!(acks.ok(), 0);
    assert_eq!(acks.errors(), vec![err.clone(); 4]);
    assert!(matches!(
        wal.write(9, 9, b"later", Duration::from_millis(11)),
        Err(Error::Poisoned { .. })
    ));
    // A failed write of a full buffer fails the frames waiting before it.
    let (storage, mut wal, acks) = shared_sync_wal(1);
    storage.inject(storage.mutating_ops(), Fault::Fail);
    let err = wal
        .write_with(2, 0, &record(2), T0, acks.callback())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Storage(s) if s.op == "write"),
        "{err}"
    );
    assert_eq!(acks.errors(), vec![err.clone(); 2]);
    assert!(wal.close().is_err());
    assert_eq!(acks.errors().len(), 2, "nothing completed twice");
}

#[test]
fn a_power_cut_before_the_shared_sync_keeps_every_acknowledged_record() {
    let (storage, mut wal, acks) = shared_sync_wal(3);
    wal.poll(Duration::from_millis(10)).unwrap();
    for i in 3..6 {
        wal.write_with(i, 0, &record(i), Duration::from_millis(11), acks.callback())
            .unwrap();
    }
    assert_eq!(acks.ok(), 3);
    std::mem::forget(wal);
    let mut wal = Wal::open(storage.crash(), shared_sync_config()).unwrap();
    let got: Vec<u64> = read_all(&mut wal).iter().map(|r| r.series_id).collect();
    assert_eq!(&got[..3], &[0, 1, 2], "the acknowledged records are there");
    assert!(got.len() <= 6);
}

#[test]
fn without_a_flush_interval_every_full_buffer_is_synced_as_it_is_written() {
    let storage = MemStorage::new();
    let cfg = shared_sync_config().with_flush_interval(None);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let from = storage.op_log().len();
    let acks = Acks::default();
    for i in 0..3 {
        wal.write_with(i, 0, &record(i), T0, acks.callback())
            .unwrap();
        assert_eq!(acks.ok(), i as usize + 1);
    }
    assert_eq!(syncs_since(&storage, from), 3);
}

#[test]
fn a_replay_follows_the_single_threaded_log_as_it_grows_across_rotations() {
    // How a host without threads tails: drain, then move the end on.
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_compression(false)
        .with_buffer_size(256)
        .with_file_size(2048)
        .with_flush_interval(None);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let mut replay = wal_core::Replay::new(
        storage.clone(),
        &wal.segments(),
        wal.durable().unwrap(),
        Position::START,
        cfg.max_frame_len(),
    )
    .unwrap();
    let mut seen = Vec::new();
    for round in 0..5i64 {
        for i in 0..40 {
            wal.write(1, round * 100 + i, &[round as u8; 30], T0)
                .unwrap();
        }
        wal.flush().unwrap();
        if round == 2 {
            wal.rotate().unwrap();
        }
        for item in replay.by_ref() {
            seen.extend(item.unwrap().1.timestamps);
        }
        replay
            .follow(wal.durable().unwrap(), &wal.segments())
            .unwrap();
        for item in replay.by_ref() {
            seen.extend(item.unwrap().1.timestamps);
        }
        let want: Vec<i64> = (0..=round)
            .flat_map(|r| (0..40).map(move |i| r * 100 + i))
            .collect();
        assert_eq!(
            seen, want,
            "round {round}: every durable record once, in order"
        );
    }
    assert!(wal.segments().len() > 3, "{:?}", wal.segments());
    // The segment it stopped in is deleted: the follow says so.
    let stopped = replay.next_position();
    wal.rotate().unwrap();
    wal.checkpoint(wal.durable().unwrap()).unwrap();
    wal.write(1, 999, b"later", T0).unwrap();
    wal.flush().unwrap();
    let e = replay
        .follow(wal.durable().unwrap(), &wal.segments())
        .unwrap_err();
    assert!(
        matches!(e, Error::PositionGone { position, .. } if position == stopped),
        "{e}"
    );
}

#[test]
fn core_stats_count_frames_syncs_rotations_and_measure_old_segments_after_a_reopen() {
    let storage = MemStorage::new();
    let cfg = Config::default()
        .with_compression(false)
        .with_buffer_size(256)
        .with_file_size(2048)
        .with_flush_interval(None);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    for i in 0..100 {
        wal.write(1, i, &[1u8; 30], T0).unwrap();
    }
    wal.flush().unwrap();
    let s = wal.stats().unwrap();
    assert_eq!(s.records, 100);
    assert!(s.frames > 5, "{s:?}");
    assert_eq!(
        s.stored_bytes,
        s.payload_bytes + 16 * s.frames,
        "raw frames"
    );
    assert!(s.syncs >= s.frames, "{s:?}");
    assert!(s.rotations >= 1);
    assert_eq!(s.sync_latency, None, "the core has no clock");
    let files: u64 = wal
        .segments()
        .iter()
        .map(|&id| storage.contents(FileName::Segment(id)).unwrap().len() as u64)
        .sum();
    assert_eq!(s.bytes_on_disk, files);
    wal.close().unwrap();
    drop(wal);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let s = wal.stats().unwrap();
    assert_eq!((s.records, s.frames, s.rotations), (0, 0, 0), "since open");
    let files: u64 = wal
        .segments()
        .iter()
        .map(|&id| storage.contents(FileName::Segment(id)).unwrap().len() as u64)
        .sum();
    assert_eq!(
        s.bytes_on_disk, files,
        "old segments measured (the reserve released at close)"
    );
    assert_eq!(s.durable, wal.durable().unwrap());
}

#[test]
fn a_replay_from_the_end_of_a_closed_segment_with_a_zero_tail_starts_the_next_one() {
    use embedded_io::{Seek, SeekFrom, Write};
    use wal_core::Storage as _;
    let mut storage = MemStorage::new();
    let cfg = Config::default().with_compression(false);
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    wal.write(1, 1, b"in one", T0).unwrap();
    let closed = wal.rotate().unwrap();
    wal.write(1, 2, b"in two", T0).unwrap();
    wal.flush().unwrap();
    // A closed segment may be longer than its frames (FORMAT.md): zeros.
    let mut f = storage.open(FileName::Segment(closed.id)).unwrap();
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(&[0u8; 100]).unwrap();
    let from = Position::new(closed.id, closed.bytes);
    let got: Vec<i64> = wal
        .replay(from)
        .unwrap()
        .flat_map(|r| r.unwrap().1.timestamps)
        .collect();
    assert_eq!(got, vec![2]);
}
