//! What the native <-> WASI tests share: finding the guests, running the
//! native tool in-process, a guest under the launcher or Node's WASI (with a
//! time limit), and the inputs and files they compare.
#![allow(dead_code)] // each test crate uses part of it

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{Cursor, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wal_host_wasi::launcher::{Launcher, Output};

/// How long one guest run (or one child process) may take before the test
/// fails: far more than any of them needs, even under load.
pub const TIME_LIMIT: Duration = Duration::from_secs(180);

/// The cargo target directory the guests and the launcher were built in.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// The release build of guest `name` (`wal-wasi` or `wasi-probe`) for
/// `target` (`wasm32-wasip1` or `wasm32-wasip2`); fails, saying how to
/// build it, when it is missing.
pub fn guest(target: &str, name: &str) -> PathBuf {
    let p = target_dir()
        .join(target)
        .join("release")
        .join(format!("{name}.wasm"));
    let package = if name == "wal-wasi" {
        "wal-tool"
    } else {
        "wal-host-wasi"
    };
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --release --target {target} -p {package} --bin {name}` (test.sh does)",
        p.display()
    );
    p
}

/// The release build of `wasi-run`; fails, saying how to build it, when it
/// is missing.
pub fn wasi_run() -> PathBuf {
    let run = target_dir().join("release/wasi-run");
    assert!(
        run.exists(),
        "build the launcher: cargo build --release -p wal-host-wasi --bin wasi-run"
    );
    run
}

/// One launcher for the whole test binary (its engine caches compilations).
pub fn launcher() -> &'static Launcher {
    static L: OnceLock<Launcher> = OnceLock::new();
    L.get_or_init(|| Launcher::new().unwrap())
}

/// Runs `f` on another thread; fails the test if it takes longer than
/// [`TIME_LIMIT`] (a guest that never ends).
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {TIME_LIMIT:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the run panicked"),
    }
}

/// Runs the guest at `module` under the launcher with `dir` as `/data`;
/// `args` start with the program name and use `/data` for the directory.
pub fn run_guest(module: &Path, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let (module, dir) = (module.to_path_buf(), dir.to_path_buf());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.as_bytes().to_vec();
    within(&format!("{} {args:?}", module.display()), move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        launcher()
            .run_with_data_dir(&module, &dir, &args, &stdin)
            .unwrap()
    })
}

/// Runs `wal-wasi` for `target` under the launcher with `dir` as `/data`.
pub fn wasi_tool(target: &str, dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut full = vec!["wal-wasi"];
    full.extend_from_slice(args);
    run_guest(&guest(target, "wal-wasi"), dir, &full, stdin)
}

/// Runs a child process with `stdin`, capturing its output; kills it and
/// fails the test after [`TIME_LIMIT`]. A trap is what the runners print
/// for one (`... the guest trapped`). `hint` says what to do when it cannot
/// be started.
pub fn run_child(mut cmd: Command, stdin: &[u8], hint: &str) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} ({hint}): {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The guest may stop reading early (a bad line): a broken pipe is fine.
        let _ = input.write_all(&stdin);
    });
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let readers = [
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut out, &mut v);
            v
        }),
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = std::io::Read::read_to_end(&mut err, &mut v);
            v
        }),
    ];
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {TIME_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    feeder.join().unwrap();
    let [out, err] = readers.map(|r| r.join().unwrap());
    let trapped = String::from_utf8_lossy(&err).contains("the guest trapped");
    Output {
        code: status.code().unwrap_or(-1),
        stdout: out,
        trap: trapped.then(|| String::from_utf8_lossy(&err).into_owned()),
        stderr: err,
    }
}

/// `node --no-warnings node/run.mjs` with `args` (the runner's own flags,
/// then the module and its arguments) and `stdin`.
pub fn node(args: &[&OsStr], stdin: &[u8]) -> Output {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/run.mjs");
    let mut cmd = Command::new("node");
    cmd.arg("--no-warnings").arg(&run).args(args);
    run_child(
        cmd,
        stdin,
        "Node 20 or later is needed; test.sh installs it",
    )
}

/// Runs `wal-wasi` (preview 1) under Node's WASI with `dir` as `/data`.
pub fn node_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let preopen = format!("{}::/data", dir.display());
    let module = guest("wasm32-wasip1", "wal-wasi");
    let mut full: Vec<&OsStr> = vec!["--dir".as_ref(), preopen.as_ref(), module.as_os_str()];
    full.extend(args.iter().map(OsStr::new));
    node(&full, stdin.as_bytes())
}

/// Runs the native tool in this process; `args` use `/data` for the directory.
pub fn native_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
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

/// The files in `dir` but `LOCK`, by name, with their bytes.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
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

/// Asserts that `dir` holds the same files, byte for byte, as `expected`.
pub fn assert_same_files(expected: &[(String, Vec<u8>)], dir: &Path, what: &str) {
    let other = files(dir);
    assert_eq!(
        expected.iter().map(|f| &f.0).collect::<Vec<_>>(),
        other.iter().map(|f| &f.0).collect::<Vec<_>>(),
        "{what}: the same files"
    );
    for ((name, x), (_, y)) in expected.iter().zip(&other) {
        assert!(
            x == y,
            "{what}: {name} differs ({} vs {} bytes)",
            x.len(),
            y.len()
        );
    }
}

/// A deterministic JSON-lines input: `n` records over `series` series, values
/// of 0 to `max_len` bytes, compressible or not.
pub fn input(seed: u64, n: usize, series: u64, max_len: usize) -> String {
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

/// A way to run the `wal` tool with `dir` as `/data` (`args` use `/data`).
pub type Tool = fn(&Path, &[&str], &str) -> Output;

/// The preview 1 `wal-wasi` under wasmtime (the launcher).
pub fn p1_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
    wasi_tool("wasm32-wasip1", dir, args, stdin)
}

/// The preview 2 `wal-wasi` component under wasmtime (the launcher).
pub fn p2_tool(dir: &Path, args: &[&str], stdin: &str) -> Output {
    wasi_tool("wasm32-wasip2", dir, args, stdin)
}

/// Every side the byte-identity tests compare: the native tool first (the
/// reference), then the guest under each runtime.
pub const SIDES: [(&str, Tool); 4] = [
    ("native", native_tool),
    ("wasmtime", p1_tool),
    ("node", node_tool),
    ("wasmtime preview 2", p2_tool),
];
