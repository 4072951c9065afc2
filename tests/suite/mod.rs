//! The behavioural suite: every test is written once, generic over a
//! [`Backend`] (a directory of segment files and a way to open a storage on
//! it), and instantiated per backend with [`behavioural_suite!`]: in memory,
//! on real files, and under wasmtime.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wal_core::{
    Config, Corruption, Entry, Error, FileName, RecoveryMode, SegmentId, Storage, SyncPolicy, Wal,
};

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
pub fn read_records<S: Storage>(wal: &mut Wal<S>, id: SegmentId) -> Vec<Rec> {
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
pub fn read_all<S: Storage>(wal: &mut Wal<S>) -> Vec<Rec> {
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

fn write_all<S: Storage>(wal: &mut Wal<S>, recs: &[Rec]) {
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
    pub fn callback(&self) -> impl FnOnce(Result<(), Error>) + Send + 'static {
        let me = self.clone();
        move |r| match r {
            Ok(()) => {
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

// ---------------------------------------------------------------- vectors

/// A test vector directory of `tests/vectors` and its records.
pub struct Vector {
    pub files: Vec<(String, Vec<u8>)>,
    pub records: Vec<Rec>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Vectors are compiled in, so the suite runs the same under wasmtime
/// (which sees only its preopened directory).
pub fn vector(name: &str) -> Vector {
    let (jsonl, files): (&str, Vec<(&str, &[u8])>) = match name {
        "one-frame-raw" => (
            include_str!("../vectors/one-frame-raw/records.jsonl"),
            vec![(
                "seg0000000000000001.wal",
                include_bytes!("../vectors/one-frame-raw/wal/seg0000000000000001.wal"),
            )],
        ),
        "rotate-raw" => (
            include_str!("../vectors/rotate-raw/records.jsonl"),
            vec![
                (
                    "seg0000000000000001.wal",
                    include_bytes!("../vectors/rotate-raw/wal/seg0000000000000001.wal"),
                ),
                (
                    "seg0000000000000002.wal",
                    include_bytes!("../vectors/rotate-raw/wal/seg0000000000000002.wal"),
                ),
            ],
        ),
        "snappy-zero-tail" => (
            include_str!("../vectors/snappy-zero-tail/records.jsonl"),
            vec![
                (
                    "seg0000000000000001.wal",
                    include_bytes!("../vectors/snappy-zero-tail/wal/seg0000000000000001.wal"),
                ),
                (
                    "seg0000000000000003.wal",
                    include_bytes!("../vectors/snappy-zero-tail/wal/seg0000000000000003.wal"),
                ),
            ],
        ),
        other => panic!("no vector {other}"),
    };
    let records = jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            rec(
                v["series_id"].as_u64().unwrap(),
                v["timestamp"].as_i64().unwrap(),
                &hex(v["value_hex"].as_str().unwrap()),
            )
        })
        .collect();
    Vector {
        files: files
            .into_iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect(),
        records,
    }
}

pub fn vector_one_frame_raw_is_reproduced_byte_for_byte<B: Backend>() {
    let v = vector("one-frame-raw");
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), raw(Config::default())).unwrap();
    write_all(&mut wal, &v.records);
    wal.close().unwrap();
    assert_eq!(b.names(), vec!["seg0000000000000001.wal"]);
    assert_eq!(
        b.read_file("seg0000000000000001.wal").unwrap(),
        v.files[0].1
    );
}

pub fn vector_rotate_raw_is_reproduced_byte_for_byte<B: Backend>() {
    let v = vector("rotate-raw");
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), raw(Config::default())).unwrap();
    write_all(&mut wal, &v.records[..5]);
    wal.flush().unwrap();
    let closed = wal.rotate().unwrap();
    assert_eq!((closed.id, closed.frames, closed.records), (1, 1, 5));
    write_all(&mut wal, &v.records[5..]);
    wal.close().unwrap();
    for (name, bytes) in &v.files {
        assert_eq!(&b.read_file(name).unwrap(), bytes, "{name}");
    }
}

