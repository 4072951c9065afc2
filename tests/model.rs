//! Model-based property test: random sequences of write, flush, rotate,
//! read, delete, close/reopen, crash/reopen and injected faults, run on the
//! in-memory backend against both WALs (the core `wal_core::Wal` and the
//! thread-safe one) and checked against a simple model after every step.
//!
//! The model knows which records were written, which were acknowledged, and
//! which must be durable. Where a crash leaves an in-flight record ambiguous,
//! the test reads the storage to decide (and from then on the record is
//! expected to stay), never guesses. Crash images are an in-order prefix of
//! the unsynced bytes, or any subset of their sectors with names durable
//! only on a directory sync, or on a file's sync as on ext4. A read never
//! fails, unless a fault the test injected explains it.

mod front;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use front::{Core, MemFront};
use proptest::prelude::*;
use wal_core::testing::{CrashModel, Fault, MemStorage};
use wal_core::{Config, Error, SegmentId};

#[derive(Clone, Debug)]
enum Step {
    Write {
        series: u64,
        len: usize,
    },
    /// Time passes (milliseconds) and the host polls (the thread-safe WAL's
    /// own clock runs: the test sleeps).
    Tick {
        ms: u64,
    },
    Flush,
    Rotate,
    Read {
        pick: usize,
    },
    Delete {
        pick: usize,
    },
    CloseReopen,
    Crash {
        seed: u64,
    },
    Fault {
        fault: u8,
        after: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0u64..6, 0usize..400).prop_map(|(series, len)| Step::Write { series, len }),
        2 => (0u64..8).prop_map(|ms| Step::Tick { ms }),
        2 => Just(Step::Flush),
        1 => Just(Step::Rotate),
        2 => any::<usize>().prop_map(|pick| Step::Read { pick }),
        1 => any::<usize>().prop_map(|pick| Step::Delete { pick }),
        1 => Just(Step::CloseReopen),
        1 => any::<u64>().prop_map(|seed| Step::Crash { seed }),
        1 => (0u8..3, 0u64..4).prop_map(|(fault, after)| Step::Fault { fault, after }),
    ]
}

fn value(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64 + 7).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut v = format!("#{i}:").into_bytes();
    v.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    v
}

struct Model {
    /// Every record handed to the WAL and accepted: index -> (series, value).
    written: BTreeMap<usize, (u64, Vec<u8>)>,
    /// Acknowledged by a completion (shared with the callbacks).
    acked: Arc<Mutex<HashSet<usize>>>,
    /// Whose completion has been called, whatever the outcome.
    fired: Arc<Mutex<HashSet<usize>>>,
    /// Seen in storage after a reopen: must stay (unless deleted).
    durable: HashSet<usize>,
    /// Records removed by a successful delete.
    deleted: HashSet<usize>,
    /// Segments a failed delete took out of the log (the removal done, its
    /// directory sync failed), with their records: gone or back, as the
    /// storage says at the next reopen.
    maybe_deleted: Vec<(SegmentId, Vec<usize>)>,
    /// The operation numbers faults were injected at since the last reopen.
    faults: Vec<u64>,
}

impl Model {
    fn must_have(&self) -> HashSet<usize> {
        let acked = self.acked.lock().unwrap();
        acked
            .iter()
            .chain(&self.durable)
            .filter(|i| !self.deleted.contains(i))
            .copied()
            .collect()
    }

    /// Whether read error `e` is explained by a fault this test injected:
    /// a storage error the in-memory backend's faults raise (or the WAL's
    /// poisoning by one), after one of them was hit.
    fn explains(&self, storage: &MemStorage, e: &Error) -> bool {
        let hit = self.faults.iter().any(|&op| op < storage.mutating_ops());
        let injected = matches!(e.cause(), Error::Storage(s)
            if s.message.contains("injected") || s.message.contains("storage full"));
        hit && injected
    }
}

type Recs = Vec<(u64, i64, Vec<u8>)>;

