//! A small key-value store on the WAL: what a database does with a
//! write-ahead log. It shows
//!
//! - a put made durable before it is applied: each put is one WAL record
//!   (series = a hash of the key, timestamp = the put's sequence number,
//!   value = the key and value, length-prefixed), written, waited on
//!   (`WriteHandle::wait` returns the position through which the log is
//!   durable), and only then applied to the in-memory `BTreeMap`;
//! - group commit: `load` writes a batch of puts before waiting, so one
//!   sync covers many of them;
//! - snapshots and checkpoints: every `Options::snapshot_every` puts (2,000) (and on a clean
//!   shutdown) the map is written to `DIR/snapshot` with the WAL position
//!   it covers (a temporary file, fsynced, renamed over the old one, the
//!   directory fsynced; a CRC-32C so a damaged one is refused), and only
//!   then `Wal::checkpoint(position)` deletes the segments wholly before it;
//! - recovery: open loads the snapshot (if any) and replays the WAL from its
//!   position (`Position::START` without one), applying every record.
//!
//! ```sh
//! cargo run --example kv_store -- DIR put KEY VALUE
//! cargo run --example kv_store -- DIR get KEY       # prints the value, exit 1 if absent
//! cargo run --example kv_store -- DIR load N        # N generated puts, `ack KEY VALUE` once each is durable
//! cargo run --example kv_store -- DIR dump          # every `KEY VALUE`, in key order
//! ```
//!
//! `DIR` holds `snapshot` and the WAL in `DIR/wal`. `tests/kv_store.rs`
//! kills `load` with SIGKILL at random moments and checks that every
//! acknowledged put survives and that checkpoints keep the WAL small.

#![cfg_attr(target_os = "wasi", allow(unused))]

use std::collections::BTreeMap;
use std::error::Error;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use wal::core::checksum::crc32c;
use wal::{Config, Position};
#[cfg(not(target_os = "wasi"))]
use wal::{Wal, WriteHandle};

/// Errors carry what was being done: they are shown to the user as they are.
pub type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// How a store is run; the command line uses [`Options::default`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The WAL's segment size: small (256 KiB), so checkpoints delete
    /// segments soon.
    pub file_size: u64,
    /// A snapshot (and a checkpoint) after this many puts (2,000).
    pub snapshot_every: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            file_size: 256 * 1024,
            snapshot_every: 2_000,
        }
    }
}

/// `load` writes this many puts before waiting for them (group commit).
pub const LOAD_BATCH: usize = 32;
/// `load` cycles through this many keys, so later puts overwrite earlier ones.
pub const LOAD_KEYS: u64 = 1_000;

const SNAPSHOT_MAGIC: &[u8; 8] = b"KVSNAP\0\x01"; // the last byte is the version
/// A WAL value holds at most 65,535 bytes; a record spends 8 on lengths.
const MAX_PUT: usize = 65_535 - 8;

/// The key `load` writes as its `seq`-th put: `key00042`.
pub fn load_key(seq: u64) -> String {
    format!("key{:05}", seq % LOAD_KEYS)
}

/// The value of `load`'s `seq`-th put: unique, so a test can tell puts apart.
pub fn load_value(seq: u64) -> String {
    format!("v{seq}")
}

/// The store: the map, and where in the WAL it stands.
#[cfg(not(target_os = "wasi"))]
pub struct Store {
    dir: PathBuf,
    wal: Wal,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The WAL is durable and applied through here: a snapshot taken now
    /// covers it, and a replay from it yields only later puts.
    applied: Position,
    /// Where the snapshot on disk stands: a replay must be able to start
    /// there, so no checkpoint goes past it.
    snapshot_at: Position,
    /// The sequence number of the next put (the WAL record's timestamp).
    next_seq: u64,
    /// Puts applied (including replayed ones) since the last snapshot.
    since_snapshot: u64,
    snapshot_every: u64,
}

