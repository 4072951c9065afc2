//! `wasi-probe`: a tiny guest for testing the launcher's edges.
//!
//! `wasi-probe trap` panics (a trap), `wasi-probe exit N` exits with N,
//! `wasi-probe read PATH` prints the file at PATH or the error (exit 1),
//! `wasi-probe dirsync PATH` opens the directory at PATH and syncs it
//! (`fd_sync`), printing `synced` or the error (exit 1): runtimes differ
//! there, and the WAL's guest never asks (`FsOptions::WASI`).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("trap") => panic!("the probe was asked to trap"),
        Some("exit") => std::process::exit(args.get(2).and_then(|n| n.parse().ok()).unwrap_or(1)),
        Some("read") => match std::fs::read(args.get(2).map(String::as_str).unwrap_or("")) {
            Ok(bytes) => println!("read {} bytes", bytes.len()),
            Err(e) => {
                eprintln!("cannot read: {e}");
                std::process::exit(1);
            }
        },
        Some("dirsync") => {
            match std::fs::File::open(args.get(2).map(String::as_str).unwrap_or(""))
                .and_then(|d| d.sync_all())
            {
                Ok(()) => println!("synced"),
                Err(e) => {
                    eprintln!("cannot sync: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => {
            eprintln!("usage: wasi-probe trap | exit N | read PATH | dirsync PATH");
            std::process::exit(64);
        }
    }
}