pub fn vectors_are_read_back_exactly<B: Backend>() {
    for name in ["one-frame-raw", "rotate-raw", "snappy-zero-tail"] {
        let v = vector(name);
        let b = B::fresh();
        for (n, bytes) in &v.files {
            b.write_file(n, bytes);
        }
        let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
        let got = read_all(&mut wal);
        assert_eq!(got.len(), v.records.len(), "{name}");
        assert_eq!(by_series(&got), by_series(&v.records), "{name}");
        match name {
            "one-frame-raw" => assert_eq!(got, frame_order(&v.records)),
            "rotate-raw" => {
                let mut want = frame_order(&v.records[..5]);
                want.extend(frame_order(&v.records[5..]));
                assert_eq!(got, want);
            }
            _ => {
                assert_eq!(wal.segments(), vec![1, 3], "a gap in IDs is allowed");
                assert_eq!(
                    wal.recovery().released_zero_bytes,
                    4096,
                    "{}",
                    wal.recovery()
                );
                assert!(wal.recovery().cut.is_none());
                let infos: Vec<_> = [1, 3].iter().map(|id| wal.info(*id).unwrap()).collect();
                assert_eq!(infos.iter().map(|i| i.frames).sum::<u64>(), 4);
                assert_eq!(infos.iter().map(|i| i.entries).sum::<u64>(), 17);
                assert_eq!(infos.iter().map(|i| i.snappy_frames).sum::<u64>(), 4);
            }
        }
    }
}

// ---------------------------------------------------------------- buffer and flush

pub fn records_group_by_series_in_first_arrival_order<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let recs = vec![
        rec(5, 1, b"a"),
        rec(3, 2, b"b"),
        rec(5, 3, b"c"),
        rec(9, 4, b""),
        rec(3, 5, b"d"),
        rec(5, 6, b"e"),
    ];
    write_all(&mut wal, &recs);
    wal.flush().unwrap();
    let entries: Vec<Entry> = wal.read(1).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        entries.iter().map(|e| e.series_id).collect::<Vec<_>>(),
        vec![5, 3, 9]
    );
    assert_eq!(entries[0].timestamps, vec![1, 3, 6]);
    assert_eq!(
        entries[0].values,
        vec![b"a".to_vec(), b"c".to_vec(), b"e".to_vec()]
    );
    assert_eq!(entries[1].timestamps, vec![2, 5]);
    assert_eq!(entries[2].values, vec![Vec::<u8>::new()]);
    assert_eq!(wal.active().frames, 1);
    assert_eq!(wal.active().entries, 3);
}

pub fn flushes_when_the_buffer_is_full<B: Backend>() {
    let b = B::fresh();
    let cfg = raw(Config::default()
        .with_buffer_size(1024)
        .with_flush_interval(None));
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    // Each record adds 8 + 2 + 100 bytes; one series adds 20 once.
    let per = 110;
    let fit = (1024 - 20usize).div_ceil(per); // records until the buffer reaches 1024
    for i in 0..fit - 1 {
        wal.write_with(1, i as i64, &[7u8; 100], t0(), acks.callback())
            .unwrap();
    }
    assert_eq!(wal.active().frames, 0, "not full yet");
    assert_eq!(acks.ok(), 0, "no completion before the frame is written");
    wal.write_with(1, 99, &[7u8; 100], t0(), acks.callback())
        .unwrap();
    assert_eq!(
        wal.active().frames,
        1,
        "the write that filled the buffer flushed it"
    );
    assert_eq!(acks.ok(), fit);
    assert_eq!(wal.buffered_records(), 0);
    // The frame holds about one buffer.
    let info = wal.active().clone();
    assert!(
        info.bytes - 24 - 16 >= 1024 && info.bytes - 24 - 16 < 1024 + per as u64,
        "{info:?}"
    );
}

pub fn flushes_when_the_interval_passes<B: Backend>() {
    let b = B::fresh();
    let cfg = Config::default().with_flush_interval(Some(Duration::from_millis(10)));
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"x", Duration::from_millis(100), acks.callback())
        .unwrap();
    assert_eq!(wal.next_deadline(), Some(Duration::from_millis(110)));
    wal.poll(Duration::from_millis(109)).unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (0, 0));
    // A later write does not move the deadline: it is set by the oldest record.
    wal.write_with(2, 2, b"y", Duration::from_millis(105), acks.callback())
        .unwrap();
    assert_eq!(wal.next_deadline(), Some(Duration::from_millis(110)));
    wal.poll(Duration::from_millis(110)).unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (2, 1));
    assert_eq!(wal.next_deadline(), None);
    // A write that finds the interval passed flushes too.
    wal.write_with(3, 3, b"z", Duration::from_millis(200), acks.callback())
        .unwrap();
    wal.write_with(3, 4, b"w", Duration::from_millis(211), acks.callback())
        .unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (4, 2));
}

