//! SIGINT and SIGTERM as a request to stop: `tail` runs until killed, and
//! then ends quietly with exit code 0 before its next poll, never in the
//! middle of a line. Installed by `tail` only (`append` keeps the default:
//! a signal ends it at once, and what it reported durable stays durable).
//! WASI has no signals: there the runtime ends the guest.
// The one unsafe call of the tool: installing the handler.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a stop was asked for: `tail` ends, exit code 0.
static STOP: AtomicBool = AtomicBool::new(false);

/// Asks a running `tail` to stop (and exit 0) before its next poll. Only an
/// atomic store, so a signal handler may call it.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether [`request_stop`] was called.
pub(crate) fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Makes SIGINT and SIGTERM call [`request_stop`].
#[cfg(unix)]
pub(crate) fn stop_on_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        request_stop();
    }
    let handler = on_signal as extern "C" fn(libc::c_int);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler does only an atomic store, which is
        // async-signal-safe; `signal` itself has no other precondition.
        unsafe {
            libc::signal(sig, handler as libc::sighandler_t);
        }
    }
}

/// No signals here: nothing to install.
#[cfg(not(unix))]
pub(crate) fn stop_on_signals() {}
