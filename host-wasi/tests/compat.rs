//! Native <-> WASI: the same input through the native `wal append`, through
//! `wal-wasi append` under wasmtime (the preview 1 module and the preview 2
//! component) and under Node's WASI (uvwasi, through `node/run.mjs`) gives
//! identical segment files; each side reads what the others wrote, with
//! the same exit codes; and both runners report traps and keep the guest
//! inside its preopened directory.
//!
//! The guests are built by `test.sh` (`cargo build --release --target
//! wasm32-wasip1 -p wal-tool --bin wal-wasi`, and `-p wal-host-wasi --bin
//! wasi-probe`, for both wasm32 targets); a missing guest, or a missing
//! `node`, fails the test with what to do: it never skips. What only the
//! preview 2 component does is in `p2.rs`.
#![cfg(not(target_os = "wasi"))]

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use wal_host_wasi::launcher::TRAP_EXIT;

mod support;
use support::{
    assert_same_files, files, input, native_tool, node, node_tool, p1_tool, run_child, run_guest,
    SIDES,
};

/// The preview 1 build of guest `name`.
fn guest(name: &str) -> PathBuf {
    support::guest("wasm32-wasip1", name)
}

#[test]
fn the_same_input_gives_identical_segment_files_on_every_side() {
    let cases: &[(u64, usize, u64, usize, &[&str])] = &[
        (
            1,
            3000,
            50,
            300,
            &["--file-size", "65536", "--buffer-size", "4096"],
        ),
        (
            2,
            3000,
            50,
            300,
            &[
                "--file-size",
                "65536",
                "--buffer-size",
                "4096",
                "--no-compression",
            ],
        ),
        (
            3,
            800,
            3,
            2000,
            &["--file-size", "32768", "--buffer-size", "16384"],
        ),
        (4, 5000, 1000, 64, &["--file-size", "40000"]),
        (
            5,
            500,
            7,
            60000,
            &[
                "--file-size",
                "131072",
                "--buffer-size",
                "65536",
                "--no-compression",
            ],
        ),
    ];
    for (seed, n, series, max_len, flags) in cases {
        let inp = input(*seed, *n, *series, *max_len);
        let mut args = vec!["append", "/data", "--flush-interval-ms", "0"];
        args.extend_from_slice(flags);
        let dirs = SIDES.map(|_| tempfile::tempdir().unwrap());
        let mut lasts = vec![];
        for ((side, tool), dir) in SIDES.iter().zip(&dirs) {
            let out = tool(dir.path(), &args, &inp);
            assert_eq!(
                (out.code, &out.trap),
                (0, &None),
                "seed {seed}, {side}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // `durable N SEG:OFF`: every side the same N and position.
            let last = String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .map(String::from);
            assert!(
                last.as_deref()
                    .is_some_and(|l| l.starts_with(&format!("durable {n} "))),
                "seed {seed}, {side}: {last:?}"
            );
            lasts.push(last);
        }
        assert!(
            lasts.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: {lasts:?}"
        );
        let native = files(dirs[0].path());
        assert!(
            native.len() >= 2,
            "seed {seed}: rotation happened ({} segments)",
            native.len()
        );
        for ((side, _), dir) in SIDES.iter().zip(&dirs).skip(1) {
            assert_same_files(&native, dir.path(), &format!("seed {seed}, {side}"));
        }
    }
}

#[test]
fn each_side_reads_what_the_others_wrote() {
    let inp = input(9, 2000, 20, 500);
    let args = ["append", "/data", "--file-size", "65536"];
    let dirs = SIDES.map(|_| tempfile::tempdir().unwrap());
    for ((side, tool), dir) in SIDES.iter().zip(&dirs) {
        assert_eq!(tool(dir.path(), &args, &inp).code, 0, "{side}");
    }
    for (writer, dir) in SIDES.iter().map(|s| s.0).zip(&dirs) {
        for cmd in [
            &["dump", "/data", "--format", "jsonl"][..],
            &["verify", "/data"],
            &["stats", "/data"],
        ] {
            let native = native_tool(dir.path(), cmd, "");
            assert_eq!(native.code, 0, "{cmd:?} of what {writer} wrote");
            for (reader, tool) in &SIDES[1..] {
                let out = tool(dir.path(), cmd, "");
                assert_eq!(
                    out.code,
                    0,
                    "{reader}, {cmd:?} of what {writer} wrote: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                assert_eq!(
                    String::from_utf8_lossy(&native.stdout),
                    String::from_utf8_lossy(&out.stdout),
                    "{reader}, {cmd:?} of what {writer} wrote prints as natively"
                );
            }
        }
    }
    for dir in &dirs {
        let dumped = native_tool(dir.path(), &["dump", "/data", "--format", "jsonl"], "");
        assert_eq!(
            String::from_utf8_lossy(&dumped.stdout).lines().count(),
            2000
        );
    }
}

#[test]
fn exit_codes_and_errors_are_the_same_on_every_side() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        native_tool(dir.path(), &["append", "/data"], &input(3, 100, 5, 50)).code,
        0
    );
    // A torn tail on the newest segment: exit 2 everywhere (under preview 2
    // more than success or failure: what `exit-with-code` carries).
    let seg = dir.path().join("seg0000000000000001.wal");
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(b"\x09\x09torn");
    fs::write(&seg, &bytes).unwrap();
    let native = native_tool(dir.path(), &["verify", "/data"], "");
    assert_eq!(native.code, 2);
    // A bad line: exit 1, naming the line; a usage error: 64.
    let bad = "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": \"0\"}\n";
    for (side, tool) in &SIDES {
        let out = tool(dir.path(), &["verify", "/data"], "");
        assert_eq!(out.code, 2, "{side}: a torn tail");
        assert_eq!(out.stdout, native.stdout, "{side}: a torn tail");
        let e = tempfile::tempdir().unwrap();
        let out = tool(e.path(), &["append", "/data"], bad);
        assert_eq!(out.code, 1, "{side}: a bad line");
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("error: line 1: value_hex is not valid hex"),
            "{side}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            tool(e.path(), &["frobnicate"], "").code,
            64,
            "{side}: usage"
        );
    }
}

