//! The `kv_store` example under SIGKILL: a child process runs the example's
//! `load` (puts printing `ack KEY VALUE` once durable), the parent kills it
//! at a random moment, reopens the store and checks every acknowledged put,
//! round after round on the same directory, and that checkpoints keep the
//! WAL's directory small.
//!
//! The child is this test binary run again (`current_exe`, the test
//! [`workload_in_a_child_process`] alone, told what to do by environment
//! variables), with the example's code included as a module: integration
//! tests cannot name an example's binary, and this needs no build of it.
//! The seed is printed (shown when the test fails); `KV_STORE_SEED=N`
//! replays a run's choices (the child's timing still varies).
//!
//! What it catches, and what it cannot. A put is `v{seq}` under key
//! `load_key(seq)`: every value is unique and names its put, so the checks
//! are exact: for every key the value after a crash is the latest acked one
//! or a later (unacked but written) put of that key, and new acks continue
//! the sequence. So the test fails when
//!
//! - an ack comes before the put is durable (it may still be in the WAL's
//!   buffer, in the process's memory, when the kill comes);
//! - open replays from a wrong (later) position, or not at all: nearly every
//!   round kills the child after acks the snapshot does not hold;
//! - the sequence number is not recovered (an ack older than one seen);
//! - a checkpoint runs before its snapshot is in place, or past it (at the
//!   end of open's replay, which the snapshot on disk does not hold), or
//!   the snapshot is written in place rather than renamed over: a kill
//!   inside that window leaves a replay whose segment is gone, or a torn
//!   snapshot, and the reopen fails. Not every round lands there (a
//!   snapshot comes every `SNAPSHOT_EVERY` puts), but some in a run do;
//! - checkpoints stop deleting, or replay never reaches a snapshot: the
//!   directory outgrows its bound.
//!
//! Each of these, put into the example by hand (no replay at open, acks
//! before `wait`, no sequence number recovered, checkpoint before the
//! snapshot, checkpoint at the replay's end, the snapshot written in
//! place), failed 3 runs of 3 on a machine with one core busy elsewhere
//! (the two window bugs 2 of 3 with 60 rounds and a snapshot every 500
//! puts: hence 100 rounds and 250). The checkpoint at the replay's end was
//! a real bug of the example's first version, found by this test.
//!
//! A SIGKILL does not drop the page cache, so a missing `fsync` of the
//! snapshot or its directory cannot be seen here: that needs a power cut
//! (the WAL's own syncs are checked that way by `tests/crash.rs` on
//! simulated storage); the example's snapshot code orders them by reading.
#![cfg(not(target_os = "wasi"))]

mod harness;
#[allow(dead_code)] // the test uses part of the example
#[path = "../examples/kv_store.rs"]
mod kv_store;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{recv_within, within};
use kv_store::{load_key, Options, Store, LOAD_BATCH, LOAD_KEYS};

/// Set in the child: the store's directory.
const CHILD_DIR: &str = "KV_STORE_TEST_DIR";
/// Set in the child: how many puts to load.
const CHILD_PUTS: &str = "KV_STORE_TEST_PUTS";
/// Rounds at least; on a machine too slow to write `MIN_SEGMENTS` segments
/// in them, more (up to `MAX_ROUNDS`, while under `EXTRA_TIME`).
const ROUNDS: u64 = 100;
const MAX_ROUNDS: u64 = 200;
const EXTRA_TIME: Duration = Duration::from_secs(40);
/// Segments the run must have written, so that the WAL's bound says that
/// checkpoints deleted some.
const MIN_SEGMENTS: u64 = 6;
/// Any single wait (a child's exit, its output closing, a reopen).
const LIMIT: Duration = Duration::from_secs(30);
/// Smaller than the example's defaults, so a run rotates and deletes many
/// segments. The puts a snapshot does not hold (at most `SNAPSHOT_EVERY`
/// plus a batch, replayed ones included) take less than a segment: about
/// 22 bytes each in `load`'s compressed batches, at most ~83 as frames of
/// one put (checked below).
const FILE_SIZE: u64 = 64 * 1024;
const SNAPSHOT_EVERY: u64 = 250;
const OPTIONS: Options = Options {
    file_size: FILE_SIZE,
    snapshot_every: SNAPSHOT_EVERY,
};
const MAX_PUT_BYTES: u64 = 90;

