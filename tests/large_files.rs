//! Segment files longer than 4 GiB, made sparse (`set_len`), so that every
//! file offset and length past `u32::MAX` goes through the code that a
//! 32-bit target (wasm32) runs with a 32-bit `usize`. Runs natively and,
//! built for `wasm32-wasip1`, under wasmtime (test.sh).
//!
//! The format puts frames back to back from byte 24, so a valid frame past
//! 4 GiB needs 4 GiB of frames before it; what a segment may hold past its
//! last frame is zero bytes, unused space. Here, 5 GiB of them:
//!
//! - after the last frame of the newest segment: reserved space, which open
//!   releases, reporting exactly how many bytes;
//! - after the last frame of a closed segment: allowed, and reading or
//!   inspecting it checks every one of those bytes is zero and reports the
//!   log exactly as it was.
//!
//! Proving 5 GiB are zeros means reading them (that is how recovery tells
//! reserved space from damage): each test prints how long it took.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use wal::{Config, FsOptions, FsStorage, SegmentId};
use wal_core::scan::{inspect, Ending};
use wal_core::{FileName, SegmentInfo, Storage, Wal};

/// Past `u32::MAX` by a whole GiB.
const SPARSE_LEN: u64 = 5 << 30;

/// Where the sparse files go: natively a tmpfs (`/dev/shm`) when there is
/// one, else the system's temporary directory; under WASI the directory the
/// runner preopened (`TMPDIR`, else `/tmp`; test.sh points the runner at
/// `/dev/shm`). On tmpfs a read of a hole copies the kernel's zero page:
/// 5 GiB read in 1.4 s, taking no memory. On ext4 the first read of a hole
/// fills the page cache with zeros: 50 s for the same 5 GiB on the
/// development machine under load, and 5 GiB of cache.
fn tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if cfg!(target_os = "wasi") {
        let base = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
        tempfile::tempdir_in(base).unwrap()
    } else if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

const OPTIONS: FsOptions = if cfg!(target_os = "wasi") {
    FsOptions::WASI_GUEST
} else {
    FsOptions::NATIVE
};

fn open(dir: &Path) -> Wal<FsStorage> {
    let storage = FsStorage::open_with(dir, OPTIONS).unwrap();
    Wal::open(storage, Config::default().with_flush_interval(None)).unwrap()
}

/// Writes `n` records (series `i % 5`, timestamp `base + i`) and flushes
/// them in frames of 50.
fn write(wal: &mut Wal<FsStorage>, base: i64, n: i64) {
    for i in 0..n {
        let value = format!("record {}", base + i);
        wal.write(i as u64 % 5, base + i, value.as_bytes(), Duration::ZERO)
            .unwrap();
        if i % 50 == 49 {
            wal.flush().unwrap();
        }
    }
    wal.flush().unwrap();
}

/// Every record of segment `id`: (series, timestamp, value).
fn records(wal: &mut Wal<FsStorage>, id: SegmentId) -> Vec<(u64, i64, Vec<u8>)> {
    let mut out = vec![];
    for e in wal.read(id).unwrap() {
        let e = e.unwrap();
        for (t, v) in e.timestamps.iter().zip(e.values) {
            out.push((e.series_id, *t, v));
        }
    }
    out
}

/// Makes segment `id` a sparse file of `SPARSE_LEN` bytes: its log, then
/// zeros.
fn make_sparse(dir: &Path, id: SegmentId) -> u64 {
    let path = dir.join(FileName::Segment(id).to_string());
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let log = file.metadata().unwrap().len();
    file.set_len(SPARSE_LEN).unwrap();
    file.sync_all().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), SPARSE_LEN);
    log
}

fn segment_len(dir: &Path, id: SegmentId) -> u64 {
    std::fs::metadata(dir.join(FileName::Segment(id).to_string()))
        .unwrap()
        .len()
}

