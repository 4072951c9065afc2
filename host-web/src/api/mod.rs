//! The JS API: [`WebWal`], the core's single-threaded WAL on an
//! [`OpfsStorage`], for a dedicated worker.
//!
//! Every call returns a Promise and runs in call order through one queue.
//! A call runs at once (synchronously, inside the JS call) unless the pool
//! is short of free pool files: then the queue waits while the pool grows
//! (asynchronously: opening files is), and runs in order after. A write's
//! Promise resolves with the position through which the log is durable once
//! the frame holding it is written and synced (per the `sync` option), or
//! rejects with the error that stopped it; a timer runs the core's
//! time-based flush (`flushIntervalMs`).

mod js;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;
use std::sync::Mutex;

use js_sys::{Array, Function, Object, Promise, Uint8Array};
use wal_core::{Error, Position, Wal};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::WorkerGlobalScope;

use crate::error::WebError;
use crate::pool::Pool;
use crate::storage::OpfsStorage;

/// Below this many free pool files, no call runs before the pool grows (a
/// call creates at most one segment and one sidecar).
const MIN_FREE: usize = 2;

/// Completions fired by the core, waiting to settle their Promises (the
/// core's callbacks must be `Send`; JS functions are not, so they are
/// found by ticket afterwards).
type Done = Arc<Mutex<Vec<(u64, Result<Position, Error>)>>>;

struct Resolvers {
    resolve: Function,
    reject: Function,
}

enum Outcome {
    /// Settle the call's Promise now.
    Now(Result<JsValue, JsValue>),
    /// A write: its completion settles it.
    Later,
}

type Run = Box<dyn FnOnce(&mut Inner, u64) -> Outcome>;

struct Inner {
    wal: Wal<OpfsStorage>,
    storage: OpfsStorage,
    spare: usize,
    next_ticket: u64,
    waiting: BTreeMap<u64, Resolvers>,
    done: Done,
    queue: VecDeque<(Run, Option<Resolvers>)>,
    growing: bool,
    grow_error: Option<WebError>,
    /// The flush timer: its deadline (ms, `performance.now()`) and ID.
    timer: Option<(f64, i32)>,
    closed: bool,
}

fn scope() -> Option<WorkerGlobalScope> {
    js_sys::global().dyn_into::<WorkerGlobalScope>().ok()
}

/// The host's monotonic clock, `performance.now()`.
fn now_ms() -> f64 {
    scope()
        .and_then(|s| s.performance())
        .map_or(0.0, |p| p.now())
}

fn now() -> Duration {
    Duration::from_secs_f64(now_ms().max(0.0) / 1000.0)
}

fn settle(r: &Resolvers, result: Result<JsValue, JsValue>) {
    let _ = match result {
        Ok(v) => r.resolve.call1(&JsValue::UNDEFINED, &v),
        Err(e) => r.reject.call1(&JsValue::UNDEFINED, &e),
    };
}

fn undefined_or(r: Result<(), Error>) -> Outcome {
    Outcome::Now(r.map(|()| JsValue::UNDEFINED).map_err(|e| js::error(&e)))
}

impl Inner {
    /// Settles the Promises of the writes the core completed.
    fn settle_completed(&mut self) {
        let fired = match self.done.lock() {
            Ok(mut d) => core::mem::take(&mut *d),
            Err(_) => return,
        };
        for (ticket, r) in fired {
            if let Some(res) = self.waiting.remove(&ticket) {
                settle(&res, r.map(js::position).map_err(|e| js::error(&e)));
            }
        }
    }

    /// Arms the flush timer for the core's next deadline (when it is
    /// earlier than the one armed).
    fn arm_timer(&mut self, me: &Rc<RefCell<Inner>>) {
        let Some(deadline) = self.wal.next_deadline() else {
            return;
        };
        let Some(scope) = scope() else { return };
        let at = deadline.as_secs_f64() * 1000.0;
        if let Some((armed, id)) = self.timer {
            if armed <= at {
                return;
            }
            scope.clear_timeout_with_handle(id);
        }
        let weak = Rc::downgrade(me);
        let fire = Closure::once_into_js(move || {
            let Some(me) = weak.upgrade() else { return };
            if let Ok(mut inner) = me.try_borrow_mut() {
                inner.timer = None;
                let poll: Run = Box::new(|inner, _| undefined_or(inner.wal.poll(now())));
                inner.queue.push_back((poll, None));
            }
            pump(&me);
        });
        let delay = (at - now_ms()).clamp(0.0, 1e9).ceil() as i32;
        if let Ok(id) =
            scope.set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), delay)
        {
            self.timer = Some((at, id));
        }
    }
}

impl Drop for Inner {
    /// A `WebWal` freed without `close`: the core's drop closes the WAL;
    /// the writes it completes settle here, so no Promise waits forever.
    fn drop(&mut self) {
        let _ = self.wal.close();
        self.settle_completed();
        for (_, res) in core::mem::take(&mut self.waiting) {
            settle(&res, Err(js::error(&Error::Closed)));
        }
    }
}

