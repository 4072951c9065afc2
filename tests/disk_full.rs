//! A real disk filling up: an 8 MiB tmpfs mounted for each test (so it
//! needs root, as CI has; without it, or without `mount`, the tests fail
//! saying so, never skip). The WAL writes with callbacks until the disk is
//! full, and then:
//!
//! - it poisons with an error of kind `StorageFull` (ENOSPC), which every
//!   failed completion and every later call carries as its cause;
//! - every record acknowledged before is there after a reopen on the same,
//!   still mounted, file system, and nothing is left that recovery does not
//!   cut or release (every segment then reads back whole);
//! - once space is freed (a filler file written first is deleted), a
//!   reopen appends again.
//!
//! tmpfs allocates at `write`, so ENOSPC surfaces there: in the zeros the
//! log reserves ahead of small frames, or in a frame's own write (no
//! reserve, or a frame too large for it), leaving part of a frame behind.
//! A sync on tmpfs never fails; the mapping of ENOSPC from a sync (or from
//! any other operation) is the same one, checked directly below.
#![cfg(target_os = "linux")]

mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::within;
use wal::{Config, Error, ErrorKind, FsStorage, Position};

/// The file system's size, and the filler written first (freed at the end).
const FS_SIZE: &str = "8m";
const FILLER: usize = 3 << 20;
/// More records than 8 MiB can hold: reaching it means the disk never
/// filled.
const MAX_RECORDS: u64 = 200_000;
const VALUE_LEN: usize = 100;

/// A tmpfs mounted on a fresh temporary directory; unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Tmpfs {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1)); // effective
        assert_eq!(
            uid,
            Some("0"),
            "tests/disk_full.rs must run as root (effective uid {uid:?}): it mounts a {FS_SIZE} \
             tmpfs to fill, as CI (root) does"
        );
        let dir = tempfile::tempdir().expect("a temporary directory to mount on");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FS_SIZE}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("tests/disk_full.rs needs `mount` (util-linux): {e}"));
        assert!(
            out.status.success(),
            "mount -t tmpfs -o size={FS_SIZE} tmpfs {} failed ({}): {}",
            dir.path().display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.dir.path();
        let ok = Command::new("umount").arg(path).status();
        if !ok.is_ok_and(|s| s.success()) {
            // Busy (a failed test left a file open): detach it now, it goes
            // once the last file is closed.
            let _ = Command::new("umount").arg("-l").arg(path).status();
        }
    }
}

