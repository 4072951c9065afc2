//! Tailing readers of the thread-safe WAL: each follows the log as it
//! becomes durable, across rotations, every record once and in order, never
//! a frame still waiting for its sync; blocking, with a time limit, and as
//! a future; several at once; ended by the close. Every wait has a limit.
#![cfg(not(target_os = "wasi"))]

mod harness;

use std::collections::BTreeSet;
use std::time::Duration;

use harness::gate::GatedStorage;
use harness::{block_on, within};
use wal::{Config, Error, Position, Wal};

const LIMIT: Duration = Duration::from_secs(120);

/// Small segments (rotations), small buffers, no compression.
fn small() -> Config {
    Config::default()
        .with_compression(false)
        .with_buffer_size(1024)
        .with_file_size(8 * 1024)
        .with_flush_interval(Some(Duration::from_millis(2)))
}

#[test]
fn three_tails_follow_two_writers_across_rotations_and_end_at_the_close() {
    within(LIMIT, "tails follow writers", || {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), small()).unwrap();
        let tails: Vec<_> = (0..3)
            .map(|_| {
                let mut tail = wal.tail(Position::START).unwrap();
                let wal = wal.clone();
                std::thread::spawn(move || {
                    let mut seen = Vec::new();
                    let mut last = Position::START;
                    for item in &mut tail {
                        let (at, entry) = item.unwrap();
                        assert!(at >= last, "frames in log order: {last} then {at}");
                        // Never ahead of what is durable (once closed, all is).
                        if let Ok(end) = wal.durable() {
                            assert!(at < end, "{at} handed out before the durable end {end}");
                        }
                        last = at;
                        seen.extend(entry.timestamps);
                    }
                    seen
                })
            })
            .collect();
        std::thread::scope(|s| {
            for w in 0..2i64 {
                let wal = wal.clone();
                s.spawn(move || {
                    for i in 0..500 {
                        wal.write(w as u64, w * 10_000 + i, &[w as u8; 50]).unwrap();
                    }
                });
            }
        });
        assert!(wal.segments().len() > 4, "rotations: {:?}", wal.segments());
        wal.close().unwrap();
        let want: BTreeSet<i64> = (0..2)
            .flat_map(|w| (0..500).map(move |i| w * 10_000 + i))
            .collect();
        for t in tails {
            let seen = t.join().unwrap();
            assert_eq!(seen.len(), want.len(), "each record once");
            assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), want);
        }
    });
}

#[test]
fn a_tail_waits_for_the_sync_of_a_written_frame() {
    within(LIMIT, "a tail and a held sync", || {
        // Full buffers are synced by the syncer, which holds no lock the
        // tail needs; no partly filled buffer is flushed meanwhile.
        let storage = GatedStorage::new();
        let cfg = small().with_flush_interval(Some(Duration::from_secs(600)));
        let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
        let first = wal.write(1, 0, b"synced").unwrap().wait().unwrap();
        let mut tail = wal.tail(Position::START).unwrap();
        let (at, e) = tail
            .next_timeout(LIMIT)
            .unwrap()
            .expect("the synced record");
        assert!(at < first);
        assert_eq!(e.timestamps, vec![0]);
        let shut = storage.gate.shut_until_dropped();
        let held: Vec<_> = (1..=12)
            .map(|i| wal.write(1, i, &[1u8; 100]).unwrap())
            .collect();
        assert!(storage.gate.wait_held(1, LIMIT), "a sync reaches the gate");
        harness::until(LIMIT, "a frame written", || wal.active().frames >= 2);
        // Written, not synced: the tail hands out nothing.
        assert_eq!(tail.next_timeout(Duration::from_millis(50)).unwrap(), None);
        assert_eq!(tail.position(), first);
        drop(shut);
        for h in held {
            h.wait().unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 12 {
            let (_, e) = tail.next_timeout(LIMIT).unwrap().expect("a synced record");
            got.extend(e.timestamps);
        }
        assert_eq!(got, (1..=12).collect::<Vec<i64>>());
        wal.close().unwrap();
        assert_eq!(tail.next_timeout(LIMIT).err(), Some(Error::Closed));
    });
}

#[test]
fn a_tail_can_be_awaited_without_a_runtime() {
    within(LIMIT, "an awaited tail", || {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), small()).unwrap();
        let mut tail = wal.tail(Position::START).unwrap();
        let writer = {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    wal.write(3, i, &[3u8; 40]).unwrap().wait().unwrap();
                }
                wal.close().unwrap();
            })
        };
        let mut got = Vec::new();
        while let Some(item) = block_on(tail.next_async()) {
            got.extend(item.unwrap().1.timestamps);
        }
        writer.join().unwrap();
        assert_eq!(got, (0..300).collect::<Vec<i64>>());
    });
}

