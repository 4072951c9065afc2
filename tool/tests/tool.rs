//! The `wal` tool, run as a process: append, dump, verify, stats; exit codes
//! and messages; a second writer on a locked directory; and `wal append`
//! killed with SIGKILL at random moments, losing nothing it reported durable.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wal_core::Config;
use wal_host_std::Wal;

const WAL: &str = env!("CARGO_BIN_EXE_wal");

fn wal(args: &[&str], stdin: &str) -> Output {
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn line(series: u64, ts: i64, value: &[u8]) -> String {
    format!(
        "{{\"series_id\": {series}, \"timestamp\": {ts}, \"value_hex\": \"{}\"}}\n",
        hex::encode(value)
    )
}

/// A deterministic input of `n` lines over `series` series.
fn input(n: u64, series: u64, tag: &str) -> String {
    (0..n)
        .map(|i| line(i % series, i as i64, format!("{tag}-{i}").as_bytes()))
        .collect()
}

/// `append` into `dir` with 8 KiB segments, 1 KiB buffers and no
/// compression: a few records make several segments.
fn small_segments(dir: &str) -> [&str; 7] {
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
fn append_small_segments(dir: &str, stdin: &str) {
    let out = wal(&small_segments(dir), stdin);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Records per series, in order, from JSON lines (input or `dump --format jsonl`).
fn per_series(jsonl: &str) -> BTreeMap<u64, Vec<(i64, String)>> {
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

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
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

#[test]
fn append_then_dump_returns_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    let inp = input(5000, 17, "rec");
    let out = wal(
        &["append", d, "--file-size", "65536", "--buffer-size", "4096"],
        &inp,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let last: Vec<&str> = stdout.lines().collect();
    assert_eq!(last.last(), Some(&"durable 5000"));
    assert!(last.iter().all(|l| l.starts_with("durable ")), "{stdout}");
    let counts: Vec<u64> = last.iter().map(|l| l[8..].parse().unwrap()).collect();
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "durable counts only grow"
    );
    let dump = wal(&["dump", d, "--format", "jsonl"], "");
    assert!(dump.status.success(), "{}", text(&dump.stderr));
    let dumped = text(&dump.stdout);
    assert_eq!(dumped.lines().count(), 5000);
    assert_eq!(
        per_series(&dumped),
        per_series(&inp),
        "every record, each series in write order"
    );
    assert!(dumped
        .lines()
        .next()
        .unwrap()
        .starts_with("{\"segment\": 1, \"series_id\": 0, \"timestamp\": 0, "));
    // One series: the dump is the input, line for line (plus the segment).
    let one = input(300, 1, "solo");
    let dir2 = tmp.path().join("one");
    assert!(wal(&["append", dir2.to_str().unwrap()], &one)
        .status
        .success());
    let dumped = text(&wal(&["dump", dir2.to_str().unwrap(), "--format", "jsonl"], "").stdout);
    let stripped: String = dumped
        .lines()
        .map(|l| l.replace("\"segment\": 1, ", "") + "\n")
        .collect();
    assert_eq!(stripped, one);
    // --segment picks one; text format is readable.
    let seg = text(&wal(&["dump", d, "--segment", "2"], "").stdout);
    assert!(
        seg.lines().all(|l| l.starts_with("segment 2 series ")),
        "{seg}"
    );
    let missing = wal(&["dump", d, "--segment", "999"], "");
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("no segment 999"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn verify_reports_clean_torn_and_corrupt_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    append_small_segments(d, &input(2000, 5, "v"));
    let clean = wal(&["verify", d], "");
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));
    let report = text(&clean.stdout);
    assert!(
        report.contains("seg0000000000000001.wal: ok,") && report.ends_with("valid\n"),
        "{report}"
    );
    assert!(
        report.contains(" 2000 records") && segs_before(&report) > 1,
        "{report}"
    );

    // Torn tail on the newest segment: exit 2, reported, not repaired.
    let segs: Vec<_> = snapshot(&dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".wal"))
        .collect();
    let (newest, bytes) = segs.last().unwrap().clone();
    let mut torn = bytes.clone();
    torn.extend_from_slice(b"\x07torn");
    fs::write(dir.join(&newest), &torn).unwrap();
    let before = snapshot(&dir);
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "TORN {newest}: torn tail at byte offset {} (5 bytes)",
            bytes.len()
        )),
        "{s}"
    );
    assert_eq!(snapshot(&dir), before, "verify changes nothing");
    fs::write(dir.join(&newest), &bytes).unwrap();

    // Damage in an older segment: exit 1 naming segment, offset and reason.
    let (first, mut b) = segs[0].clone();
    b[24 + 40] ^= 0x55;
    fs::write(dir.join(&first), &b).unwrap();
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "CORRUPT corrupt segment {first} at byte offset 24: frame CRC mismatch"
        )),
        "{s}"
    );
    let dump = wal(&["dump", d], "");
    assert_eq!(dump.status.code(), Some(1));
    assert!(
        text(&dump.stderr).contains("frame CRC mismatch"),
        "{}",
        text(&dump.stderr)
    );
}