/// The value of record `i`: tells records apart, and does not compress.
fn value(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..VALUE_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Each record's outcome, by record number, as its completion reported it.
type Outcomes = Arc<Mutex<BTreeMap<u64, Result<(), Error>>>>;

/// What a run until the disk was full gave.
struct Filled {
    /// Records written (the last one refused).
    written: u64,
    outcomes: BTreeMap<u64, Result<(), Error>>,
    /// The error the refused write got.
    refused: Error,
    /// What close said.
    closed: Result<(), Error>,
    took: Duration,
}

/// Writes a filler file of `FILLER` bytes into the mount, synced.
fn filler(mount: &Tmpfs) -> PathBuf {
    let path = mount.path().join("filler");
    std::fs::write(&path, vec![0xAB; FILLER]).unwrap();
    path
}

/// The thread-safe WAL, writing with callbacks until a write is refused.
fn fill_threaded(dir: &Path, cfg: Config) -> Filled {
    let start = Instant::now();
    let wal = wal::Wal::open(dir, cfg).unwrap();
    let outcomes: Outcomes = Default::default();
    let mut refused = None;
    let mut i = 0;
    while i < MAX_RECORDS {
        let o = outcomes.clone();
        let done = move |r: Result<Position, Error>| {
            assert!(
                o.lock().unwrap().insert(i, r.map(drop)).is_none(),
                "completed twice"
            )
        };
        let r = wal.write_with(i % 8, i as i64, &value(i), done);
        i += 1;
        if let Err(e) = r {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("{MAX_RECORDS} records fit in {FS_SIZE}"));
    let closed = wal.close();
    drop(wal);
    let outcomes = Arc::try_unwrap(outcomes).unwrap().into_inner().unwrap();
    Filled {
        written: i,
        outcomes,
        refused,
        closed,
        took: start.elapsed(),
    }
}

/// The single-threaded core WAL on the same files, likewise.
fn fill_core(dir: &Path, cfg: Config) -> Filled {
    let start = Instant::now();
    let mut wal = wal_core::Wal::open(FsStorage::open(dir).unwrap(), cfg).unwrap();
    let outcomes: Outcomes = Default::default();
    let mut refused = None;
    let mut i = 0;
    while i < MAX_RECORDS {
        let o = outcomes.clone();
        let done = move |r: Result<Position, Error>| {
            assert!(
                o.lock().unwrap().insert(i, r.map(drop)).is_none(),
                "completed twice"
            )
        };
        let r = wal.write_with(i % 8, i as i64, &value(i), start.elapsed(), done);
        i += 1;
        if let Err(e) = r {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("{MAX_RECORDS} records fit in {FS_SIZE}"));
    let closed = wal.close();
    drop(wal);
    let outcomes = Arc::try_unwrap(outcomes).unwrap().into_inner().unwrap();
    Filled {
        written: i,
        outcomes,
        refused,
        closed,
        took: start.elapsed(),
    }
}

/// The poisoning: the first failure is `StorageFull` (ENOSPC), every failed
/// completion and every later call carries it as their cause, every record
/// completed exactly once. Returns the acknowledged records.
fn check_poisoned(f: &Filled, threaded: bool) -> Vec<u64> {
    assert_eq!(
        f.outcomes.len() as u64,
        f.written,
        "every write's completion fired once (the refused one's too)"
    );
    let full = |e: &Error| e.cause().kind() == ErrorKind::StorageFull;
    let failed: Vec<&Error> = f
        .outcomes
        .values()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert!(!failed.is_empty(), "no completion failed");
    for e in &failed {
        assert!(
            full(e),
            "a completion failed with {e} ({:?}), not for a full disk",
            e.kind()
        );
    }
    let direct: Vec<&&Error> = failed
        .iter()
        .filter(|e| e.kind() == ErrorKind::StorageFull)
        .collect();
    // A frame's own write that finds the disk full fails its records with
    // `StorageFull` itself; reserving zeros ahead happens off the write path
    // (the syncer, or between frames), so its failure reaches the records
    // only as the poison (`Poisoned`, caused by `StorageFull`).
    let first = direct.first().map_or(failed[0], |e| **e);
    assert!(
        !direct.is_empty() || failed.iter().all(|e| e.kind() == ErrorKind::Poisoned),
        "a failure neither StorageFull nor the poison it caused: {first}"
    );
    eprintln!("  the failure: {first}");
    if threaded {
        // The write refused at once: the WAL is poisoned.
        assert_eq!(f.refused.kind(), ErrorKind::Poisoned, "{}", f.refused);
    }
    assert!(full(&f.refused), "refused with {}", f.refused);
    match &f.closed {
        Err(e) => assert!(full(e), "close failed with {e}"),
        Ok(()) => panic!("close of a poisoned WAL said Ok"),
    }
    // Acknowledged records are a prefix: completions fire in write order,
    // and none is Ok after the first failure.
    let acked: Vec<u64> = f
        .outcomes
        .iter()
        .take_while(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(
        acked.len(),
        f.outcomes.values().filter(|r| r.is_ok()).count(),
        "a record was acknowledged after one before it failed"
    );
    assert!(
        acked.len() > 1000,
        "only {} records acknowledged",
        acked.len()
    );
    acked
}

/// Every record in `dir` (read through a reopened WAL, every frame
/// checked), by record number; fails on any damage.
fn records(wal: &wal::Wal) -> BTreeMap<u64, (u64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for id in wal.segments() {
        for e in wal.read(id).unwrap() {
            let e = e.unwrap_or_else(|err| panic!("segment {id} does not read back whole: {err}"));
            for (t, v) in e.timestamps.iter().zip(e.values) {
                out.insert(*t as u64, (e.series_id, v));
            }
        }
    }
    out
}

/// Where the disk turned out to be full, and so what recovery finds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Where {
    /// In the zeros reserved ahead of small frames: the log ends with
    /// zeros, which a reopen releases (freeing space, so it opens even on
    /// the full disk).
    Reserve,
    /// In a frame's own write: part of it is on the disk, a torn tail that
    /// a reopen sets aside in a sidecar and cuts (which needs space: on the
    /// full disk it fails for want of it).
    Frame,
    /// Either of those, or the header of a segment a rotation created (a
    /// reopen starts it over).
    Anywhere,
}

/// After the disk filled: a reopen on the same (still full) file system
/// opens or fails for want of space, as `place` says; once the filler is
/// deleted it opens, every acknowledged record is there, nothing but zeros
/// or a torn last frame was set aside, and writes are durable again.
fn check_reopen(mount: &Tmpfs, dir: &Path, filler: &Path, acked: &[u64], place: Where) {
    let while_full = wal::Wal::open(dir, Config::default());
    match &while_full {
        Ok(wal) => eprintln!("  reopened while full: {}", wal.recovery()),
        Err(e) => eprintln!("  reopen while full: {e}"),
    }
    match (place, while_full) {
        (Where::Reserve | Where::Anywhere, Ok(wal)) => {
            let report = wal.recovery();
            if place == Where::Reserve {
                assert!(report.released_zero_bytes > 0, "{report}");
            }
            assert!(
                report.cut.is_none() && report.salvaged.is_none(),
                "{report}"
            );
            check_records(&wal, dir, acked);
            wal.close().unwrap();
        }
        (Where::Frame | Where::Anywhere, Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::StorageFull, "{e}");
        }
        (Where::Frame, Ok(wal)) => {
            // Only when the frame's write could not place a single byte
            // (its offset was at a page boundary) is nothing torn.
            let report = wal.recovery();
            assert!(report.cut.is_none() && report.bytes % 4096 == 0, "{report}");
        }
        (Where::Reserve, Err(e)) => panic!("releasing reserved zeros needs no space: {e}"),
    }
    std::fs::remove_file(filler).unwrap();
    let wal = wal::Wal::open(dir, Config::default()).unwrap();
    let report = wal.recovery().clone();
    eprintln!("  reopened with space: {report}");
    assert!(report.salvaged.is_none(), "{report}");
    if let Some(cut) = &report.cut {
        assert_ne!(place, Where::Reserve, "{report}");
        assert!(mount.path().join("wal").join(&cut.sidecar).exists());
    }
    let before = check_records(&wal, dir, acked);
    let next = 1 << 40;
    for i in next..next + 100 {
        wal.write(i % 8, i as i64, &value(i))
            .unwrap()
            .wait()
            .unwrap();
    }
    wal.close().unwrap();
    let wal = wal::Wal::open(dir, Config::default()).unwrap();
    assert!(wal.recovery().cut.is_none(), "{}", wal.recovery());
    let after = records(&wal);
    assert_eq!(
        after.len(),
        before + 100,
        "the appends after the reopen are there"
    );
    for i in next..next + 100 {
        assert_eq!(after.get(&i), Some(&(i % 8, value(i))));
    }
    wal.close().unwrap();
}

/// Every acknowledged record is in `wal`, whole, and every segment file
/// ends where its log does (nothing torn or reserved is left after it);
/// returns how many records it holds.
fn check_records(wal: &wal::Wal, dir: &Path, acked: &[u64]) -> usize {
    for id in wal.segments() {
        let path = dir.join(wal::core::FileName::Segment(id).to_string());
        let on_disk = std::fs::metadata(path).unwrap().len();
        let log = wal.info(id).unwrap().bytes;
        assert_eq!(on_disk, log, "segment {id}: bytes after the end of its log");
    }
    let all = records(wal);
    for i in acked {
        assert_eq!(
            all.get(i),
            Some(&(i % 8, value(*i))),
            "acknowledged record {i} is missing or different"
        );
    }
    for (i, r) in &all {
        assert_eq!(r, &(i % 8, value(*i)), "record {i} is not what was written");
    }
    all.len()
}

/// One run: mount, filler, fill, check, reopen, free, reopen.
/// One test at a time in this process: each runs `mount` and `umount`,
/// and a child process holds a copy of every open file description from
/// its fork to its exec, the `LOCK` of another test's WAL included (flock
/// locks belong to the description): that test's reopen would then find
/// its directory locked.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(what: &'static str, cfg: Config, threaded: bool, place: Where) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    within(Duration::from_secs(120), what, move || {
        let mount = Tmpfs::mount();
        let filler = filler(&mount);
        let dir = mount.path().join("wal");
        let f = if threaded {
            fill_threaded(&dir, cfg)
        } else {
            fill_core(&dir, cfg)
        };
        eprintln!("{what}: full after {} records in {:?}", f.written, f.took);
        let acked = check_poisoned(&f, threaded);
        eprintln!("  {} acknowledged", acked.len());
        let start = Instant::now();
        check_reopen(&mount, &dir, &filler, &acked, place);
        eprintln!("  reopen checks took {:?}", start.elapsed());
    });
}

