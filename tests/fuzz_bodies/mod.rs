//! The bodies of the fuzz targets, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`) and the regression test that replays every
//! input the fuzzers ever found (`tests/fuzz_regressions.rs`). Each takes
//! arbitrary bytes and panics only on a real bug.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../front/mod.rs"]
mod front;

use front::{Core, MemFront};
use wal_core::format::{self, FrameHeader};
use wal_core::testing::{CrashModel, Fault, MemStorage};
use wal_core::{compress, scan, Config, Corruption, Error, FileName, Position, RecoveryMode, Wal};

/// Frame and entry decoding over arbitrary bytes.
pub fn decode(data: &[u8]) {
    if let Ok(entries) = format::entry::decode_all(data) {
        // A payload that decodes re-encodes to the same bytes.
        let mut again = Vec::new();
        for e in &entries {
            let ts: Vec<i64> = e.timestamps().collect();
            let vs: Vec<&[u8]> = e.values().collect();
            assert_eq!(ts.len(), vs.len());
            format::entry::encode(&mut again, e.series_id, &ts, &vs);
        }
        assert_eq!(again, data, "decode then encode is the identity");
    }
    let _ = FrameHeader::parse(data, data.len() as u64);
    let _ = format::header::check(data, 1);
    let mut out = Vec::new();
    if compress::decompress_into(data, &mut out, wal_core::format::frame::MAX_PAYLOAD_LEN).is_ok() {
        assert!(
            out.len() as u64 <= 24 * data.len() as u64 + 64,
            "expansion is bounded"
        );
    }
}

/// Segment scanning and recovery over arbitrary bytes: the first byte picks
/// the layout, the rest is the newest segment's file (after an optional
/// valid header, so that frames get parsed too).
pub fn recover(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = Vec::new();
    if mode & 1 == 1 {
        bytes.extend_from_slice(&format::header::encode(2));
    }
    bytes.extend_from_slice(rest);
    let storage = MemStorage::new();
    storage.put(FileName::Segment(2), bytes.clone());
    if mode & 2 == 2 {
        // An older segment with the same bytes: read, never repaired.
        let mut older = format::header::encode(1).to_vec();
        older.extend_from_slice(rest);
        storage.put(FileName::Segment(1), older);
    }
    // Read-only inspection first (what the tools do).
    for id in [1u64, 2] {
        let mut s = storage.clone();
        if let Ok(file) = wal_core::Storage::open(&mut s, FileName::Segment(id)) {
            let _ = scan::inspect(id, file, id == 2, |_, _| {});
        }
    }
    let recovery = match mode & 12 {
        4 => RecoveryMode::Strict,
        8 => RecoveryMode::Salvage,
        _ => RecoveryMode::TolerateTornTail,
    };
    // A small reservation keeps that path covered without writing a MiB
    // of zeros per run.
    let cfg = Config::default()
        .with_recovery(recovery)
        .with_flush_interval(None)
        .with_reserve(4096);
    match Wal::open(storage.clone(), cfg) {
        Ok(wal) => check_recovered(wal, &storage, &bytes),
        Err(Error::Corrupt {
            segment: 2,
            offset: 0,
            ..
        }) => {} // a whole foreign header, refused
        Err(Error::Corrupt { segment: 2, .. }) if recovery == RecoveryMode::Strict => {}
        Err(Error::Corrupt {
            segment: 2,
            reason: Corruption::FrameTooLong { .. } | Corruption::SnappyUnavailable,
            ..
        }) => {} // a frame this config cannot read, refused
        Err(Error::Damaged { segment: 2, .. }) if recovery != RecoveryMode::Salvage => {
            // Refused, and nothing changed; salvage then keeps every frame.
            assert_eq!(
                storage.contents(FileName::Segment(2)).unwrap(),
                bytes,
                "a refused open changes nothing"
            );
            let salvage = cfg.with_recovery(RecoveryMode::Salvage);
            let wal = Wal::open(storage.clone(), salvage).expect("salvage opens damage");
            assert!(wal.recovery().salvaged.is_some());
            check_recovered(wal, &storage, &bytes);
        }
        Err(e) => panic!("open failed: {e}"),
    }
}

