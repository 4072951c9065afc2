//! Helpers for tests of the thread-safe WAL: a time limit that fails the
//! test instead of hanging it, reading back every record, and a storage
//! whose syncs can be held at a gate ([`gate`]). Native only (WASI preview 1 has no threads). Each
//! test crate that includes this module uses part of it.
#![allow(dead_code)]

pub mod gate;

use std::future::Future;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Runs `body` on its own thread and returns what it returns; fails the
/// test (panics naming `what`) if it has not finished after `limit`, and
/// passes its panic on if it panicked. A hung body is left behind; the
/// test process ends it.
pub fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("test body: {what}"))
        .spawn(move || {
            let out = body();
            let _ = tx.send(());
            out
        })
        .expect("spawn the test body's thread");
    match rx.recv_timeout(limit) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => match thread.join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {limit:?}: a wait that should have ended did not")
        }
    }
}

/// The next message on `rx`, or a failure naming `what` after `limit`.
pub fn recv_within<T>(rx: &Receiver<T>, limit: Duration, what: &str) -> T {
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: nothing after {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: the sender is gone"),
    }
}

/// Polls `cond` every millisecond until it holds; fails naming `what` if it
/// does not within `limit`.
pub fn until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every record of every segment: (series, timestamp, value), in read order.
pub fn read_all<S: wal_host_std::ThreadedStorage>(
    wal: &wal_host_std::Wal<S>,
) -> Vec<(u64, i64, Vec<u8>)> {
    let mut out = vec![];
    for id in wal.segments() {
        for e in wal.read(id).unwrap() {
            let e = e.unwrap();
            for (t, v) in e.timestamps.iter().zip(e.values) {
                out.push((e.series_id, *t, v));
            }
        }
    }
    out
}

/// Wakes a parked thread.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` to the end on this thread, parking between polls: a future
/// awaited without any runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