/// Frames of about 4 KiB go into reserved zeros (1 MiB ahead), in one
/// segment: the reserve's write finds the disk full.
fn small_frames() -> Config {
    Config::default()
        .with_compression(false)
        .with_buffer_size(4096)
}

/// No reserve, 64 KiB frames: a frame's own write finds the disk full
/// part way through.
fn frames_without_reserve() -> Config {
    Config::default()
        .with_compression(false)
        .with_buffer_size(64 * 1024)
        .with_reserve(0)
}

#[test]
fn the_threaded_wal_fills_the_disk_in_the_reserve() {
    run("threaded, reserve", small_frames(), true, Where::Reserve);
}

#[test]
fn the_threaded_wal_fills_the_disk_in_a_frame() {
    run(
        "threaded, frame",
        frames_without_reserve(),
        true,
        Where::Frame,
    );
}

#[test]
fn the_threaded_wal_fills_the_disk_while_rotating() {
    // 1 MiB segments, each reserved whole at its first frame: the disk
    // fills in a reserve or in the header of the next segment.
    let cfg = small_frames().with_file_size(1 << 20);
    run("threaded, rotating", cfg, true, Where::Anywhere);
}

#[test]
fn the_core_wal_fills_the_disk_in_the_reserve() {
    run("core, reserve", small_frames(), false, Where::Reserve);
}

#[test]
fn the_core_wal_fills_the_disk_in_a_frame() {
    run("core, frame", frames_without_reserve(), false, Where::Frame);
}

#[test]
fn enospc_is_storage_full_from_every_operation() {
    // tmpfs only fails writes; the same mapping serves a sync, a
    // truncation or a create that finds the disk full, and a quota or a
    // file size limit.
    for (errno, name) in [(28, "ENOSPC"), (122, "EDQUOT"), (27, "EFBIG")] {
        for op in ["write", "sync", "create", "truncate"] {
            let e = Error::storage(op, Some(3), std::io::Error::from_raw_os_error(errno));
            assert_eq!(e.kind(), ErrorKind::StorageFull, "{name} from {op}: {e}");
            assert_eq!(e.clone().poisoned().cause().kind(), ErrorKind::StorageFull);
        }
    }
}
