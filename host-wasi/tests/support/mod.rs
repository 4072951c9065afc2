//! Running a guest under Node's WASI, as a child process: `node
//! --no-warnings node/run.mjs` (the runner kept beside the launcher).

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use wal_host_wasi::launcher::Output;

/// `node --no-warnings node/run.mjs` with `args` (the runner's own flags,
/// then the module and its arguments) and `stdin`.
pub fn node(args: &[&OsStr], stdin: &[u8]) -> Output {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("node/run.mjs");
    let mut child = Command::new("node")
        .arg("--no-warnings")
        .arg(&run)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` (Node 20 or later is needed; test.sh installs it): {e}")
        });
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The guest may stop reading early (a bad line): a broken pipe is fine.
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    let trapped = String::from_utf8_lossy(&out.stderr).contains("wasi-node: the guest trapped");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        trap: trapped.then(|| String::from_utf8_lossy(&out.stderr).into_owned()),
        stderr: out.stderr,
    }
}
