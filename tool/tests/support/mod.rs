//! What the tests of the `wal` binary share: running it as a process, the
//! inputs they feed it, and what they read back.
// Each test file uses some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The `wal` binary of this package.
pub const WAL: &str = env!("CARGO_BIN_EXE_wal");

/// Runs `wal` with `args` and `stdin`; returns its exit status and output.
pub fn wal(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(WAL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed stdin from a thread (no pipe deadlock), and let a child that exits
    // early (a refused second writer, a bad line) close it: that is not an error.
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.as_bytes().to_vec();
    let feeder = std::thread::spawn(move || match input.write_all(&bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.unwrap(),
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// An `append` output line `durable N SEG:OFF`: N and the position.
pub fn durable_line(l: &str) -> Option<(u64, wal_core::Position)> {
    let mut words = l.strip_prefix("durable ")?.split(' ');
    let n = words.next()?.parse().ok()?;
    let at = words.next()?.parse().ok()?;
    words.next().is_none().then_some((n, at))
}

/// The N of `append`'s output's last line, `durable N SEG:OFF`.
pub fn last_durable(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .next_back()
        .and_then(durable_line)
        .map(|(n, _)| n)
}

/// Bytes of output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One input line: a record of `series` at `ts` with `value`.
pub fn line(series: u64, ts: i64, value: &[u8]) -> String {
    format!(
        "{{\"series_id\": {series}, \"timestamp\": {ts}, \"value_hex\": \"{}\"}}\n",
        hex::encode(value)
    )
}

/// A deterministic input of `n` lines over `series` series.
pub fn input(n: u64, series: u64, tag: &str) -> String {
    (0..n)
        .map(|i| line(i % series, i as i64, format!("{tag}-{i}").as_bytes()))
        .collect()
}

/// `append` into `dir` with 8 KiB segments, 1 KiB buffers and no
/// compression: a few records make several segments.
pub fn small_segments(dir: &str) -> [&str; 7] {
    [
        "append",
        dir,
        "--file-size",
        "8192",
        "--buffer-size",
        "1024",
        "--no-compression",
    ]
}

/// Runs [`small_segments`] with `stdin`, which must succeed.
pub fn append_small_segments(dir: &str, stdin: &str) {
    let out = wal(&small_segments(dir), stdin);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Records per series, in order, from JSON lines (input or `dump --format jsonl`).
pub fn per_series(jsonl: &str) -> BTreeMap<u64, Vec<(i64, String)>> {
    let mut m: BTreeMap<u64, Vec<(i64, String)>> = BTreeMap::new();
    for l in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        m.entry(v["series_id"].as_u64().unwrap())
            .or_default()
            .push((
                v["timestamp"].as_i64().unwrap(),
                v["value_hex"].as_str().unwrap().to_string(),
            ));
    }
    m
}

/// Every file in `dir`, name and bytes, sorted by name.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// How many segment lines a verify report has.
pub fn segs_before(report: &str) -> usize {
    report.lines().filter(|l| l.starts_with("seg")).count()
}
