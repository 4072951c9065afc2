//! Determinism, and the errors bad input and bad state get.

use std::time::Duration;

use wal_core::{Config, Error, SyncPolicy};

use super::*;

pub fn the_same_writes_give_the_same_bytes<B: Backend, W: Front<S = B::S>>() {
    for compression in [false, true] {
        let cfg = Config::default()
            .with_compression(compression)
            .with_file_size(8192)
            .with_buffer_size(1024)
            .with_flush_interval(None);
        let recs = workload(1500, 30, 9);
        let run = || {
            let b = B::fresh();
            let mut wal = W::open(b.storage(), cfg).unwrap();
            write_all(&mut wal, &recs[..700]);
            wal.rotate().unwrap();
            write_all(&mut wal, &recs[700..]);
            wal.close().unwrap();
            b.names()
                .into_iter()
                .map(|n| (n.clone(), b.read_file(&n).unwrap()))
                .collect::<Vec<_>>()
        };
        let (one, two) = (run(), run());
        assert!(one.len() > 3);
        assert_eq!(one, two, "compression {compression}");
    }
}

pub fn a_value_over_65535_bytes_is_refused_and_nothing_is_buffered<
    B: Backend,
    W: Front<S = B::S>,
>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    wal.write(1, 1, b"a", t0()).unwrap();
    let err = wal
        .write_with(1, 2, &vec![0u8; 65_536], t0(), acks.callback())
        .unwrap_err();
    assert_eq!(err, Error::ValueTooLarge { len: 65_536 });
    assert!(err.to_string().contains("65536"), "{err}");
    assert_eq!(
        acks.errors(),
        vec![err],
        "the completion hears it too, once"
    );
    // Nothing of it was buffered: only records 1 and 3 come back below.
    wal.write(1, 3, &vec![0u8; 65_535], t0()).unwrap(); // the longest value is fine
    wal.close().unwrap();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let all = read_all(&mut wal);
    assert_eq!(
        all.iter()
            .map(|r| (r.timestamp, r.value.len()))
            .collect::<Vec<_>>(),
        vec![(1, 1), (3, 65_535)]
    );
}

pub fn a_write_after_close_is_an_error<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"before", t0(), acks.callback())
        .unwrap();
    wal.close().unwrap();
    assert_eq!(acks.ok(), 1, "close completes everything");
    assert_eq!(
        wal.write_with(1, 2, b"after", t0(), acks.callback()),
        Err(Error::Closed)
    );
    assert_eq!(acks.errors(), vec![Error::Closed]);
    assert_eq!(wal.flush(), Err(Error::Closed));
    assert!(matches!(wal.rotate(), Err(Error::Closed)));
    assert_eq!(wal.close(), Ok(()), "closing twice is harmless");
}

pub fn invalid_config_is_refused_at_open_naming_the_field<B: Backend, W: Front<S = B::S>>() {
    let cases = [
        (Config::default().with_buffer_size(0), "buffer_size"),
        (Config::default().with_buffer_size(2 << 30), "buffer_size"),
        (Config::default().with_file_size(1000), "file_size"),
        (
            Config::default()
                .with_buffer_size(1 << 20)
                .with_file_size(1 << 19),
            "file_size",
        ),
        (
            Config::default().with_flush_interval(Some(Duration::ZERO)),
            "flush_interval",
        ),
    ];
    for (cfg, field) in cases {
        let b = B::fresh();
        match W::open(b.storage(), cfg) {
            Err(e @ Error::InvalidConfig { field: f, .. }) => {
                assert_eq!(f, field);
                assert!(e.to_string().contains(field), "{e}");
            }
            other => panic!("{field}: {other:?}"),
        }
        assert!(b.names().is_empty(), "a refused open writes nothing");
    }
}

pub fn sync_never_still_completes_and_reopens<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let cfg = Config::default().with_sync(SyncPolicy::Never);
    let mut wal = W::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    for r in workload(100, 4, 10) {
        wal.write_with(r.series_id, r.timestamp, &r.value, t0(), acks.callback())
            .unwrap();
    }
    wal.close().unwrap();
    assert_eq!(acks.ok(), 100);
    let mut wal = W::open(b.storage(), cfg).unwrap();
    assert_eq!(read_all(&mut wal).len(), 100);
}
