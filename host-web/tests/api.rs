//! The JS API ([`WebWal`]) in a dedicated worker of headless Chromium, on
//! the OPFS: writes resolve when durable (on demand and by the flush
//! timer), rotate, read, replay, stats, a real reopen (every handle closed
//! and taken again), the writer lock, the pool growing between calls, and
//! files exported by the core's names. Every wait has a timeout.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Promise, Reflect, Uint8Array};
use wal_host_web::WebWal;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::WorkerGlobalScope;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// How long any one wait may take before the test fails.
const TIMEOUT_MS: i32 = 20_000;

/// Awaits `p`, failing with `what` if it takes longer than [`TIMEOUT_MS`].
async fn within(what: &str, p: Promise) -> Result<JsValue, JsValue> {
    let what = what.to_string();
    let timeout = Promise::new(&mut |_, reject| {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let message = JsValue::from_str(&format!("timed out after {TIMEOUT_MS} ms: {what}"));
        let fire = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::UNDEFINED, &message);
        });
        scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), TIMEOUT_MS)
            .expect("setTimeout");
    });
    JsFuture::from(Promise::race(&Array::of2(&p, &timeout))).await
}

async fn ok(what: &str, p: Promise) -> JsValue {
    match within(what, p).await {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e:?}"),
    }
}

async fn open(dir: &str, options: &str) -> WebWal {
    let options = js_sys::JSON::parse(options).expect("options JSON");
    WebWal::open(dir.into(), options).await.expect("open")
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).expect("a field")
}

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key)
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {v:?}"))
}

/// Every value of `entries` (from read or replay), in order.
fn values(entries: &JsValue) -> Vec<Vec<u8>> {
    let mut out = vec![];
    for e in Array::from(entries).iter() {
        for v in Array::from(&get(&e, "values")).iter() {
            out.push(v.unchecked_into::<Uint8Array>().to_vec());
        }
    }
    out
}

fn value(i: usize) -> Vec<u8> {
    format!("record {i} {}", "x".repeat(i % 50)).into_bytes()
}

#[wasm_bindgen_test]
async fn writes_resolve_when_durable_and_survive_a_real_reopen() {
    let dir = "tests/api-reopen";
    ok(
        "wipe",
        wasm_bindgen_futures::future_to_promise(async {
            WebWal::wipe(dir.into()).await.map(|()| JsValue::UNDEFINED)
        }),
    )
    .await;
    let wal = open(
        dir,
        r#"{"fileSize": 4096, "bufferSize": 1024, "flushIntervalMs": null, "compression": false}"#,
    )
    .await;
    let writes: Vec<Promise> = (0..300)
        .map(|i| wal.write(i as u64 % 5, i, value(i as usize)))
        .collect();
    ok("flush", wal.flush()).await;
    let mut last = (0, 0);
    for (i, w) in writes.into_iter().enumerate() {
        let pos = ok("a write", w).await.as_string().expect("a position");
        let (seg, off) = pos.split_once(':').expect("SEGMENT:OFFSET");
        let pos: (u64, u64) = (seg.parse().unwrap(), off.parse().unwrap());
        assert!(pos >= last, "write {i}: {pos:?} after {last:?}");
        last = pos;
    }
    let closed = ok("rotate", wal.rotate()).await;
    assert!(num(&closed, "records") > 0.0);
    let stats = ok("stats", wal.stats()).await;
    assert_eq!(num(&stats, "records"), 300.0);
    assert!(num(&stats, "segments") >= 3.0, "{stats:?}");
    let replayed = ok("replay", wal.replay(None)).await;
    assert_eq!(values(&replayed).len(), 300);
    ok("close", wal.close()).await;
    assert!(within("write after close", wal.write(1, 1, vec![1]))
        .await
        .is_err());

    // Every handle was closed: a new open takes them again and recovers.
    let wal = open(
        dir,
        r#"{"fileSize": 4096, "bufferSize": 1024, "flushIntervalMs": null, "compression": false}"#,
    )
    .await;
    assert!(
        wal.recovery().starts_with("recovered "),
        "{}",
        wal.recovery()
    );
    let mut got = values(&ok("replay", wal.replay(None)).await);
    let mut want: Vec<Vec<u8>> = (0..300).map(value).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let ids = Array::from(&ok("segments", wal.segments()).await);
    let first = ids.get(0).as_f64().expect("an id");
    let read = values(&ok("read", wal.read(first)).await);
    assert!(!read.is_empty());
    ok("delete", wal.delete(first)).await;
    let ids_after = Array::from(&ok("segments", wal.segments()).await);
    assert_eq!(ids_after.length() + 1, ids.length());
    ok("close", wal.close()).await;
}

