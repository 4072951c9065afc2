//! `wasi-run`: run a WASI command under wasmtime: a preview 1 module
//! (`wasm32-wasip1`) or a preview 2 component (`wasm32-wasip2`), told apart
//! by the binary's header.
//!
//! ```text
//! wasi-run [--dir HOST::GUEST]... [--env K=V]... MODULE.wasm [ARGS...]
//! ```
//!
//! Only the directories given are visible to the guest. With no `--dir` (as
//! when cargo uses this as the runner for `--target wasm32-wasip1` or
//! `--target wasm32-wasip2`), a fresh
//! temporary directory is preopened as `/tmp` and `TMPDIR=/tmp` is set, so
//! test binaries have somewhere to write. The guest's exit code becomes this
//! process's; a trap prints its message and exits with 134.

#[cfg(not(target_os = "wasi"))]
fn main() {
    use std::path::PathBuf;
    use wal_host_wasi::launcher::{Launcher, RunSpec, TRAP_EXIT};

    let mut args = std::env::args().skip(1).peekable();
    let mut spec = RunSpec {
        inherit_stdio: true,
        ..RunSpec::default()
    };
    let usage = "usage: wasi-run [--dir HOST::GUEST]... [--env K=V]... MODULE.wasm [ARGS...]";
    loop {
        match args.peek().map(String::as_str) {
            Some("--dir") => {
                args.next();
                let Some((host, guest)) = args.next().and_then(|d| {
                    d.split_once("::")
                        .map(|(h, g)| (h.to_string(), g.to_string()))
                }) else {
                    eprintln!("wasi-run: --dir takes HOST::GUEST\n{usage}");
                    std::process::exit(64);
                };
                spec.preopens.push((PathBuf::from(host), guest));
            }
            Some("--env") => {
                args.next();
                let Some((k, v)) = args.next().and_then(|e| {
                    e.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                }) else {
                    eprintln!("wasi-run: --env takes K=V\n{usage}");
                    std::process::exit(64);
                };
                spec.env.push((k, v));
            }
            Some("--help") | Some("-h") => {
                println!("{usage}");
                return;
            }
            _ => break,
        }
    }
    let Some(module) = args.next() else {
        eprintln!("{usage}");
        std::process::exit(64);
    };
    let _tmp;
    if spec.preopens.is_empty() {
        _tmp = match tempfile::tempdir() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("wasi-run: cannot create a temporary directory: {e}");
                std::process::exit(1);
            }
        };
        spec.preopens
            .push((_tmp.path().to_path_buf(), "/tmp".into()));
        spec.env.push(("TMPDIR".into(), "/tmp".into()));
    }
    let name = std::path::Path::new(&module)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    spec.args = std::iter::once(name).chain(args).collect();
    let result = Launcher::new().and_then(|l| {
        let m = l.load(std::path::Path::new(&module))?;
        l.run(&m, &spec)
    });
    match result {
        Ok(out) => {
            if let Some(trap) = out.trap {
                eprintln!("wasi-run: the guest trapped: {trap}");
                std::process::exit(TRAP_EXIT);
            }
            std::process::exit(out.code);
        }
        Err(e) => {
            eprintln!("wasi-run: {e:#}");
            std::process::exit(1);
        }
    }
}

#[cfg(target_os = "wasi")]
fn main() {
    eprintln!("wasi-run is the native launcher; build it for the host, not for a WASI target");
    std::process::exit(1);
}
