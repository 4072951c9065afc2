//! The log's life from the command line (issue 17): `dump --from` and
//! `--positions`, `append`'s `durable N SEG:OFF`, `checkpoint --through`,
//! and `tail` following a live directory from another process. Every wait
//! has a deadline that fails the test.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wal_core::{Config, Position};
use wal_host_std::Wal;

use support::*;

/// The last `durable N SEG:OFF` of an `append` that must succeed.
fn append_ok(args: &[&str], stdin: &str) -> (u64, Position) {
    let out = wal(args, stdin);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().and_then(durable_line);
    last.unwrap_or_else(|| panic!("no `durable N SEG:OFF` line: {stdout}"))
}

/// `wal` with `args`, which must succeed: its stdout.
fn ok(args: &[&str]) -> String {
    let out = wal(args, "");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The position in a `dump --positions --format jsonl` line.
fn position_of(jsonl: &str) -> Position {
    let v: serde_json::Value = serde_json::from_str(jsonl).unwrap();
    v["position"].as_str().unwrap().parse().unwrap()
}

#[test]
fn dump_from_and_positions_and_appends_durable_position() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    let (n, first_end) = append_ok(&["append", d], &input(100, 3, "a"));
    assert_eq!(n, 100);
    // The next append starts its first frame where the log was durable through.
    let (n2, end) = append_ok(&["append", d], &input(50, 2, "b"));
    assert_eq!(n2, 50);
    let all = ok(&["dump", d, "--format", "jsonl", "--positions"]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 150);
    assert_eq!(
        position_of(lines[100]),
        first_end,
        "durable through = the end of the last frame"
    );
    assert!(position_of(lines[99]) < first_end && position_of(lines[149]) < end);
    // Without --positions the lines are what they were; with it, one field more.
    let plain = ok(&["dump", d, "--format", "jsonl"]);
    let stripped: String = all
        .lines()
        .map(|l| {
            format!(
                "{}\n",
                l.replacen(&format!("\"position\": \"{}\", ", position_of(l)), "", 1)
            )
        })
        .collect();
    assert_eq!(stripped, plain);
    assert!(lines[0].starts_with("{\"segment\": 1, \"position\": \"1:24\", \"series_id\": 0, "));
    let text_lines = ok(&["dump", d, "--positions"]);
    assert!(
        text_lines.starts_with("position 1:24 segment 1 series 0 timestamp 0 value a-0\n"),
        "{text_lines}"
    );
    // --from the first append's end: exactly the second append's records.
    let from = ok(&[
        "dump",
        d,
        "--format",
        "jsonl",
        "--from",
        &first_end.to_string(),
    ]);
    assert_eq!(
        from,
        plain
            .lines()
            .skip(100)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
    assert_eq!(
        ok(&["dump", d, "--from", &end.to_string()]),
        "",
        "the very end: nothing"
    );
    assert_eq!(ok(&["dump", d, "--from", "0:0"]), ok(&["dump", d]));
    // Where no read can start: the core's errors, exit 1.
    let inside = Position::new(first_end.segment, first_end.offset + 1).to_string();
    let past = Position::new(end.segment, end.offset + 16).to_string();
    for (at, want) in [
        (inside.as_str(), "no frame starts at"),
        (past.as_str(), "past the durable end"),
    ] {
        let out = wal(&["dump", d, "--from", at], "");
        assert_eq!(out.status.code(), Some(1), "{at}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("cannot dump from {at}: ")) && err.contains(want),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = wal(&["dump", d, "--from", "1:x"], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("SEGMENT:OFFSET"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn checkpoint_with_recycle_keeps_free_files_that_the_next_append_reuses() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    append_small_segments(d, &input(2000, 5, "a"));
    let before = ok(&["dump", d, "--format", "jsonl", "--positions"]);
    let line = before
        .lines()
        .find(|l| position_of(l).segment == 3)
        .unwrap();
    let at = position_of(line).to_string();
    let out = ok(&["checkpoint", d, "--through", &at, "--recycle", "2"]);
    assert_eq!(
        out,
        format!(
            "recycled seg0000000000000001.wal (kept as free0000000000000001.wal)\n\
             recycled seg0000000000000002.wal (kept as free0000000000000002.wal)\n\
             checkpoint at {at}: 2 segments removed, 2 kept for recycling\n"
        )
    );
    let names = |d: &str| -> Vec<String> {
        snapshot(std::path::Path::new(d))
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    };
    assert!(names(d).contains(&"free0000000000000001.wal".to_string()));
    // The next append's rotations reuse them: no free file is left, and the
    // log holds what it held from the checkpoint on, then the new records,
    // nothing of the stale frames.
    let mut flags = small_segments(d).to_vec();
    flags.extend(["--recycle", "2"]);
    let (n, _) = append_ok(&flags, &input(2000, 5, "b"));
    assert_eq!(n, 2000);
    assert!(
        !names(d).iter().any(|n| n.starts_with("free")),
        "{:?}",
        names(d)
    );
    let dump = ok(&["dump", d, "--format", "jsonl"]);
    let hex_of = |tag: &str| hex::encode(format!("{tag}-"));
    let kept_a = before
        .lines()
        .filter(|l| position_of(l).segment >= 3)
        .count();
    assert_eq!(dump.matches(&hex_of("a")).count(), kept_a);
    assert_eq!(dump.matches(&hex_of("b")).count(), 2000);
    assert_eq!(wal(&["verify", d], "").status.code(), Some(0));
}

#[test]
fn checkpoint_removes_exactly_the_segments_wholly_before_and_takes_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    append_small_segments(d, &input(2000, 5, "c"));
    let before = ok(&["dump", d, "--format", "jsonl", "--positions"]);
    let segments: Vec<u64> = before.lines().map(|l| position_of(l).segment).collect();
    let newest = *segments.last().unwrap();
    assert!(newest >= 4, "several segments ({newest})");
    // A frame inside segment 3: segments 1 and 2 go, 3 stays.
    let line = before
        .lines()
        .find(|l| position_of(l).segment == 3)
        .unwrap();
    let through = position_of(line);
    let at = through.to_string();
    let out = ok(&["checkpoint", d, "--through", &at]);
    assert_eq!(
        out,
        format!("removed seg0000000000000001.wal\nremoved seg0000000000000002.wal\ncheckpoint at {at}: 2 segments removed\n")
    );
    let names: Vec<String> = snapshot(&tmp.path().join("w"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for gone in ["seg0000000000000001.wal", "seg0000000000000002.wal"] {
        assert!(!names.iter().any(|n| n == gone), "{names:?}");
    }
    assert!(names.contains(&"seg0000000000000003.wal".to_string()));
    // What is left replays from there, and the records before it are gone.
    let kept: String = before
        .lines()
        .filter(|l| position_of(l).segment >= 3)
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(ok(&["dump", d, "--format", "jsonl", "--positions"]), kept);
    let out = wal(&["dump", d, "--from", "1:24"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("was deleted"),
        "{}",
        text(&out.stderr)
    );
    // Past the end, and a missing directory (never created).
    let out = wal(
        &["checkpoint", d, "--through", &format!("{}:24", newest + 5)],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("past the durable end"),
        "{}",
        text(&out.stderr)
    );
    let missing = tmp.path().join("missing");
    let out = wal(
        &["checkpoint", missing.to_str().unwrap(), "--through", "1:24"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!missing.exists(), "a checkpoint creates no WAL");
    // Another process holds the lock: refused, nothing removed.
    let holder = Wal::open(tmp.path().join("w"), Config::default().with_reserve(0)).unwrap();
    let files = snapshot(&tmp.path().join("w")).len();
    let out = wal(&["checkpoint", d, "--through", &format!("{newest}:24")], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("locked by another process"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(snapshot(&tmp.path().join("w")).len(), files);
    holder.close().unwrap();
}

/// A child's stdout lines as they arrive.
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn read(child: &mut Child) -> Lines {
        let lines = Arc::new(Mutex::new(vec![]));
        let (out, into) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                into.lock().unwrap().push(l.unwrap());
            }
        });
        Lines(lines)
    }

    /// Waits (at most a minute, or the test fails) for `n` lines.
    fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.0.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "timed out waiting for {n} lines");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn all(&self) -> String {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|l| format!("{l}\n"))
            .collect()
    }
}

/// Waits (at most a minute, or the test fails) for `child` to exit.
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn tail_follows_a_live_directory_through_rotations_and_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("not-yet");
    let d = dir.to_str().unwrap();
    let mut tail = Command::new(WAL)
        .args(["tail", d, "--until-idle-ms", "2000", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Lines::read(&mut tail);
    let batches: Vec<String> = (0..3)
        .map(|b| input(700, 4, &format!("batch{b}")))
        .collect();
    append_small_segments(d, &batches[0]);
    let (_, through) = append_ok(&small_segments(d), &batches[1]);
    // Once the tail has everything so far, a checkpoint deletes segments
    // behind it, and it goes on.
    lines.wait_for(1400);
    let so_far = ok(&["dump", d, "--format", "jsonl"]);
    let out = ok(&["checkpoint", d, "--through", &through.to_string()]);
    assert!(out.contains("removed seg0000000000000001.wal"), "{out}");
    append_small_segments(d, &batches[2]);
    let rest = ok(&[
        "dump",
        d,
        "--format",
        "jsonl",
        "--from",
        &through.to_string(),
    ]);
    let status = wait_exit(&mut tail);
    let mut stderr = String::new();
    std::io::Read::read_to_string(tail.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let tailed = lines.all();
    assert_eq!(tailed.lines().count(), 2100, "{stderr}");
    assert_eq!(
        tailed,
        format!("{so_far}{rest}"),
        "every record once, in log order"
    );
    assert_eq!(per_series(&tailed), per_series(&batches.concat()));
}

#[test]
fn append_with_retain_age_deletes_segments_older_than_the_newest_record_by_that_much() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    let flags = [
        "append",
        d,
        "--no-compression",
        "--file-size",
        "4096",
        "--buffer-size",
        "512",
        "--retain-age-secs",
        "500",
    ];
    // Each round's records 1,000 s of record time after the last's.
    for round in 0..4i64 {
        let lines: String = (0..300i64)
            .map(|i| {
                line(
                    i as u64 % 3,
                    round * 1_000_000_000_000 + i,
                    format!("r{round}-{i}").as_bytes(),
                )
            })
            .collect();
        let (n, _) = append_ok(&flags, &lines);
        assert_eq!(n, 300);
    }
    let dump = ok(&["dump", d, "--format", "jsonl"]);
    let hex_of = |tag: &str| hex::encode(format!("{tag}-"));
    assert!(dump.contains(&hex_of("r3")), "the newest records are kept");
    for old in ["r0", "r1"] {
        assert!(!dump.contains(&hex_of(old)), "{old} is over 500 s older");
    }
    // Zero is refused, naming the field.
    let out = wal(&["append", d, "--retain-age-secs", "0"], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("retain_age"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn append_with_retain_bytes_keeps_the_directory_within_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    let cap = 4 * 4096u64;
    let flags = [
        "append",
        d,
        "--no-compression",
        "--file-size",
        "4096",
        "--buffer-size",
        "512",
        "--retain-bytes",
        "16384",
    ];
    for round in 0..4 {
        let (n, _) = append_ok(&flags, &input(1000, 3, &format!("r{round}")));
        assert_eq!(n, 1000);
        let held: u64 = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(held <= cap + 4096, "round {round}: {held} bytes over {cap}");
    }
    // What is left is the newest records: the last append's are all there.
    let dump = ok(&["dump", d, "--format", "jsonl"]);
    assert!(dump.lines().count() >= 100, "{}", dump.lines().count());
    let hex_of = |tag: &str| hex::encode(format!("{tag}-"));
    assert!(dump.contains(&hex_of("r3")), "the newest records are kept");
    assert!(!dump.contains(&hex_of("r0")), "the oldest went");
    // A cap smaller than one segment is refused, naming the flag's field.
    let out = wal(
        &["append", d, "--file-size", "65536", "--max-bytes", "100"],
        "",
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("max_bytes"),
        "{}",
        text(&out.stderr)
    );
}