#[test]
fn a_tail_cannot_start_where_the_log_was_deleted_or_has_not_reached() {
    within(LIMIT, "tail starts", || {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), small()).unwrap();
        let mut last = Position::START;
        for i in 0..400 {
            last = wal.write(1, i, &[1u8; 50]).unwrap().wait().unwrap();
        }
        assert!(!wal.checkpoint(last).unwrap().is_empty());
        let oldest = Position::first_frame(wal.segments()[0]);
        let gone = Position::first_frame(1);
        assert_eq!(
            wal.tail(gone).err(),
            Some(Error::PositionGone {
                position: gone,
                oldest
            })
        );
        let end = wal.durable().unwrap();
        let past = Position::new(end.segment + 1, 24);
        assert_eq!(
            wal.tail(past).err(),
            Some(Error::PastEnd {
                position: past,
                end
            })
        );
        // From the checkpoint: exactly what follows it.
        let mut tail = wal.tail(last).unwrap();
        wal.write(1, 400, b"after").unwrap().wait().unwrap();
        let (_, e) = tail.next_timeout(LIMIT).unwrap().expect("the next record");
        assert_eq!(e.timestamps, vec![400]);
        wal.close().unwrap();
    });
}

/// The bytes all segments hold, by their files.
fn bytes_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn retention_keeps_what_a_live_tail_needs_until_the_hard_cap_then_the_tail_lags() {
    within(LIMIT, "retention and tails", || {
        let dir = tempfile::tempdir().unwrap();
        let seg = 8 * 1024;
        let cfg = small()
            .with_retain_bytes(Some(3 * seg))
            .with_max_bytes(Some(12 * seg));
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let mut tail = wal.tail(Position::START).unwrap();
        let mut i = 0i64;
        // Writes until `n` more segments were started.
        let write_segments = |n: usize, wal: &Wal, i: &mut i64| {
            let target = wal.segments().last().unwrap() + n as u64;
            while *wal.segments().last().unwrap() < target {
                wal.write(1, *i, &[1u8; 200]).unwrap().wait().unwrap();
                *i += 1;
                assert!(
                    bytes_on_disk(dir.path()) <= 12 * seg + seg,
                    "over the hard cap"
                );
            }
        };
        // The tail has read nothing: the soft cap keeps everything.
        write_segments(6, &wal, &mut i);
        assert_eq!(wal.take_removed().unwrap(), Vec::<u64>::new());
        assert_eq!(wal.segments()[0], 1, "the tail's segment is kept");
        // Once it has read on, the next rotation lets the old ones go.
        let mut read = 0;
        while read < i {
            let (_, e) = tail.next_timeout(LIMIT).unwrap().expect("a record");
            read += e.timestamps.len() as i64;
        }
        write_segments(1, &wal, &mut i);
        let removed = wal.take_removed().unwrap();
        assert!(!removed.is_empty() && removed[0] == 1, "{removed:?}");
        assert!(bytes_on_disk(dir.path()) <= 3 * seg + seg);
        // A tail that stays behind past the hard cap loses its segment and
        // is told so; the log stays within the cap.
        let mut slow = wal.tail(wal.durable().unwrap()).unwrap();
        write_segments(20, &wal, &mut i);
        let mut lagged = None;
        while lagged.is_none() {
            match slow.next_timeout(LIMIT) {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the slow tail timed out"),
                Err(e) => lagged = Some(e),
            }
        }
        assert!(matches!(lagged, Some(Error::Lagged { .. })), "{lagged:?}");
        assert!(bytes_on_disk(dir.path()) <= 12 * seg + seg);
        wal.close().unwrap();
    });
}

