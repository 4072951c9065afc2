//! Output plumbing: stdout shared between a command and `append`'s
//! `durable N` printer, a lock that survives a panicked holder, and the one
//! message for output that cannot be written.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

/// Locks `m`, also when a thread panicked holding it (the tool's shared
/// state stays usable: the worst is a count or a line left half-updated).
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The error of a failed write to the tool's output.
pub(crate) fn write_failed(e: std::io::Error) -> String {
    format!("cannot write output: {e}")
}

/// Writes through the shared stdout.
pub(crate) struct Locked(pub(crate) Arc<Mutex<dyn Write + Send>>);

impl Write for Locked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        lock(&self.0).flush()
    }
}
