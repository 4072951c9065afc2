//! The pool under the core, directly, in a dedicated worker on the OPFS:
//! the header codec (a torn or foreign header is a free pool file), what a
//! reload reads back, when freed pool files may be taken again, a name
//! removed and created again before a directory sync, stale files, and the
//! pool growing.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use embedded_io::{Read, Write};
use wal_core::{FileName, SegmentFile, Storage};
use wal_host_web::{slot, OpfsStorage, Pool, WebWal};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen_test]
fn a_header_names_its_file_and_a_damaged_one_is_free() {
    for name in [
        FileName::Segment(1),
        FileName::Segment(u64::MAX),
        FileName::TornTail {
            segment: 9,
            offset: u64::MAX,
            copy: u32::MAX,
        },
    ] {
        let header = slot::encode(Some(name));
        assert_eq!(header.len(), slot::WRITTEN_LEN);
        assert_eq!(slot::decode(&header), Some(name));
        for i in 0..20 {
            let mut torn = header.clone();
            torn[i] ^= 0x40;
            assert_eq!(slot::decode(&torn), None, "byte {i} flipped");
        }
        assert_eq!(slot::decode(&header[..12]), None, "cut short");
    }
    assert_eq!(slot::decode(&slot::encode(None)), None);
    assert_eq!(slot::decode(&[0; 128]), None);
    assert_eq!(slot::decode(&[]), None);
}

async fn storage(dir: &str, spare: usize) -> OpfsStorage {
    WebWal::wipe(dir.into()).await.expect("wipe");
    let pool = Pool::open(dir, spare).await.expect("open the pool");
    OpfsStorage::new(Rc::new(RefCell::new(pool)))
}

#[wasm_bindgen_test]
async fn names_bytes_and_lengths_come_back_from_the_headers() {
    let mut s = storage("tests/pool-reload", 4).await;
    let mut f = s.create(FileName::Segment(3)).unwrap();
    f.write_all(b"hello, opfs").unwrap();
    f.sync().unwrap();
    let mut g = s.create(FileName::torn_tail(3, 11)).unwrap();
    g.write_all(b"aside").unwrap();
    s.sync_dir().unwrap();
    assert_eq!(
        s.create(FileName::Segment(3)).err().map(|e| e.name),
        Some("Exists".into())
    );
    s.remove(FileName::torn_tail(3, 11)).unwrap();
    s.sync_dir().unwrap();
    assert_eq!(
        g.len().err().map(|e| e.name),
        Some("Removed".into()),
        "a removed file refuses"
    );
    s.pool().borrow_mut().reload().unwrap();
    assert_eq!(
        f.len().err().map(|e| e.name),
        Some("Removed".into()),
        "stale after a reload"
    );
    assert_eq!(s.list().unwrap(), vec![FileName::Segment(3)]);
    let mut f = s.open(FileName::Segment(3)).unwrap();
    assert_eq!(f.len().unwrap(), 11);
    let mut buf = [0u8; 11];
    f.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello, opfs");
    s.pool().borrow_mut().close();
}

#[wasm_bindgen_test]
async fn a_freed_pool_file_is_taken_again_only_after_a_directory_sync() {
    let mut s = storage("tests/pool-freed", 2).await;
    assert_eq!(s.pool().borrow().counts(), (2, 2));
    s.create(FileName::Segment(1)).unwrap();
    s.create(FileName::Segment(2)).unwrap();
    s.sync_dir().unwrap();
    s.remove(FileName::Segment(1)).unwrap();
    // Its old file may still come back after a power cut: not free yet.
    let full = s
        .create(FileName::Segment(3))
        .err()
        .expect("no free pool file");
    assert_eq!(full.name, "NoFreeSlot");
    assert_eq!(full.kind(), wal_core::ErrorKind::StorageFull);
    s.sync_dir().unwrap();
    s.create(FileName::Segment(3)).unwrap();
    // A name removed and created again before a sync: one pool file holds it.
    s.remove(FileName::Segment(3)).unwrap();
    s.create(FileName::Segment(3)).unwrap();
    s.pool().borrow_mut().reload().unwrap();
    let mut names = s.list().unwrap();
    names.sort();
    assert_eq!(names, vec![FileName::Segment(2), FileName::Segment(3)]);
    // The pool grows (between calls: asynchronously).
    let handles = s.pool().borrow_mut().new_handles(3);
    let handles = handles.await.expect("new pool files");
    s.pool().borrow_mut().adopt(handles);
    assert_eq!(s.pool().borrow().counts(), (3, 5));
    s.pool().borrow_mut().close();
    assert_eq!(s.list().err().map(|e| e.name), Some("Closed".into()));
}