/// Runs queued calls in order until the queue is empty or the pool must
/// grow first (then it grows, asynchronously, and runs the rest after).
fn pump(me: &Rc<RefCell<Inner>>) {
    let Ok(mut inner) = me.try_borrow_mut() else {
        return; // the call holding it runs the queue
    };
    loop {
        if inner.growing {
            return;
        }
        let free = inner.storage.pool().borrow().counts().0;
        let short = if inner.queue.is_empty() {
            inner.spare
        } else {
            MIN_FREE
        };
        if !inner.closed && inner.grow_error.is_none() && free < short {
            inner.growing = true;
            let n = inner.spare;
            let handles = inner.storage.pool().borrow_mut().new_handles(n);
            let me = me.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let handles = handles.await;
                if let Ok(mut inner) = me.try_borrow_mut() {
                    inner.growing = false;
                    match handles {
                        Ok(h) => inner.storage.pool().borrow_mut().adopt(h),
                        Err(e) => inner.grow_error = Some(e),
                    }
                }
                pump(&me);
            });
            return;
        }
        let Some((run, resolvers)) = inner.queue.pop_front() else {
            inner.settle_completed();
            if !inner.closed {
                inner.arm_timer(me);
            }
            return;
        };
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        match (run(&mut inner, ticket), resolvers) {
            (Outcome::Now(r), Some(res)) => settle(&res, r),
            (Outcome::Later, Some(res)) => {
                inner.waiting.insert(ticket, res);
            }
            (_, None) => {}
        }
        inner.settle_completed();
    }
}

/// A write-ahead log on the Origin Private File System: the core's WAL
/// (format, rotation, recovery, all of it), with segment files in a pool
/// of OPFS files under one directory. For a dedicated worker only.
#[wasm_bindgen]
pub struct WebWal {
    inner: Rc<RefCell<Inner>>,
    recovery: String,
}

#[wasm_bindgen]
impl WebWal {
    /// Opens (creating or recovering) the WAL in OPFS directory `dir`
    /// (`/`-separated, created as needed). `options`: see the README
    /// (`fileSize`, `bufferSize`, `flushIntervalMs`, `sync`, `recovery`,
    /// `compression`, `reserve`, `retainBytes`, `maxBytes`, `spare`).
    /// Rejects with `Locked` when another worker or tab has it open.
    pub async fn open(dir: String, options: JsValue) -> Result<WebWal, JsValue> {
        let opts = js::options(&options)?;
        let pool = Pool::open(&dir, opts.spare).await?;
        let storage = OpfsStorage::new(Rc::new(RefCell::new(pool)));
        let wal = match Wal::open(storage.clone(), opts.config) {
            Ok(w) => w,
            Err(e) => {
                storage.pool().borrow_mut().close();
                return Err(js::error(&e));
            }
        };
        let recovery = alloc::format!("{}", wal.recovery());
        Ok(WebWal {
            inner: Rc::new(RefCell::new(Inner {
                wal,
                storage,
                spare: opts.spare,
                next_ticket: 0,
                waiting: BTreeMap::new(),
                done: Done::default(),
                queue: VecDeque::new(),
                growing: false,
                grow_error: None,
                timer: None,
                closed: false,
            })),
            recovery,
        })
    }

    /// Removes OPFS directory `dir` and everything in it (the WAL must not
    /// be open).
    pub async fn wipe(dir: String) -> Result<(), JsValue> {
        Ok(Pool::wipe(&dir).await?)
    }

    /// What open found and repaired (the core's recovery report).
    #[wasm_bindgen(getter)]
    pub fn recovery(&self) -> String {
        self.recovery.clone()
    }

