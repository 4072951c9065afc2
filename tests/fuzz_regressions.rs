//! Replays every input saved under `tests/fuzz-regressions/<target>/` (the
//! crashes and interesting cases the fuzzers found) through the same bodies
//! the cargo-fuzz targets run, plus a quick deterministic sweep of generated
//! inputs, so that a fixed bug stays fixed in the ordinary test run.

mod fuzz_bodies;

use std::path::Path;

/// Replays every file in `tests/fuzz-regressions/<target>/` (its README
/// aside) and returns how many. A missing or empty directory fails: the
/// inputs are part of the repository, and a replay of none would pass
/// without checking anything.
fn replay(target: &str, body: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read the {target} regression inputs in {}: {e}",
            dir.display()
        )
    });
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let data =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        eprintln!("replaying {}", path.display());
        body(&data);
        n += 1;
    }
    assert!(
        n > 0,
        "no {target} regression inputs in {}: it holds the fuzzers' findings and must not be empty",
        dir.display()
    );
    n
}

/// Generated inputs: random bytes, and mutations of a valid segment.
fn sweep(body: fn(&[u8]), seed: u64, count: usize, base: &[u8]) {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..count {
        let mut data = base.to_vec();
        let len = (next() % 600) as usize;
        if data.is_empty() {
            data = (0..len).map(|_| next() as u8).collect();
        } else {
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % data.len();
                data[at] = next() as u8;
            }
            data.truncate(data.len() - (next() as usize % 20).min(data.len()));
        }
        body(&data);
    }
}

/// An input for `recover` that is a valid segment 2 (mode byte 1: the body
/// adds the header), for mutation.
fn valid_frames() -> Vec<u8> {
    let storage = wal_core::testing::MemStorage::new();
    let cfg = wal_core::Config::default().with_flush_interval(None);
    let mut wal = wal_core::Wal::open(storage.clone(), cfg).unwrap();
    wal.rotate().unwrap(); // frames go to segment 2
    for i in 0..40 {
        wal.write(
            i % 3,
            i as i64,
            format!("v{i}").as_bytes(),
            Default::default(),
        )
        .unwrap();
        if i % 10 == 9 {
            wal.flush().unwrap();
        }
    }
    wal.close().unwrap();
    let seg = storage.contents(wal_core::FileName::Segment(2)).unwrap();
    [vec![1u8], seg[24..].to_vec()].concat()
}

#[test]
fn decode_regressions_and_sweep() {
    replay("decode", fuzz_bodies::decode);
    sweep(fuzz_bodies::decode, 1, 2000, &[]);
}

#[test]
fn recover_regressions_and_sweep() {
    replay("recover", fuzz_bodies::recover);
    sweep(fuzz_bodies::recover, 2, 500, &[]);
    sweep(fuzz_bodies::recover, 3, 500, &valid_frames());
}

#[test]
fn ops_regressions_and_sweep() {
    replay("ops", fuzz_bodies::ops);
    sweep(fuzz_bodies::ops, 4, 300, &[]);
}

/// The `ops_threaded` target takes the same inputs as `ops`: its findings
/// go in `ops/` too, and every one is replayed on both WALs.
#[cfg(not(target_os = "wasi"))]
#[test]
fn ops_threaded_regressions_and_sweep() {
    replay("ops", fuzz_bodies::ops_threaded);
    sweep(fuzz_bodies::ops_threaded, 5, 300, &[]);
}
