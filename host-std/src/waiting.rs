//! How a thread waits for its write: yield the CPU for a while, or block.
//!
//! A batch's waiters block on one condition variable, and whoever completes
//! the batch wakes them with one `futex` call, in which the kernel wakes them
//! one by one: about 2 to 3 µs each on a 2-vCPU guest, so about 100 µs for
//! the 40 writers that share a sync at 64 threads, all of it between one
//! sync and the next (the next batch waits for it). A waiter that yields
//! instead (`sched_yield` in a loop, watching an atomic flag) needs no
//! wake-up: it sees the result on its next turn, and completing the batch
//! costs nothing per waiter.
//!
//! Yielding pays only when the CPUs are crowded with waiters: then each
//! yield hands the CPU to another waiting thread, which costs about what
//! blocking and being woken cost. With few waiters it is a busy loop that
//! burns a core for nothing. Measured here (2 vCPUs, this disk syncing in
//! about 80 µs; `BENCHMARKS.md`, seventh session), yielding for up to 300 µs
//! on every wait: 64 threads 1.6x the records/s for the same CPU time per
//! record (4.6 µs); 32 threads 1.36x for 1.5x the CPU per record; 8
//! threads 1.07x for 2.5x. So a waiter yields only while at least
//! [`YIELD_WAITERS_PER_CPU`] threads per CPU wait on the WAL, for at most
//! [`YIELD_WRITES`] times the recent time of a frame's write and sync, and
//! never when that time is over [`MAX_YIELD_WRITE`] (a slow disk's sync
//! dwarfs the wake-ups, and yielding through it would only burn CPU).
//! Then it blocks as before, and is woken as before: correctness never
//! depends on the yield. [`crate::Wal::set_yield_when_crowded`] turns
//! yielding off, for a process whose spare CPU is worth more than the
//! throughput of a crowd of durable writers.

use crate::sync_times::SyncTimes;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Waiting threads per CPU at which waiters start yielding.
pub const YIELD_WAITERS_PER_CPU: usize = 16;

/// A waiter yields for at most this many times the recent write time.
pub const YIELD_WRITES: u32 = 3;

/// Writes slower than this: waiters block at once.
pub const MAX_YIELD_WRITE: Duration = Duration::from_micros(500);

/// What waiting threads need to know to choose between yielding and
/// blocking, shared by the WAL's threads.
#[derive(Debug)]
pub(crate) struct WaitPolicy {
    /// Threads waiting for a write right now.
    waiting: AtomicUsize,
    /// The recent time of a frame's write and sync, in nanoseconds,
    /// smoothed (0 before the first).
    write_ns: AtomicU64,
    /// Waiting threads needed before they yield.
    min_waiters: usize,
    /// Yielding is allowed at all ([`crate::Wal::set_yield_when_crowded`]).
    enabled: AtomicBool,
    /// Every timed write and sync, for the stats.
    times: SyncTimes,
    /// Syncs the syncer thread made (the log counts its own).
    syncer_syncs: AtomicU64,
    /// Tests: waits that ended while yielding (their thread was never
    /// woken).
    #[cfg(test)]
    yield_hits: AtomicU64,
    /// Tests: every waiter yields this long (nanoseconds; 0: the policy
    /// decides), whatever the machine's load.
    #[cfg(test)]
    forced_ns: AtomicU64,
}

