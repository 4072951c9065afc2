//! The behavioural suite on the in-memory backend, plus what only it can
//! show: what is durable when a completion fires, failures injected into
//! writes and syncs, and power cuts.

mod suite;

use std::time::Duration;

use suite::{by_series, read_all, workload, Acks, Backend};
use wal_core::mem::{Fault, FileKey, MemStorage};
use wal_core::segment::{parse_file_name, torn_file_name};
use wal_core::{Config, Error, SyncPolicy, Wal};

struct Mem(MemStorage);

fn key_of(name: &str) -> FileKey {
    if let Some(id) = parse_file_name(name) {
        return FileKey::Segment(id);
    }
    let (seg, off) = name
        .split_once(".torn-")
        .expect("a segment or sidecar name");
    let id = parse_file_name(seg).unwrap();
    FileKey::Torn(id, off.parse().unwrap())
}

fn name_of(key: FileKey) -> String {
    match key {
        FileKey::Segment(id) => wal_core::segment::file_name(id),
        FileKey::Torn(id, off) => torn_file_name(id, off),
    }
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
        let mut v: Vec<String> = self.0.files().into_iter().map(name_of).collect();
        v.sort();
        v
    }
}

behavioural_suite!(Mem);

const T0: Duration = Duration::ZERO;

#[test]
fn a_completion_fires_only_once_its_frame_is_durable() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(
        storage.clone(),
        Config {
            compression: false,
            ..Config::default()
        },
    )
    .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (s, probe) = (seen.clone(), storage.clone());
    wal.write_with(1, 1, b"must be durable", T0, move |r| {
        let durable = probe.durable_contents(FileKey::Segment(1)).unwrap();
        *s.lock().unwrap() = Some((r, durable));
    })
    .unwrap();
    wal.flush().unwrap();
    let (r, durable) = seen.lock().unwrap().take().expect("completion fired");
    assert_eq!(r, Ok(()));
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
    let cfg = Config {
        reserve: 0,
        ..Config::default()
    };
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
    let mut wal = Wal::open(
        storage.clone(),
        Config {
            compression: false,
            ..Config::default()
        },
    )
    .unwrap();
    let acks = Acks::default();
    storage.set_capacity(Some(2000));
    for i in 0..40 {
        wal.write_with(1, i, &[1u8; 100], T0, acks.callback())
            .unwrap();
    }
    let err = wal.flush().unwrap_err();
    assert!(err.to_string().contains("storage full"), "{err}");
    assert_eq!((acks.ok(), acks.errors().len()), (0, 40));
}

#[test]
fn acknowledged_records_survive_a_power_cut() {
    let storage = MemStorage::new();
    let cfg = Config {
        buffer_size: 2048,
        file_size: 16 * 1024,
        ..Config::default()
    };
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    let recs = workload(1000, 13, 3);
    for r in &recs {
        wal.write_with(r.series_id, r.timestamp, &r.value, T0, acks.callback())
            .unwrap();
    }
    let acked = acks.ok();
    assert!(acked > 500 && acked < 1000, "{acked}");
    // Crash with the buffer never flushed: exactly the acknowledged prefix survives.
    let crashed = storage.crash();
    std::mem::forget(wal); // the process died: no close on drop
    let mut wal = Wal::open(crashed, cfg).unwrap();
    let got = read_all(&mut wal);
    assert_eq!(by_series(&got), by_series(&recs[..acked]));
}

#[test]
fn sync_never_acknowledges_without_syncing_until_close() {
    let storage = MemStorage::new();
    let cfg = Config {
        sync: SyncPolicy::Never,
        reserve: 0,
        ..Config::default()
    };
    let mut wal = Wal::open(storage.clone(), cfg).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"page cache", T0, acks.callback())
        .unwrap();
    wal.flush().unwrap();
    assert_eq!(acks.ok(), 1);
    let durable = storage.durable_contents(FileKey::Segment(1)).unwrap();
    assert_eq!(durable.len(), 24, "only the header was synced");
    wal.close().unwrap();
    assert!(
        storage.durable_contents(FileKey::Segment(1)).unwrap().len() > 24,
        "close syncs"
    );
}
