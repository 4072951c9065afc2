//! The thread-safe WAL's life cycle: completions give positions, readers
//! see durable frames only (while a sync is held), replay resumes from any
//! position while writers go on, checkpoints delete what is wholly before
//! them and a restart replays from there. Every wait has a time limit.
#![cfg(not(target_os = "wasi"))]

mod harness;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::gate::GatedStorage;
use harness::{until, within};
use wal::{Config, Error, Position, Wal};

const LIMIT: Duration = Duration::from_secs(120);

/// Every record a replay from `from` yields: (frame position, timestamp).
fn replayed<S: wal_host_std::ThreadedStorage>(
    wal: &wal_host_std::Wal<S>,
    from: Position,
) -> Vec<(Position, i64)> {
    let mut out = Vec::new();
    for item in wal.replay(from).unwrap() {
        let (at, e) = item.unwrap();
        out.extend(e.timestamps.iter().map(|&t| (at, t)));
    }
    out
}

#[test]
fn positions_from_four_writers_order_the_log_and_replay_resumes_from_each() {
    within(LIMIT, "positions and replay", || {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default()
            .with_compression(false)
            .with_buffer_size(1024)
            .with_file_size(16 * 1024);
        let wal = Wal::open(dir.path(), cfg).unwrap();
        // (timestamp, position its completion gave), from four threads.
        let got: Arc<Mutex<Vec<(i64, Position)>>> = Arc::default();
        std::thread::scope(|s| {
            for t in 0..4i64 {
                let (wal, got) = (wal.clone(), got.clone());
                s.spawn(move || {
                    let mut last = Position::START;
                    for i in 0..400 {
                        let ts = t * 1000 + i;
                        let value = vec![t as u8; 40 + (i as usize % 50)];
                        let p = if i % 2 == 0 {
                            wal.write(t as u64, ts, &value).unwrap().wait().unwrap()
                        } else {
                            let (tx, rx) = std::sync::mpsc::channel();
                            wal.write_with(t as u64, ts, &value, move |r| tx.send(r).unwrap())
                                .unwrap();
                            harness::recv_within(&rx, LIMIT, "callback").unwrap()
                        };
                        assert!(p > last, "one writer's positions grow: {last} then {p}");
                        last = p;
                        got.lock().unwrap().push((ts, p));
                    }
                });
            }
        });
        let got = got.lock().unwrap().clone();
        assert!(wal.segments().len() > 4, "{:?}", wal.segments());
        let end = wal.durable().unwrap();
        assert!(got.iter().all(|(_, p)| *p <= end), "all within {end}");
        let all = replayed(&wal, Position::START);
        let stamps: BTreeSet<i64> = all.iter().map(|(_, t)| *t).collect();
        assert_eq!(all.len(), got.len(), "each record once");
        assert_eq!(stamps, got.iter().map(|(t, _)| *t).collect());
        // Each record's frame starts before the position its completion
        // gave; a replay from that position holds exactly later frames.
        let frame_of: std::collections::HashMap<i64, Position> =
            all.iter().map(|(p, t)| (*t, *p)).collect();
        for (t, p) in got.iter().step_by(97) {
            assert!(
                frame_of[t] < *p,
                "record {t}: frame {} ends by {p}",
                frame_of[t]
            );
            let later: BTreeSet<i64> = replayed(&wal, *p).into_iter().map(|(_, t)| t).collect();
            let want: BTreeSet<i64> = all
                .iter()
                .filter(|(fp, _)| fp >= p)
                .map(|(_, t)| *t)
                .collect();
            assert_eq!(later, want, "replay from {p}");
            assert!(!later.contains(t), "record {t} is before {p}");
        }
        wal.close().unwrap();
    });
}

#[test]
fn a_frame_written_but_held_at_its_sync_is_seen_by_no_reader() {
    within(LIMIT, "durable-only reads", || {
        // Full buffers are written by the flusher and synced by the syncer
        // (which holds no lock the readers need); the interval is long, so
        // no partly filled buffer is flushed meanwhile.
        let storage = GatedStorage::new();
        let cfg = Config::default()
            .with_compression(false)
            .with_buffer_size(512)
            .with_flush_interval(Some(Duration::from_secs(600)));
        let wal = Wal::with_storage(storage.clone(), cfg).unwrap();
        let first = wal.write(1, 0, b"synced").unwrap().wait().unwrap();
        let shut = storage.gate.shut_until_dropped();
        let held: Vec<_> = (1..=8)
            .map(|i| wal.write(1, i, &[i as u8; 100]).unwrap())
            .collect();
        // A full buffer's frame is written and its sync waits at the gate.
        assert!(storage.gate.wait_held(1, LIMIT), "a sync reaches the gate");
        until(LIMIT, "the frame written", || wal.active().frames >= 2);
        assert_eq!(wal.durable().unwrap(), first);
        let read: Vec<i64> = wal
            .read(1)
            .unwrap()
            .flat_map(|e| e.unwrap().timestamps)
            .collect();
        assert_eq!(read, vec![0], "read stops at the durable end");
        let replay: Vec<i64> = replayed(&wal, Position::START)
            .iter()
            .map(|r| r.1)
            .collect();
        assert_eq!(replay, vec![0], "so does replay");
        let past = wal.active_end();
        assert_eq!(
            wal.replay(past).err(),
            Some(Error::PastEnd {
                position: past,
                end: first
            }),
            "nothing can start past the durable end"
        );
        drop(shut);
        for h in held {
            assert!(h.wait().unwrap() > first);
        }
        let replay: Vec<i64> = replayed(&wal, Position::START)
            .iter()
            .map(|r| r.1)
            .collect();
        assert_eq!(replay, (0..=8).collect::<Vec<i64>>());
        wal.close().unwrap();
    });
}

trait ActiveEnd {
    /// The end of what the active segment holds, durable or not.
    fn active_end(&self) -> Position;
}

impl<S: wal_host_std::ThreadedStorage> ActiveEnd for wal_host_std::Wal<S> {
    fn active_end(&self) -> Position {
        let a = self.active();
        Position::new(a.id, a.bytes)
    }
}

#[test]
fn a_checkpoint_under_writers_keeps_every_later_record_across_a_restart() {
    within(LIMIT, "checkpoint and restart", || {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::default()
            .with_compression(false)
            .with_buffer_size(512)
            .with_file_size(8 * 1024);
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let mut through = Position::START;
        for i in 0..600 {
            let p = wal.write(i % 3, i as i64, &[7u8; 60]).unwrap();
            if i == 399 {
                through = p.wait().unwrap();
            }
        }
        // Writers go on while the checkpoint deletes.
        let writer = {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for i in 600..900 {
                    wal.write(1, i, &[8u8; 60]).unwrap().wait().unwrap();
                }
            })
        };
        let before = wal.segments();
        let removed = wal.checkpoint(through).unwrap();
        let want: Vec<u64> = before
            .iter()
            .copied()
            .filter(|&s| s < through.segment)
            .collect();
        assert!(!want.is_empty(), "segments before {through}: {before:?}");
        assert_eq!(removed, want);
        writer.join().unwrap();
        assert_eq!(
            wal.replay(Position::first_frame(1)).err(),
            Some(Error::PositionGone {
                position: Position::first_frame(1),
                oldest: Position::first_frame(through.segment),
            })
        );
        wal.close().unwrap();
        let wal = Wal::open(dir.path(), cfg).unwrap();
        let after: BTreeSet<i64> = replayed(&wal, through)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(
            after,
            (400..900).collect::<BTreeSet<i64>>(),
            "every record after {through}"
        );
        wal.close().unwrap();
    });
}