#[wasm_bindgen_test]
async fn the_flush_timer_makes_a_lone_write_durable() {
    let dir = "tests/api-timer";
    let _ = WebWal::wipe(dir.into()).await;
    let wal = open(dir, r#"{"flushIntervalMs": 5}"#).await;
    let pos = ok("a lone write, no flush", wal.write(1, 1, b"tick".to_vec())).await;
    assert!(
        pos.as_string().is_some_and(|p| p.starts_with("1:")),
        "{pos:?}"
    );
    ok("close", wal.close()).await;
}

#[wasm_bindgen_test]
async fn a_second_open_of_the_same_directory_is_refused_as_locked() {
    let dir = "tests/api-lock";
    let _ = WebWal::wipe(dir.into()).await;
    let wal = open(dir, "{}").await;
    let err = WebWal::open(dir.into(), JsValue::UNDEFINED)
        .await
        .err()
        .expect("refused");
    let name = get(&err, "name").as_string();
    assert_eq!(
        name.as_deref(),
        Some("NoModificationAllowedError"),
        "{err:?}"
    );
    ok("close", wal.close()).await;
    let again = open(dir, "{}").await; // released by close
    ok("close", again.close()).await;
}

#[wasm_bindgen_test]
async fn the_pool_grows_between_calls_and_rejects_bad_input_clearly() {
    let dir = "tests/api-grow";
    let _ = WebWal::wipe(dir.into()).await;
    let wal = open(
        dir,
        r#"{"fileSize": 4096, "bufferSize": 512, "flushIntervalMs": null, "spare": 2}"#,
    )
    .await;
    for i in 0..40 {
        let _ = wal.write(1, i, vec![7; 300]);
        ok("rotate", wal.rotate()).await;
    }
    let stats = ok("stats", wal.stats()).await;
    assert!(num(&stats, "segments") >= 40.0, "{stats:?}");
    assert!(num(&stats, "poolFiles") > 40.0, "{stats:?}");
    let files = Array::from(&ok("export", wal.export_files()).await);
    assert_eq!(files.length() as f64, num(&stats, "segments"));
    assert_eq!(
        get(&files.get(0), "name").as_string().as_deref(),
        Some("seg0000000000000001.wal")
    );
    let too_big = within("a value too large", wal.write(1, 1, vec![0; 70_000])).await;
    let err = too_big.expect_err("refused");
    assert_eq!(
        get(&err, "name").as_string().as_deref(),
        Some("InvalidInput"),
        "{err:?}"
    );
    let bad = WebWal::open(
        "tests/api-bad".into(),
        js_sys::JSON::parse(r#"{"sync": "sometimes"}"#).unwrap(),
    )
    .await;
    assert!(bad.is_err());
    ok("close", wal.close()).await;
}

#[wasm_bindgen_test]
async fn a_burst_of_rotations_in_one_turn_waits_for_the_pool_instead_of_failing() {
    let dir = "tests/api-burst";
    let _ = WebWal::wipe(dir.into()).await;
    let wal = open(
        dir,
        r#"{"fileSize": 4096, "bufferSize": 1024, "flushIntervalMs": null, "compression": false, "spare": 2}"#,
    )
    .await;
    // 2,000 writes of 200 bytes issued in one JS turn: about a hundred
    // rotations, far more than the two spare pool files.
    let writes: Vec<Promise> = (0..2000).map(|i| wal.write(1, i, vec![9; 200])).collect();
    let flushed = wal.flush();
    for w in writes {
        ok("a write in the burst", w).await;
    }
    ok("flush", flushed).await;
    let stats = ok("stats", wal.stats()).await;
    assert!(num(&stats, "segments") > 80.0, "{stats:?}");
    assert_eq!(values(&ok("replay", wal.replay(None)).await).len(), 2000);
    ok("close", wal.close()).await;
}
