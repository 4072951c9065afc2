//! `append` then `dump` gives back the input; `durable N` only grows;
//! `dump --segment`; and the read-only commands beside another process
//! that holds the directory's lock, changing nothing, while a second
//! writer is refused.

mod support;

use wal_core::Config;
use wal_host_std::Wal;

use support::*;

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
    let lines: Vec<(u64, wal_core::Position)> = stdout
        .lines()
        .map(|l| durable_line(l).unwrap_or_else(|| panic!("not `durable N SEG:OFF`: {l}")))
        .collect();
    assert_eq!(last_durable(&stdout), Some(5000));
    assert!(
        lines.windows(2).all(|w| w[0].1 <= w[1].1),
        "durable positions only grow"
    );
    let counts: Vec<u64> = lines.iter().map(|l| l.0).collect();
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
fn read_only_commands_work_while_another_process_holds_the_lock_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let d = dir.to_str().unwrap();
    assert!(wal(&["append", d], &input(100, 3, "x")).status.success());
    // No reserve: the holder's syncer would write its zeros in the
    // background, after the write below completes, and the snapshots
    // would differ by them.
    let holder = Wal::open(&dir, Config::default().with_reserve(0)).unwrap();
    holder.write(1, 1, b"held").unwrap().wait().unwrap();
    let before = snapshot(&dir);
    for args in [vec!["dump", d], vec!["verify", d], vec!["stats", d]] {
        let out = wal(&args, "");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    let stats = text(&wal(&["stats", d], "").stdout);
    assert!(
        stats.lines().next().unwrap().contains("min_timestamp"),
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
