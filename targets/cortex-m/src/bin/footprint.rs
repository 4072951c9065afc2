//! `footprint`: what a device links to log with the WAL on flash, and no
//! more (no scenarios, no `MemStorage`, no formatting of numbers beyond
//! the errors'): open, write, flush, rotate, read, delete, close. Its
//! `.text` is the WAL's code size on a Cortex-M4; it also runs, printing
//! `footprint: ok`.
#![no_std]
#![no_main]

extern crate alloc;

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use wal_core::{Config, Wal};
use wal_flash::{FlashStorage, SimFlash};

#[global_allocator]
static HEAP: Heap = Heap::empty();

const HEAP_SIZE: usize = 512 * 1024;

#[entry]
fn main() -> ! {
    {
        use core::mem::MaybeUninit;
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once, first thing, before anything allocates; the
        // memory is a static used by nothing else.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }
    let ok = run().is_ok();
    hprintln!("footprint: {}", if ok { "ok" } else { "failed" });
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

fn run() -> Result<(), wal_core::Error> {
    let chip = SimFlash::<4, 4096>::new(3 + 8 * 5);
    let storage =
        FlashStorage::format(chip, 5).map_err(|e| wal_core::Error::storage("format", None, e))?;
    let config = Config::default()
        .with_compression(false)
        .with_buffer_size(4096)
        .with_file_size(16 * 1024)
        .with_reserve(0);
    let mut wal = Wal::open(storage, config)?;
    let now = core::time::Duration::ZERO;
    for i in 0..100 {
        wal.write(i % 4, i as i64, b"cpu=0.42", now)?;
    }
    wal.flush()?;
    let closed = wal.rotate()?;
    let mut records = 0;
    for entry in wal.read(closed.id)? {
        records += entry?.len();
    }
    wal.delete(closed.id)?;
    wal.close()?;
    if records == 100 {
        Ok(())
    } else {
        Err(wal_core::Error::LogicBug("records lost"))
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