/// What recovery kept of the newest segment's `bytes` reads back, what it
/// set aside is in the sidecar, and the WAL takes writes.
fn check_recovered(mut wal: Wal<MemStorage>, storage: &MemStorage, bytes: &[u8]) {
    for e in wal.read(2).expect("the active segment opens") {
        e.expect("recovered frames read back");
    }
    let report = wal.recovery().clone();
    let aside = report
        .cut
        .as_ref()
        .map(|c| (c.offset, &c.sidecar))
        .or(report.salvaged.as_ref().map(|s| (s.offset, &s.sidecar)));
    if let Some((offset, sidecar)) = aside {
        let side = FileName::parse(sidecar).expect("a sidecar name");
        assert_eq!(
            storage.contents(side).unwrap_or_default(),
            &bytes[offset as usize..],
            "the bytes set aside are kept"
        );
    }
    wal.write(1, 1, b"after recovery", Duration::ZERO)
        .expect("writes work after recovery");
    wal.close().expect("close works after recovery");
}

/// Arbitrary operation sequences on the core WAL with faults and crashes (an in-order
/// prefix of the unsynced bytes, or any subset of their sectors with names
/// durable only on a directory sync, or on a file's sync as on ext4),
/// checked against the acknowledgements.
pub fn ops(data: &[u8]) {
    ops_on::<Core>(data)
}

/// The same as [`ops`] on the thread-safe WAL (its flusher and syncer
/// threads; each open starts two, so it runs far fewer inputs a second).
#[cfg(not(target_os = "wasi"))]
pub fn ops_threaded(data: &[u8]) {
    ops_on::<front::Threaded>(data)
}

