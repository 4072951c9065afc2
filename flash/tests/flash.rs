//! The flash storage: the core's behavioural scenarios over simulated NOR
//! flash (two program granularities), what survives remounting, and power
//! cuts at every program and erase of a workload: everything acknowledged
//! is there after the remount, and the storage mounts every time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wal_core::testing::scenarios::{self, Medium};
use wal_core::{Config, FileName, SegmentFile, Storage, SyncPolicy, Wal};
use wal_flash::{FlashError, FlashStorage, SimFlash};

/// Files of 24 KiB (6 data blocks), as the scenarios need.
const SLOT_BLOCKS: u32 = 7;

struct Flash<const W: usize> {
    chip: SimFlash<W, 4096>,
}

impl<const W: usize> Flash<W> {
    fn new() -> Self {
        let slots = scenarios::MAX_FILES as u32 + 2;
        Flash {
            chip: SimFlash::new((3 + slots * SLOT_BLOCKS) as usize),
        }
    }
}

impl<const W: usize> Medium for Flash<W> {
    type S = FlashStorage<SimFlash<W, 4096>>;
    fn fresh(&mut self) -> Self::S {
        FlashStorage::format(self.chip.clone(), SLOT_BLOCKS).unwrap()
    }
    fn reopen(&mut self) -> Self::S {
        FlashStorage::mount(self.chip.clone()).unwrap()
    }
}

fn run<M: Medium>(m: &mut M) {
    let summary = scenarios::run_all(m, |name, outcome| {
        if let Err(why) = outcome {
            eprintln!("FAILED {name}: {why}");
        }
    });
    assert_eq!(summary.failures, vec![]);
    assert_eq!(summary.passed, scenarios::all::<M>().len());
}

#[test]
fn every_scenario_passes_on_flash_programmed_a_byte_at_a_time() {
    run(&mut Flash::<1>::new());
}

#[test]
fn every_scenario_passes_on_flash_programmed_in_16_byte_words() {
    run(&mut Flash::<16>::new());
}

#[test]
fn files_survive_remounting_with_their_lengths_and_bytes() {
    let chip = SimFlash::<4, 4096>::new(3 + 4 * 3);
    let mut s = FlashStorage::format(chip.clone(), 3).unwrap();
    assert_eq!((s.slots(), s.file_capacity()), (4, 8192));
    let mut f = s.create(FileName::Segment(1)).unwrap();
    let data: Vec<u8> = (0..6000u32).map(|i| (i * 7) as u8).collect();
    f.write_all(&data).unwrap();
    f.sync().unwrap();
    f.write_all(b"unsynced").unwrap();
    let mut g = s.create(FileName::torn_tail(1, 77)).unwrap();
    g.write_all(b"aside").unwrap();
    g.sync().unwrap();
    assert_eq!(
        s.create(FileName::Segment(1)).err(),
        Some(FlashError::Exists)
    );
    drop((f, g, s));
    let mut s = FlashStorage::mount(chip.clone()).unwrap();
    let mut names = s.list().unwrap();
    names.sort();
    assert_eq!(
        names,
        vec![FileName::Segment(1), FileName::torn_tail(1, 77)]
    );
    let mut f = s.open(FileName::Segment(1)).unwrap();
    assert_eq!(
        f.len().unwrap(),
        6000,
        "the unsynced bytes are not part of it"
    );
    let mut back = vec![0; 6000];
    f.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
    // Appending over the unsynced bytes left on the flash rewrites them.
    f.seek(embedded_io::SeekFrom::End(0)).unwrap();
    f.write_all(b"appended").unwrap();
    f.sync().unwrap();
    f.truncate(10).unwrap();
    f.write_all(&[0xAB; 3000]).unwrap_err(); // positioned past 8192
    s.remove(FileName::torn_tail(1, 77)).unwrap();
    drop((f, s));
    let mut s = FlashStorage::mount(chip).unwrap();
    assert_eq!(s.list().unwrap(), vec![FileName::Segment(1)]);
    assert_eq!(s.open(FileName::Segment(1)).unwrap().len().unwrap(), 10);
    for i in 2..5 {
        s.create(FileName::Segment(i)).unwrap();
    }
    assert_eq!(s.create(FileName::Segment(9)).err(), Some(FlashError::Full));
}