pub fn no_time_flush_when_the_interval_is_off<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default().with_flush_interval(None)).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    assert_eq!(wal.next_deadline(), None);
    wal.poll(Duration::from_secs(3600)).unwrap();
    assert_eq!(wal.active().frames, 0);
    wal.flush().unwrap();
    assert_eq!(wal.active().frames, 1);
}

pub fn flushes_on_demand_and_completes_each_record_exactly_once<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    for i in 0..100 {
        wal.write_with(i % 7, i as i64, b"v", t0(), acks.callback())
            .unwrap();
    }
    assert_eq!(acks.ok(), 0);
    wal.flush().unwrap();
    assert_eq!(acks.ok(), 100);
    wal.flush().unwrap(); // empty: nothing to do
    wal.close().unwrap();
    assert_eq!(acks.ok(), 100);
    assert!(acks.errors().is_empty());
    assert_eq!(wal.active().frames, 1);
}

// ---------------------------------------------------------------- rotation, read, delete

pub fn rotate_returns_the_closed_segment<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    write_all(
        &mut wal,
        &[rec(1, 50, b"a"), rec(2, -5, b"b"), rec(1, 70, b"c")],
    );
    let info = wal.rotate().unwrap(); // flushes first
    assert_eq!(info.id, 1);
    assert_eq!((info.frames, info.entries, info.records), (1, 2, 3));
    assert_eq!(
        (info.min_timestamp, info.max_timestamp),
        (Some(-5), Some(70))
    );
    assert_eq!(
        info.bytes,
        b.read_file("seg0000000000000001.wal").unwrap().len() as u64
    );
    assert_eq!(wal.segments(), vec![1, 2]);
    let empty = wal.rotate().unwrap();
    assert_eq!(
        (empty.id, empty.frames, empty.records, empty.min_timestamp),
        (2, 0, 0, None)
    );
    assert_eq!(wal.segments(), vec![1, 2, 3]);
    assert_eq!(
        wal.info(1).unwrap(),
        info,
        "a scan of the closed segment agrees"
    );
}

pub fn rotates_when_file_size_would_be_passed<B: Backend>() {
    let b = B::fresh();
    let cfg = (raw(Config::default()))
        .with_file_size(4096)
        .with_buffer_size(512)
        .with_flush_interval(None);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let recs = workload(2000, 10, 1);
    write_all(&mut wal, &recs);
    wal.close().unwrap();
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let ids = wal.segments();
    assert!(ids.len() > 10, "{ids:?}");
    for id in &ids {
        let len = b
            .read_file(&FileName::Segment(*id).to_string())
            .unwrap()
            .len();
        assert!(len <= 4096, "segment {id} has {len} bytes");
        let info = wal.info(*id).unwrap();
        assert!(
            info.frames >= 1,
            "no empty segment is left behind by size rotation"
        );
        assert_eq!(info.bytes, len as u64);
    }
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

pub fn a_frame_larger_than_file_size_gets_its_own_segment<B: Backend>() {
    let b = B::fresh();
    let cfg = (raw(Config::default()))
        .with_file_size(4096)
        .with_buffer_size(1024);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    wal.write(1, 1, b"small", t0()).unwrap();
    wal.flush().unwrap();
    wal.write(1, 2, &vec![9u8; 10_000], t0()).unwrap(); // flushes (over buffer_size)
    assert_eq!(wal.segments(), vec![1, 2]);
    assert_eq!(wal.info(2).unwrap().records, 1);
    wal.write(1, 3, b"after", t0()).unwrap();
    wal.flush().unwrap();
    assert_eq!(wal.segments(), vec![1, 2, 3]);
    let all = read_all(&mut wal);
    assert_eq!(
        all.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(all[1].value.len(), 10_000);
}

pub fn read_streams_closed_and_active_segments<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let first = workload(300, 5, 2);
    write_all(&mut wal, &first);
    let closed = wal.rotate().unwrap();
    assert_eq!(
        by_series(&read_records(&mut wal, closed.id)),
        by_series(&first)
    );
    let second = workload(50, 5, 3);
    write_all(&mut wal, &second[..20]);
    wal.flush().unwrap();
    write_all(&mut wal, &second[20..]); // buffered, not flushed
    let active = wal.segments()[1];
    assert_eq!(
        read_records(&mut wal, active),
        frame_order(&second[..20]),
        "only flushed frames"
    );
    wal.flush().unwrap();
    assert_eq!(read_records(&mut wal, active).len(), 50);
    assert_eq!(wal.read(99).err(), Some(Error::UnknownSegment { id: 99 }));
}

pub fn delete_removes_closed_segments_only<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    write_all(&mut wal, &workload(10, 2, 4));
    let one = wal.rotate().unwrap().id;
    write_all(&mut wal, &workload(10, 2, 5));
    let two = wal.rotate().unwrap().id;
    let active = *wal.segments().last().unwrap();
    assert_eq!(wal.delete(active), Err(Error::ActiveSegment { id: active }));
    assert_eq!(wal.delete(77), Err(Error::UnknownSegment { id: 77 }));
    wal.delete(one).unwrap();
    assert_eq!(wal.delete(one), Err(Error::UnknownSegment { id: one }));
    assert!(matches!(wal.read(one), Err(Error::UnknownSegment { .. })));
    assert_eq!(wal.segments(), vec![two, active]);
    assert!(b.read_file(&FileName::Segment(one).to_string()).is_none());
    drop(wal);
    let wal = Wal::open(b.storage(), Config::default()).unwrap();
    assert_eq!(wal.segments(), vec![two, active], "the deletion is durable");
}

