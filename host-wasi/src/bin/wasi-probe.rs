//! `wasi-probe`: a tiny guest for testing the launcher's edges.
//!
//! `wasi-probe trap` panics (a trap), `wasi-probe exit N` exits with N,
//! `wasi-probe read PATH` prints the file at PATH or the error (exit 1).

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
        _ => {
            eprintln!("usage: wasi-probe trap | exit N | read PATH");
            std::process::exit(64);
        }
    }
}