#[test]
fn a_full_length_log_is_compacted_and_survives_remounting() {
    let chip = SimFlash::<4, 4096>::new(3 + 2 * 2);
    let mut s = FlashStorage::format(chip.clone(), 2).unwrap();
    let mut f = s.create(FileName::Segment(1)).unwrap();
    for i in 0..1200u32 {
        f.write_all(&[(i % 251) as u8]).unwrap();
        f.sync().unwrap();
    }
    assert_eq!(s.stats().compactions, 2);
    drop((f, s));
    let mut s = FlashStorage::mount(chip).unwrap();
    let mut f = s.open(FileName::Segment(1)).unwrap();
    assert_eq!(f.len().unwrap(), 1200);
    let mut back = vec![0; 1200];
    f.read_exact(&mut back).unwrap();
    assert!(back.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
}

/// A workload that rotates, syncs small frames, deletes, truncates (the
/// reserve is on, so closing cuts it): every acknowledged record must
/// survive a power cut at any program or erase.
fn workload(
    storage: FlashStorage<SimFlash<4, 4096>>,
    acked: &Arc<AtomicUsize>,
    deleted: &Mutex<Vec<i64>>,
) -> Result<(), wal_core::Error> {
    let cfg = Config::default()
        .with_compression(false)
        .with_file_size(6000)
        .with_buffer_size(256)
        .with_reserve(4096)
        .with_flush_interval(None)
        .with_sync(SyncPolicy::Always);
    let mut wal = Wal::open(storage, cfg)?;
    for i in 0..120i64 {
        let a = acked.clone();
        wal.write_with(i as u64 % 3, i, &[i as u8; 40], Duration::ZERO, move |r| {
            if r.is_ok() {
                a.fetch_max(i as usize + 1, Ordering::SeqCst);
            }
        })?;
        // One-record frames first: small enough to go into reserved zeros
        // (each a journaled rewrite), then frames of seven.
        if i < 40 || i % 7 == 0 {
            wal.flush()?;
        }
        if i == 60 {
            let first = wal.segments()[0];
            wal.rotate()?;
            for e in wal.read(first)? {
                deleted.lock().unwrap().extend(e?.timestamps);
            }
            wal.delete(first)?;
        }
    }
    wal.close()
}

#[test]
fn a_power_cut_at_any_program_or_erase_loses_nothing_acknowledged() {
    let blocks = 3 + 6 * 3;
    // Count the workload's operations.
    let chip = SimFlash::<4, 4096>::new(blocks);
    let storage = FlashStorage::format(chip.clone(), 3).unwrap();
    let start = chip.stats().ops;
    workload(
        storage.clone(),
        &Arc::new(AtomicUsize::new(0)),
        &Mutex::default(),
    )
    .unwrap();
    let total = chip.stats().ops - start;
    assert!(
        storage.stats().journaled_rewrites > 30,
        "{:?}",
        storage.stats()
    );
    assert!(total > 100, "{total} operations");
    for cut in 0..total {
        let chip = SimFlash::<4, 4096>::new(blocks);
        let storage = FlashStorage::format(chip.clone(), 3).unwrap();
        chip.cut_power_after(cut);
        let (acked, deleted) = (Arc::new(AtomicUsize::new(0)), Mutex::default());
        assert!(
            workload(storage, &acked, &deleted).is_err(),
            "cut {cut}: the power went"
        );
        let image = chip.image();
        let storage = FlashStorage::mount(image.clone())
            .unwrap_or_else(|e| panic!("cut {cut}: mount failed: {e}"));
        let mut wal = Wal::open(storage, Config::default().with_compression(false))
            .unwrap_or_else(|e| panic!("cut {cut}: open failed: {e}"));
        let mut seen = [false; 120];
        for id in wal.segments() {
            for e in wal.read(id).unwrap() {
                for ts in e.unwrap().timestamps {
                    seen[ts as usize] = true;
                }
            }
        }
        let acked = acked.load(Ordering::SeqCst);
        // Records of the segment deleted on purpose may be gone.
        let deleted = deleted.into_inner().unwrap();
        let lost: Vec<usize> = (0..acked)
            .filter(|i| !seen[*i] && !deleted.contains(&(*i as i64)))
            .collect();
        assert!(
            lost.is_empty(),
            "cut {cut}: acknowledged records lost: {lost:?}"
        );
        wal.close().unwrap();
        // And it mounts again, cleanly.
        FlashStorage::mount(image).unwrap();
    }
}

use embedded_io::{Read, Seek, Write};