    fn submit(&self, run: impl FnOnce(&mut Inner, u64) -> Outcome + 'static) -> Promise {
        let mut resolvers = None;
        let promise =
            Promise::new(&mut |resolve, reject| resolvers = Some(Resolvers { resolve, reject }));
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.queue.push_back((Box::new(run), resolvers));
        }
        pump(&self.inner);
        promise
    }

    /// Writes a record: resolves with the position (`"SEGMENT:OFFSET"`)
    /// through which the log is durable once it is, or rejects with what
    /// stopped it (a value over 65,535 bytes, a closed or poisoned WAL, a
    /// failed write or sync).
    pub fn write(&self, series: u64, timestamp: i64, value: Vec<u8>) -> Promise {
        self.submit(move |inner, ticket| {
            let done = inner.done.clone();
            let completion = move |r| {
                if let Ok(mut d) = done.lock() {
                    d.push((ticket, r));
                }
            };
            // A refused write's completion fires with the same error.
            let _ = inner
                .wal
                .write_with(series, timestamp, &value, now(), completion);
            Outcome::Later
        })
    }

    /// Writes and syncs what is buffered; resolves once every earlier
    /// write's Promise has settled.
    pub fn flush(&self) -> Promise {
        self.submit(|inner, _| undefined_or(inner.wal.flush()))
    }

    /// Flushes, closes the active segment and starts the next: resolves
    /// with what the closed segment holds.
    pub fn rotate(&self) -> Promise {
        self.submit(|inner, _| {
            Outcome::Now(
                inner
                    .wal
                    .rotate()
                    .map(|s| js::segment(&s).into())
                    .map_err(|e| js::error(&e)),
            )
        })
    }

    /// Segment `id`'s durable entries: an array of `{ series, timestamps,
    /// values }`.
    pub fn read(&self, id: f64) -> Promise {
        self.submit(move |inner, _| {
            let entries = inner.wal.read(id as u64).and_then(|reader| {
                reader
                    .map(|e| e.map(|e| JsValue::from(js::entry(&e))))
                    .collect::<Result<Array, Error>>()
            });
            Outcome::Now(entries.map(JsValue::from).map_err(|e| js::error(&e)))
        })
    }

    /// Every durable record from `from` (`"SEGMENT:OFFSET"`; the start of
    /// the log when absent): an array of `{ position, series, timestamps,
    /// values }`, in log order. All of it in memory: for a large log, read
    /// a segment at a time.
    pub fn replay(&self, from: Option<String>) -> Promise {
        self.submit(move |inner, _| {
            let start = match from.as_deref().map(str::parse::<Position>) {
                None => Position::START,
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    return Outcome::Now(Err(js::invalid(alloc::format!("replay from: {e}"))))
                }
            };
            let out = inner.wal.replay(start).and_then(|replay| {
                replay
                    .map(|r| {
                        r.map(|(pos, e)| {
                            let obj = js::entry(&e);
                            js::set(&obj, "position", js::position(pos));
                            JsValue::from(obj)
                        })
                    })
                    .collect::<Result<Array, Error>>()
            });
            Outcome::Now(out.map(JsValue::from).map_err(|e| js::error(&e)))
        })
    }

    /// Deletes closed segment `id`.
    pub fn delete(&self, id: f64) -> Promise {
        self.submit(move |inner, _| undefined_or(inner.wal.delete(id as u64)))
    }

    /// A checkpoint at `through` (`"SEGMENT:OFFSET"`): deletes every closed
    /// segment wholly before it; resolves with their IDs.
    pub fn checkpoint(&self, through: String) -> Promise {
        self.submit(move |inner, _| {
            let r = match through.parse::<Position>() {
                Ok(p) => inner.wal.checkpoint(p),
                Err(e) => {
                    return Outcome::Now(Err(js::invalid(alloc::format!("checkpoint at: {e}"))))
                }
            };
            Outcome::Now(
                r.map(|ids| {
                    ids.into_iter()
                        .map(|id| JsValue::from(id as f64))
                        .collect::<Array>()
                        .into()
                })
                .map_err(|e| js::error(&e)),
            )
        })
    }

    /// The segment IDs, ascending (the last is the active one).
    pub fn segments(&self) -> Promise {
        self.submit(|inner, _| {
            let ids: Array = inner
                .wal
                .segments()
                .into_iter()
                .map(|id| JsValue::from(id as f64))
                .collect();
            Outcome::Now(Ok(ids.into()))
        })
    }

    /// Counters since open and what the log holds, plus the pool's
    /// `poolFree` and `poolFiles`.
    pub fn stats(&self) -> Promise {
        self.submit(|inner, _| {
            let stats = match inner.wal.stats() {
                Ok(s) => js::stats(&s),
                Err(e) => return Outcome::Now(Err(js::error(&e))),
            };
            let (free, files) = inner.storage.pool().borrow().counts();
            js::set(&stats, "poolFree", free as f64);
            js::set(&stats, "poolFiles", files as f64);
            js::set(
                &stats,
                "bufferedRecords",
                inner.wal.buffered_records() as f64,
            );
            Outcome::Now(Ok(stats.into()))
        })
    }

    /// Every WAL file (segments and sidecars) and its bytes, by the core's
    /// names: an array of `{ name, bytes }` (what a native reader reads).
    #[wasm_bindgen(js_name = exportFiles)]
    pub fn export_files(&self) -> Promise {
        self.submit(|inner, _| {
            let files = inner.storage.export().map(|files| {
                files
                    .into_iter()
                    .map(|(name, bytes)| {
                        let obj = Object::new();
                        js::set(&obj, "name", alloc::format!("{name}"));
                        js::set(&obj, "bytes", Uint8Array::from(&bytes[..]));
                        JsValue::from(obj)
                    })
                    .collect::<Array>()
            });
            Outcome::Now(files.map(JsValue::from).map_err(JsValue::from))
        })
    }

    /// Flushes, syncs and completes everything, then releases the OPFS
    /// files (and the WAL's lock). Later calls reject with `Closed`.
    pub fn close(&self) -> Promise {
        self.submit(|inner, _| {
            let r = inner.wal.close();
            inner.storage.pool().borrow_mut().close();
            inner.closed = true;
            if let (Some((_, id)), Some(scope)) = (inner.timer.take(), scope()) {
                scope.clear_timeout_with_handle(id);
            }
            undefined_or(r)
        })
    }
}