#[test]
fn open_releases_5_gib_of_zeros_after_the_newest_segments_last_frame() {
    let dir = tempdir();
    let mut wal = open(dir.path());
    write(&mut wal, 0, 500);
    let want = records(&mut wal, 1);
    let info: SegmentInfo = wal.info(1).unwrap();
    wal.close().unwrap();
    drop(wal);
    let log = make_sparse(dir.path(), 1);
    assert_eq!(log, info.bytes, "a closed WAL's segment ends with its log");

    let start = Instant::now();
    let mut wal = open(dir.path());
    eprintln!(
        "open (released {SPARSE_LEN} bytes of zeros): {:?}",
        start.elapsed()
    );
    let report = wal.recovery().clone();
    assert_eq!(report.released_zero_bytes, SPARSE_LEN - log, "{report}");
    assert_eq!(report.bytes, log, "{report}");
    assert!(
        report.cut.is_none() && report.salvaged.is_none(),
        "{report}"
    );
    assert_eq!((report.frames, report.records), (info.frames, 500));
    assert_eq!(
        segment_len(dir.path(), 1),
        log,
        "released: cut back to the log"
    );
    assert_eq!(records(&mut wal, 1), want);
    // It appends again, right after the log.
    write(&mut wal, 500, 100);
    assert_eq!(wal.info(1).unwrap().records, 600);
    wal.close().unwrap();
    drop(wal);
    let mut wal = open(dir.path());
    assert_eq!(wal.recovery().released_zero_bytes, 0);
    assert_eq!(records(&mut wal, 1).len(), 600);
    wal.close().unwrap();
}

#[test]
fn a_closed_segment_with_5_gib_of_zeros_after_its_frames_reads_exactly() {
    let dir = tempdir();
    let mut wal = open(dir.path());
    write(&mut wal, 0, 400);
    let want = records(&mut wal, 1);
    let closed = wal.rotate().unwrap();
    write(&mut wal, 400, 50);
    wal.close().unwrap();
    drop(wal);
    let log = make_sparse(dir.path(), 1);
    assert_eq!(log, closed.bytes);

    let start = Instant::now();
    let mut wal = open(dir.path());
    eprintln!("open (the newest segment only): {:?}", start.elapsed());
    assert_eq!(wal.recovery().released_zero_bytes, 0);
    let start = Instant::now();
    assert_eq!(records(&mut wal, 1), want, "every record, nothing more");
    eprintln!(
        "read (frames, then {} zero bytes): {:?}",
        SPARSE_LEN - log,
        start.elapsed()
    );
    let start = Instant::now();
    assert_eq!(
        wal.info(1).unwrap(),
        closed,
        "the summary of the log, exactly"
    );
    eprintln!("info: {:?}", start.elapsed());
    assert_eq!(segment_len(dir.path(), 1), SPARSE_LEN, "never changed");

    // What the read-only tools see: clean, the log as it was.
    let mut storage = FsStorage::read_only(dir.path()).unwrap();
    let file = storage.open(FileName::Segment(1)).unwrap();
    let start = Instant::now();
    let mut seen = 0u64;
    let (info, ending) = inspect(1, file, false, |_, e| seen += e.len() as u64).unwrap();
    eprintln!("inspect: {:?}", start.elapsed());
    assert_eq!(ending, Ending::Clean);
    assert_eq!(info, closed);
    assert_eq!(seen, 400);
    // And writing goes on in the newest segment.
    write(&mut wal, 450, 10);
    assert_eq!(records(&mut wal, 2).len(), 60);
    wal.close().unwrap();
}

#[test]
fn a_byte_past_4_gib_after_a_closed_segments_frames_is_corruption() {
    // The zeros are checked to the last byte: one non-zero byte 5 GiB in
    // (where a length cut to 32 bits would stop looking long before) makes
    // the segment corrupt where its log ends, after every record.
    let dir = tempdir();
    let mut wal = open(dir.path());
    write(&mut wal, 0, 100);
    let closed = wal.rotate().unwrap();
    wal.close().unwrap();
    drop(wal);
    let log = make_sparse(dir.path(), 1);
    let path = dir.path().join(FileName::Segment(1).to_string());
    let mut file = OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(SPARSE_LEN - 1)).unwrap();
    file.write_all(&[1]).unwrap();
    drop(file);
    assert_eq!(segment_len(dir.path(), 1), SPARSE_LEN);

    let mut wal = open(dir.path());
    let start = Instant::now();
    let mut read = 0;
    let mut failed = None;
    for e in wal.read(1).unwrap() {
        match e {
            Ok(e) => read += e.timestamps.len(),
            Err(err) => failed = Some(err),
        }
    }
    eprintln!("read to the byte: {:?}", start.elapsed());
    assert_eq!(read, 100, "every record before the damage");
    match failed {
        Some(wal::Error::Corrupt {
            segment: 1, offset, ..
        }) => assert_eq!(offset, log, "damage named where the log ends"),
        other => panic!(
            "a non-zero byte at {} went unnoticed: {other:?}",
            SPARSE_LEN - 1
        ),
    }
    assert_eq!(closed.bytes, log);
    wal.close().unwrap();
}
