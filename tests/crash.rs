//! Crash-point and fault sweeps on the in-memory backend, over both WALs:
//! the single-threaded core `wal_core::Wal` and the thread-safe
//! `wal::Wal`. The sweeps and their invariants are in `crash_sweep/`.

mod crash_sweep;
mod front;

use crash_sweep::sweeps::{crash_sweep, fault_sweep, Tally};
use crash_sweep::{Setup, IMAGES};
use front::{Core, MemFront};

/// Every combination: compression off and on, a sync per frame and frames
/// sharing syncs.
const CORE_SETUPS: [Setup; 6] = [
    Setup {
        compression: false,
        shared_syncs: false,
        recycle: false,
    },
    Setup {
        compression: true,
        shared_syncs: false,
        recycle: false,
    },
    Setup {
        compression: false,
        shared_syncs: true,
        recycle: false,
    },
    Setup {
        compression: true,
        shared_syncs: true,
        recycle: false,
    },
    // Recycled segments, with and without shared syncs (a recycled
    // segment syncs each frame anyway).
    Setup {
        compression: false,
        shared_syncs: false,
        recycle: true,
    },
    Setup {
        compression: true,
        shared_syncs: true,
        recycle: true,
    },
];

/// The thread-safe WAL syncs on its own thread while it writes the next
/// frames, so frames wait unsynced with or without a flush interval.
#[cfg(not(target_os = "wasi"))]
const THREADED_SETUPS: [Setup; 3] = [
    Setup {
        compression: false,
        shared_syncs: false,
        recycle: false,
    },
    Setup {
        compression: true,
        shared_syncs: false,
        recycle: false,
    },
    Setup {
        compression: false,
        shared_syncs: false,
        recycle: true,
    },
];

fn report<F: MemFront>(sweep: &str, unit: &str, t: &Tally, per_point: usize) {
    eprintln!(
        "{} WAL {sweep}: {} {unit} (reference runs of up to {} mutating ops), {} images reopened, \
         each written to and crashed twice more ({per_point} per point; {} with names other than \
         the directory's at the cut), {} reopens cut a torn tail, {} of them holding valid frames \
         written after a lost sector",
        F::NAME,
        t.points,
        t.max_ops,
        t.reopened.images,
        t.names_differ,
        t.reopened.cut,
        t.reopened.cut_frames_after
    );
}

#[test]
fn core_crash_at_every_operation_loses_no_acknowledged_record() {
    let t = crash_sweep::<Core>(&CORE_SETUPS, 0);
    report::<Core>("crash sweep", "crash points", &t, IMAGES.len());
    assert!(t.points > 300);
}

#[test]
fn core_fault_at_every_operation_acknowledges_nothing_that_is_not_durable() {
    let t = fault_sweep::<Core>(&CORE_SETUPS);
    report::<Core>("fault sweep", "faults injected", &t, 3);
    assert!(t.points > 900);
}

#[cfg(not(target_os = "wasi"))]
#[test]
fn threaded_crash_at_every_operation_loses_no_acknowledged_record() {
    use front::Threaded;
    // Its threads may order the operations a little differently from run
    // to run: sweep a few past the reference count.
    let t = crash_sweep::<Threaded>(&THREADED_SETUPS, 4);
    report::<Threaded>("crash sweep", "crash points", &t, IMAGES.len());
    // Its runs take 70 to 80 mutating operations per setup.
    assert!(t.points > 130 && t.max_ops >= 60, "{t:?}");
}

#[cfg(not(target_os = "wasi"))]
#[test]
fn threaded_fault_at_every_operation_acknowledges_nothing_that_is_not_durable() {
    use front::Threaded;
    let t = fault_sweep::<Threaded>(&THREADED_SETUPS);
    report::<Threaded>("fault sweep", "faults injected", &t, 3);
    // Three faults at each of 65 to 80 mutating operations per setup.
    assert!(t.points > 300 && t.max_ops >= 60, "{t:?}");
}
