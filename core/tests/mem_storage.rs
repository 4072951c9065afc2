//! The in-memory storage's durable image and crash images, against models
//! that keep a full copy of each file as of its last sync, and of the
//! directory as it is, as of its last sync, and with the names files'
//! syncs committed.

use std::collections::BTreeMap;

use embedded_io::{Seek, SeekFrom, Write};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use wal_core::storage::{SegmentFile, Storage};
use wal_core::testing::{MemFile, MemStorage, NamesDurable, Unsynced};
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

// ------------------------------------------------------------ block images

/// The blocks an image's chooser was asked about, and its answers.
#[derive(Default)]
struct Asked {
    length: Option<bool>,
    blocks: Vec<(usize, bool)>,
}

/// `bytes[i]`, zero past the end.
fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// What the image of a file with current bytes `data` and synced bytes
/// `durable` must be, given the chooser's answers: each block holds its
/// current bytes if it landed and its synced ones otherwise; the length is
/// the current one if it landed, else the synced one, grown (when the file
/// grew) to the end of the last block that landed.
fn expected_image(data: &[u8], durable: &[u8], size: usize, asked: &Asked) -> Vec<u8> {
    let landed = |b: usize| asked.blocks.iter().any(|&(i, k)| i == b && k);
    let len = if asked.length == Some(true) {
        data.len()
    } else if data.len() > durable.len() {
        let last = asked.blocks.iter().filter(|b| b.1).map(|b| b.0).max();
        last.map_or(0, |b| (b + 1) * size)
            .min(data.len())
            .max(durable.len())
    } else {
        durable.len()
    };
    (0..len)
        .map(|i| {
            if landed(i / size) {
                at(data, i)
            } else {
                at(durable, i)
            }
        })
        .collect()
}

/// Checks one block image of `storage`'s file `key` against the model.
fn check_block_image(
    storage: &MemStorage,
    key: FileName,
    (data, durable): (&[u8], &[u8]),
    size: usize,
    answers: &[bool],
) -> Result<(), TestCaseError> {
    let mut asked = Asked::default();
    let mut n = 0;
    let image = storage.crash_image_with(size, NamesDurable::OnReturn, |k, u| {
        assert_eq!(k, key);
        let answer = answers[n % answers.len()];
        n += 1;
        match u {
            Unsynced::Length => {
                assert!(
                    asked.length.is_none() && asked.blocks.is_empty(),
                    "length asked first, once"
                );
                asked.length = Some(answer);
            }
            Unsynced::Block(i) => {
                assert!(
                    asked.blocks.last().is_none_or(|&(j, _)| j < i),
                    "blocks asked in order, once"
                );
                asked.blocks.push((i, answer));
            }
        }
        answer
    });
    prop_assert_eq!(
        asked.length.is_some(),
        data.len() != durable.len(),
        "the length is asked about exactly when it changed"
    );
    // A block never asked about must not have changed.
    let blocks = data.len().max(durable.len()).div_ceil(size);
    for b in 0..blocks {
        if !asked.blocks.iter().any(|&(i, _)| i == b) {
            let range = b * size..(b + 1) * size;
            prop_assert!(
                range.clone().all(|i| at(data, i) == at(durable, i)),
                "block {} changed but was not asked about",
                b
            );
        }
    }
    let got = image.contents(key).unwrap();
    prop_assert_eq!(&got, &expected_image(data, durable, size, &asked));
    prop_assert_eq!(
        image.durable_contents(key).unwrap(),
        got,
        "an image is all durable"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn block_images_keep_any_subset_of_the_changed_blocks(
        ops in prop::collection::vec(op(), 0..30),
        size in prop_oneof![Just(1usize), Just(7), Just(16), Just(64), Just(512)],
        answers in prop::collection::vec(any::<bool>(), 1..48),
    ) {
        let mut storage = MemStorage::new();
        let key = FileName::Segment(1);
        let mut file = storage.create(key).unwrap();
        let (mut data, mut durable) = (Vec::<u8>::new(), Vec::<u8>::new());
        for op in &ops {
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
                    storage.remove(key).unwrap();
                    file = storage.create(key).unwrap();
                    data.clear();
                    durable.clear();
                }
            }
            check_block_image(&storage, key, (&data, &durable), size, &answers)?;
        }
    }
}

