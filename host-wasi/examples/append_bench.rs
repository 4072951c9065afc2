//! One workload, natively and under wasmtime, side by side in one run:
//! `append` of a million JSON-lines records (1,000 series, 64-byte values,
//! compression on, the default sync policy), through the same `wal-tool`
//! code, into three fresh directories: the native `wal` (thread-safe WAL),
//! the guest's own program (single-threaded driver) built natively, and the
//! guest under wasmtime. Prints the times and the ratios.
//!
//! ```text
//! cargo build --release --target wasm32-wasip1 -p wal-tool --bin wal-wasi
//! cargo run --release -p wal-host-wasi --example append_bench [RECORDS]
//! ```

#[cfg(target_os = "wasi")]
fn main() {
    eprintln!("append_bench runs natively: it launches the guest itself");
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    native::main()
}

#[cfg(not(target_os = "wasi"))]
mod native {
    use std::io::Cursor;
    use std::path::Path;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use wal_host_wasi::launcher::Launcher;

    pub fn main() {
        let n: usize = std::env::args()
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut input = String::with_capacity(n * 220);
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value: String = (0..64)
                .map(|j| {
                    b"abcdefghijklmnopqrstuvwxyz0123456789"[((x >> (j % 48)) % 36) as usize] as char
                })
                .collect();
            input.push_str(&format!(
                "{{\"series_id\": {}, \"timestamp\": {}, \"value_hex\": \"{}\"}}\n",
                x % 1000,
                1_700_000_000_000_000_000i64 + i as i64,
                hex::encode(value.as_bytes())
            ));
        }
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        let guest = target.join("wasm32-wasip1/release/wal-wasi.wasm");
        assert!(guest.exists(), "build the guest first: cargo build --release --target wasm32-wasip1 -p wal-tool --bin wal-wasi");
        let launcher = Launcher::new().unwrap();
        let module = launcher.load(&guest).unwrap(); // compile outside the timed part

        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let t = Instant::now();
        let out = Arc::new(Mutex::new(Vec::new()));
        let args = [
            "wal",
            "append",
            a.path().to_str().unwrap(),
            "--flush-interval-ms",
            "0",
        ];
        let code = wal_tool::host::native::run(
            args.map(Into::into),
            &mut Cursor::new(input.as_bytes()),
            out,
            &mut std::io::sink(),
        );
        let native = t.elapsed().as_secs_f64();
        assert_eq!(code, 0);

        // The guest's own program (the single-threaded WASI driver) natively.
        let c = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let code = wal_tool::run(
            &wal_tool::host::wasi::WasiHost,
            [
                "wal-wasi",
                "append",
                c.path().to_str().unwrap(),
                "--flush-interval-ms",
                "0",
            ]
            .map(std::ffi::OsString::from),
            wal_tool::Io {
                stdin: &mut Cursor::new(input.as_bytes()),
                stdout: Arc::new(Mutex::new(std::io::sink())),
                stderr: &mut std::io::sink(),
                stderr_is_terminal: false,
            },
        );
        let same = t.elapsed().as_secs_f64();
        assert_eq!(code, 0);

        let spec = wal_host_wasi::launcher::RunSpec {
            preopens: vec![(b.path().to_path_buf(), "/data".into())],
            args: ["wal-wasi", "append", "/data", "--flush-interval-ms", "0"]
                .map(String::from)
                .to_vec(),
            stdin: input.into_bytes().into(),
            ..Default::default()
        };
        let t = Instant::now();
        let o = launcher.run(&module, &spec).unwrap();
        let wasi = t.elapsed().as_secs_f64();
        assert_eq!(o.code, 0, "{}", String::from_utf8_lossy(&o.stderr));

        let size = |d: &Path| {
            std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().metadata().unwrap().len())
                .sum::<u64>()
        };
        println!("append of {n} records (1000 series, 64-byte values, snappy, sync always, flush on size only)");
        println!(
            "native, thread-safe WAL: {native:.2} s  ({:.0} records/s), {} bytes on disk",
            n as f64 / native,
            size(a.path())
        );
        println!(
            "native, guest's program: {same:.2} s  ({:.0} records/s), {} bytes on disk",
            n as f64 / same,
            size(c.path())
        );
        println!(
            "wasmtime: {wasi:.2} s  ({:.0} records/s), {} bytes on disk",
            n as f64 / wasi,
            size(b.path())
        );
        println!(
            "ratio wasmtime/native: {:.2}x (same program), {:.2}x (native tool, thread-safe WAL)",
            wasi / same,
            wasi / native
        );
    }
}
