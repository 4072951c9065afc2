//! Fuzz target `ops_threaded`: the `ops` body on the thread-safe WAL (see
//! `tests/fuzz_bodies/mod.rs`; its inputs are `ops` inputs).
#![no_main]

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::ops_threaded(data));
