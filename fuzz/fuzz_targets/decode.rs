//! Fuzz target `decode`: see `tests/fuzz_bodies/mod.rs` (shared with the
//! regression test that replays what the fuzzers found).
#![no_main]

#[path = "../../tests/fuzz_bodies/mod.rs"]
mod fuzz_bodies;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_bodies::decode(data));
