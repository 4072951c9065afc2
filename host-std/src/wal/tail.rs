//! [`Tail`]: a reader that follows the log as it becomes durable.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wal_core::{Entry, Error, Position, Replay};

use super::durable::Seen;
use super::shared::Shared;
use super::signal::lock;
use crate::ThreadedStorage;
use wal_fs::FsStorage;

/// One record's frame position and entry, as a [`Tail`] hands them out.
pub type Item = (Position, Entry);

/// Follows the log from a position as it becomes durable: every durable
/// record once, in log order, across rotations, a frame in memory at a
/// time (from [`super::Wal::tail`]). Blocking ([`Tail::next`], the
/// `Iterator`, which ends once the WAL has closed and everything durable
/// was read), with a time limit ([`Tail::next_timeout`]), or as a future
/// ([`Tail::next_async`], no runtime needed). Many may follow one WAL.
/// Reads without the log's lock (writers are not held up); it sees only
/// what is synced (or, under `SyncPolicy::Never`, written). If the segment
/// it is reading is deleted under it, it ends with
/// [`Error::PositionGone`].
pub struct Tail<S: ThreadedStorage = FsStorage>
where
    S::File: Send,
{
    replay: Replay<S>,
    shared: Arc<Shared<S>>,
    /// The segment this tail reads, for retention to keep.
    mark: Arc<Mutex<Position>>,
    /// An error already handed out: the tail has ended.
    ended: bool,
}

impl<S: ThreadedStorage> std::fmt::Debug for Tail<S>
where
    S::File: Send,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail")
            .field("next", &self.replay.next_position())
            .finish_non_exhaustive()
    }
}

impl<S: ThreadedStorage> Tail<S>
where
    S::File: Send,
{
    pub(super) fn new(replay: Replay<S>, shared: Arc<Shared<S>>) -> Self {
        let mark = shared.register_tail(replay.next_position());
        Tail {
            replay,
            shared,
            mark,
            ended: false,
        }
    }

    /// Where the next frame to be read starts.
    pub fn position(&self) -> Position {
        self.replay.next_position()
    }

    /// What is durable and not yet handed out, if anything; `Ok(None)`
    /// once caught up with what was durable when last looked at.
    fn ready(&mut self) -> Result<Option<Item>, Error> {
        if self.ended {
            return Err(Error::Closed);
        }
        let next = self.replay.next();
        *lock(&self.mark) = self.replay.next_position();
        match next {
            Some(Ok(item)) => Ok(Some(item)),
            Some(Err(e)) => {
                self.ended = true;
                Err(e)
            }
            None => Ok(None),
        }
    }

    /// Moves the replay's end to the log's durable end now.
    fn catch_up(&mut self) -> Result<(), Error> {
        let (end, segments) = {
            let mut side = lock(&self.shared.log);
            match side.log.as_mut() {
                Some(log) => (self.shared.durable_now(log), log.segments()),
                None => (self.shared.order.durable(), side.segments_at_close.clone()),
            }
        };
        self.replay.follow(end, &segments).map_err(|e| {
            self.ended = true;
            match e {
                // Deleted before this tail read it: it fell behind.
                Error::PositionGone { position, oldest } => Error::Lagged { position, oldest },
                e => e,
            }
        })
    }

    /// The next record, waiting until one is durable, the WAL closes
    /// (`Ok(None)` once everything durable was read) or `deadline`
    /// passes (`Ok(None)` too; [`Tail::next_timeout`] tells them apart).
    fn next_until(&mut self, deadline: Option<Instant>) -> Result<Option<Item>, Error> {
        loop {
            if let Some(item) = self.ready()? {
                return Ok(Some(item));
            }
            let seen = self
                .shared
                .order
                .watermark()
                .wait_past(self.replay.end(), deadline);
            if seen.end > self.replay.end() {
                self.catch_up()?;
                continue;
            }
            return Ok(None);
        }
    }

    /// The next durable record, waiting up to `timeout` for one: `Ok(None)`
    /// if none became durable in time, [`Error::Closed`] once the WAL has
    /// closed and everything durable was read.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<Item>, Error> {
        let deadline = Instant::now().checked_add(timeout);
        match self.next_until(deadline)? {
            Some(item) => Ok(Some(item)),
            None if self.closed_and_read() => Err(Error::Closed),
            None => Ok(None),
        }
    }

    /// Whether the WAL has closed and the tail read everything durable.
    fn closed_and_read(&self) -> bool {
        let seen = self.shared.order.watermark().seen();
        seen.closed && seen.end <= self.replay.end()
    }

    /// The next durable record as a future: resolves to `Some` once one
    /// is durable, `None` once the WAL has closed and everything durable
    /// was read. Reading a frame blocks the polling thread briefly (it is
    /// a file read); waiting for the log to grow does not.
    pub fn next_async(&mut self) -> NextRecord<'_, S> {
        NextRecord { tail: self }
    }
}

impl<S: ThreadedStorage> Iterator for Tail<S>
where
    S::File: Send,
{
    type Item = Result<Item, Error>;

    /// The next durable record, waiting for one as long as it takes;
    /// `None` once the WAL has closed and everything durable was read.
    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        self.next_until(None).transpose()
    }
}

/// The future of [`Tail::next_async`].
pub struct NextRecord<'a, S: ThreadedStorage>
where
    S::File: Send,
{
    tail: &'a mut Tail<S>,
}

impl<S: ThreadedStorage> Future for NextRecord<'_, S>
where
    S::File: Send,
{
    type Output = Option<Result<Item, Error>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let tail = &mut *self.tail;
        if tail.ended {
            return Poll::Ready(None);
        }
        loop {
            match tail.ready() {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(item)) => return Poll::Ready(Some(Ok(item))),
                Ok(None) => {}
            }
            let end = tail.replay.end();
            match tail.shared.order.watermark().poll_past(end, cx.waker()) {
                None => return Poll::Pending,
                Some(Seen { end: now, .. }) if now > end => {
                    if let Err(e) = tail.catch_up() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Some(_) => return Poll::Ready(None),
            }
        }
    }
}
