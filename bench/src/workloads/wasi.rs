//! Workload 6, wasi: ingest records through `append`, natively and as the
//! WASI guest under each runtime: wasmtime (preview 1 module, preview 2
//! component) and Node's `node:wasi` (preview 1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use super::{median, spread_by_round, tmp};
use crate::records::IngestGen;
use crate::row::Row;

/// The release guest for `target`, or a clear exit saying how to build it.
fn guest(target: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(target)
        .join("release/wal-wasi.wasm");
    if !path.exists() {
        eprintln!(
            "wal-bench: {} is missing; build it first: cargo build --release --target {target} -p wal-tool --bin wal-wasi",
            path.display()
        );
        std::process::exit(1);
    }
    path
}

/// Runs `append` on the preview 1 guest under Node (`host-wasi/node/run.mjs`),
/// with `input` on stdin and `dir` as `/data`; returns the seconds it took
/// (Node's start and the module's compilation included).
fn node_append(module: &Path, dir: &Path, input: &str) -> f64 {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host-wasi/node/run.mjs");
    let t = Instant::now();
    let mut child = Command::new("node")
        .arg("--no-warnings")
        .arg(run)
        .arg("--dir")
        .arg(format!("{}::/data", dir.display()))
        .arg(module)
        .args(["append", "/data"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (the second WASI runtime): {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(status.success(), "node append: {status}");
    secs
}

/// Workload 6: workload 1's records written by one thread through `append`,
/// natively and as the WASI guest under wasmtime (preview 1 and 2) and
/// Node, side by side.
pub fn wasi(quick: bool) -> Vec<Row> {
    let n = if quick { 20_000 } else { 200_000 };
    let (p1, p2) = (guest("wasm32-wasip1"), guest("wasm32-wasip2"));
    let mut input = String::new();
    let mut gen = IngestGen::new(3);
    for i in 0..n {
        let (s, v) = gen.next_record();
        input.push_str(&format!(
            "{{\"series_id\": {s}, \"timestamp\": {i}, \"value_hex\": \"{}\"}}\n",
            hex::encode(v)
        ));
    }
    let launcher = wal_host_wasi::launcher::Launcher::new().unwrap();
    let (module, component) = (launcher.load(&p1).unwrap(), launcher.load(&p2).unwrap());
    // The runs take turns, round after round, each in a fresh directory,
    // and each row is its median round: run once each, one after the other,
    // the ratio moved by a third with the disk's mood.
    let rounds = if quick { 1 } else { 5 };
    let (mut natives, mut same_natives) = (vec![], vec![]);
    let (mut wasi_p1s, mut wasi_p2s, mut nodes) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (a, c) = (tmp(), tmp());
        let t = Instant::now();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let args = ["wal", "append", a.path().to_str().unwrap()];
        let code = wal_tool::host::native::run(
            args.map(Into::into),
            &mut std::io::Cursor::new(input.as_bytes()),
            out,
            &mut std::io::sink(),
        );
        natives.push(t.elapsed().as_secs_f64());
        assert_eq!(code, 0);
        // The guest's own program (single-threaded driver, no background
        // threads) built natively: what the runtime itself costs.
        let t = Instant::now();
        let io = wal_tool::Io {
            stdin: &mut std::io::Cursor::new(input.as_bytes()),
            stdout: Arc::new(std::sync::Mutex::new(std::io::sink())),
            stderr: &mut std::io::sink(),
            stderr_is_terminal: false,
        };
        let code = wal_tool::run(
            &wal_tool::host::wasi::WasiHost,
            ["wal-wasi", "append", c.path().to_str().unwrap()].map(std::ffi::OsString::from),
            io,
        );
        same_natives.push(t.elapsed().as_secs_f64());
        assert_eq!(code, 0);
        for (guest, times) in [(&module, &mut wasi_p1s), (&component, &mut wasi_p2s)] {
            let dir = tmp();
            let spec = wal_host_wasi::launcher::RunSpec {
                preopens: vec![(dir.path().to_path_buf(), "/data".into())],
                args: ["wal-wasi", "append", "/data"].map(String::from).to_vec(),
                stdin: input.as_bytes().to_vec().into(),
                ..Default::default()
            };
            let t = Instant::now();
            let o = launcher.run(guest, &spec).unwrap();
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(o.code, 0);
        }
        let dir = tmp();
        nodes.push(node_append(&p1, dir.path(), &input));
    }
    let same_native = median(&same_natives);
    let mut rn = Row::new("wasi", "append, native", "wal");
    rn.records_per_s = Some(n as f64 / median(&natives));
    rn.threads = Some(1);
    rn.note = "thread-safe WAL: background flusher and syncer".into();
    let mut rs = Row::new("wasi", "append, guest code natively", "wal");
    rs.records_per_s = Some(n as f64 / same_native);
    rs.threads = Some(1);
    rs.note = "the single-threaded WASI driver, built natively".into();
    let mut rows = vec![rn, rs];
    for (variant, times) in [
        ("append, wasmtime", &wasi_p1s),
        ("append, wasmtime preview 2", &wasi_p2s),
        ("append, node", &nodes),
    ] {
        let secs = median(times);
        let mut r = Row::new("wasi", variant, "wal");
        r.records_per_s = Some(n as f64 / secs);
        r.threads = Some(1);
        r.note = format!(
            "time vs the same code natively {:.2}x; median of {rounds} interleaved rounds; by round: {}",
            secs / same_native,
            spread_by_round(times, &same_natives)
        );
        rows.push(r);
    }
    rows
}
