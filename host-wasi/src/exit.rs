//! Ending a guest with an exit code that reaches the host intact.
//!
//! Under WASI preview 2, `std::process::exit` goes through
//! `wasi:cli/exit.exit`, which takes a `result`: every nonzero code arrives
//! as 1. [`exit`] calls `wasi:cli/exit.exit-with-code` (WASI 0.2.12) there
//! instead, so a runtime reports the code itself, as under preview 1 and
//! natively. A runtime without `exit-with-code` cannot instantiate a
//! preview 2 guest that uses it (wasmtime has it since 0.2.12's WIT).

use std::io::Write as _;

/// Ends the process with `code`, as `std::process::exit` does, with the
/// code intact under WASI preview 2 too (the low 8 bits: what a shell sees
/// natively). Flushes stdout first (`std::process::exit` would).
pub fn exit(code: i32) -> ! {
    // Nothing to report if stdout is gone: the code still goes out.
    let _ = std::io::stdout().flush();
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    wasip2::cli::exit::exit_with_code(code as u8);
    std::process::exit(code)
}