#[test]
fn tail_follows_a_directory_on_every_side_as_natively() {
    // Two segments and a live-looking newest one (no LOCK held: the
    // follower needs none); `--until-idle-ms` ends each run.
    let dir = tempfile::tempdir().unwrap();
    let flags = [
        "append",
        "/data",
        "--file-size",
        "8192",
        "--buffer-size",
        "1024",
    ];
    assert_eq!(
        native_tool(dir.path(), &flags, &input(4, 300, 5, 40)).code,
        0
    );
    let args = [
        "tail",
        "/data",
        "--format",
        "jsonl",
        "--until-idle-ms",
        "200",
    ];
    let native = native_tool(dir.path(), &args, "");
    assert_eq!(
        native.code,
        0,
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );
    assert_eq!(native.stdout.iter().filter(|&&b| b == b'\n').count(), 300);
    for (side, tool) in &SIDES {
        let out = tool(dir.path(), &args, "");
        assert_eq!(
            out.code,
            0,
            "{side}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout, native.stdout,
            "{side}: every record once, in order"
        );
    }
}

#[test]
fn a_trapping_or_failing_guest_is_reported_with_its_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let probe = guest("wasi-probe");
    let out = run_guest(&probe, dir.path(), &["wasi-probe", "trap"], "");
    assert_eq!(out.code, TRAP_EXIT);
    assert!(
        out.trap.as_deref().unwrap_or("").contains("wasm"),
        "{:?}",
        out.trap
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the probe was asked to trap"));
    let out = run_guest(&probe, dir.path(), &["wasi-probe", "exit", "7"], "");
    assert_eq!((out.code, out.trap), (7, None));
    // The binary reports the same.
    let mut cmd = Command::new(support::wasi_run());
    cmd.arg(&probe).args(["exit", "5"]);
    assert_eq!(run_child(cmd, b"", "").code, 5);
    let mut cmd = Command::new(support::wasi_run());
    cmd.arg(&probe).arg("trap");
    let o = run_child(cmd, b"", "");
    assert_eq!(o.code, TRAP_EXIT);
    assert!(String::from_utf8_lossy(&o.stderr).contains("the guest trapped"));
}