#[test]
fn read_only_commands_work_while_another_process_holds_the_lock_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    assert!(wal(&["append", d], &input(100, 3, "x")).status.success());
    let holder = Wal::open(&dir, Config::default()).unwrap();
    holder.write(1, 1, b"held").unwrap().wait().unwrap();
    let before = snapshot(&dir);
    for args in [vec!["dump", d], vec!["verify", d], vec!["stats", d]] {
        let out = wal(&args, "");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let stats = text(&wal(&["stats", d], "").stdout);
    assert!(
        stats.lines().next().unwrap().contains("first_timestamp"),
        "{stats}"
    );
    assert!(
        stats.lines().nth(1).unwrap().split_whitespace().nth(4) == Some("101"),
        "{stats}"
    );
    assert_eq!(snapshot(&dir), before);
    // A second writer is refused, clearly.
    let out = wal(&["append", d], &input(1, 1, "y"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("locked by another process"),
        "{}",
        text(&out.stderr)
    );
    holder.close().unwrap();
}

#[test]
fn a_bad_line_stops_with_its_line_number_and_keeps_what_came_before() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let d = d.to_str().unwrap();
    let mut inp = input(10, 2, "ok");
    inp.push('\n'); // a blank line is skipped
    inp.push_str("{\"series_id\": 1, \"timestamp\": 5, \"value_hex\": \"zz\"}\n");
    inp.push_str(&input(5, 1, "never"));
    let out = wal(&["append", d], &inp);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error: line 12: value_hex is not valid hex"),
        "{err}"
    );
    assert_eq!(text(&out.stdout).lines().last(), Some("durable 10"));
    let dumped = text(&wal(&["dump", d, "--format", "jsonl"], "").stdout);
    assert_eq!(per_series(&dumped), per_series(&input(10, 2, "ok")));
    // A value over 65535 bytes names its line too.
    let big = line(1, 1, &vec![0u8; 65_536]);
    let out = wal(&["append", d], &big);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 1: value of 65536 bytes"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_directories_and_usage_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let file = tmp.path().join("file");
    fs::write(&file, b"x").unwrap();
    for cmd in ["dump", "verify", "stats"] {
        let out = wal(&[cmd, missing.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let e = text(&out.stderr);
        assert!(
            e.contains("cannot open WAL directory") && e.contains("missing"),
            "{cmd}: {e}"
        );
        let out = wal(&[cmd, file.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            text(&out.stderr).contains("is not a directory"),
            "{cmd}: {}",
            text(&out.stderr)
        );
    }
    let out = wal(&["append", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not a directory"),
        "{}",
        text(&out.stderr)
    );
    for cmd in ["append", "dump", "verify", "stats"] {
        let out = wal(&[cmd, "--help"], "");
        assert_eq!(out.status.code(), Some(0), "{cmd} --help");
        assert!(text(&out.stdout).contains("Usage: wal"), "{cmd}");
    }
    let out = wal(&["append", "d", "--sync", "sometimes"], "");
    assert_eq!(out.status.code(), Some(64));
    let out = wal(
        &[
            "append",
            tmp.path().join("z").to_str().unwrap(),
            "--buffer-size",
            "1",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid config `buffer_size`"),
        "{}",
        text(&out.stderr)
    );
}

/// A tiny deterministic random source for kill timing.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_reported_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap().to_string();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Every record ever reported durable: (series, timestamp, value).
    let mut acked: Vec<(u64, i64, Vec<u8>)> = vec![];
    let rounds = 24;
    let mut killed_mid_write = 0;
    for round in 0..rounds {
        let mut child = Command::new(WAL)
            .args([
                "append",
                &d,
                "--buffer-size",
                "2048",
                "--file-size",
                "65536",
                "--flush-interval-ms",
                "2",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let records: Vec<(u64, i64, Vec<u8>)> = (0..200_000u64)
            .map(|i| {
                (
                    i % 13,
                    (round * 1_000_000 + i) as i64,
                    format!("round {round} record {i}").into_bytes(),
                )
            })
            .collect();
        let feed = records.clone();
        let writer = std::thread::spawn(move || {
            for (s, t, v) in feed {
                if stdin.write_all(line(s, t, &v).as_bytes()).is_err() {
                    return; // the child is gone
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { return };
                if let Some(n) = l.strip_prefix("durable ") {
                    tx.send(n.parse::<usize>().unwrap()).unwrap();
                }
            }
        });
        let delay = Duration::from_millis(20 + rng.next() % 150);
        let start = Instant::now();
        let mut durable = 0;
        while start.elapsed() < delay {
            if let Ok(n) = rx.recv_timeout(Duration::from_millis(1)) {
                durable = durable.max(n);
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let _ = writer.join();
        reader.join().unwrap();
        // Only what was read before the kill counts as reported.
        while let Ok(n) = rx.try_recv() {
            durable = durable.max(n);
        }
        if durable < records.len() {
            killed_mid_write += 1;
        }
        acked.extend(records.into_iter().take(durable));

        // Reopen: everything reported durable is there, exactly once, in order.
        let wal = Wal::open(&dir, Config::default()).unwrap();
        let mut found: Vec<(u64, i64, Vec<u8>)> = vec![];
        for id in wal.segments() {
            for e in wal.read(id).unwrap() {
                let e = e.unwrap();
                for (t, v) in e.timestamps.iter().zip(e.values) {
                    found.push((e.series_id, *t, v));
                }
            }
        }
        let found_set: HashSet<_> = found.iter().cloned().collect();
        assert_eq!(
            found_set.len(),
            found.len(),
            "round {round}: no record twice"
        );
        let lost: Vec<_> = acked.iter().filter(|r| !found_set.contains(*r)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged records lost, first {:?}",
            lost.len(),
            lost[0]
        );
        let mut last_ts: BTreeMap<u64, i64> = BTreeMap::new();
        for (s, t, _) in &found {
            let prev = last_ts.insert(*s, *t);
            assert!(
                prev.is_none_or(|p| p < *t),
                "round {round}: series {s} out of order"
            );
        }
        // And the reopened WAL accepts more writes.
        wal.write(999, round as i64, b"after the kill")
            .unwrap()
            .wait()
            .unwrap();
        acked.push((999, round as i64, b"after the kill".to_vec()));
        wal.close().unwrap();
    }
    assert!(
        killed_mid_write >= rounds / 2,
        "most kills landed mid-run ({killed_mid_write} of {rounds})"
    );
    assert!(
        acked.len() > 1000,
        "the rounds reported durable records ({})",
        acked.len()
    );
}

/// How many segment lines a verify report has.
fn segs_before(report: &str) -> usize {
    report.lines().filter(|l| l.starts_with("seg")).count()
}

#[test]
fn every_bad_input_line_is_refused_naming_its_line_and_what_is_wrong() {
    let ok = line(1, 1, b"fine");
    let cases: &[(&str, &str)] = &[
        ("{\"series_id\": 1, \"timestamp\": 2", "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        (
            "{\"series_id\": -1, \"timestamp\": 1, \"value_hex\": \"\"}",
            "series_id must be an integer",
        ),
        (
            "{\"series_id\": 18446744073709551616, \"timestamp\": 1, \"value_hex\": \"\"}",
            "series_id must be an integer",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 9223372036854775808, \"value_hex\": \"\"}",
            "timestamp must be an integer",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1.5, \"value_hex\": \"\"}",
            "timestamp must be an integer",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1}",
            "missing field `value_hex`",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": \"xyz1\"}",
            "value_hex is not valid hex",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": \"abc\"}",
            "value_hex is not valid hex",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": 12}",
            "value_hex must be a string",
        ),
        (
            "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": \"\", \"x\": 0}",
            "unknown field `x`",
        ),
    ];
    for (bad, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("w");
        let d = d.to_str().unwrap();
        let out = wal(&["append", d], &format!("{ok}{ok}{bad}\n{ok}"));
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("error: line 3: {want}")),
            "{bad}: {err}"
        );
        assert_eq!(
            text(&out.stdout).lines().last(),
            Some("durable 2"),
            "{bad}: the lines before it are durable"
        );
        let dumped = text(&wal(&["dump", d, "--format", "jsonl"], "").stdout);
        assert_eq!(dumped.lines().count(), 2, "{bad}: and nothing after it");
    }
}

/// The header of segment `id` with `f` applied to it, CRC fixed up unless
/// `keep_crc` says to leave the CRC as it was.
fn header_with(id: u64, f: impl Fn(&mut [u8]), fix_crc: bool) -> Vec<u8> {
    let mut h = wal_core::codec::encode_segment_header(id).to_vec();
    f(&mut h);
    if fix_crc {
        let crc = wal_core::checksum::crc32c(&h[..20]);
        h[20..24].copy_from_slice(&crc.to_le_bytes());
    }
    h
}

#[test]
fn bad_segment_headers_are_named_by_verify_and_open() {
    type Damage = (&'static str, Box<dyn Fn(u64) -> Vec<u8>>, &'static str);
    let cases: Vec<Damage> = vec![
        (
            "wrong magic",
            Box::new(|id| header_with(id, |h| h[0] = b'X', true)),
            "bad magic",
        ),
        (
            "wrong version",
            Box::new(|id| header_with(id, |h| h[6] = 9, true)),
            "unsupported format version 9",
        ),
        (
            "unknown flags",
            Box::new(|id| header_with(id, |h| h[16] = 1, true)),
            "unknown header flags",
        ),
        (
            "bad header CRC",
            Box::new(|id| header_with(id, |h| h[21] ^= 1, false)),
            "header CRC mismatch",
        ),
        (
            "ID not its name",
            Box::new(|id| header_with(id + 40, |_| {}, true)),
            "does not match the file name",
        ),
        (
            "zero-length segment",
            Box::new(|_| vec![]),
            "file has 0 of 24 bytes",
        ),
    ];
    for (name, make, reason) in &cases {
        // As an older segment: verify exits 1 naming segment, offset 0 and reason.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("w");
        let d = dir.to_str().unwrap();
        let w = Wal::open(&dir, Config::default()).unwrap();
        w.write(1, 1, b"in segment 1").unwrap().wait().unwrap();
        w.rotate().unwrap();
        for i in 0..10 {
            w.write(2, i, b"in segment 2").unwrap();
        }
        w.close().unwrap();
        fs::write(dir.join("seg0000000000000001.wal"), make(1)).unwrap();
        let out = wal(&["verify", d], "");
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stdout));
        let s = text(&out.stdout);
        assert!(
            s.contains("CORRUPT corrupt segment seg0000000000000001.wal at byte offset 0")
                && s.contains(reason),
            "{name}: {s}"
        );
        // The records of the good segment are all still there.
        let dumped = text(&wal(&["dump", d, "--segment", "2", "--format", "jsonl"], "").stdout);
        assert_eq!(dumped.lines().count(), 10, "{name}");

        // As the newest segment: a torn-looking header (magic, CRC, short) is
        // set aside and recreated at open; a whole foreign one is refused.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n");
        let d = dir.to_str().unwrap();
        assert!(wal(&["append", d], &input(10, 2, "y")).status.success());
        let bad = make(2);
        fs::write(dir.join("seg0000000000000002.wal"), &bad).unwrap();
        let torn_like = matches!(
            *name,
            "wrong magic" | "bad header CRC" | "zero-length segment"
        );
        let out = wal(&["verify", d], "");
        assert_eq!(
            out.status.code(),
            Some(if torn_like { 2 } else { 1 }),
            "{name}: {}",
            text(&out.stdout)
        );
        let opened = Wal::open(&dir, Config::default());
        if torn_like {
            let w = opened.unwrap_or_else(|e| panic!("{name}: {e}"));
            let cut = w.recovery().cut.clone().unwrap();
            assert_eq!(
                (cut.segment, cut.offset, cut.bytes),
                (2, 0, bad.len() as u64),
                "{name}"
            );
            w.close().unwrap();
        } else {
            let e = opened.err().unwrap_or_else(|| panic!("{name}: opened"));
            assert!(
                e.to_string()
                    .contains("seg0000000000000002.wal at byte offset 0"),
                "{name}: {e}"
            );
            assert!(e.to_string().contains(reason), "{name}: {e}");
            assert_eq!(
                fs::read(dir.join("seg0000000000000002.wal")).unwrap(),
                bad,
                "{name}: left untouched"
            );
        }
        let dumped = text(&wal(&["dump", d, "--segment", "1", "--format", "jsonl"], "").stdout);
        assert_eq!(
            dumped.lines().count(),
            10,
            "{name}: the older segment is intact"
        );
    }
}

#[test]
fn gaps_in_segment_ids_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    append_small_segments(d, &input(2000, 4, "g"));
    let segs: Vec<String> = snapshot(&dir)
        .into_iter()
        .map(|f| f.0)
        .filter(|n| n.ends_with(".wal"))
        .collect();
    assert!(segs.len() >= 4);
    fs::remove_file(dir.join(&segs[1])).unwrap();
    fs::remove_file(dir.join(&segs[2])).unwrap();
    let out = wal(&["verify", d], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let w = Wal::open(&dir, Config::default()).unwrap();
    assert_eq!(w.segments().len(), segs.len() - 2);
    w.write(1, 1, b"after the gap").unwrap().wait().unwrap();
    w.close().unwrap();
}

/// Makes a directory read-only for the rest of its life in the test: with
/// `chmod 0555` for an ordinary user, `chattr +i` for root (whom permission
/// bits do not stop). Undone on drop so the temporary directory can go.
struct ReadOnly(std::path::PathBuf, bool);

impl ReadOnly {
    fn new(dir: &Path) -> Self {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        if root {
            let st = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .expect("chattr (e2fsprogs) is needed as root");
            assert!(
                st.success(),
                "chattr +i failed: root needs CAP_LINUX_IMMUTABLE for this test"
            );
        } else {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).unwrap();
        }
        let probe = dir.join("probe");
        assert!(
            fs::write(&probe, b"x").is_err(),
            "{} is still writable",
            dir.display()
        );
        ReadOnly(dir.to_path_buf(), root)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.0, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_read_only_directory_gets_clear_errors_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // Empty and read-only: append cannot even take the lock.
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let guard = ReadOnly::new(&empty);
    let out = wal(&["append", empty.to_str().unwrap()], &input(3, 1, "z"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot open lock file") && err.contains("LOCK"),
        "{err}"
    );
    drop(guard);

    // Populated, then read-only: the readers work; a writer runs until it
    // needs a new segment, then stops with a clear error, and everything it
    // reported durable is there.
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    append_small_segments(d, &input(50, 3, "a"));
    let _guard = ReadOnly::new(&dir);
    for cmd in ["verify", "dump", "stats"] {
        assert_eq!(wal(&[cmd, d], "").status.code(), Some(0), "{cmd}");
    }
    let out = wal(&small_segments(d), &input(3000, 3, "b"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("storage create failed on seg0000000000000002.wal"),
        "{err}"
    );
    let durable: usize = text(&out.stdout)
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("durable "))
        .map_or(0, |n| n.parse().unwrap());
    let dumped = text(&wal(&["dump", d, "--format", "jsonl"], "").stdout);
    assert_eq!(
        dumped.lines().count(),
        50 + durable,
        "everything reported durable, nothing more lost"
    );
}
