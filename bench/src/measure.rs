//! What every workload measures with: a settled disk and a warm page cache
//! before a timed run, peak RSS, latency percentiles, and a storage that
//! counts syncs and remembers its write pattern.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wal_core::host::SyncHandle;
use wal_core::FileName;
use wal_core::{SegmentFile, Storage};

/// Warms the page cache for a run that writes about `bytes`: writes that
/// much to a file in `dir` and deletes it, before any of it is written back
/// (nothing reaches the disk).
///
/// These machines are virtual (Firecracker, free page reporting on): memory
/// the guest has left free for a couple of seconds goes back to the host,
/// and the first write into it costs a host page fault. Writing 1 GiB into
/// the page cache ran at 0.5-0.6 GB/s after a 10 s pause and at 2.0-2.4
/// GB/s right after another run (or after this warm-up), so whichever
/// system ran first after a pause lost by up to 4x. Every ingest run of
/// every system starts warm instead, as a busy server's page cache is.
pub fn warm_page_cache(dir: &std::path::Path, bytes: u64) {
    use std::io::Write;
    let path = dir.join("page-cache-warm-up.tmp");
    let chunk = vec![0u8; 1 << 20];
    let mut f = std::fs::File::create(&path).expect("the warm-up file");
    for _ in 0..bytes.div_ceil(chunk.len() as u64) {
        f.write_all(&chunk).expect("writing the warm-up file");
    }
    drop(f);
    std::fs::remove_file(&path).expect("removing the warm-up file");
}

