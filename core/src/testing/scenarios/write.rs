//! Writing: completions, grouping by series, and when the buffer becomes a
//! frame (on demand, when full, when the interval passes).

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::format::MAX_VALUE_LEN;

pub fn flushes_on_demand_and_completes_each_record_exactly_once<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base().with_flush_interval(None)).check("open")?;
    let acks = Acks::default();
    for i in 0..100u64 {
        wal.write_with(i % 7, i as i64, b"v", T0, acks.callback())
            .check("write")?;
    }
    ensure_eq!(acks.ok(), 0, "nothing completes before the flush");
    ensure_eq!(wal.buffered_records(), 100);
    wal.flush().check("flush")?;
    ensure_eq!(acks.ok(), 100);
    wal.flush().check("an empty flush")?;
    wal.close().check("close")?;
    ensure_eq!((acks.ok(), acks.errors()), (100, 0), "each exactly once");
    ensure_eq!(wal.active().frames, 1);
    Ok(())
}

pub fn records_group_by_series_in_first_arrival_order<M: Medium>(m: &mut M) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base()).check("open")?;
    let recs = [
        rec(5, 1, b"a"),
        rec(3, 2, b"b"),
        rec(5, 3, b"c"),
        rec(9, 4, b""),
        rec(3, 5, b"d"),
        rec(5, 6, b"e"),
    ];
    write_all(&mut wal, &recs)?;
    wal.flush().check("flush")?;
    let mut entries = Vec::new();
    for e in wal.read(1).check("read")? {
        entries.push(e.check("entry")?);
    }
    let series: Vec<u64> = entries.iter().map(|e| e.series_id).collect();
    ensure_eq!(series, vec![5, 3, 9]);
    ensure_eq!(entries[0].timestamps, vec![1, 3, 6]);
    ensure_eq!(
        entries[0].values,
        vec![b"a".to_vec(), b"c".to_vec(), b"e".to_vec()]
    );
    ensure_eq!(entries[1].timestamps, vec![2, 5]);
    ensure_eq!(entries[2].values, vec![Vec::<u8>::new()]);
    ensure_eq!((wal.active().frames, wal.active().entries), (1, 3));
    ensure_eq!(read_records(&mut wal, 1)?, frame_order(&recs));
    Ok(())
}

pub fn flushes_when_the_buffer_is_full<M: Medium>(m: &mut M) -> Outcome {
    let cfg = base().with_buffer_size(1024).with_flush_interval(None);
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let acks = Acks::default();
    // Each record adds 8 + 2 + 100 bytes; one series adds 20 once.
    let per = 110;
    let fit = (1024 - 20usize).div_ceil(per);
    for i in 0..fit - 1 {
        wal.write_with(1, i as i64, &[7u8; 100], T0, acks.callback())
            .check("write")?;
    }
    ensure_eq!(wal.active().frames, 0, "not full yet");
    ensure_eq!(acks.ok(), 0);
    wal.write_with(1, 99, &[7u8; 100], T0, acks.callback())
        .check("the write that fills the buffer")?;
    ensure_eq!(wal.active().frames, 1, "the filling write flushed");
    ensure_eq!(acks.ok(), fit);
    ensure_eq!(wal.buffered_records(), 0);
    let payload = wal.active().bytes - 24 - 16;
    ensure!(
        (1024..1024 + per as u64).contains(&payload),
        "one buffer in the frame: {payload} bytes"
    );
    Ok(())
}

pub fn flushes_when_the_interval_passes<M: Medium>(m: &mut M) -> Outcome {
    let ms = Duration::from_millis;
    let cfg = base().with_flush_interval(Some(ms(10)));
    let mut wal = Wal::open(m.fresh(), cfg).check("open")?;
    let acks = Acks::default();
    wal.write_with(1, 1, b"x", ms(100), acks.callback())
        .check("write")?;
    ensure_eq!(wal.next_deadline(), Some(ms(110)));
    wal.poll(ms(109)).check("poll")?;
    ensure_eq!((acks.ok(), wal.active().frames), (0, 0), "not yet due");
    // A later write does not move the deadline: the oldest record sets it.
    wal.write_with(2, 2, b"y", ms(105), acks.callback())
        .check("write")?;
    ensure_eq!(wal.next_deadline(), Some(ms(110)));
    wal.poll(ms(110)).check("poll")?;
    ensure_eq!((acks.ok(), wal.active().frames), (2, 1), "due: flushed");
    ensure_eq!(wal.next_deadline(), None);
    // A write that finds the interval passed flushes too.
    wal.write_with(3, 3, b"z", ms(200), acks.callback())
        .check("write")?;
    wal.write_with(3, 4, b"w", ms(211), acks.callback())
        .check("write")?;
    ensure_eq!((acks.ok(), wal.active().frames), (4, 2));
    // With the interval off, time never flushes.
    let mut wal = Wal::open(m.fresh(), base().with_flush_interval(None)).check("open")?;
    wal.write(1, 1, b"x", T0).check("write")?;
    ensure_eq!(wal.next_deadline(), None);
    wal.poll(Duration::from_secs(3600)).check("poll")?;
    ensure_eq!(wal.active().frames, 0);
    Ok(())
}

pub fn a_value_over_65535_bytes_is_refused_and_nothing_is_buffered<M: Medium>(
    m: &mut M,
) -> Outcome {
    let mut wal = Wal::open(m.fresh(), base()).check("open")?;
    let acks = Acks::default();
    let big = vec![1u8; MAX_VALUE_LEN + 1];
    let r = wal.write_with(1, 1, &big, T0, acks.callback());
    ensure!(
        matches!(r, Err(Error::ValueTooLarge { .. })),
        "refused: {r:?}"
    );
    ensure_eq!(
        (acks.ok(), acks.errors()),
        (0, 1),
        "its completion got the error"
    );
    ensure_eq!(wal.buffered_records(), 0);
    wal.write(1, 2, &big[..1000], T0)
        .check("a value that fits")?;
    wal.flush().check("flush")?;
    ensure_eq!(wal.active().records, 1, "only the value that fits");
    wal.close().check("close")?;
    let r = wal.write(1, 3, b"late", T0);
    ensure_eq!(r, Err(Error::Closed));
    Ok(())
}