#[cfg(not(target_os = "wasi"))]
impl Store {
    /// Opens (or creates) the store in `dir`: takes the WAL's lock, loads
    /// the snapshot, replays the WAL from the snapshot's position.
    pub fn open(dir: &Path, options: Options) -> Result<Store> {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            // The new directory's name, durable in its parent.
            sync_dir(
                dir.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
            )?;
        }
        // Opening the WAL first takes its directory lock: no second process
        // reads or writes the snapshot beside us.
        let config = Config::default().with_file_size(options.file_size);
        let wal = Wal::open(dir.join("wal"), config)
            .map_err(|e| format!("cannot open the WAL in {}: {e}", dir.display()))?;
        let snapshot = read_snapshot(dir)?;
        // Without a snapshot, the WAL must still hold everything: segments
        // are only checkpointed away once a snapshot covers them.
        let oldest = wal.segments().first().copied().unwrap_or(1);
        if snapshot.is_none() && oldest > 1 {
            let why = "there is no snapshot, but the WAL starts at segment";
            return Err(format!("{}: {why} {oldest}: puts were lost", dir.display()).into());
        }
        let (applied, next_seq, map) = snapshot.unwrap_or_default();
        let mut store = Store {
            dir: dir.to_path_buf(),
            wal,
            map,
            applied,
            snapshot_at: applied,
            next_seq,
            since_snapshot: 0,
            snapshot_every: options.snapshot_every,
        };
        store.replay()?;
        // A crash between a snapshot and its checkpoint left segments the
        // snapshot covers: finish that checkpoint now. (At the snapshot's
        // position, not where the replay ended: the snapshot on disk does
        // not hold what was replayed, the next open replays it again.)
        store.checkpoint()?;
        Ok(store)
    }

    /// Applies every durable put after the snapshot's position, in log order.
    fn replay(&mut self) -> Result<()> {
        let from = self.applied;
        let gone = |e| format!("cannot replay the WAL from {from} (the snapshot's position): {e}");
        let mut replay = self.wal.replay(from).map_err(gone)?;
        for item in replay.by_ref() {
            let (at, entry) = item.map_err(gone)?;
            // A frame holds a series' records in write order: a key's puts
            // (one series) keep their order; different keys' may interleave.
            for (&seq, record) in entry.timestamps.iter().zip(&entry.values) {
                let (key, value) = decode(record)
                    .ok_or_else(|| format!("the WAL record at {at} is not a put of this store"))?;
                self.next_seq = self.next_seq.max(seq as u64 + 1);
                self.map.insert(key.to_vec(), value.to_vec());
                self.since_snapshot += 1;
            }
        }
        // Where the replay stopped: the end of the last frame it read.
        self.applied = replay.next_position();
        Ok(())
    }

    /// The value of `key`, if it has one.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.map.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Puts `key` = `value`, durably; returns once it is applied.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_batch(&[(key.to_vec(), value.to_vec())], |_, _| Ok(()))
    }

    /// Puts every pair in order: writes them all, then waits for each and
    /// applies it, calling `acked(key, value)` once it is durable and
    /// applied. After an error, reopen the store (the WAL is poisoned or
    /// the batch's fate is unknown).
    pub fn put_batch(
        &mut self,
        batch: &[(Vec<u8>, Vec<u8>)],
        mut acked: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        // Refused before anything is written, so a batch is never half sent.
        if let Some((k, v)) = batch.iter().find(|(k, v)| k.len() + v.len() > MAX_PUT) {
            let len = k.len() + v.len();
            let why = format!("a key and value of {len} bytes: at most {MAX_PUT} fit in a record");
            return Err(why.into());
        }
        let mut handles: Vec<WriteHandle> = Vec::with_capacity(batch.len());
        for (key, value) in batch {
            let seq = self.next_seq;
            self.next_seq += 1;
            let handle = self
                .wal
                .write(series_of(key), seq as i64, &encode(key, value));
            handles.push(handle.map_err(|e| format!("cannot write a put to the WAL: {e}"))?);
        }
        for (handle, (key, value)) in handles.into_iter().zip(batch) {
            // Durable through `at`: only now may the put be applied.
            let at = handle
                .wait()
                .map_err(|e| format!("a put did not become durable: {e}"))?;
            self.map.insert(key.clone(), value.clone());
            self.applied = at;
            self.since_snapshot += 1;
            acked(key, value)?;
        }
        if self.since_snapshot >= self.snapshot_every {
            self.snapshot()?;
        }
        Ok(())
    }

    /// Writes a snapshot of the map at the applied position, then lets the
    /// WAL delete the segments wholly before it.
    pub fn snapshot(&mut self) -> Result<()> {
        write_snapshot(&self.dir, self.applied, self.next_seq, &self.map)?;
        self.snapshot_at = self.applied;
        self.since_snapshot = 0;
        // Only once the snapshot is durable: it replaces those segments.
        self.checkpoint()
    }

    /// Deletes the WAL segments wholly before the snapshot on disk.
    fn checkpoint(&self) -> Result<()> {
        let at = self.snapshot_at;
        self.wal
            .checkpoint(at)
            .map_err(|e| format!("cannot checkpoint the WAL at {at}: {e}"))?;
        Ok(())
    }

    /// A clean shutdown: a snapshot if anything changed since the last
    /// one, then the WAL closed.
    pub fn close(mut self) -> Result<()> {
        if self.since_snapshot > 0 {
            self.snapshot()?;
        }
        self.wal
            .close()
            .map_err(|e| format!("cannot close the WAL: {e}"))?;
        Ok(())
    }

    /// `load`: `n` generated puts ([`load_key`], [`load_value`], from the
    /// store's next sequence number on), in batches of [`LOAD_BATCH`];
    /// `ack KEY VALUE` goes to `out`, flushed, once each is durable.
    pub fn load(&mut self, n: u64, out: &mut impl Write) -> Result<()> {
        let mut done = 0;
        while done < n {
            let batch: Vec<(Vec<u8>, Vec<u8>)> = (self.next_seq..)
                .take((n - done).min(LOAD_BATCH as u64) as usize)
                .map(|seq| (load_key(seq).into_bytes(), load_value(seq).into_bytes()))
                .collect();
            done += batch.len() as u64;
            self.put_batch(&batch, |k, v| {
                writeln!(out, "ack {} {}", k.escape_ascii(), v.escape_ascii())?;
                Ok(out.flush()?)
            })?;
        }
        Ok(())
    }
}

