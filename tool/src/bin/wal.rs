//! `wal`: append records to a WAL directory and look inside one, on the
//! native host (files and threads). The subcommands are the `wal-tool`
//! library's; `wal_tool::host::native` plugs in the host.

#[cfg(not(target_os = "wasi"))]
fn main() {
    std::process::exit(wal_tool::run_process(&wal_tool::host::native::NativeHost));
}

#[cfg(target_os = "wasi")]
fn main() {
    eprintln!("wal is the native tool; under WASI run wal-wasi");
    std::process::exit(1);
}
