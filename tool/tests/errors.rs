//! Errors and their messages: a bad input line stops `append` naming its
//! line (and what is wrong with it), keeping what came before; missing
//! directories, files that are not directories, usage errors, bad config;
//! and a read-only directory.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::*;

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
    assert_eq!(last_durable(&text(&out.stdout)), Some(10));
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
            last_durable(&text(&out.stdout)),
            Some(2),
            "{bad}: the lines before it are durable"
        );
        let dumped = text(&wal(&["dump", d, "--format", "jsonl"], "").stdout);
        assert_eq!(dumped.lines().count(), 2, "{bad}: and nothing after it");
    }
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
    let durable = last_durable(&text(&out.stdout)).unwrap_or(0) as usize;
    let dumped = text(&wal(&["dump", d, "--format", "jsonl"], "").stdout);
    assert_eq!(
        dumped.lines().count(),
        50 + durable,
        "everything reported durable, nothing more lost"
    );
}