fn ops_on<F: MemFront>(data: &[u8]) {
    let mut it = data.iter().copied();
    let flags = it.next().unwrap_or(0);
    let cfg = Config::default()
        .with_compression(flags & 1 == 1)
        .with_buffer_size(256)
        .with_file_size(1024)
        .with_flush_interval(None)
        .with_reserve(512)
        // Retention: what it deletes is accounted by the positions.
        .with_retain_bytes((flags & 2 == 2).then_some(4096))
        // Retention by age in record time (timestamps 1 apart).
        .with_retain_age((flags & 4 == 4).then_some(Duration::from_nanos(40)))
        // Recycled segments: checkpointed and retained files reused.
        .with_recycle(if flags & 8 == 8 { 2 } else { 0 });
    let mut storage = MemStorage::new();
    let Ok(mut wal) = F::open(storage.clone(), cfg) else {
        return;
    };
    // Each acknowledged record's position: the segment it is in.
    let acked: Arc<Mutex<HashMap<i64, Position>>> = Arc::default();
    let mut deleted: HashSet<i64> = HashSet::new();
    // Segments a checkpoint or retention deleted (their records may go; a
    // record acknowledged later in one of them too).
    let mut removed: HashSet<u64> = HashSet::new();
    // Segments a failed checkpoint took off the list: gone if still gone
    // at the next reopen.
    let mut maybe_removed: Vec<u64> = Vec::new();
    // Deletes that failed after the segment left the log (its removal not
    // synced): the storage decides at reopen whether it came back.
    let mut maybe_deleted: Vec<(u64, Vec<i64>)> = Vec::new();
    let mut next_ts = 0i64;
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        match op % 8 {
            0..=2 => {
                let ts = next_ts;
                next_ts += 1;
                let value = vec![arg; (arg as usize) * 3];
                let a = acked.clone();
                let _ = wal.write_with(u64::from(op % 5), ts, &value, Duration::ZERO, move |r| {
                    if let Ok(p) = r {
                        a.lock().unwrap().insert(ts, p);
                    }
                });
            }
            3 => {
                let _ = wal.flush();
            }
            4 => {
                let _ = wal.rotate();
            }
            5 if arg & 0x80 != 0 => {
                // A checkpoint at an acknowledged record's position.
                let mut at: Vec<Position> = acked.lock().unwrap().values().copied().collect();
                if at.is_empty() {
                    continue;
                }
                at.sort_unstable();
                let through = at[usize::from(arg & 0x7f) % at.len()];
                let before = wal.segments();
                match wal.checkpoint(through) {
                    Ok(ids) => removed.extend(ids),
                    Err(_) => {
                        let after = wal.segments();
                        maybe_removed.extend(before.into_iter().filter(|id| !after.contains(id)));
                    }
                }
            }
            5 => {
                let ids = front::deletable(&wal);
                if ids.is_empty() {
                    continue;
                }
                let id = ids[arg as usize % ids.len()];
                let held: Vec<i64> = match wal.read(id) {
                    Ok(r) => r
                        .filter_map(Result::ok)
                        .flat_map(|e| e.timestamps)
                        .collect(),
                    Err(_) => vec![],
                };
                match wal.delete(id) {
                    Ok(()) => deleted.extend(held),
                    Err(_) if !wal.segments().contains(&id) => maybe_deleted.push((id, held)),
                    Err(_) => {}
                }
            }
            6 => {
                // Power cut (or, with an even argument, a clean close), then reopen.
                if arg % 2 == 0 {
                    let _ = wal.close();
                    removed.extend(wal.take_removed());
                    drop(wal);
                } else {
                    // The image is taken first; the old WAL's close on drop then
                    // writes only to the pre-crash disk, which is discarded.
                    // Acknowledgements the dying WAL hands out on drop do not count.
                    let models = [CrashModel::PREFIX, CrashModel::HARSH, CrashModel::EXT4];
                    let model = models[usize::from(arg / 2) % models.len()];
                    let before = acked.lock().unwrap().clone();
                    let image = storage.crash_image(u64::from(arg), model);
                    // The close (on the discarded disk) waits for the threads,
                    // so every removal they made is reported: one made before
                    // the image may be in it, one after is harmless (the image
                    // still holds the segment).
                    let _ = wal.close();
                    removed.extend(wal.take_removed());
                    drop(wal);
                    *acked.lock().unwrap() = before;
                    storage = image;
                }
                wal = match (0..8).find_map(|_| F::open(storage.clone(), cfg).ok()) {
                    Some(w) => w,
                    None => panic!("reopen keeps failing"),
                };
                let mut found = HashSet::new();
                for id in wal.segments() {
                    for e in wal.read(id).expect("segments open after reopen") {
                        let e = e.expect("segments read after reopen");
                        for t in e.timestamps {
                            assert!(found.insert(t), "record {t} twice");
                        }
                    }
                }
                // A replay of the whole log holds exactly what the segments do.
                let mut replayed = wal
                    .replay_timestamps(Position::START)
                    .expect("replay after reopen");
                replayed.sort_unstable();
                let mut read: Vec<i64> = found.iter().copied().collect();
                read.sort_unstable();
                assert_eq!(replayed, read, "replay and read disagree");
                for (id, held) in maybe_deleted.drain(..) {
                    if !wal.segments().contains(&id) {
                        deleted.extend(held);
                    }
                }
                for id in maybe_removed.drain(..) {
                    if !wal.segments().contains(&id) {
                        removed.insert(id);
                    }
                }
                for (t, p) in acked.lock().unwrap().iter() {
                    assert!(
                        deleted.contains(t) || found.contains(t) || removed.contains(&p.segment),
                        "acknowledged record {t} (durable through {p}) lost"
                    );
                }
            }
            _ => {
                let fault = [
                    Fault::Fail,
                    Fault::TearWrite(arg as usize % 64),
                    Fault::Full,
                ][arg as usize % 3];
                storage.inject(storage.mutating_ops() + u64::from(arg % 4), fault);
            }
        }
        removed.extend(wal.take_removed());
    }
}