/// The series of a key: its FNV-1a hash (the WAL groups records by series).
fn series_of(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A put as a WAL value: key length, key, value length, value (u32 LE).
fn encode(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len() + value.len());
    put_bytes(&mut out, key);
    put_bytes(&mut out, value);
    out
}

fn decode(record: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut rest = record;
    let key = take_bytes(&mut rest)?;
    let value = take_bytes(&mut rest)?;
    rest.is_empty().then_some((key, value))
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn take_bytes<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    let bytes = tail.get(..len)?;
    *rest = &tail[len..];
    Some(bytes)
}

type Snapshot = (Position, u64, BTreeMap<Vec<u8>, Vec<u8>>);

/// Writes the snapshot atomically: `snapshot.tmp` written and fsynced,
/// renamed over `snapshot`, the directory fsynced (so the rename survives a
/// power cut). Layout: magic and version, the position (segment, offset),
/// the next sequence number, the entry count, each entry as in a WAL
/// record, then a CRC-32C of everything before it (all integers LE).
fn write_snapshot(
    dir: &Path,
    at: Position,
    next_seq: u64,
    map: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<()> {
    let mut buf = SNAPSHOT_MAGIC.to_vec();
    for n in [at.segment, at.offset, next_seq, map.len() as u64] {
        buf.extend_from_slice(&n.to_le_bytes());
    }
    for (key, value) in map {
        put_bytes(&mut buf, key);
        put_bytes(&mut buf, value);
    }
    buf.extend_from_slice(&crc32c(&buf).to_le_bytes());
    let tmp = dir.join("snapshot.tmp");
    let failed = |e: io::Error| format!("cannot write the snapshot {}: {e}", tmp.display());
    let mut file = File::create(&tmp).map_err(failed)?;
    file.write_all(&buf).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    fs::rename(&tmp, dir.join("snapshot")).map_err(failed)?;
    sync_dir(dir)
}

/// Makes the names in `dir` durable (a rename, a new file) on Unix.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot sync the directory {}: {e}", dir.display()).into())
}

