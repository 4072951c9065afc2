//! The test vectors of FORMAT.md: written byte for byte, read back exactly.

use wal_core::Config;

use super::*;

/// A test vector directory of `tests/vectors` and its records.
pub struct Vector {
    pub files: Vec<(String, Vec<u8>)>,
    pub records: Vec<Rec>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Vectors are compiled in, so the suite runs the same under wasmtime
/// (which sees only its preopened directory).
pub fn vector(name: &str) -> Vector {
    let (jsonl, files): (&str, Vec<(&str, &[u8])>) = match name {
        "one-frame-raw" => (
            include_str!("../vectors/one-frame-raw/records.jsonl"),
            vec![(
                "seg0000000000000001.wal",
                include_bytes!("../vectors/one-frame-raw/wal/seg0000000000000001.wal"),
            )],
        ),
        "rotate-raw" => (
            include_str!("../vectors/rotate-raw/records.jsonl"),
            vec![
                (
                    "seg0000000000000001.wal",
                    include_bytes!("../vectors/rotate-raw/wal/seg0000000000000001.wal"),
                ),
                (
                    "seg0000000000000002.wal",
                    include_bytes!("../vectors/rotate-raw/wal/seg0000000000000002.wal"),
                ),
            ],
        ),
        "snappy-zero-tail" => (
            include_str!("../vectors/snappy-zero-tail/records.jsonl"),
            vec![
                (
                    "seg0000000000000001.wal",
                    include_bytes!("../vectors/snappy-zero-tail/wal/seg0000000000000001.wal"),
                ),
                (
                    "seg0000000000000003.wal",
                    include_bytes!("../vectors/snappy-zero-tail/wal/seg0000000000000003.wal"),
                ),
            ],
        ),
        other => panic!("no vector {other}"),
    };
    let records = jsonl
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            rec(
                v["series_id"].as_u64().unwrap(),
                v["timestamp"].as_i64().unwrap(),
                &hex(v["value_hex"].as_str().unwrap()),
            )
        })
        .collect();
    Vector {
        files: files
            .into_iter()
            .map(|(n, b)| (n.to_string(), b.to_vec()))
            .collect(),
        records,
    }
}

pub fn vector_one_frame_raw_is_reproduced_byte_for_byte<B: Backend, W: Front<S = B::S>>() {
    let v = vector("one-frame-raw");
    let b = B::fresh();
    let mut wal = W::open(b.storage(), raw(Config::default())).unwrap();
    write_all(&mut wal, &v.records);
    wal.close().unwrap();
    assert_eq!(b.names(), vec!["seg0000000000000001.wal"]);
    assert_eq!(
        b.read_file("seg0000000000000001.wal").unwrap(),
        v.files[0].1
    );
}

pub fn vector_rotate_raw_is_reproduced_byte_for_byte<B: Backend, W: Front<S = B::S>>() {
    let v = vector("rotate-raw");
    let b = B::fresh();
    let mut wal = W::open(b.storage(), raw(Config::default())).unwrap();
    write_all(&mut wal, &v.records[..5]);
    wal.flush().unwrap();
    let closed = wal.rotate().unwrap();
    assert_eq!((closed.id, closed.frames, closed.records), (1, 1, 5));
    write_all(&mut wal, &v.records[5..]);
    wal.close().unwrap();
    for (name, bytes) in &v.files {
        assert_eq!(&b.read_file(name).unwrap(), bytes, "{name}");
    }
}

pub fn vectors_are_read_back_exactly<B: Backend, W: Front<S = B::S>>() {
    for name in ["one-frame-raw", "rotate-raw", "snappy-zero-tail"] {
        let v = vector(name);
        let b = B::fresh();
        for (n, bytes) in &v.files {
            b.write_file(n, bytes);
        }
        let mut wal = W::open(b.storage(), Config::default()).unwrap();
        let got = read_all(&mut wal);
        assert_eq!(got.len(), v.records.len(), "{name}");
        assert_eq!(by_series(&got), by_series(&v.records), "{name}");
        match name {
            "one-frame-raw" => assert_eq!(got, frame_order(&v.records)),
            "rotate-raw" => {
                let mut want = frame_order(&v.records[..5]);
                want.extend(frame_order(&v.records[5..]));
                assert_eq!(got, want);
            }
            _ => {
                assert_eq!(wal.segments(), vec![1, 3], "a gap in IDs is allowed");
                assert_eq!(
                    wal.recovery().released_zero_bytes,
                    4096,
                    "{}",
                    wal.recovery()
                );
                assert!(wal.recovery().cut.is_none());
                let infos: Vec<_> = [1, 3].iter().map(|id| wal.info(*id).unwrap()).collect();
                assert_eq!(infos.iter().map(|i| i.frames).sum::<u64>(), 4);
                assert_eq!(infos.iter().map(|i| i.entries).sum::<u64>(), 17);
                assert_eq!(infos.iter().map(|i| i.snappy_frames).sum::<u64>(), 4);
            }
        }
    }
}
