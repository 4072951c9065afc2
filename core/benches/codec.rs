//! Criterion micro-benchmarks of the core's hot paths: buffer insert and
//! seal (encode), frame CRC, snappy, and decode (scan and iterate entries).
//!
//! `cargo bench -p wal-core --bench codec`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use embedded_io::Write;
use wal_core::format::{self, Codec};
use wal_core::host::Compressor;
use wal_core::host::WriteBuffer;
use wal_core::scan::FrameScanner;
use wal_core::storage::Storage;
use wal_core::testing::MemStorage;
use wal_core::FileName;

const RECORDS: usize = 8192;
const SERIES: u64 = 1000;
const VALUE: usize = 128;

fn values() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            format!(
                "{:0>128}",
                format!("host=web{} cpu=0.{} mem={}", i % 97, i % 100, i)
            )
            .into_bytes()
        })
        .collect()
}

fn fill(buf: &mut WriteBuffer<()>, values: &[Vec<u8>]) {
    fill_series(buf, values, SERIES);
}

/// Fills `buf` with `values` over `series` series, round robin.
fn fill_series(buf: &mut WriteBuffer<()>, values: &[Vec<u8>], series: u64) {
    for (i, v) in values.iter().enumerate() {
        buf.push(i as u64 % series, i as i64, v, Duration::ZERO, None)
            .unwrap();
    }
}

/// One segment holding `frames` frames of RECORDS records each.
fn segment(values: &[Vec<u8>], compression: bool, frames: usize) -> MemStorage {
    let mut storage = MemStorage::new();
    let mut file = storage.create(FileName::Segment(1)).unwrap();
    file.write_all(&format::header::encode(1)).unwrap();
    let mut buf = WriteBuffer::<()>::new();
    let mut comp = Compressor::new();
    let (mut frame, mut scratch) = (Vec::new(), Vec::new());
    for _ in 0..frames {
        fill(&mut buf, values);
        buf.seal_into(&mut frame);
        let compressed = if compression {
            comp.compress(&frame, &mut scratch)
        } else {
            None
        };
        let (c, bytes) = if let Some(len) = compressed {
            (Codec::Snappy, &mut scratch[..len])
        } else {
            (Codec::Raw, &mut frame[..])
        };
        format::frame::seal(bytes, c, 1);
        file.write_all(bytes).unwrap();
    }
    storage
}

fn bench(c: &mut Criterion) {
    let values = values();
    assert_eq!(values[0].len(), VALUE);
    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Elements(RECORDS as u64));

    g.bench_function("buffer_insert", |b| {
        // A fresh buffer per round (built outside the timing): every push,
        // including the first arrival of each series, is timed.
        b.iter_batched_ref(
            WriteBuffer::<()>::new,
            |buf| fill(buf, &values),
            BatchSize::LargeInput,
        )
    });

    // SERIES series repeat (8 records each): sealing regroups them. With
    // one record per series the buffer's bytes are the frame already.
    for (name, series) in [
        ("seal", SERIES),
        ("seal_one_record_per_series", RECORDS as u64),
    ] {
        g.bench_function(name, |b| {
            let mut frame = Vec::new();
            b.iter_batched_ref(
                || {
                    let mut buf = WriteBuffer::<()>::new();
                    fill_series(&mut buf, &values, series);
                    buf
                },
                |buf| {
                    buf.seal_into(&mut frame);
                    black_box(&frame);
                },
                BatchSize::LargeInput,
            )
        });
    }

    g.bench_function("encode_raw", |b| {
        let mut buf = WriteBuffer::<()>::new();
        let mut frame = Vec::new();
        b.iter(|| {
            fill(&mut buf, &values);
            buf.seal_into(&mut frame);
            format::frame::seal(&mut frame, Codec::Raw, 1);
            black_box(&frame);
        })
    });

    g.bench_function("encode_snappy", |b| {
        let mut buf = WriteBuffer::<()>::new();
        let mut comp = Compressor::new();
        let (mut frame, mut scratch) = (Vec::new(), Vec::new());
        b.iter(|| {
            fill(&mut buf, &values);
            buf.seal_into(&mut frame);
            let len = comp.compress(&frame, &mut scratch).expect("compressible");
            format::frame::seal(&mut scratch[..len], Codec::Snappy, 1);
            black_box(&scratch);
        })
    });

    for (name, compression) in [("decode_raw", false), ("decode_snappy", true)] {
        let mut storage = segment(&values, compression, 1);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut scanner =
                    FrameScanner::new(1, storage.open(FileName::Segment(1)).unwrap(), None)
                        .unwrap()
                        .unwrap();
                let f = scanner.next_frame().unwrap().unwrap().unwrap();
                let mut n = 0usize;
                for e in f.entries() {
                    for v in e.values() {
                        n += v.len();
                    }
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