/// Only in the child (run by the parent with [`CHILD_DIR`] set): the
/// example's `load`. Run any other way it does nothing.
#[test]
fn workload_in_a_child_process() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let puts = std::env::var(CHILD_PUTS)
        .expect("puts")
        .parse()
        .expect("a count");
    let mut store = Store::open(Path::new(&dir), OPTIONS).expect("open the store");
    store
        .load(puts, &mut std::io::stdout().lock())
        .expect("load");
    store.close().expect("close the store");
}

/// splitmix64: enough randomness for delays, and reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// The sequence number a value of `load` names (`v{seq}`), checked
/// against its key.
fn seq_of(key: &[u8], value: &[u8], what: &str) -> u64 {
    let seq = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.strip_prefix('v'))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{what}: {} is not a value of load", value.escape_ascii()));
    assert_eq!(
        key,
        load_key(seq).as_bytes(),
        "{what}: value v{seq} under the wrong key"
    );
    seq
}

/// Runs one child: `puts` puts, killed after `delay` (unless done first).
/// Returns the acked (key, seq) in ack order and whether it was killed.
fn run_child(dir: &Path, puts: u64, delay: Duration) -> (Vec<(Vec<u8>, u64)>, bool) {
    let stderr = std::fs::File::create(dir.with_extension("stderr")).expect("stderr file");
    let mut child = Command::new(std::env::current_exe().expect("this test's binary"))
        .args([
            "workload_in_a_child_process",
            "--exact",
            "--nocapture",
            "-q",
        ])
        .env(CHILD_DIR, dir)
        .env(CHILD_PUTS, puts.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (tx, acks) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut out, mut line, mut reader) = (vec![], String::new(), BufReader::new(stdout));
        // Only whole lines: the kill may cut the last one short.
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
            if let Some((key, value)) = line
                .trim_end()
                .strip_prefix("ack ")
                .and_then(|l| l.split_once(' '))
            {
                let seq = seq_of(key.as_bytes(), value.as_bytes(), "an ack");
                out.push((key.as_bytes().to_vec(), seq));
            }
            line.clear();
        }
        let _ = tx.send(out);
    });
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL; fails only if it was already reaped
    let status = within(LIMIT, "the child to exit", move || child.wait()).expect("wait");
    let acked = recv_within(&acks, LIMIT, "the child's stdout to close");
    let killed = status.code().is_none();
    if !killed && !status.success() {
        let err = std::fs::read_to_string(dir.with_extension("stderr")).unwrap_or_default();
        panic!("the child failed on its own ({status}):\n{err}");
    }
    (acked, killed)
}

/// Bytes in the files of `dir` (not recursive) and how many are segments.
fn dir_size(dir: &Path) -> (u64, usize) {
    let (mut bytes, mut segments) = (0, 0);
    for entry in std::fs::read_dir(dir).expect("list the directory") {
        let entry = entry.expect("a directory entry");
        let meta = entry.metadata().expect("a file's metadata");
        if meta.is_file() {
            bytes += meta.len();
            let name = entry.file_name();
            segments += usize::from(name.to_string_lossy().ends_with(".wal"));
        }
    }
    (bytes, segments)
}

