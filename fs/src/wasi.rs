//! Where `std::fs` on WASI does not make the host calls this storage means
//! to make, the calls made directly through wasi-libc (one `unsafe` libc
//! call each). The bytes and where they land are the same; only the host
//! calls differ.
//!
//! - [`sync_data`]: `File::sync_data` on WASI is a full `fsync` (std's
//!   `fdatasync` list names Linux, Android and a few others, not WASI), so
//!   the guest asked for `fd_sync` (preview 1) or `sync` (preview 2), and
//!   wasmtime and Node ran `fsync(2)`, which also writes the inode for
//!   every mtime change. `fdatasync` here is `fd_datasync` / `sync-data`,
//!   as the native host syncs.
//! - [`write`] (preview 2 only): at the file's cursor with `pwrite`, which
//!   wasi-libc turns into one `descriptor.write(buffer, offset)`, instead of
//!   `write`, which goes through an output stream (`write-via-stream`,
//!   `check-write`, `write`, `blocking-flush`). wasmtime-wasi 48 runs every
//!   stream `write` to a file on tokio's blocking pool (a thread hop and a
//!   wake-up per call, whatever the embedder allows), but a
//!   `descriptor.write` on the calling thread when the context allows
//!   blocking it: measured, the stream path took over half the preview 2
//!   guest's time in the bench's `wasi` workload. The cursor stays the
//!   file's own (wasi-libc keeps it in the guest, so reading and moving it
//!   are no host calls): reads and seeks elsewhere see every write.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
#[cfg(target_env = "p2")]
use std::io::{Seek as _, SeekFrom};
use std::os::fd::AsRawFd as _;

/// Makes `file`'s data durable, as `fdatasync(2)`: `fd_datasync` under
/// preview 1, `descriptor.sync-data` under preview 2.
pub(crate) fn sync_data(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: the descriptor stays open while `file` is borrowed.
        if unsafe { libc::fdatasync(file.as_raw_fd()) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Writes `buf` (or a prefix of it) at `file`'s cursor and moves the cursor
/// past what was written; returns how much that was.
#[cfg(target_env = "p2")]
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
#[cfg(target_env = "p2")]
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