fn read_segment<F: MemFront>(wal: &mut F, id: SegmentId) -> Result<Recs, Error> {
    let mut out = vec![];
    for e in wal.read(id)? {
        let e = e?;
        for (t, v) in e.timestamps.iter().zip(e.values) {
            out.push((e.series_id, *t, v));
        }
    }
    Ok(out)
}

/// Checks records read back against the model: each was written whole, no
/// duplicates, each series in write order.
fn check_read(
    model: &Model,
    recs: &[(u64, i64, Vec<u8>)],
    seen: &mut HashSet<usize>,
    last: &mut BTreeMap<u64, i64>,
) {
    for (s, t, v) in recs {
        let i = *t as usize;
        let (ws, wv) = model
            .written
            .get(&i)
            .unwrap_or_else(|| panic!("record {i} was never written"));
        assert_eq!((ws, wv), (s, v), "record {i} is not what was written");
        assert!(seen.insert(i), "record {i} read twice");
        if let Some(p) = last.insert(*s, *t) {
            assert!(p < *t, "series {s}: {p} before {t}");
        }
    }
}

/// After a reopen: everything that must be there is, and what is there
/// becomes durable in the model.
fn check_all<F: MemFront>(model: &mut Model, wal: &mut F) {
    for (id, held) in std::mem::take(&mut model.maybe_deleted) {
        if !wal.segments().contains(&id) {
            model.deleted.extend(held);
        }
    }
    let (mut seen, mut last) = (HashSet::new(), BTreeMap::new());
    for id in wal.segments() {
        let recs = read_segment(wal, id)
            .unwrap_or_else(|e| panic!("segment {id} unreadable after reopen: {e}"));
        check_read(model, &recs, &mut seen, &mut last);
    }
    let missing: Vec<_> = model
        .must_have()
        .into_iter()
        .filter(|i| !seen.contains(i))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged or durable records lost: {missing:?}"
    );
    model.durable = seen
        .into_iter()
        .filter(|i| !model.deleted.contains(i))
        .collect();
    model.faults.clear();
}

/// Opens the WAL; an injected fault may make an open fail, with a storage
/// error naming what failed, and a retry (faults are one-shot) then works.
fn reopen<F: MemFront>(storage: &MemStorage, cfg: Config) -> F {
    for _ in 0..8 {
        match F::open(storage.clone(), cfg) {
            Ok(w) => return w,
            Err(Error::Storage(_)) => {}
            Err(e) => panic!("reopen failed: {e}"),
        }
    }
    panic!("reopen keeps failing")
}

/// The crash image `seed` picks: its model, and its choices.
fn crash_image(storage: &MemStorage, seed: u64) -> MemStorage {
    let models = [CrashModel::PREFIX, CrashModel::HARSH, CrashModel::EXT4];
    storage.crash_image(seed, models[(seed % 3) as usize])
}