/// Lets the disk settle before a timed run: writes back every dirty page
/// (`sync`), so that one measurement does not pay for the previous one's
/// writeback.
pub fn settle() {
    // Hand the heap's free memory back to the OS: a run that freed a
    // million small allocations (raft-engine's, okaywal's) otherwise
    // leaves over a gigabyte of them in the RSS, and the next run's peak
    // RSS starts from there.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap memory; it takes no
    // pointers and is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // Deleting the last run's gigabytes makes the file system send discards
    // to the disk for a while after `sync` returns (the root file system
    // here is mounted with `discard`): wait, up to 5 s, until no block
    // device has I/O in flight for 150 ms, so one run's clean-up does not
    // slow the next run's syncs.
    let start = std::time::Instant::now();
    let mut quiet = 0;
    while quiet < 3 && start.elapsed() < std::time::Duration::from_secs(5) {
        quiet = if disk_in_flight() == 0 { quiet + 1 } else { 0 };
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Requests in flight on every block device (`/sys/block/*/inflight`).
fn disk_in_flight() -> u64 {
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("inflight")).ok())
        .map(|s| {
            s.split_whitespace()
                .filter_map(|n| n.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Resets the kernel's peak-RSS mark for this process (Linux `clear_refs` 5).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak RSS since the last reset, in MB.
pub fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// RSS now, in MB. A reset of the peak sets it to this, which includes
/// what the allocator kept of earlier workloads' memory.
pub fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

/// A `/proc/self/status` line's kB figure (`field` with its colon), in MB.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Percentile `p` (0..=100) of sorted `v`, in microseconds.
pub fn percentile_us(v: &mut [u64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p / 100.0).round() as usize;
    Some(v[i] as f64 / 1000.0)
}

/// The write pattern a storage saw: bytes written between syncs.
#[derive(Debug, Default)]
pub struct Pattern {
    /// (bytes written since the previous sync, then synced?) per write call.
    pub writes: Vec<(usize, bool)>,
    pub syncs: AtomicU64,
    /// Bytes of frames (and headers) written.
    pub bytes: AtomicU64,
    /// Bytes of zeros written to reserve space ahead of the log.
    pub zero_bytes: AtomicU64,
    /// The longest single sync, in nanoseconds.
    pub max_sync_ns: AtomicU64,
    /// The longest time from the end of a sync to the next write, in
    /// nanoseconds: how long the WAL left the disk idle while it had data.
    pub max_idle_ns: AtomicU64,
    last_sync_end: Option<std::time::Instant>,
    last_was_zero: bool,
    /// Whether `writes` is recorded (off where memory is being measured).
    pub quiet: bool,
}

impl Pattern {
    /// Starts disk-idle timing afresh (after open: the wait for the first
    /// buffer to fill is not a stall).
    pub fn reset_idle(&mut self) {
        self.last_sync_end = None;
        self.max_idle_ns.store(0, Ordering::Relaxed);
    }

    /// Forgets everything seen so far (after a warm-up phase).
    pub fn reset(&mut self) {
        let quiet = self.quiet;
        *self = Pattern {
            quiet,
            ..Pattern::default()
        };
    }
}

/// A storage wrapper that counts syncs and bytes and records the pattern.
#[derive(Clone, Debug)]
pub struct Counting<S> {
    pub inner: S,
    pub pattern: Arc<Mutex<Pattern>>,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            pattern: Arc::default(),
        }
    }
}

/// A file of a [`Counting`] storage.
pub struct CountingFile<F> {
    inner: F,
    pattern: Arc<Mutex<Pattern>>,
}

impl<S: Storage> Storage for Counting<S> {
    type Error = S::Error;
    type File = CountingFile<S::File>;
    fn list(&mut self) -> Result<Vec<FileName>, S::Error> {
        self.inner.list()
    }
    fn create(&mut self, name: FileName) -> Result<Self::File, S::Error> {
        Ok(CountingFile {
            inner: self.inner.create(name)?,
            pattern: self.pattern.clone(),
        })
    }
    fn open(&mut self, name: FileName) -> Result<Self::File, S::Error> {
        Ok(CountingFile {
            inner: self.inner.open(name)?,
            pattern: self.pattern.clone(),
        })
    }
    fn remove(&mut self, name: FileName) -> Result<(), S::Error> {
        self.inner.remove(name)
    }
    fn rename(&mut self, from: FileName, to: FileName) -> Result<(), S::Error> {
        self.inner.rename(from, to)
    }
    fn can_rename(&self) -> bool {
        self.inner.can_rename()
    }
    fn sync_dir(&mut self) -> Result<(), S::Error> {
        self.inner.sync_dir()
    }
}

impl<F: SyncHandle> SyncHandle for CountingFile<F> {
    fn sync_handle(&self) -> Result<Self, F::Error> {
        Ok(CountingFile {
            inner: self.inner.sync_handle()?,
            pattern: self.pattern.clone(),
        })
    }
}

impl<F: embedded_io::ErrorType> embedded_io::ErrorType for CountingFile<F> {
    type Error = F::Error;
}
impl<F: embedded_io::Read> embedded_io::Read for CountingFile<F> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, F::Error> {
        self.inner.read(buf)
    }
}
impl<F: embedded_io::Write> embedded_io::Write for CountingFile<F> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, F::Error> {
        let started = std::time::Instant::now();
        let n = self.inner.write(buf)?;
        let mut p = self.pattern.lock().unwrap();
        if let Some(end) = p.last_sync_end.take() {
            let idle = started.saturating_duration_since(end).as_nanos() as u64;
            p.max_idle_ns.fetch_max(idle, Ordering::Relaxed);
        }
        if buf[..n].iter().all(|&b| b == 0) {
            // Reserved space being pre-written: the WAL's overhead, not data.
            p.zero_bytes.fetch_add(n as u64, Ordering::Relaxed);
            p.last_was_zero = true;
        } else {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
            if !p.quiet {
                p.writes.push((n, false));
            }
            p.last_was_zero = false;
        }
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), F::Error> {
        self.inner.flush()
    }
}

impl<F: embedded_io::Seek> embedded_io::Seek for CountingFile<F> {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, F::Error> {
        self.inner.seek(pos)
    }
}
impl<F: SegmentFile> SegmentFile for CountingFile<F> {
    fn len(&mut self) -> Result<u64, F::Error> {
        self.inner.len()
    }
    fn truncate(&mut self, len: u64) -> Result<(), F::Error> {
        self.inner.truncate(len)
    }
    fn sync(&mut self) -> Result<(), F::Error> {
        let t = std::time::Instant::now();
        self.inner.sync()?;
        let ns = t.elapsed().as_nanos() as u64;
        let mut p = self.pattern.lock().unwrap();
        p.max_sync_ns.fetch_max(ns, Ordering::Relaxed);
        p.last_sync_end = Some(std::time::Instant::now());
        p.syncs.fetch_add(1, Ordering::Relaxed);
        if !p.last_was_zero {
            if let Some(last) = p.writes.last_mut() {
                last.1 = true;
            }
        }
        Ok(())
    }
}