// ---------------------------------------------------------------- reopen and recovery

pub fn reopen_after_close_keeps_everything<B: Backend>() {
    let b = B::fresh();
    let recs = workload(3000, 20, 6);
    let cfg = raw(Config::default().with_file_size(64 * 1024));
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    write_all(&mut wal, &recs[..1500]);
    wal.close().unwrap();
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    assert!(wal.recovery().cut.is_none());
    write_all(&mut wal, &recs[1500..]);
    drop(wal); // dropping closes too
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    assert!(wal.segments().len() > 2);
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

fn newest_name<B: Backend>(b: &B) -> String {
    b.names()
        .into_iter()
        .filter(|n| matches!(FileName::parse(n), Some(FileName::Segment(_))))
        .max()
        .unwrap()
}

pub fn reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside<B: Backend>() {
    for damage in ["garbage", "half-frame"] {
        let b = B::fresh();
        let recs = workload(500, 7, 7);
        let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
        let acks = Acks::default();
        for r in &recs {
            wal.write_with(r.series_id, r.timestamp, &r.value, t0(), acks.callback())
                .unwrap();
        }
        wal.flush().unwrap();
        let good_len = wal.active().bytes;
        // A frame that was being written when the power went.
        for r in workload(40, 3, 8) {
            wal.write(r.series_id, r.timestamp, &r.value, t0()).unwrap();
        }
        wal.flush().unwrap();
        drop(wal);
        let name = newest_name(&b);
        let mut bytes = b.read_file(&name).unwrap();
        let tail = match damage {
            "garbage" => {
                bytes.truncate(good_len as usize);
                bytes.extend_from_slice(b"\x01garbage that is not a frame");
                bytes[good_len as usize..].to_vec()
            }
            _ => {
                let cut = good_len as usize + (bytes.len() - good_len as usize) / 2;
                bytes.truncate(cut);
                bytes[good_len as usize..].to_vec()
            }
        };
        b.write_file(&name, &bytes);
        let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
        let report = wal.recovery().clone();
        let cut = report
            .cut
            .clone()
            .unwrap_or_else(|| panic!("{damage}: nothing cut: {report}"));
        assert_eq!(
            (cut.offset, cut.bytes),
            (good_len, tail.len() as u64),
            "{damage}"
        );
        assert_eq!(
            b.read_file(&cut.sidecar).unwrap(),
            tail,
            "{damage}: the cut bytes are kept"
        );
        assert_eq!(cut.sidecar, format!("{name}.torn-{good_len}"));
        assert!(report.to_string().contains(&cut.sidecar), "{report}");
        assert_eq!(b.read_file(&name).unwrap().len() as u64, good_len);
        assert_eq!(acks.ok(), recs.len());
        assert_eq!(
            by_series(&read_all(&mut wal)),
            by_series(&recs),
            "{damage}: every acknowledged record"
        );
        // Appending continues right after the last valid frame.
        wal.write(1, 1, b"after", t0()).unwrap();
        wal.close().unwrap();
        let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
        assert!(wal.recovery().cut.is_none());
        assert_eq!(read_all(&mut wal).len(), recs.len() + 1);
    }
}

pub fn damage_in_the_middle_of_the_newest_segment_is_told_apart_from_a_torn_tail<B: Backend>() {
    let b = B::fresh();
    let cfg = raw(Config::default().with_flush_interval(None).with_reserve(0));
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let mut ends = vec![];
    for f in 0..4 {
        write_all(&mut wal, &workload(20, 3, 20 + f));
        wal.flush().unwrap();
        ends.push(wal.active().bytes as usize);
    }
    drop(wal);
    let name = newest_name(&b);
    let mut bytes = b.read_file(&name).unwrap();
    // A bit flip inside frame 2 (of 4): frames 3 and 4 are intact after it.
    bytes[ends[0] + 30] ^= 0x10;
    b.write_file(&name, &bytes);
    let wal = Wal::open(b.storage(), cfg).unwrap();
    let cut = wal.recovery().cut.clone().expect("the damage is cut");
    assert_eq!(cut.offset as usize, ends[0]);
    assert_eq!(
        (cut.frames_after, cut.records_after),
        (2, 40),
        "the intact frames after the damage are counted"
    );
    let report = wal.recovery().to_string();
    assert!(
        report.contains("WARNING: 2 valid frame(s) with 40 record(s)"),
        "{report}"
    );
    assert_eq!(
        b.read_file(&cut.sidecar).unwrap(),
        bytes[ends[0]..].to_vec(),
        "and kept"
    );
    drop(wal);
    // A plain torn tail has nothing valid after the cut.
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    write_all(&mut wal, &workload(20, 3, 30));
    wal.close().unwrap();
    drop(wal);
    let mut bytes = b.read_file(&newest_name(&b)).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(&[7u8; 300]);
    b.write_file(&newest_name(&b), &bytes);
    let wal = Wal::open(b.storage(), cfg).unwrap();
    let cut = wal.recovery().cut.clone().unwrap();
    assert_eq!((cut.offset as usize, cut.frames_after), (good, 0));
    assert!(!wal.recovery().to_string().contains("WARNING"));
}

pub fn strict_recovery_refuses_a_torn_tail<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    wal.close().unwrap();
    drop(wal);
    let name = newest_name(&b);
    let mut bytes = b.read_file(&name).unwrap();
    let end = bytes.len() as u64;
    bytes.extend_from_slice(&[0xAB; 5]);
    b.write_file(&name, &bytes);
    let strict = Config::default().with_recovery(RecoveryMode::Strict);
    match Wal::open(b.storage(), strict) {
        Err(Error::Corrupt {
            segment: 1,
            offset,
            reason: Corruption::FrameHeaderTruncated { remaining: 5 },
        }) => {
            assert_eq!(offset, end)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.read_file(&name).unwrap(),
        bytes,
        "strict open changes nothing"
    );
}

pub fn a_torn_segment_header_is_recreated<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"kept", t0()).unwrap();
    wal.rotate().unwrap();
    drop(wal);
    // The newest segment lost its header in a crash right after creation.
    b.write_file("seg0000000000000002.wal", &codec_header(2)[..10]);
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let cut = wal.recovery().cut.clone().unwrap();
    assert_eq!((cut.segment, cut.offset, cut.bytes), (2, 0, 10));
    assert_eq!(cut.reason, Corruption::HeaderTruncated { len: 10 });
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap(),
        codec_header(2).to_vec()
    );
    assert_eq!(read_all(&mut wal).len(), 1);
    wal.write(2, 2, b"new", t0()).unwrap();
    wal.close().unwrap();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    assert_eq!(read_all(&mut wal).len(), 2);
}

