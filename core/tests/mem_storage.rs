//! The in-memory storage's durable image, against a model that keeps a
//! full copy of each file as of its last sync.

use embedded_io::{Seek, SeekFrom, Write};
use proptest::prelude::*;
use wal_core::storage::{SegmentFile, Storage};
use wal_core::testing::MemStorage;
use wal_core::FileName;
use wal_core::SegmentId;

#[derive(Clone, Debug)]
enum Op {
    /// Writes `len` bytes of `byte` at `at` (past the end leaves a gap of
    /// zeros).
    Write {
        at: usize,
        len: usize,
        byte: u8,
    },
    Truncate(usize),
    Sync,
    /// Removes the file and creates it again: it starts empty (the storage
    /// reuses a removed file's allocation, never its bytes).
    Recreate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..300, 0usize..80, any::<u8>()).prop_map(|(at, len, byte)| Op::Write { at, len, byte }),
        1 => (0usize..300).prop_map(Op::Truncate),
        1 => Just(Op::Sync),
        1 => Just(Op::Recreate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn durable_contents_and_crash_images_match_a_full_copy_model(ops in prop::collection::vec(op(), 0..40)) {
        let mut storage = MemStorage::new();
        let id: SegmentId = 1;
        let key = FileName::Segment(id);
        let mut file = storage.create(FileName::Segment(id)).unwrap();
        let (mut data, mut durable) = (Vec::<u8>::new(), Vec::<u8>::new());
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Op::Write { at, len, byte } => {
                    file.seek(SeekFrom::Start(at as u64)).unwrap();
                    file.write_all(&vec![byte; len]).unwrap();
                    if len > 0 {
                        if data.len() < at + len {
                            data.resize(at + len, 0);
                        }
                        data[at..at + len].fill(byte);
                    }
                }
                Op::Truncate(len) => {
                    file.truncate(len as u64).unwrap();
                    data.truncate(len);
                }
                Op::Sync => {
                    file.sync().unwrap();
                    durable = data.clone();
                }
                Op::Recreate => {
                    storage.remove(FileName::Segment(id)).unwrap();
                    file = storage.create(FileName::Segment(id)).unwrap();
                    data.clear();
                    durable.clear();
                }
            }
            prop_assert_eq!(storage.contents(key).unwrap(), data.clone(), "contents after op {}", i);
            prop_assert_eq!(storage.durable_contents(key).unwrap(), durable.clone(), "durable after op {}", i);
            let crashed = storage.crash();
            prop_assert_eq!(crashed.contents(key).unwrap(), durable.clone(), "power cut after op {}", i);
            prop_assert_eq!(crashed.durable_contents(key).unwrap(), durable.clone());
        }
    }
}