#[test]
fn retention_by_age_keeps_a_live_tails_segment_and_learns_old_segments_after_a_reopen() {
    within(LIMIT, "retention by age", || {
        let dir = tempfile::tempdir().unwrap();
        // Record time: timestamps 1 ns apart (about 37 a segment), a 100 ns age.
        let cfg = small().with_retain_age(Some(Duration::from_nanos(100)));
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let mut tail = wal.tail(Position::START).unwrap();
        let mut i = 0i64;
        let write_segments = |n: u64, wal: &Wal, i: &mut i64| {
            let target = wal.segments().last().unwrap() + n;
            while *wal.segments().last().unwrap() < target {
                wal.write(1, *i, &[1u8; 200]).unwrap().wait().unwrap();
                *i += 1;
            }
        };
        // Far more than 100 ns of records, but the tail has read nothing.
        write_segments(8, &wal, &mut i);
        assert_eq!(wal.take_removed().unwrap(), Vec::<u64>::new());
        let mut read = 0;
        while read < i {
            let (_, e) = tail.next_timeout(LIMIT).unwrap().expect("a record");
            read += e.timestamps.len() as i64;
        }
        write_segments(1, &wal, &mut i);
        // Every segment left but the active one holds a record of the last
        // 100 ns (the pass stops at the first young one).
        let removed = wal.take_removed().unwrap();
        assert!(!removed.is_empty() && removed[0] == 1, "{removed:?}");
        let ids = wal.segments();
        let oldest = wal.info(ids[0]).unwrap().max_timestamp.unwrap();
        assert!(
            i - 1 - oldest <= 100,
            "segment {} ends at {oldest}, newest {}",
            ids[0],
            i - 1
        );
        drop(tail);
        wal.close().unwrap();
        // Reopened with a shorter age: the segments from before the open
        // are read once to learn their newest record.
        let cfg = small().with_retain_age(Some(Duration::from_nanos(40)));
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let before = wal.segments();
        wal.write(1, i, b"after the reopen")
            .unwrap()
            .wait()
            .unwrap();
        let (gone, deadline) = (
            |wal: &Wal| wal.segments().first() != before.first(),
            std::time::Instant::now() + LIMIT,
        );
        // Retention runs on the flusher after the batch: wait for it.
        while !gone(&wal) {
            assert!(std::time::Instant::now() < deadline, "nothing went");
            std::thread::sleep(Duration::from_millis(1));
        }
        let removed = wal.take_removed().unwrap();
        assert!(removed.iter().all(|id| before.contains(id)), "{removed:?}");
        let ids = wal.segments();
        if ids.len() > 1 {
            let oldest = wal.info(ids[0]).unwrap().max_timestamp.unwrap();
            assert!(
                i - oldest <= 40,
                "segment {} ends at {oldest}, newest {i}",
                ids[0]
            );
        }
        wal.close().unwrap();
    });
}

#[test]
fn stats_count_what_was_written_and_what_the_log_holds() {
    within(LIMIT, "stats", || {
        let dir = tempfile::tempdir().unwrap();
        let cfg = small().with_compression(true);
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let tail = wal.tail(Position::START).unwrap();
        let mut last = Position::START;
        for i in 0..300 {
            // Compressible values: snappy stores them smaller.
            last = wal
                .write(i % 4, i as i64, &[b'a'; 120])
                .unwrap()
                .wait()
                .unwrap();
            if i == 100 || i == 200 {
                wal.rotate().unwrap();
            }
        }
        let s = wal.stats().unwrap();
        assert_eq!(s.records, 300);
        assert!(s.frames >= 3 && s.frames <= 300, "{}", s.frames);
        assert!(
            s.snappy_frames > 0 && s.stored_bytes < s.payload_bytes,
            "{s:?}"
        );
        assert!(s.syncs >= s.frames, "every frame synced: {s:?}");
        let lat = s.sync_latency.expect("syncs were timed");
        assert!(
            lat.count > 0 && lat.p50 <= lat.p99 && lat.p99 <= lat.max,
            "{lat:?}"
        );
        assert!(s.rotations >= 2);
        assert_eq!(s.segments, wal.segments().len());
        assert_eq!(s.bytes_on_disk, bytes_on_disk(dir.path()));
        assert_eq!(s.oldest, Position::first_frame(1));
        assert_eq!(s.durable, last);
        // The tail read nothing: it has every byte after the first header,
        // through the closed segments to the durable end.
        let active = *wal.segments().last().unwrap();
        let closed: u64 = wal
            .segments()
            .iter()
            .filter(|&&id| id != active)
            .map(|&id| {
                let name = dir.path().join(format!("seg{id:016x}.wal"));
                std::fs::metadata(name).unwrap().len()
            })
            .sum();
        assert_eq!(s.durable.segment, active);
        let lag = closed - 24 + s.durable.offset;
        assert_eq!(s.tails, vec![(Position::first_frame(1), lag)]);
        drop(tail);
        assert_eq!(wal.stats().unwrap().tails, vec![]);
        wal.close().unwrap();
    });
}
