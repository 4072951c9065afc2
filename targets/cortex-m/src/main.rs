//! `wal-cortex-m`: the portable WAL's core on a Cortex-M4 (QEMU's
//! mps2-an386), no std and no OS: the core's behavioural scenarios
//! (`wal_core::testing::scenarios`, the same code `cargo test` runs on the
//! host) over `MemStorage` and over `wal-flash`'s storage on simulated NOR
//! flash (4 KiB erase blocks, 4-byte words), then the flash wear of three
//! workloads. Prints over semihosting, ends with `N passed, M failed`, and
//! exits non-zero on any failure (a panic too).
//!
//! ```text
//! cd targets/cortex-m && cargo run --release     # the runner is QEMU (.cargo/config.toml)
//! ```
#![no_std]
#![no_main]
#![deny(missing_docs)]

extern crate alloc;

mod harness;

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;

#[global_allocator]
static HEAP: Heap = Heap::empty();

/// Bytes of RAM for the heap (of the board's 4 MiB; the rest is the stack
/// and statics): the simulated flash and the scenarios' data live here.
const HEAP_SIZE: usize = 3 * 1024 * 1024;

#[entry]
fn main() -> ! {
    {
        use core::mem::MaybeUninit;
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: runs once, first thing, before anything allocates; the
        // memory is a static used by nothing else, so the heap owns it for
        // the rest of the program.
        unsafe { HEAP.init(&raw mut HEAP_MEM as usize, HEAP_SIZE) }
    }
    let failed = harness::run();
    debug::exit(if failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("panicked: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
