//! The write buffer and when it becomes a frame.

use std::time::Duration;

use wal_core::{Config, Entry};

use super::*;

pub fn records_group_by_series_in_first_arrival_order<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let recs = vec![
        rec(5, 1, b"a"),
        rec(3, 2, b"b"),
        rec(5, 3, b"c"),
        rec(9, 4, b""),
        rec(3, 5, b"d"),
        rec(5, 6, b"e"),
    ];
    write_all(&mut wal, &recs);
    wal.flush().unwrap();
    let entries: Vec<Entry> = wal.read(1).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        entries.iter().map(|e| e.series_id).collect::<Vec<_>>(),
        vec![5, 3, 9]
    );
    assert_eq!(entries[0].timestamps, vec![1, 3, 6]);
    assert_eq!(
        entries[0].values,
        vec![b"a".to_vec(), b"c".to_vec(), b"e".to_vec()]
    );
    assert_eq!(entries[1].timestamps, vec![2, 5]);
    assert_eq!(entries[2].values, vec![Vec::<u8>::new()]);
    assert_eq!(wal.active().frames, 1);
    assert_eq!(wal.active().entries, 3);
}

/// On the single-threaded WAL, which writes the frame inside the call that fills it.
pub fn flushes_when_the_buffer_is_full<B: Backend>() {
    let b = B::fresh();
    let cfg = raw(Config::default()
        .with_buffer_size(1024)
        .with_flush_interval(None));
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    // Each record adds 8 + 2 + 100 bytes; one series adds 20 once.
    let per = 110;
    let fit = (1024 - 20usize).div_ceil(per); // records until the buffer reaches 1024
    for i in 0..fit - 1 {
        wal.write_with(1, i as i64, &[7u8; 100], t0(), acks.callback())
            .unwrap();
    }
    assert_eq!(wal.active().frames, 0, "not full yet");
    assert_eq!(acks.ok(), 0, "no completion before the frame is written");
    wal.write_with(1, 99, &[7u8; 100], t0(), acks.callback())
        .unwrap();
    assert_eq!(
        wal.active().frames,
        1,
        "the write that filled the buffer flushed it"
    );
    assert_eq!(acks.ok(), fit);
    assert_eq!(wal.buffered_records(), 0);
    // The frame holds about one buffer.
    let info = wal.active().clone();
    assert!(
        info.bytes - 24 - 16 >= 1024 && info.bytes - 24 - 16 < 1024 + per as u64,
        "{info:?}"
    );
}

/// On the single-threaded WAL: time passed in.
pub fn flushes_when_the_interval_passes<B: Backend>() {
    let b = B::fresh();
    let cfg = Config::default().with_flush_interval(Some(Duration::from_millis(10)));
    let mut wal = wal_core::Wal::open(b.storage(), cfg).unwrap();
    let acks = Acks::default();
    wal.write_with(1, 1, b"x", Duration::from_millis(100), acks.callback())
        .unwrap();
    assert_eq!(wal.next_deadline(), Some(Duration::from_millis(110)));
    wal.poll(Duration::from_millis(109)).unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (0, 0));
    // A later write does not move the deadline: it is set by the oldest record.
    wal.write_with(2, 2, b"y", Duration::from_millis(105), acks.callback())
        .unwrap();
    assert_eq!(wal.next_deadline(), Some(Duration::from_millis(110)));
    wal.poll(Duration::from_millis(110)).unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (2, 1));
    assert_eq!(wal.next_deadline(), None);
    // A write that finds the interval passed flushes too.
    wal.write_with(3, 3, b"z", Duration::from_millis(200), acks.callback())
        .unwrap();
    wal.write_with(3, 4, b"w", Duration::from_millis(211), acks.callback())
        .unwrap();
    assert_eq!((acks.ok(), wal.active().frames), (4, 2));
}

/// On the single-threaded WAL: time passed in.
pub fn no_time_flush_when_the_interval_is_off<B: Backend>() {
    let b = B::fresh();
    let mut wal =
        wal_core::Wal::open(b.storage(), Config::default().with_flush_interval(None)).unwrap();
    wal.write(1, 1, b"x", t0()).unwrap();
    assert_eq!(wal.next_deadline(), None);
    wal.poll(Duration::from_secs(3600)).unwrap();
    assert_eq!(wal.active().frames, 0);
    wal.flush().unwrap();
    assert_eq!(wal.active().frames, 1);
}

pub fn flushes_on_demand_and_completes_each_record_exactly_once<B: Backend, W: Front<S = B::S>>() {
    let b = B::fresh();
    let mut wal = W::open(b.storage(), Config::default()).unwrap();
    let acks = Acks::default();
    for i in 0..100 {
        wal.write_with(i % 7, i as i64, b"v", t0(), acks.callback())
            .unwrap();
    }
    assert_eq!(acks.ok(), 0);
    wal.flush().unwrap();
    assert_eq!(acks.ok(), 100);
    wal.flush().unwrap(); // empty: nothing to do
    wal.close().unwrap();
    assert_eq!(acks.ok(), 100);
    assert!(acks.errors().is_empty());
    assert_eq!(wal.active().frames, 1);
}