pub fn a_whole_foreign_header_on_the_newest_segment_is_refused_not_repaired<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    wal.rotate().unwrap();
    drop(wal);
    // Segment 2's file holds a valid header for segment 5 (a renamed file).
    let mut foreign = codec_header(5).to_vec();
    foreign.extend_from_slice(b"someone else's frames");
    b.write_file("seg0000000000000002.wal", &foreign);
    match Wal::open(b.storage(), Config::default()) {
        Err(
            e @ Error::Corrupt {
                segment: 2,
                offset: 0,
                reason: Corruption::SegmentIdMismatch { found: 5 },
            },
        ) => {
            assert!(e.to_string().contains("seg0000000000000002.wal"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap(),
        foreign,
        "left untouched"
    );
}

pub fn reserved_space_is_used_then_released<B: Backend>() {
    let b = B::fresh();
    let cfg = Config::default()
        .with_reserve(64 * 1024)
        .with_flush_interval(None);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let recs = workload(300, 5, 11);
    write_all(&mut wal, &recs[..100]);
    wal.flush().unwrap();
    let log = wal.active().bytes as usize;
    let file = b.read_file("seg0000000000000001.wal").unwrap();
    assert!(
        file.len() >= log + 64 * 1024,
        "zeros are reserved ahead of the log ({} bytes)",
        file.len()
    );
    assert!(file[log..].iter().all(|&x| x == 0));
    // Rotation releases the closed segment's reserved space.
    let closed = wal.rotate().unwrap();
    assert_eq!(
        b.read_file("seg0000000000000001.wal").unwrap().len() as u64,
        closed.bytes
    );
    write_all(&mut wal, &recs[100..200]);
    wal.flush().unwrap();
    let log2 = wal.active().bytes as usize;
    // A crash (no close) leaves the zeros; reopening releases them, cuts nothing.
    let mut frozen = b.read_file("seg0000000000000002.wal").unwrap();
    assert!(frozen.len() > log2);
    drop(wal);
    b.write_file("seg0000000000000002.wal", &frozen);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    assert!(wal.recovery().cut.is_none(), "{}", wal.recovery());
    assert_eq!(
        wal.recovery().released_zero_bytes as usize,
        frozen.len() - log2
    );
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs[..200]));
    drop(wal);
    // A frame torn inside the reserved zeros is cut with the zeros after it.
    frozen[log2..log2 + 5].copy_from_slice(b"\x01torn");
    b.write_file("seg0000000000000002.wal", &frozen);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let cut = wal.recovery().cut.clone().expect("the torn frame is cut");
    assert_eq!(
        (cut.offset as usize, cut.bytes as usize),
        (log2, frozen.len() - log2)
    );
    assert_eq!(b.read_file(&cut.sidecar).unwrap(), frozen[log2..].to_vec());
    write_all(&mut wal, &recs[200..]);
    wal.close().unwrap();
    assert_eq!(
        b.read_file("seg0000000000000002.wal").unwrap().len() as u64,
        wal.active().bytes,
        "close releases"
    );
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    assert_eq!(by_series(&read_all(&mut wal)), by_series(&recs));
}