#[test]
fn node_reports_traps_exit_codes_and_usage_as_wasi_run_does() {
    let probe = guest("wasi-probe");
    let p = probe.as_os_str();
    // A trap (V8's RuntimeError): 134, the guest's panic message and the
    // trap with its wasm stack on stderr.
    let out = node(&[p, "trap".as_ref()], b"");
    assert_eq!(out.code, TRAP_EXIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the probe was asked to trap"), "{err}");
    assert!(
        err.contains("wasi-node: the guest trapped: RuntimeError: unreachable"),
        "{err}"
    );
    assert!(err.contains("wasm-function"), "{err}");
    // proc_exit's code, whatever it is.
    for code in [0, 5, 7, 64] {
        let out = node(&[p, "exit".as_ref(), code.to_string().as_ref()], b"");
        assert_eq!((out.code, out.trap), (code, None));
    }
    // With no --dir, a fresh temporary /tmp, and TMPDIR says so.
    assert_eq!(node(&[p, "read".as_ref(), "/tmp".as_ref()], b"").code, 1);
    // Usage and load errors.
    assert_eq!(node(&[], b"").code, 64);
    assert_eq!(
        node(&["--dir".as_ref(), "nocolons".as_ref(), p], b"").code,
        64
    );
    let missing = node(&["missing.wasm".as_ref()], b"");
    assert_eq!(missing.code, 1);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot load guest module missing.wasm")
    );
}

#[test]
fn the_runtimes_differ_on_directory_sync_and_the_guest_never_asks() {
    // wasmtime refuses `fd_sync` on a directory (EBADF); uvwasi does it.
    // The WAL's preview 1 guest uses `FsOptions::WASI`, which never syncs a
    // directory, so its files are the same under both (tested above).
    let dir = tempfile::tempdir().unwrap();
    let probe = guest("wasi-probe");
    let w = run_guest(&probe, dir.path(), &["wasi-probe", "dirsync", "/data"], "");
    assert_eq!(
        w.code,
        1,
        "wasmtime: {}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert!(String::from_utf8_lossy(&w.stderr).contains("Bad file descriptor"));
    let preopen = format!("{}::/data", dir.path().display());
    let n = node(
        &[
            "--dir".as_ref(),
            preopen.as_ref(),
            probe.as_os_str(),
            "dirsync".as_ref(),
            "/data".as_ref(),
        ],
        b"",
    );
    assert_eq!((n.code, n.stdout), (0, b"synced\n".to_vec()), "node");
}

#[test]
fn a_guest_cannot_reach_outside_its_preopened_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(root.path().join("secret"), b"host secret").unwrap();
    fs::write(data.join("inside"), b"ok").unwrap();
    std::os::unix::fs::symlink("../secret", data.join("up")).unwrap();
    std::os::unix::fs::symlink(root.path().join("secret"), data.join("abs")).unwrap();
    let probe = guest("wasi-probe");
    let preopen = format!("{}::/data", data.display());
    for runtime in ["wasmtime", "node"] {
        let read = |path: &str| match runtime {
            "wasmtime" => run_guest(&probe, &data, &["wasi-probe", "read", path], ""),
            _ => node(
                &[
                    "--dir".as_ref(),
                    preopen.as_ref(),
                    probe.as_os_str(),
                    "read".as_ref(),
                    path.as_ref(),
                ],
                b"",
            ),
        };
        let ok = read("/data/inside");
        assert_eq!(ok.code, 0, "{runtime}");
        assert_eq!(String::from_utf8_lossy(&ok.stdout), "read 2 bytes\n");
        for outside in [
            "/data/../secret",
            "/etc/passwd",
            root.path().join("secret").to_str().unwrap(),
            "../secret",
            "/data/up",
            "/data/abs",
        ] {
            let out = read(outside);
            assert_eq!(out.code, 1, "{runtime}: {outside} must not be readable");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("cannot read"),
                "{runtime}: {outside}"
            );
            assert!(!String::from_utf8_lossy(&out.stdout).contains("bytes"));
        }
    }
    // The tool refuses a directory it cannot see.
    for out in [
        p1_tool(&data, &["verify", "/etc"], ""),
        node_tool(&data, &["verify", "/etc"], ""),
    ] {
        assert_eq!(out.code, 1);
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open WAL directory /etc"));
    }
}