#[test]
fn every_acked_put_survives_sigkill_and_the_wal_stays_bounded() {
    let seed = std::env::var("KV_STORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(1, |d| d.as_nanos() as u64)
        });
    println!("seed {seed} (KV_STORE_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("store");
    // The unsnapshotted puts fit in a segment: the bound below holds.
    assert!((SNAPSHOT_EVERY + LOAD_BATCH as u64) * MAX_PUT_BYTES < FILE_SIZE);
    // The WAL after a reopen: the snapshot's segment and what follows it,
    // less than a segment of puts (so at most two more segments), and LOCK.
    let wal_bound = 4 * FILE_SIZE;
    // The snapshot (and a leftover snapshot.tmp): 36 bytes of header and
    // CRC, then per key two lengths, the key and `v` and up to 20 digits.
    let snapshot_bound = 2 * (36 + LOAD_KEYS * (8 + 8 + 21));

    let started = Instant::now();
    // The newest sequence number known durable per key: acked, or seen
    // after a reopen (then it must stay, or be overwritten by a later one).
    let mut latest: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let (mut last_acked, mut total_acks, mut kills, mut peak) = (None::<u64>, 0, 0, 0);
    let mut segments_seen = 0;
    let mut round = 0;
    while round < ROUNDS
        || (segments_seen < MIN_SEGMENTS && round < MAX_ROUNDS && started.elapsed() < EXTRA_TIME)
    {
        let at = format!("seed {seed}, round {round}");
        // Most rounds are killed mid-load; every fifth is short and may end
        // cleanly (a snapshot at close) before its kill.
        let puts = if round % 5 == 4 { 200 } else { 1_000_000 };
        let delay = Duration::from_millis(5 + rng.below(196));
        let (acked, killed) = run_child(&dir, puts, delay);
        kills += u64::from(killed);
        total_acks += acked.len() as u64;
        for (key, seq) in acked {
            // Acks continue the sequence: a restart recovered it.
            if let Some(last) = last_acked {
                assert!(seq > last, "{at}: ack v{seq} after v{last}");
            }
            last_acked = Some(seq);
            latest.insert(key, seq);
        }
        let store = within(LIMIT, "reopening the store", {
            let dir = dir.clone();
            move || Store::open(&dir, OPTIONS)
        });
        let store = store.unwrap_or_else(|e| panic!("{at}: reopening after the kill: {e}"));
        for (key, &seq) in &latest {
            let value = store.get(key).unwrap_or_else(|| {
                panic!("{at}: {} (acked as v{seq}) is gone", key.escape_ascii())
            });
            let found = seq_of(key, value, &at);
            assert!(
                found >= seq,
                "{at}: {} holds v{found}, older than v{seq}",
                key.escape_ascii()
            );
        }
        for (key, value) in store.iter() {
            // Puts written but not acked count from now on: a later round
            // must keep them too.
            let seq = seq_of(key, value, &at);
            latest.insert(key.to_vec(), seq);
        }
        drop(store); // no snapshot: the next child replays the same log
        let (wal_bytes, segments) = dir_size(&dir.join("wal"));
        let (snapshot_bytes, _) = dir_size(&dir);
        assert!(
            wal_bytes <= wal_bound && segments <= 4,
            "{at}: the WAL holds {wal_bytes} bytes in {segments} segments (bound {wal_bound})"
        );
        assert!(
            snapshot_bytes <= snapshot_bound,
            "{at}: snapshot files of {snapshot_bytes} bytes (bound {snapshot_bound})"
        );
        peak = peak.max(wal_bytes);
        segments_seen = segments_seen.max(newest_segment(&dir.join("wal")));
        round += 1;
    }
    println!(
        "{round} rounds ({kills} killed) in {:.1?}: {total_acks} acks, {} keys, \
         WAL at most {peak} bytes (bound {wal_bound}), {segments_seen} segments written",
        started.elapsed(),
        latest.len()
    );
    assert!(
        kills >= round / 2,
        "seed {seed}: only {kills} rounds were killed"
    );
    // The bound means something only if checkpoints deleted segments.
    assert!(
        segments_seen >= MIN_SEGMENTS,
        "seed {seed}: only {segments_seen} segments written, too few to show checkpoints deleting any"
    );
}

/// The highest segment ID in a WAL directory (`seg{ID:016}.wal`).
fn newest_segment(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("list the WAL")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("seg")?.strip_suffix(".wal")?.parse().ok()
        })
        .max()
        .unwrap_or(0)
}
