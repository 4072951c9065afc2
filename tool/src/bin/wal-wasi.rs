//! `wal-wasi`: the `wal` tool as a WASI guest. Run it under a WASI runtime
//! with the WAL directory preopened, e.g. `wasi-run --dir DIR::/data
//! wal-wasi.wasm verify /data`. Same subcommands, flags, output and exit
//! codes as the native `wal`; `wal_tool::host::wasi` plugs in the host.
//! Builds for `wasm32-wasip1` (a module) and `wasm32-wasip2` (a component);
//! `wal_host_wasi::exit` keeps the exit code intact under preview 2.

#[cfg(any(target_os = "wasi", feature = "wasi-host"))]
fn main() {
    wal_host_wasi::exit(wal_tool::run_process(&wal_tool::host::wasi::WasiHost));
}

#[cfg(not(any(target_os = "wasi", feature = "wasi-host")))]
fn main() {
    eprintln!(
        "wal-wasi is the WASI guest: build it with `cargo build --target wasm32-wasip1 -p wal-tool --bin wal-wasi` (or wasm32-wasip2), or run the native `wal`"
    );
    std::process::exit(1);
}