/// Runs `steps` on WAL `F`; with `timed`, buffers are also flushed on a
/// 10 ms interval, and (on the core WAL) full buffers share syncs.
fn run<F: MemFront>(steps: Vec<Step>, compression: bool, timed: bool) {
    let cfg = Config::default()
        .with_compression(compression)
        .with_buffer_size(512)
        .with_file_size(2048)
        .with_flush_interval(timed.then_some(Duration::from_millis(10)));
    let mut now = Duration::ZERO;
    let mut storage = MemStorage::new();
    let mut wal = F::open(storage.clone(), cfg).unwrap();
    let mut model = Model {
        written: BTreeMap::new(),
        acked: Arc::default(),
        fired: Arc::default(),
        durable: HashSet::new(),
        deleted: HashSet::new(),
        maybe_deleted: Vec::new(),
        faults: Vec::new(),
    };
    let mut next = 0usize;
    // The first record written since the last reopen.
    let mut since = 0usize;
    for step in steps {
        match step {
            Step::Write { series, len } => {
                let i = next;
                next += 1;
                let v = value(i, len);
                let (acked, fired) = (model.acked.clone(), model.fired.clone());
                let r = wal.write_with(series, i as i64, &v, now, move |r| {
                    assert!(
                        fired.lock().unwrap().insert(i),
                        "record {i} completed twice"
                    );
                    if r.is_ok() {
                        acked.lock().unwrap().insert(i);
                    }
                });
                // Accepted into the buffer unless refused up front; a failed
                // flush inside the call still leaves the record written
                // (possibly durable, never acknowledged).
                if !matches!(r, Err(Error::Poisoned { .. } | Error::Closed)) {
                    model.written.insert(i, (series, v));
                }
            }
            Step::Tick { ms } => {
                now += Duration::from_millis(ms);
                if F::NAME == "core" {
                    let _ = wal.poll(now);
                } else {
                    std::thread::sleep(Duration::from_millis(ms));
                }
            }
            Step::Flush => {
                let _ = wal.flush();
            }
            Step::Rotate => {
                let _ = wal.rotate();
            }
            Step::Read { pick } => {
                let ids = wal.segments();
                let id = ids[pick % ids.len()];
                match read_segment(&mut wal, id) {
                    Ok(recs) => {
                        check_read(&model, &recs, &mut HashSet::new(), &mut BTreeMap::new())
                    }
                    Err(e) => assert!(
                        model.explains(&storage, &e),
                        "reading segment {id} failed, and no injected fault explains it: {e}"
                    ),
                }
            }
            Step::Delete { pick } => {
                let all = wal.segments();
                let ids = front::deletable(&wal);
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick % ids.len()];
                let held: Vec<usize> = match read_segment(&mut wal, id) {
                    Ok(r) => r.iter().map(|x| x.1 as usize).collect(),
                    Err(e) => {
                        assert!(
                            model.explains(&storage, &e),
                            "reading segment {id} failed, and no injected fault explains it: {e}"
                        );
                        continue; // what it holds is unknown: leave it
                    }
                };
                match wal.delete(id) {
                    Ok(()) => model.deleted.extend(held),
                    Err(Error::ActiveSegment { .. }) => assert_eq!(Some(&id), all.last()),
                    Err(_) if !wal.segments().contains(&id) => model.maybe_deleted.push((id, held)),
                    Err(_) => {}
                }
            }
            Step::CloseReopen => {
                let _ = wal.close();
                let fired = model.fired.lock().unwrap();
                let hanging: Vec<usize> = (since..next).filter(|i| !fired.contains(i)).collect();
                assert!(
                    hanging.is_empty(),
                    "completions never called after close: {hanging:?}"
                );
                drop(fired);
                since = next;
                drop(wal);
                wal = reopen(&storage, cfg);
                check_all(&mut model, &mut wal);
            }
            Step::Crash { seed } => {
                // What was acknowledged before the image must be in it; the
                // dying WAL's later acknowledgements (its threads run on,
                // and dropping it closes it) reach only the old disk.
                let before = model.acked.lock().unwrap().clone();
                let image = crash_image(&storage, seed);
                drop(wal);
                *model.acked.lock().unwrap() = before;
                since = next;
                storage = image;
                wal = reopen(&storage, cfg);
                check_all(&mut model, &mut wal);
            }
            Step::Fault { fault, after } => {
                let f = [Fault::Fail, Fault::TearWrite(5), Fault::Full][fault as usize];
                let at = storage.mutating_ops() + after;
                storage.inject(at, f);
                model.faults.push(at);
            }
        }
    }
    // The end: a final crash and reopen keeps everything acknowledged.
    let before = model.acked.lock().unwrap().clone();
    let image = storage.crash_image(next as u64, CrashModel::HARSH);
    drop(wal);
    *model.acked.lock().unwrap() = before;
    let mut wal = reopen::<F>(&image, cfg);
    check_all(&mut model, &mut wal);
    wal.close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_agree_with_the_model(steps in prop::collection::vec(step(), 1..60), compression in any::<bool>(), timed in any::<bool>()) {
        run::<Core>(steps, compression, timed);
    }
}

#[cfg(not(target_os = "wasi"))]
proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_agree_with_the_model_on_the_thread_safe_wal(steps in prop::collection::vec(step(), 1..60), compression in any::<bool>(), timed in any::<bool>()) {
        run::<front::Threaded>(steps, compression, timed);
    }
}
