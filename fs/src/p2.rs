//! Writes under WASI preview 2 (`wasm32-wasip2`): at the file's cursor with
//! `pwrite`, which wasi-libc turns into one `descriptor.write(buffer,
//! offset)`, instead of `write`, which goes through an output stream
//! (`write-via-stream`, `check-write`, `write`, `blocking-flush`).
//! wasmtime-wasi 48 runs every stream `write` to a file on tokio's blocking
//! pool (a thread hop and a wake-up per call, whatever the embedder allows),
//! but a `descriptor.write` on the calling thread when the context allows
//! blocking it: measured, the stream path took over half the preview 2
//! guest's time in the bench's `wasi` workload. The bytes and where they
//! land are the same; only the host calls differ.
//!
//! The cursor stays the file's own (wasi-libc keeps it in the guest, so
//! reading and moving it are no host calls): reads and seeks elsewhere see
//! every write, as with `write`.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Seek as _, SeekFrom};
use std::os::fd::AsRawFd as _;

/// Writes `buf` (or a prefix of it) at `file`'s cursor and moves the cursor
/// past what was written; returns how much that was.
pub(crate) fn write(file: &mut File, buf: &[u8]) -> io::Result<usize> {
    let at = file.stream_position()?;
    let offset = libc::off_t::try_from(at).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole
    // call, and the descriptor stays open while `file` is borrowed.
    let n = unsafe { libc::pwrite(file.as_raw_fd(), buf.as_ptr().cast(), buf.len(), offset) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    file.seek(SeekFrom::Current(n as i64))?;
    Ok(n as usize)
}

/// Writes all of `buf` at `file`'s cursor, as [`std::io::Write::write_all`].
pub(crate) fn write_all(file: &mut File, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match write(file, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
