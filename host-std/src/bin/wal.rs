//! `wal`: append to and look inside a WAL directory on the native host.
//! The subcommands live in `wal-tool`; `wal_host_std::tool` plugs in files
//! and threads.

use std::sync::{Arc, Mutex};

fn main() {
    let stdin = std::io::stdin();
    let code = wal_host_std::tool::run(
        std::env::args_os(),
        &mut stdin.lock(),
        Arc::new(Mutex::new(std::io::stdout())),
        &mut std::io::stderr(),
    );
    std::process::exit(code);
}