/// Reads `DIR/snapshot`: `None` if there is none; an error if it is damaged
/// (a store that cannot trust its snapshot must not guess).
fn read_snapshot(dir: &Path) -> Result<Option<Snapshot>> {
    let path = dir.join("snapshot");
    let buf = match fs::read(&path) {
        Ok(buf) => buf,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the snapshot {}: {e}", path.display()).into()),
    };
    let damaged = |why: &str| format!("the snapshot {} is damaged: {why}", path.display());
    let (body, crc) = buf
        .split_last_chunk::<4>()
        .ok_or_else(|| damaged("too short"))?;
    if crc32c(body) != u32::from_le_bytes(*crc) {
        return Err(damaged("CRC mismatch").into());
    }
    let mut rest = body
        .strip_prefix(SNAPSHOT_MAGIC)
        .ok_or_else(|| damaged("not a snapshot of this version"))?;
    let mut number = || -> Result<u64> {
        let (n, tail) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| damaged("too short"))?;
        rest = tail;
        Ok(u64::from_le_bytes(*n))
    };
    let at = Position::new(number()?, number()?);
    let (next_seq, count) = (number()?, number()?);
    let mut map = BTreeMap::new();
    for _ in 0..count {
        let key = take_bytes(&mut rest).ok_or_else(|| damaged("an entry is cut short"))?;
        let value = take_bytes(&mut rest).ok_or_else(|| damaged("an entry is cut short"))?;
        map.insert(key.to_vec(), value.to_vec());
    }
    if !rest.is_empty() {
        return Err(damaged("bytes after the last entry").into());
    }
    Ok(Some((at, next_seq, map)))
}

/// A command line that is not one of the commands: exit 64, with the usage.
#[derive(Debug)]
pub struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}usage: kv_store DIR (put KEY VALUE | get KEY | load N | dump)",
            self.0
        )
    }
}

impl Error for Usage {}

/// Runs one command line (without the program name); `Ok(false)` when
/// `get` found no value.
#[cfg(not(target_os = "wasi"))]
pub fn run(args: &[String]) -> Result<bool> {
    let (dir, command) = match args {
        [dir, command @ ..] if !command.is_empty() => (Path::new(dir), command),
        _ => return Err(Usage(String::new()).into()),
    };
    let options = Options::default();
    let mut out = io::stdout().lock();
    match command {
        [c, key, value] if c == "put" => {
            let mut store = Store::open(dir, options)?;
            store.put(key.as_bytes(), value.as_bytes())?;
            store.close()?;
        }
        [c, key] if c == "get" => {
            let store = Store::open(dir, options)?;
            let Some(value) = store.get(key.as_bytes()) else {
                eprintln!("kv_store: {key:?} has no value");
                return Ok(false);
            };
            writeln!(out, "{}", value.escape_ascii())?;
        }
        [c, n] if c == "load" => {
            let n: u64 = n
                .parse()
                .map_err(|_| Usage(format!("load N: {n:?} is not a count\n")))?;
            let mut store = Store::open(dir, options)?;
            store.load(n, &mut out)?;
            store.close()?;
        }
        [c] if c == "dump" => {
            let store = Store::open(dir, options)?;
            for (key, value) in store.iter() {
                writeln!(out, "{} {}", key.escape_ascii(), value.escape_ascii())?;
            }
        }
        _ => return Err(Usage(String::new()).into()),
    }
    Ok(true)
}

/// Exit codes: 0 done, 1 `get` found nothing, 2 an error, 64 a usage error.
#[cfg(not(target_os = "wasi"))]
#[allow(dead_code)] // the test includes this file and has a main of its own
fn main() {
    let args: Option<Vec<String>> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string().ok())
        .collect();
    let result = match args {
        Some(args) => run(&args),
        None => Err("the arguments must be valid UTF-8".into()),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("kv_store: {e}");
            std::process::exit(if e.is::<Usage>() { 64 } else { 2 });
        }
    }
}

#[cfg(target_os = "wasi")]
fn main() {
    eprintln!("the kv_store example uses the native host (threads)");
}
