//! What the binary runs: the scenarios on each medium, then the wear.

use cortex_m_semihosting::hprintln;
use wal_core::testing::scenarios::{self, Medium};
use wal_core::testing::MemStorage;
use wal_core::{Config, SyncPolicy, Wal};
use wal_flash::{FlashStorage, SimFlash};

/// The simulated chip: 4-byte program words, 4 KiB erase blocks.
type Chip = SimFlash<4, 4096>;

/// Blocks per slot: a header block and six data blocks (files of 24 KiB,
/// what the scenarios need at most).
const SLOT_BLOCKS: u32 = 7;

/// In memory; a reopen sees only what was synced (the crash image).
struct Mem(MemStorage);

impl Medium for Mem {
    type S = MemStorage;
    fn fresh(&mut self) -> MemStorage {
        self.0 = MemStorage::new();
        self.0.clone()
    }
    fn reopen(&mut self) -> MemStorage {
        self.0 = self.0.crash();
        self.0.clone()
    }
}

/// On the simulated flash: formatted for each scenario, mounted again to
/// reopen.
struct Flash(Chip);

impl Medium for Flash {
    type S = FlashStorage<Chip>;
    fn fresh(&mut self) -> FlashStorage<Chip> {
        FlashStorage::format(self.0.clone(), SLOT_BLOCKS).expect("format the flash")
    }
    fn reopen(&mut self) -> FlashStorage<Chip> {
        FlashStorage::mount(self.0.clone()).expect("mount the flash")
    }
}

/// Runs every scenario on `medium`; returns (passed, failed).
fn run_on<M: Medium>(label: &str, medium: &mut M) -> (usize, usize) {
    let summary = scenarios::run_all(medium, |name, outcome| match outcome {
        Ok(()) => hprintln!("ok   {}: {}", label, name),
        Err(why) => hprintln!("FAIL {}: {}: {}", label, name, why),
    });
    hprintln!(
        "{}: {} passed, {} failed",
        label,
        summary.passed,
        summary.failed
    );
    (summary.passed, summary.failed)
}

/// Runs everything; returns how many scenarios failed.
pub fn run() -> usize {
    hprintln!("wal-cortex-m: the core's scenarios on a Cortex-M4 (mps2-an386)");
    let (p1, f1) = run_on("mem", &mut Mem(MemStorage::new()));
    let slots = scenarios::MAX_FILES as u32 + 2;
    let chip = Chip::new((3 + slots * SLOT_BLOCKS) as usize);
    let (p2, f2) = run_on("flash", &mut Flash(chip.clone()));
    let s = chip.stats();
    hprintln!(
        "flash after the scenarios: {} erases, {} bytes programmed, at most {} erases on one block",
        s.erases,
        s.programmed,
        s.max_block_erases()
    );
    for w in WORKLOADS {
        wear(w);
    }
    hprintln!("{} passed, {} failed", p1 + p2, f1 + f2);
    f1 + f2
}

/// A wear workload: records of `value` bytes, a flush (one synced frame)
/// every `per_frame` records, segments of 16 KiB, the oldest deleted so
/// that three remain.
struct Workload {
    label: &'static str,
    value: usize,
    per_frame: usize,
    reserve: u64,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        label: "4 KiB frames",
        value: 100,
        per_frame: 0, // the buffer fills (4 KiB)
        reserve: 0,
    },
    Workload {
        label: "a synced frame per 2 records",
        value: 100,
        per_frame: 2,
        reserve: 0,
    },
    Workload {
        label: "a synced frame per 2 records, into a 16 KiB reserve",
        value: 100,
        per_frame: 2,
        reserve: 16 * 1024,
    },
];

/// Bytes of values each workload writes.
const WEAR_BYTES: u64 = 1 << 20;

fn wear(w: &Workload) {
    let chip = Chip::new(3 + 6 * 5);
    let storage = FlashStorage::format(chip.clone(), 5).expect("format");
    let before = chip.stats().erases;
    let config = Config::default()
        .with_compression(false)
        .with_buffer_size(4096)
        .with_file_size(16 * 1024)
        .with_flush_interval(None)
        .with_sync(SyncPolicy::Always)
        .with_reserve(w.reserve);
    let mut wal = Wal::open(storage.clone(), config).expect("open");
    let (mut frames, mut log) = (0u64, 0u64);
    let value = alloc::vec![0x5Au8; w.value];
    let mut i = 0u64;
    let zero = core::time::Duration::ZERO;
    while i * (w.value as u64) < WEAR_BYTES {
        wal.write(i % 16, i as i64, &value, zero).expect("write");
        i += 1;
        if w.per_frame > 0 && i % w.per_frame as u64 == 0 {
            wal.flush().expect("flush");
        }
        if wal.segments().len() > 3 {
            let oldest = wal.segments()[0];
            let info = wal.info(oldest).expect("info");
            (frames, log) = (frames + info.frames, log + info.bytes);
            wal.delete(oldest).expect("delete");
        }
    }
    for id in wal.segments() {
        let info = wal.info(id).expect("info");
        (frames, log) = (frames + info.frames, log + info.bytes);
    }
    wal.close().expect("close");
    let (s, f) = (chip.stats(), storage.stats());
    let mib = log as f64 / (1u64 << 20) as f64;
    let erases = s.erases - before;
    hprintln!(
        "wear: {} ({} B frames): {:.0} erases per MiB of log ({} records, {} bytes of log, {} bytes written with reserved zeros, {} erases, {} journaled rewrites, {} length-log compactions, at most {} erases on one block)",
        w.label,
        log / frames.max(1),
        erases as f64 / mib,
        i,
        log,
        f.file_bytes_written,
        erases,
        f.journaled_rewrites,
        f.compactions,
        s.max_block_erases()
    );
}
