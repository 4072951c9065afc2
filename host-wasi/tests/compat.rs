//! Native <-> WASI: the same input through the native `wal append` and
//! through `wal-wasi append` under wasmtime gives identical segment files;
//! each side reads what the other wrote; and the launcher reports traps,
//! exit codes, and keeps the guest inside its preopened directory.
//!
//! The guests are built by `test.sh` (`cargo build --release --target
//! wasm32-wasip1 -p wal-tool --bin wal-wasi`, and `-p wal-host-wasi --bin
//! wasi-probe`); a missing guest fails the test with that command, it never
//! skips.
#![cfg(not(target_os = "wasi"))]

use std::ffi::OsString;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use wal_host_wasi::launcher::{Launcher, Output, TRAP_EXIT};

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

fn guest(name: &str) -> PathBuf {
    let p = target_dir()
        .join("wasm32-wasip1/release")
        .join(format!("{name}.wasm"));
    let package = if name == "wal-wasi" {
        "wal-tool"
    } else {
        "wal-host-wasi"
    };
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --release --target wasm32-wasip1 -p {package} --bin {name}` (test.sh does)",
        p.display()
    );
    p
}

fn launcher() -> &'static Launcher {
    static L: OnceLock<Launcher> = OnceLock::new();
    L.get_or_init(|| Launcher::new().unwrap())
}

/// Runs `wal-wasi` with `dir` as `/data`; `args` use `/data` for the directory.
fn wasi_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut full = vec!["wal-wasi"];
    full.extend_from_slice(args);
    launcher()
        .run_with_data_dir(&guest("wal-wasi"), dir, &full, stdin.as_bytes())
        .unwrap()
}

/// Runs the native tool in this process; `args` use `/data` for the directory.
fn native_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let d = dir.to_str().unwrap();
    let args: Vec<OsString> = std::iter::once("wal")
        .chain(args.iter().copied())
        .map(|a| OsString::from(a.replace("/data", d)))
        .collect();
    let out = Arc::new(Mutex::new(Vec::new()));
    let mut err = Vec::new();
    let code = wal_tool::host::native::run(
        args,
        &mut Cursor::new(stdin.as_bytes().to_vec()),
        out.clone(),
        &mut err,
    );
    let stdout = out.lock().unwrap().clone();
    Output {
        code,
        stdout,
        stderr: err,
        trap: None,
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "LOCK")
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A deterministic JSON-lines input: `n` records over `series` series, values
/// of 0 to `max_len` bytes, compressible or not.
fn input(seed: u64, n: usize, series: u64, max_len: usize) -> String {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let len = (next() as usize) % (max_len + 1);
            let noisy = next() % 2 == 0;
            let value: Vec<u8> = (0..len)
                .map(|j| {
                    if noisy {
                        next() as u8
                    } else {
                        b"cpu=0.42 mem=17 "[j % 16]
                    }
                })
                .collect();
            format!(
                "{{\"series_id\": {}, \"timestamp\": {}, \"value_hex\": \"{}\"}}\n",
                next() % series,
                1_700_000_000_000_000_000i64 + i as i64,
                hex::encode(value)
            )
        })
        .collect()
}

#[test]
fn the_same_input_gives_identical_segment_files_natively_and_under_wasmtime() {
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
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let native = native_tool(a.path(), &args, &inp);
        assert_eq!(
            native.code,
            0,
            "native: {}",
            String::from_utf8_lossy(&native.stderr)
        );
        let wasi = wasi_tool(b.path(), &args, &inp);
        assert_eq!(
            wasi.code,
            0,
            "wasi: {}",
            String::from_utf8_lossy(&wasi.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&native.stdout).lines().last(),
            Some(format!("durable {n}").as_str()),
            "seed {seed}"
        );
        assert_eq!(
            String::from_utf8_lossy(&wasi.stdout).lines().last(),
            Some(format!("durable {n}").as_str())
        );
        let (fa, fb) = (files(a.path()), files(b.path()));
        assert!(
            fa.len() >= 2,
            "seed {seed}: rotation happened ({} segments)",
            fa.len()
        );
        assert_eq!(
            fa.iter().map(|f| &f.0).collect::<Vec<_>>(),
            fb.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for ((name, x), (_, y)) in fa.iter().zip(&fb) {
            assert!(
                x == y,
                "seed {seed}: {name} differs ({} vs {} bytes)",
                x.len(),
                y.len()
            );
        }
    }
}

#[test]
fn each_side_reads_what_the_other_wrote() {
    let inp = input(9, 2000, 20, 500);
    let args = ["append", "/data", "--file-size", "65536"];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(native_tool(a.path(), &args, &inp).code, 0);
    assert_eq!(wasi_tool(b.path(), &args, &inp).code, 0);
    for dir in [a.path(), b.path()] {
        for cmd in [
            &["dump", "/data", "--format", "jsonl"][..],
            &["verify", "/data"],
            &["stats", "/data"],
        ] {
            let n = native_tool(dir, cmd, "");
            let w = wasi_tool(dir, cmd, "");
            assert_eq!(
                (n.code, w.code),
                (0, 0),
                "{cmd:?}: {}",
                String::from_utf8_lossy(&w.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&n.stdout),
                String::from_utf8_lossy(&w.stdout),
                "{cmd:?} prints the same on both sides"
            );
        }
    }
    let dumped = String::from_utf8(
        native_tool(b.path(), &["dump", "/data", "--format", "jsonl"], "").stdout,
    )
    .unwrap();
    assert_eq!(dumped.lines().count(), 2000);
}

#[test]
fn exit_codes_and_errors_are_the_same_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        native_tool(dir.path(), &["append", "/data"], &input(3, 100, 5, 50)).code,
        0
    );
    // A torn tail on the newest segment: exit 2 on both.
    let seg = dir.path().join("seg0000000000000001.wal");
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(b"\x09\x09torn");
    fs::write(&seg, &bytes).unwrap();
    let (n, w) = (
        native_tool(dir.path(), &["verify", "/data"], ""),
        wasi_tool(dir.path(), &["verify", "/data"], ""),
    );
    assert_eq!((n.code, w.code), (2, 2));
    assert_eq!(n.stdout, w.stdout);
    // A bad line: exit 1, naming the line, on both.
    let bad = "{\"series_id\": 1, \"timestamp\": 1, \"value_hex\": \"0\"}\n";
    let e = tempfile::tempdir().unwrap();
    let (n, w) = (
        native_tool(e.path(), &["append", "/data"], bad),
        wasi_tool(e.path(), &["append", "/data"], bad),
    );
    assert_eq!((n.code, w.code), (1, 1));
    for o in [&n, &w] {
        assert!(String::from_utf8_lossy(&o.stderr)
            .contains("error: line 1: value_hex is not valid hex"));
    }
    assert_eq!(wasi_tool(e.path(), &["frobnicate"], "").code, 64);
}

#[test]
fn a_trapping_or_failing_guest_is_reported_with_its_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let probe = guest("wasi-probe");
    let out = launcher()
        .run_with_data_dir(&probe, dir.path(), &["wasi-probe", "trap"], b"")
        .unwrap();
    assert_eq!(out.code, TRAP_EXIT);
    assert!(
        out.trap.as_deref().unwrap_or("").contains("wasm"),
        "{:?}",
        out.trap
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the probe was asked to trap"));
    let out = launcher()
        .run_with_data_dir(&probe, dir.path(), &["wasi-probe", "exit", "7"], b"")
        .unwrap();
    assert_eq!((out.code, out.trap), (7, None));
    // The binary reports the same.
    let run = target_dir().join("release/wasi-run");
    assert!(
        run.exists(),
        "build the launcher: cargo build --release -p wal-host-wasi --bin wasi-run"
    );
    let st = std::process::Command::new(&run)
        .arg(&probe)
        .args(["exit", "5"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(5));
    let o = std::process::Command::new(&run)
        .arg(&probe)
        .arg("trap")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(TRAP_EXIT));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the guest trapped"));
}

#[test]
fn a_guest_cannot_reach_outside_its_preopened_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(root.path().join("secret"), b"host secret").unwrap();
    fs::write(data.join("inside"), b"ok").unwrap();
    let probe = guest("wasi-probe");
    let read = |path: &str| {
        launcher()
            .run_with_data_dir(&probe, &data, &["wasi-probe", "read", path], b"")
            .unwrap()
    };
    let ok = read("/data/inside");
    assert_eq!(ok.code, 0);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "read 2 bytes\n");
    for outside in [
        "/data/../secret",
        "/etc/passwd",
        root.path().join("secret").to_str().unwrap(),
        "../secret",
    ] {
        let out = read(outside);
        assert_eq!(out.code, 1, "{outside} must not be readable");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot read"),
            "{outside}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("bytes"));
    }
    // The tool refuses a directory it cannot see.
    let out = wasi_tool(&data, &["verify", "/etc"], "");
    assert_eq!(out.code, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open WAL directory /etc"));
}
