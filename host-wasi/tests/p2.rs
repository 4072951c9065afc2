//! WASI preview 2, what only the component (`wasm32-wasip2`) under
//! `wasi-run` does (compat.rs compares its files, reads and exit codes with
//! every other side): the launcher tells a component from a module, the
//! component keeps its exit code, its trap is reported, it stays inside its
//! preopened directory and writes a nested WAL directory as natively; and
//! the preview 2 guest really syncs its directory where the preview 1 guest
//! cannot.
//!
//! The guests are built by `test.sh` (`cargo build --release --target
//! wasm32-wasip2 -p wal-tool --bin wal-wasi`, `-p wal-host-wasi --bin
//! wasi-probe`, and the same for `wasm32-wasip1`); a missing one fails the
//! test with what to do: it never skips.
#![cfg(not(target_os = "wasi"))]

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use wal_host_wasi::launcher::{Guest, Kind, Output, TRAP_EXIT};

mod support;
use support::{
    assert_same_files, files, input, launcher, native_tool, p2_tool, run_child, run_guest, wasi_run,
};

const P1: &str = "wasm32-wasip1";
const P2: &str = "wasm32-wasip2";

/// The preview 2 build of guest `name`.
fn guest(name: &str) -> PathBuf {
    support::guest(P2, name)
}

/// Runs the `wasi-run` binary with `args`, capturing its output.
fn wasi_run_cmd(args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = Command::new(wasi_run());
    cmd.args(args);
    run_child(cmd, b"", "")
}

#[test]
fn the_launcher_tells_components_from_modules_by_their_header() {
    for (target, kind) in [(P1, Kind::Module), (P2, Kind::Component)] {
        for name in ["wal-wasi", "wasi-probe"] {
            let path = support::guest(target, name);
            let bytes = fs::read(&path).unwrap();
            assert_eq!(Kind::of(&bytes), Some(kind), "{}", path.display());
            let loaded = launcher().load(&path).unwrap();
            assert_eq!(loaded.kind(), kind);
            assert_eq!(
                matches!(loaded, Guest::Component(_)),
                kind == Kind::Component
            );
        }
    }
    // Not WebAssembly, too short, an unknown layer: refused by the header.
    for bad in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0",
        b"#!/bin/sh\nexit 0\n",
        b"\0asm\x0d\0\x02\0",
    ] {
        assert_eq!(Kind::of(bad), None, "{bad:?}");
    }
    assert_eq!(Kind::of(b"\0asm\x01\0\0\0rest"), Some(Kind::Module));
    assert_eq!(Kind::of(b"\0asm\x0d\0\x01\0"), Some(Kind::Component));
    // Loading such a file fails with the path and the reason; so does a
    // component cut short after a valid header.
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("script.wasm");
    fs::write(&text, b"#!/bin/sh\nexit 0\n").unwrap();
    let e = format!("{:#}", launcher().load(&text).err().unwrap());
    assert!(
        e.contains("cannot load guest module") && e.contains("script.wasm"),
        "{e}"
    );
    assert!(e.contains("not a WebAssembly module or component"), "{e}");
    let cut = dir.path().join("cut.wasm");
    let whole = fs::read(guest("wasi-probe")).unwrap();
    fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let e = format!("{:#}", launcher().load(&cut).err().unwrap());
    assert!(
        e.contains("cannot load guest module") && e.contains("cut.wasm"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        launcher()
            .load(&dir.path().join("missing.wasm"))
            .err()
            .unwrap()
    );
    assert!(
        e.contains("cannot load guest module") && e.contains("missing.wasm"),
        "{e}"
    );
    // The binary: exit 1 with the message.
    let out = wasi_run_cmd(&[text.as_os_str()]);
    assert_eq!(out.code, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WebAssembly module or component"));
}

#[test]
fn the_component_exits_with_the_probes_own_code() {
    // Under preview 2 std's exit only says success or failure; the guest
    // exits through `exit-with-code` (`wal_host_wasi::exit`). The tool's
    // codes are compared on every side in compat.rs.
    let e = tempfile::tempdir().unwrap();
    // The probe's own code, in the launcher and through the binary.
    let probe = guest("wasi-probe");
    for code in [0, 1, 5, 7, 64, 255] {
        let c = code.to_string();
        let out = run_guest(&probe, e.path(), &["wasi-probe", "exit", &c], "");
        assert_eq!((out.code, out.trap), (code, None));
        let out = wasi_run_cmd(&[probe.as_os_str(), "exit".as_ref(), c.as_ref()]);
        assert_eq!(out.code, code);
    }
}

#[test]
fn a_trapping_component_is_reported_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let probe = guest("wasi-probe");
    let out = run_guest(&probe, dir.path(), &["wasi-probe", "trap"], "");
    assert_eq!(out.code, TRAP_EXIT);
    let trap = out.trap.unwrap_or_default();
    assert!(trap.contains("unreachable"), "{trap}");
    assert!(trap.contains("wasi_probe"), "the guest's frames: {trap}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the probe was asked to trap"));
    let o = wasi_run_cmd(&[probe.as_os_str(), "trap".as_ref()]);
    assert_eq!(o.code, TRAP_EXIT);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("the probe was asked to trap"), "{err}");
    assert!(err.contains("wasi-run: the guest trapped"), "{err}");
    // Usage is refused with 64 by the guest, as under preview 1.
    assert_eq!(wasi_run_cmd(&[probe.as_os_str()]).code, 64);
    // With no --dir, a fresh temporary /tmp (a directory: not readable as a
    // file) and TMPDIR says so.
    let o = wasi_run_cmd(&[probe.as_os_str(), "read".as_ref(), "/tmp".as_ref()]);
    assert_eq!(o.code, 1, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
}