fn codec_header(id: u64) -> [u8; 24] {
    wal_core::format::header::encode(id)
}

// ---------------------------------------------------------------- determinism and errors

pub fn the_same_writes_give_the_same_bytes<B: Backend>() {
    for compression in [false, true] {
        let cfg = Config::default()
            .with_compression(compression)
            .with_file_size(8192)
            .with_buffer_size(1024)
            .with_flush_interval(None);
        let recs = workload(1500, 30, 9);
        let run = || {
            let b = B::fresh();
            let mut wal = Wal::open(b.storage(), cfg).unwrap();
            write_all(&mut wal, &recs[..700]);
            wal.rotate().unwrap();
            write_all(&mut wal, &recs[700..]);
            wal.close().unwrap();
            b.names()
                .into_iter()
                .map(|n| (n.clone(), b.read_file(&n).unwrap()))
                .collect::<Vec<_>>()
        };
        let (one, two) = (run(), run());
        assert!(one.len() > 3);
        assert_eq!(one, two, "compression {compression}");
    }
}

pub fn a_value_over_65535_bytes_is_refused_and_nothing_is_buffered<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    wal.write(1, 1, b"a", t0()).unwrap();
    let err = wal
        .write_with(1, 2, &vec![0u8; 65_536], t0(), acks.callback())
        .unwrap_err();
    assert_eq!(err, Error::ValueTooLarge { len: 65_536 });
    assert!(err.to_string().contains("65536"), "{err}");
    assert_eq!(
        acks.errors(),
        vec![err],
        "the completion hears it too, once"
    );
    assert_eq!(wal.buffered_records(), 1);
    wal.write(1, 3, &vec![0u8; 65_535], t0()).unwrap(); // the longest value is fine
    wal.close().unwrap();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let all = read_all(&mut wal);
    assert_eq!(
        all.iter()
            .map(|r| (r.timestamp, r.value.len()))
            .collect::<Vec<_>>(),
        vec![(1, 1), (3, 65_535)]
    );
}

