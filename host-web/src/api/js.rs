//! The core's values as JS values, and JS options as a [`Config`]: plain
//! objects, BigInts for series IDs and timestamps (exact past 2^53),
//! Numbers for counts and sizes, positions as `"SEGMENT:OFFSET"` strings.

use alloc::string::String;

use js_sys::{Array, BigInt64Array, Object, Reflect, Uint8Array};
use wal_core::{Config, Entry, Error, Position, RecoveryMode, SegmentInfo, Stats, SyncPolicy};
use wasm_bindgen::JsValue;

/// Sets `obj[key] = value` (on a plain object this cannot fail).
pub fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

/// A WAL error as a JS `Error` whose `name` is its kind (`Closed`,
/// `Poisoned`, `StorageFull`, `Locked`, `InvalidInput`, ...).
pub fn error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&alloc::format!("{e}"));
    err.set_name(&alloc::format!("{:?}", e.kind()));
    err.into()
}

/// A JS `Error` named `InvalidInput` with `message`.
pub fn invalid(message: String) -> JsValue {
    let err = js_sys::Error::new(&message);
    err.set_name("InvalidInput");
    err.into()
}

/// An entry: `{ series, timestamps, values }` (a BigInt, a
/// `BigInt64Array`, an array of `Uint8Array`s).
pub fn entry(e: &Entry) -> Object {
    let obj = Object::new();
    set(&obj, "series", js_sys::BigInt::from(e.series_id));
    set(&obj, "timestamps", BigInt64Array::from(&e.timestamps[..]));
    let values: Array = e.values.iter().map(|v| Uint8Array::from(&v[..])).collect();
    set(&obj, "values", values);
    obj
}

/// What a segment holds: `{ id, bytes, frames, entries, records,
/// payloadBytes, minTimestamp, maxTimestamp }` (timestamps BigInt or null).
pub fn segment(s: &SegmentInfo) -> Object {
    let obj = Object::new();
    set(&obj, "id", s.id as f64);
    set(&obj, "bytes", s.bytes as f64);
    set(&obj, "frames", s.frames as f64);
    set(&obj, "entries", s.entries as f64);
    set(&obj, "records", s.records as f64);
    set(&obj, "payloadBytes", s.payload_bytes as f64);
    let ts = |t: Option<i64>| t.map_or(JsValue::NULL, |t| js_sys::BigInt::from(t).into());
    set(&obj, "minTimestamp", ts(s.min_timestamp));
    set(&obj, "maxTimestamp", ts(s.max_timestamp));
    obj
}

/// The stats as an object of Numbers (positions as strings).
pub fn stats(s: &Stats) -> Object {
    let obj = Object::new();
    set(&obj, "records", s.records as f64);
    set(&obj, "frames", s.frames as f64);
    set(&obj, "snappyFrames", s.snappy_frames as f64);
    set(&obj, "payloadBytes", s.payload_bytes as f64);
    set(&obj, "storedBytes", s.stored_bytes as f64);
    set(&obj, "syncs", s.syncs as f64);
    set(&obj, "rotations", s.rotations as f64);
    set(&obj, "removedByRetention", s.removed_by_retention as f64);
    set(&obj, "segments", s.segments as f64);
    set(&obj, "bytesOnDisk", s.bytes_on_disk as f64);
    set(&obj, "oldest", position(s.oldest));
    set(&obj, "durable", position(s.durable));
    obj
}

/// A position as `"SEGMENT:OFFSET"`.
pub fn position(p: Position) -> JsValue {
    JsValue::from_str(&alloc::format!("{p}"))
}

/// Options of `open`: the WAL's [`Config`] and the pool's spare files.
pub struct Options {
    /// The WAL's configuration.
    pub config: Config,
    /// Pool files kept free ahead of creates (at least 2).
    pub spare: usize,
}

fn number(obj: &JsValue, key: &str) -> Result<Option<f64>, JsValue> {
    let v = Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED);
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 9007199254740991.0 => Ok(Some(n)),
        _ => Err(invalid(alloc::format!(
            "option {key}: {v:?} is not a whole number >= 0"
        ))),
    }
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Reads `open`'s options: `{ compression, fileSize, bufferSize,
/// flushIntervalMs (null: off), sync ("always" | "never"), recovery
/// ("tolerate" | "strict" | "salvage"), reserve, retainBytes, maxBytes,
/// spare }`, every one optional (the core's defaults; `spare` 8). The
/// core checks the combination at open.
pub fn options(obj: &JsValue) -> Result<Options, JsValue> {
    let mut config = Config::default();
    let mut spare = 8;
    if obj.is_undefined() || obj.is_null() {
        return Ok(Options { config, spare });
    }
    if let Some(c) = get(obj, "compression").as_bool() {
        config = config.with_compression(c);
    }
    if let Some(n) = number(obj, "fileSize")? {
        config = config.with_file_size(n as u64);
    }
    if let Some(n) = number(obj, "bufferSize")? {
        config = config.with_buffer_size(n as usize);
    }
    let interval = get(obj, "flushIntervalMs");
    if interval.is_null() {
        config = config.with_flush_interval(None);
    } else if let Some(ms) = number(obj, "flushIntervalMs")? {
        config = config.with_flush_interval(Some(core::time::Duration::from_micros(
            (ms * 1000.0) as u64,
        )));
    }
    match get(obj, "sync").as_string().as_deref() {
        None => {}
        Some("always") => config = config.with_sync(SyncPolicy::Always),
        Some("never") => config = config.with_sync(SyncPolicy::Never),
        Some(other) => {
            return Err(invalid(alloc::format!(
                "option sync: {other:?} is not \"always\" or \"never\""
            )))
        }
    }
    match get(obj, "recovery").as_string().as_deref() {
        None => {}
        Some("tolerate") => config = config.with_recovery(RecoveryMode::TolerateTornTail),
        Some("strict") => config = config.with_recovery(RecoveryMode::Strict),
        Some("salvage") => config = config.with_recovery(RecoveryMode::Salvage),
        Some(other) => {
            return Err(invalid(alloc::format!(
                "option recovery: {other:?} is not \"tolerate\", \"strict\" or \"salvage\""
            )))
        }
    }
    if let Some(n) = number(obj, "reserve")? {
        config = config.with_reserve(n as u64);
    }
    if let Some(n) = number(obj, "retainBytes")? {
        config = config.with_retain_bytes(Some(n as u64));
    }
    if let Some(n) = number(obj, "maxBytes")? {
        config = config.with_max_bytes(Some(n as u64));
    }
    if let Some(n) = number(obj, "spare")? {
        spare = (n as usize).max(2);
    }
    Ok(Options { config, spare })
}