/// A thread counted as waiting until this is dropped.
pub(crate) struct Waiting<'a> {
    policy: &'a WaitPolicy,
    /// How long to yield before blocking (zero: block at once).
    pub(crate) budget: Duration,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.policy.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WaitPolicy {
    /// The policy for a machine with `cpus` CPUs.
    pub(crate) fn new(cpus: usize) -> Self {
        WaitPolicy {
            waiting: AtomicUsize::new(0),
            write_ns: AtomicU64::new(0),
            min_waiters: YIELD_WAITERS_PER_CPU.saturating_mul(cpus.max(1)),
            enabled: AtomicBool::new(true),
            times: SyncTimes::new(),
            syncer_syncs: AtomicU64::new(0),
            #[cfg(test)]
            yield_hits: AtomicU64::new(0),
            #[cfg(test)]
            forced_ns: AtomicU64::new(0),
        }
    }

    /// The policy for this machine. The core count is read once per
    /// process: `available_parallelism` reads cgroup files on Linux, which
    /// would cost every open a few system calls.
    pub(crate) fn for_this_machine() -> Self {
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        Self::new(
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        )
    }

    /// Allows or forbids yielding from now on.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Records how long a frame's write and sync took (or a sync alone).
    pub(crate) fn record_write(&self, took: Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX).max(1);
        let old = self.write_ns.load(Ordering::Relaxed);
        // A racy update is fine: this is a hint, smoothed over about 8
        // writes so that one slow sync does not turn yielding off.
        let new = if old == 0 {
            ns
        } else {
            old.saturating_mul(7).saturating_add(ns) / 8
        };
        self.write_ns.store(new, Ordering::Relaxed);
    }

    /// Runs a frame's write and sync (or a sync alone), recording how long
    /// it took.
    pub(crate) fn timed<T>(&self, write: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = write();
        let took = start.elapsed();
        self.record_write(took);
        self.times.record(took);
        out
    }

    /// As [`WaitPolicy::timed`], for a sync of the syncer thread (counted).
    pub(crate) fn timed_sync<T>(&self, sync: impl FnOnce() -> T) -> T {
        self.syncer_syncs.fetch_add(1, Ordering::Relaxed);
        self.timed(sync)
    }

    /// Syncs the syncer thread made.
    pub(crate) fn syncer_syncs(&self) -> u64 {
        self.syncer_syncs.load(Ordering::Relaxed)
    }

    /// How long the timed writes and syncs took (see [`WaitPolicy::timed`]).
    pub(crate) fn sync_latency(&self) -> Option<wal_core::SyncLatency> {
        self.times.latency()
    }

    /// Counts a wait that ended while its thread yielded (tests only: a
    /// counter every waiter touches is a contended cache line).
    pub(crate) fn record_yield_hit(&self) {
        #[cfg(test)]
        self.yield_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits that ended while their thread yielded.
    #[cfg(test)]
    pub(crate) fn yield_hits(&self) -> u64 {
        self.yield_hits.load(Ordering::Relaxed)
    }

    /// Makes every waiter yield for `budget`.
    #[cfg(test)]
    pub(crate) fn force_yield(&self, budget: Duration) {
        let ns = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
        self.forced_ns.store(ns, Ordering::Relaxed);
    }

    /// Counts the calling thread as waiting, and says how long it should
    /// yield before it blocks.
    pub(crate) fn enter(&self) -> Waiting<'_> {
        let waiting = self.waiting.fetch_add(1, Ordering::Relaxed) + 1;
        let write = Duration::from_nanos(self.write_ns.load(Ordering::Relaxed));
        let budget = if self.enabled.load(Ordering::Relaxed) {
            yield_budget(waiting, self.min_waiters, write)
        } else {
            Duration::ZERO
        };
        #[cfg(test)]
        let budget = match self.forced_ns.load(Ordering::Relaxed) {
            0 => budget,
            ns => Duration::from_nanos(ns),
        };
        Waiting {
            policy: self,
            budget,
        }
    }
}

/// How long a thread that finds `waiting` threads waiting (itself
/// included) yields, when a frame's write and sync recently took `write`.
pub(crate) fn yield_budget(waiting: usize, min_waiters: usize, write: Duration) -> Duration {
    if waiting < min_waiters || write.is_zero() || write > MAX_YIELD_WRITE {
        return Duration::ZERO;
    }
    write * YIELD_WRITES
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn few_waiters_block_at_once() {
        assert_eq!(yield_budget(31, 32, 80 * US), Duration::ZERO);
        assert_eq!(yield_budget(1, 32, 80 * US), Duration::ZERO);
    }

    #[test]
    fn many_waiters_yield_for_a_few_writes() {
        assert_eq!(yield_budget(32, 32, 80 * US), 240 * US);
        assert_eq!(yield_budget(64, 32, MAX_YIELD_WRITE), MAX_YIELD_WRITE * 3);
    }

    #[test]
    fn slow_or_unknown_writes_block_at_once() {
        assert_eq!(yield_budget(64, 32, MAX_YIELD_WRITE + US), Duration::ZERO);
        assert_eq!(yield_budget(64, 32, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn the_threshold_scales_with_cpus_and_the_count_follows_the_guards() {
        let p = WaitPolicy::new(2);
        p.record_write(100 * US);
        let held: Vec<_> = (0..31).map(|_| p.enter()).collect();
        assert!(held.iter().all(|w| w.budget.is_zero()), "31 < 2 x 16");
        let w = p.enter();
        assert_eq!(w.budget, 300 * US, "the 32nd waiter yields");
        drop(w);
        drop(held);
        assert_eq!(p.enter().budget, Duration::ZERO, "guards uncounted");
        assert_eq!(WaitPolicy::new(0).min_waiters, YIELD_WAITERS_PER_CPU);
    }

    #[test]
    fn turned_off_nobody_yields() {
        let p = WaitPolicy::new(1);
        p.record_write(100 * US);
        let held: Vec<_> = (0..16).map(|_| p.enter()).collect();
        assert_eq!(
            held[15].budget,
            300 * US,
            "the 16th of 16 on one CPU yields"
        );
        p.set_enabled(false);
        assert_eq!(p.enter().budget, Duration::ZERO);
        p.set_enabled(true);
        assert_eq!(p.enter().budget, 300 * US);
    }

    #[test]
    fn the_write_time_is_smoothed() {
        let p = WaitPolicy::new(1);
        p.record_write(80 * US);
        assert_eq!(p.write_ns.load(Ordering::Relaxed), 80_000);
        // One slow sync moves it by an eighth of the difference.
        p.record_write(880 * US);
        assert_eq!(p.write_ns.load(Ordering::Relaxed), 180_000);
        p.record_write(Duration::ZERO);
        assert!(p.write_ns.load(Ordering::Relaxed) > 0);
    }
}
