//! `wal-wasi`: the `wal` tool as a WASI guest. Run it under a WASI runtime
//! with the WAL directory preopened, e.g. `wasi-run --dir DIR::/data
//! wal-wasi.wasm verify /data`. Same subcommands, flags, output and exit
//! codes as the native `wal`.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

fn main() {
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut stderr = std::io::stderr();
    let io = wal_tool::Io {
        stdin: &mut stdin,
        stdout: Arc::new(Mutex::new(std::io::stdout())),
        stderr_is_terminal: stderr.is_terminal(),
        stderr: &mut stderr,
    };
    std::process::exit(wal_tool::run(
        &wal_host_wasi::tool::WasiHost,
        std::env::args_os(),
        io,
    ));
}
