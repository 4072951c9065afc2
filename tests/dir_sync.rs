//! Where the core syncs the directory: a name it created or removed is made
//! durable (`Storage::sync_dir`) before anything depends on it, and open
//! syncs it before the newest segment takes frames. Read from the in-memory
//! storage's log of mutating operations.

use std::time::Duration;

use wal_core::testing::{CrashModel, Fault, MemStorage, NamesDurable, Op};
use wal_core::{Config, FileName, Wal};

const T0: Duration = Duration::ZERO;

/// The operations run since `from` (an index into the op log).
fn ops_since(storage: &MemStorage, from: usize) -> Vec<Op> {
    storage.op_log()[from..].to_vec()
}

fn config() -> Config {
    Config::default()
        .with_compression(false)
        .with_flush_interval(None)
        .with_reserve(0)
}

#[test]
fn a_new_segment_is_named_durably_before_any_frame_goes_into_it() {
    let s1 = FileName::Segment(1);
    let s2 = FileName::Segment(2);
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), config()).unwrap();
    // At open of an empty storage: the header, synced, then the name.
    assert_eq!(
        ops_since(&storage, 0),
        vec![Op::Create(s1), Op::Write(s1), Op::Sync(s1), Op::SyncDir]
    );
    wal.write(1, 1, b"first", T0).unwrap();
    wal.flush().unwrap();
    // At rotation: the old segment synced, the new one created the same way.
    let from = storage.op_log().len();
    wal.rotate().unwrap();
    assert_eq!(
        ops_since(&storage, from),
        vec![
            Op::Sync(s1),
            Op::Create(s2),
            Op::Write(s2),
            Op::Sync(s2),
            Op::SyncDir
        ]
    );
    // A rotation by size inside a write does the same before the frame.
    let probe = MemStorage::new();
    let mut small = Wal::open(
        probe.clone(),
        config().with_buffer_size(64).with_file_size(128),
    )
    .unwrap();
    small.write(1, 1, &[7; 40], T0).unwrap();
    small.flush().unwrap();
    let from = probe.op_log().len();
    small.write(1, 2, &[8; 40], T0).unwrap();
    small.flush().unwrap();
    assert_eq!(
        ops_since(&probe, from),
        vec![
            Op::Sync(s1),
            Op::Create(s2),
            Op::Write(s2),
            Op::Sync(s2),
            Op::SyncDir,
            Op::Write(s2),
            Op::Sync(s2)
        ]
    );
    wal.close().unwrap();
}

#[test]
fn a_delete_returns_once_the_removal_is_durable() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), config()).unwrap();
    wal.write(1, 1, b"old", T0).unwrap();
    wal.rotate().unwrap();
    let from = storage.op_log().len();
    wal.delete(1).unwrap();
    assert_eq!(
        ops_since(&storage, from),
        vec![Op::Remove(FileName::Segment(1)), Op::SyncDir]
    );
}

#[test]
fn a_sidecar_is_named_durably_before_the_segment_is_cut() {
    let storage = MemStorage::new();
    let mut wal = Wal::open(storage.clone(), config()).unwrap();
    wal.write(1, 1, b"kept", T0).unwrap();
    wal.close().unwrap();
    let seg = FileName::Segment(1);
    let mut bytes = storage.contents(seg).unwrap();
    let end = bytes.len() as u64;
    bytes.extend_from_slice(b"torn garbage");
    storage.put(seg, bytes);
    let from = storage.op_log().len();
    let wal = Wal::open(storage.clone(), config()).unwrap();
    let side = FileName::TornTail {
        segment: 1,
        offset: end,
        copy: 0,
    };
    assert_eq!(
        wal.recovery().cut.as_ref().unwrap().sidecar,
        side.to_string()
    );
    assert_eq!(
        ops_since(&storage, from),
        vec![
            Op::Create(side),
            Op::Write(side),
            Op::Sync(side),
            Op::SyncDir,
            Op::Truncate(seg),
            Op::Sync(seg),
            Op::SyncDir
        ]
    );
}

#[test]
fn open_names_the_newest_segment_durably_before_anything_goes_into_it() {
    // A run created segment 1 and synced its header, then failed to sync
    // the directory; the process restarts without a power cut.
    let storage = MemStorage::new();
    let seg = FileName::Segment(1);
    storage.inject(3, Fault::Fail);
    assert!(Wal::open(storage.clone(), config()).is_err());
    assert_eq!(storage.op_log()[3], Op::SyncDir);
    assert!(storage.durable_files(NamesDurable::OnDirSync).is_empty());
    let from = storage.op_log().len();
    let mut wal = Wal::open(storage.clone(), config()).unwrap();
    assert_eq!(ops_since(&storage, from), vec![Op::Sync(seg), Op::SyncDir]);
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let a = acked.clone();
    wal.write_with(1, 1, b"acknowledged", T0, move |r| {
        a.store(r.is_ok(), std::sync::atomic::Ordering::SeqCst)
    })
    .unwrap();
    wal.flush().unwrap();
    assert!(acked.load(std::sync::atomic::Ordering::SeqCst));
    let image = storage.crash_image(1, CrashModel::HARSH);
    let bytes = image
        .contents(seg)
        .expect("the segment survives a power cut");
    assert!(bytes.windows(12).any(|w| w == b"acknowledged"));
}