// ------------------------------------------------------------------ names

#[derive(Clone, Debug)]
enum NameOp {
    Create(usize),
    Remove(usize),
    /// Writes a byte (distinct per write) to the file, if it is open.
    Write(usize),
    Sync(usize),
    SyncDir,
}

fn name_op() -> impl Strategy<Value = NameOp> {
    prop_oneof![
        2 => (0usize..3).prop_map(NameOp::Create),
        1 => (0usize..3).prop_map(NameOp::Remove),
        3 => (0usize..3).prop_map(NameOp::Write),
        2 => (0usize..3).prop_map(NameOp::Sync),
        1 => Just(NameOp::SyncDir),
    ]
}

/// A file of the names model: current and synced bytes.
#[derive(Clone, Debug, Default, PartialEq)]
struct ModelFile {
    data: Vec<u8>,
    durable: Vec<u8>,
}

/// Names to file numbers.
type ModelDir = BTreeMap<FileName, usize>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn names_survive_a_power_cut_only_as_the_model_says(ops in prop::collection::vec(name_op(), 0..40)) {
        let names = [
            FileName::Segment(1),
            FileName::Segment(2),
            FileName::TornTail { segment: 2, offset: 24, copy: 0 },
        ];
        let mut storage = MemStorage::new();
        let mut open: BTreeMap<usize, MemFile> = BTreeMap::new();
        let mut files: Vec<ModelFile> = Vec::new();
        let (mut live, mut dir_synced, mut file_synced) =
            (ModelDir::new(), ModelDir::new(), ModelDir::new());
        for (step, op) in ops.iter().enumerate() {
            match *op {
                NameOp::Create(k) => {
                    let r = storage.create(names[k]);
                    prop_assert_eq!(r.is_ok(), !live.contains_key(&names[k]));
                    if let Ok(f) = r {
                        open.insert(k, f);
                        files.push(ModelFile::default());
                        live.insert(names[k], files.len() - 1);
                    }
                }
                NameOp::Remove(k) => {
                    prop_assert_eq!(storage.remove(names[k]).is_ok(), live.remove(&names[k]).is_some());
                    if let Some(mut f) = open.remove(&k) {
                        // A handle on a removed file finds nothing.
                        prop_assert!(f.write_all(b"x").is_err());
                    }
                }
                NameOp::Write(k) => {
                    if let Some(f) = open.get_mut(&k) {
                        f.write_all(&[step as u8 + 1]).unwrap();
                        files[live[&names[k]]].data.push(step as u8 + 1);
                    }
                }
                NameOp::Sync(k) => {
                    if let Some(f) = open.get_mut(&k) {
                        f.sync().unwrap();
                        let n = live[&names[k]];
                        files[n].durable = files[n].data.clone();
                        file_synced.insert(names[k], n);
                    }
                }
                NameOp::SyncDir => {
                    storage.sync_dir().unwrap();
                    dir_synced = live.clone();
                    file_synced = live.clone();
                }
            }
            let models = [
                (NamesDurable::OnReturn, &live),
                (NamesDurable::OnDirSync, &dir_synced),
                (NamesDurable::OnFileSync, &file_synced),
            ];
            for (model, dir) in models {
                let want: Vec<FileName> = dir.keys().copied().collect();
                prop_assert_eq!(storage.durable_files(model), want.clone(), "{:?} after step {}", model, step);
                // Nothing unsynced landed, then everything did.
                for all in [false, true] {
                    let image = storage.crash_image_with(512, model, |_, _| all);
                    prop_assert_eq!(image.files(), want.clone(), "{:?}", model);
                    for (name, &n) in dir {
                        let f = &files[n];
                        let bytes = if all { &f.data } else { &f.durable };
                        prop_assert_eq!(&image.contents(*name).unwrap(), bytes, "{:?} {}", model, name);
                    }
                }
            }
        }
    }
}