#[test]
fn the_preview_2_guest_syncs_its_directory_and_the_preview_1_guest_cannot() {
    let dir = tempfile::tempdir().unwrap();
    // wasmtime's preview 2 syncs a directory descriptor; preview 1 refuses.
    let p2 = run_guest(
        &guest("wasi-probe"),
        dir.path(),
        &["wasi-probe", "dirsync", "/data"],
        "",
    );
    assert_eq!((p2.code, p2.stdout), (0, b"synced\n".to_vec()), "preview 2");
    let p1_probe = support::guest(P1, "wasi-probe");
    let p1 = run_guest(
        &p1_probe,
        dir.path(),
        &["wasi-probe", "dirsync", "/data"],
        "",
    );
    assert_eq!(p1.code, 1, "preview 1");
    // The guest's storage (`driver::storage`, what `wal-wasi` writes
    // through): under preview 2 it syncs the directory, and the sync goes
    // out to the runtime (once the directory is gone, it fails); under
    // preview 1 it does nothing, so it cannot fail.
    let args = ["wasi-probe", "storage-sync", "/data/wal"];
    let p2 = run_guest(&guest("wasi-probe"), dir.path(), &args, "");
    assert_eq!(p2.code, 0, "{}", String::from_utf8_lossy(&p2.stderr));
    let said = String::from_utf8_lossy(&p2.stdout).into_owned();
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines[..2], ["lock=false sync_dir=true", "synced"], "{said}");
    assert!(
        lines[2].starts_with("after removal: sync failed:") && lines[2].contains("/data/wal"),
        "{said}"
    );
    let p1 = run_guest(&p1_probe, dir.path(), &args, "");
    assert_eq!(p1.code, 0, "{}", String::from_utf8_lossy(&p1.stderr));
    assert_eq!(
        String::from_utf8_lossy(&p1.stdout),
        "lock=false sync_dir=false\nsynced\nafter removal: synced\n"
    );
    // A WAL directory the component creates (parents too) and rotates in
    // (every one of those syncs the directory under preview 2) ends as
    // natively.
    let inp = input(11, 1500, 9, 200);
    let args = [
        "append",
        "/data/nested/wal",
        "--file-size",
        "32768",
        "--flush-interval-ms",
        "0",
    ];
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert_eq!(native_tool(a.path(), &args, &inp).code, 0);
    let out = p2_tool(b.path(), &args, &inp);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_same_files(
        &files(&a.path().join("nested/wal")),
        &b.path().join("nested/wal"),
        "p2",
    );
}

#[test]
fn a_component_cannot_reach_outside_its_preopened_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(root.path().join("secret"), b"host secret").unwrap();
    fs::write(data.join("inside"), b"ok").unwrap();
    std::os::unix::fs::symlink("../secret", data.join("up")).unwrap();
    std::os::unix::fs::symlink(root.path().join("secret"), data.join("abs")).unwrap();
    let probe = guest("wasi-probe");
    let read = |path: &str| run_guest(&probe, &data, &["wasi-probe", "read", path], "");
    let ok = read("/data/inside");
    assert_eq!(ok.code, 0);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "read 2 bytes\n");
    let secret = root.path().join("secret");
    for outside in [
        "/data/../secret",
        "/etc/passwd",
        secret.to_str().unwrap(),
        "../secret",
        "/data/up",
        "/data/abs",
    ] {
        let out = read(outside);
        assert_eq!(out.code, 1, "{outside} must not be readable");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot read"),
            "{outside}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("bytes"));
    }
    let out = p2_tool(&data, &["verify", "/etc"], "");
    assert_eq!(out.code, 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open WAL directory /etc"));
}