pub fn a_write_after_close_is_an_error<B: Backend>() {
    let b = B::fresh();
    let mut wal = Wal::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"before", t0(), acks.callback())
        .unwrap();
    wal.close().unwrap();
    assert_eq!(acks.ok(), 1, "close completes everything");
    assert_eq!(
        wal.write_with(1, 2, b"after", t0(), acks.callback()),
        Err(Error::Closed)
    );
    assert_eq!(acks.errors(), vec![Error::Closed]);
    assert_eq!(wal.flush(), Err(Error::Closed));
    assert!(matches!(wal.rotate(), Err(Error::Closed)));
    assert_eq!(wal.close(), Ok(()), "closing twice is harmless");
}

pub fn invalid_config_is_refused_at_open_naming_the_field<B: Backend>() {
    let cases = [
        (Config::default().with_buffer_size(0), "buffer_size"),
        (Config::default().with_buffer_size(2 << 30), "buffer_size"),
        (Config::default().with_file_size(1000), "file_size"),
        (
            Config::default()
                .with_buffer_size(1 << 20)
                .with_file_size(1 << 19),
            "file_size",
        ),
        (
            Config::default().with_flush_interval(Some(Duration::ZERO)),
            "flush_interval",
        ),
    ];
    for (cfg, field) in cases {
        let b = B::fresh();
        match Wal::open(b.storage(), cfg) {
            Err(e @ Error::InvalidConfig { field: f, .. }) => {
                assert_eq!(f, field);
                assert!(e.to_string().contains(field), "{e}");
            }
            other => panic!("{field}: {other:?}"),
        }
        assert!(b.names().is_empty(), "a refused open writes nothing");
    }
}

pub fn sync_never_still_completes_and_reopens<B: Backend>() {
    let b = B::fresh();
    let cfg = Config::default().with_sync(SyncPolicy::Never);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    for r in workload(100, 4, 10) {
        wal.write_with(r.series_id, r.timestamp, &r.value, t0(), acks.callback())
            .unwrap();
    }
    wal.close().unwrap();
    assert_eq!(acks.ok(), 100);
    let mut wal = Wal::open(b.storage(), cfg).unwrap();
    assert_eq!(read_all(&mut wal).len(), 100);
}

/// Instantiates every test of the suite for a backend type.
#[macro_export]
macro_rules! behavioural_suite {
    ($backend:ty) => {
        $crate::behavioural_suite!(@tests $backend;
            vector_one_frame_raw_is_reproduced_byte_for_byte,
            vector_rotate_raw_is_reproduced_byte_for_byte,
            vectors_are_read_back_exactly,
            records_group_by_series_in_first_arrival_order,
            flushes_when_the_buffer_is_full,
            flushes_when_the_interval_passes,
            no_time_flush_when_the_interval_is_off,
            flushes_on_demand_and_completes_each_record_exactly_once,
            rotate_returns_the_closed_segment,
            rotates_when_file_size_would_be_passed,
            a_frame_larger_than_file_size_gets_its_own_segment,
            read_streams_closed_and_active_segments,
            delete_removes_closed_segments_only,
            reopen_after_close_keeps_everything,
            reopen_after_a_torn_tail_cuts_it_and_keeps_it_aside,
            strict_recovery_refuses_a_torn_tail,
            damage_in_the_middle_of_the_newest_segment_is_told_apart_from_a_torn_tail,
            a_torn_segment_header_is_recreated,
            a_whole_foreign_header_on_the_newest_segment_is_refused_not_repaired,
            the_same_writes_give_the_same_bytes,
            a_value_over_65535_bytes_is_refused_and_nothing_is_buffered,
            a_write_after_close_is_an_error,
            invalid_config_is_refused_at_open_naming_the_field,
            sync_never_still_completes_and_reopens,
            reserved_space_is_used_then_released,
        );
    };
    (@tests $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                suite::$name::<$backend>()
            }
        )*
    };
}
