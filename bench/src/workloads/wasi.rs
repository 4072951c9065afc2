//! Workload 6, wasi: ingest records through `append`, natively and under
//! wasmtime.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::{median, spread_by_round, tmp};
use crate::records::IngestGen;
use crate::row::Row;

/// Workload 6: workload 1's records written by one thread through `append`,
/// natively and as the WASI guest under wasmtime, side by side.
pub fn wasi(quick: bool) -> Vec<Row> {
    let n = if quick { 20_000 } else { 200_000 };
    let guest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip1/release/wal-wasi.wasm");
    if !guest.exists() {
        eprintln!(
            "wal-bench: {} is missing; build it first: cargo build --release --target wasm32-wasip1 -p wal-tool --bin wal-wasi",
            guest.display()
        );
        std::process::exit(1);
    }
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
    let module = launcher.load(&guest).unwrap();
    // The three runs take turns, round after round, each in a fresh
    // directory, and each row is its median round: run once each, one
    // after the other, the ratio moved by a third with the disk's mood.
    let rounds = if quick { 1 } else { 5 };
    let (mut natives, mut same_natives, mut wasis) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        let (a, b, c) = (tmp(), tmp(), tmp());
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
        // threads) built natively: what wasmtime itself costs.
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
        let spec = wal_host_wasi::launcher::RunSpec {
            preopens: vec![(b.path().to_path_buf(), "/data".into())],
            args: ["wal-wasi", "append", "/data"].map(String::from).to_vec(),
            stdin: input.as_bytes().to_vec().into(),
            ..Default::default()
        };
        let t = Instant::now();
        let o = launcher.run(&module, &spec).unwrap();
        wasis.push(t.elapsed().as_secs_f64());
        assert_eq!(o.code, 0);
    }
    let (native, same_native, wasi) = (median(&natives), median(&same_natives), median(&wasis));
    let mut rn = Row::new("wasi", "append, native", "wal");
    rn.records_per_s = Some(n as f64 / native);
    rn.threads = Some(1);
    rn.note = "thread-safe WAL: background flusher and syncer".into();
    let mut rs = Row::new("wasi", "append, guest code natively", "wal");
    rs.records_per_s = Some(n as f64 / same_native);
    rs.threads = Some(1);
    rs.note = "the single-threaded WASI driver, built natively".into();
    let mut rw = Row::new("wasi", "append, wasmtime", "wal");
    rw.records_per_s = Some(n as f64 / wasi);
    rw.threads = Some(1);
    rw.note = format!(
        "wasmtime/native time {:.2}x (same code), {:.2}x (thread-safe WAL); median of {rounds} interleaved rounds; same code by round: {}",
        wasi / same_native,
        wasi / native,
        spread_by_round(&wasis, &same_natives)
    );
    vec![rn, rs, rw]
}
