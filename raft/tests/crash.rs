//! The log store after a clean close and after a power cut at every
//! mutating operation of a workload (the core's `MemStorage` crash
//! models): see `workload` for what is checked.

mod within;
mod workload;

use std::time::Duration;

use wal::Config;
use wal_core::testing::{CrashModel, MemStorage};
use wal_raft::{KvConfig, LogStore};
use within::within;
use workload::{check, run, Model, Step, STEPS};

type Store = LogStore<KvConfig, MemStorage>;

fn config() -> Config {
    Config::default().with_file_size(48 << 10)
}

fn open(storage: &MemStorage) -> Store {
    let wal = wal::Wal::with_storage(storage.clone(), config()).expect("the WAL opens");
    LogStore::with_wal(wal).expect("the log store opens")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs `fut`, failing the test if it takes more than `secs` seconds.
async fn timed<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
}

#[test]
fn reopen_after_close_keeps_everything() {
    within(120, || {
        let rt = runtime();
        let storage = MemStorage::new();
        let mut model = Model::default();
        let mut store = open(&storage);
        rt.block_on(timed(
            60,
            "the workload",
            run(&mut store, STEPS, &mut model),
        ))
        .expect("the workload runs");
        let segments = store.wal().segments();
        assert!(segments[0] > 1, "purges removed no segment: {segments:?}");
        store.close().expect("close");
        drop(store);
        let mut store = open(&storage);
        rt.block_on(timed(60, "the check", check(&mut store, &model)));
        // Everything the model still holds is there, exactly.
        let entries = rt.block_on(async {
            use openraft::RaftLogReader;
            store.try_get_log_entries(..).await.expect("read")
        });
        let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
        assert_eq!(indexes, model.live.keys().copied().collect::<Vec<_>>());
    });
}

#[test]
fn reopen_on_real_files() {
    within(120, || {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut model = Model::default();
        let mut store: LogStore<KvConfig> = LogStore::open(dir.path(), config()).expect("open");
        rt.block_on(timed(
            60,
            "the workload",
            run(&mut store, STEPS, &mut model),
        ))
        .expect("the workload runs");
        store.close().expect("close");
        drop(store);
        let mut store: LogStore<KvConfig> = LogStore::open(dir.path(), config()).expect("reopen");
        rt.block_on(timed(60, "the check", check(&mut store, &model)));
    });
}

/// A power cut at every mutating operation of the workload, under the
/// three crash models in turn; after reopening, a second round (a vote and
/// an append) and a second power cut: the vote never goes back across
/// both.
#[test]
fn power_cut_at_every_operation() {
    within(900, || {
        let rt = runtime();
        let clean = MemStorage::new();
        let mut store = open(&clean);
        let opened = clean.mutating_ops();
        rt.block_on(timed(
            60,
            "the workload",
            run(&mut store, STEPS, &mut Model::default()),
        ))
        .expect("the workload runs");
        drop(store);
        let total = clean.mutating_ops() - opened;
        eprintln!("{total} mutating operations after open");
        let models = [CrashModel::HARSH, CrashModel::EXT4, CrashModel::PREFIX];
        for op in 0..=total {
            // Opening an empty disk is the same operations each time: the
            // cut comes after them.
            let storage = MemStorage::new();
            let mut store = open(&storage);
            storage.cut_power_at(storage.mutating_ops() + op);
            let mut model = Model::default();
            let _ = rt.block_on(timed(
                60,
                "the cut workload",
                run(&mut store, STEPS, &mut model),
            ));
            let image = storage.crash_image(op, models[(op % 3) as usize]);
            drop(store);
            let mut store = open(&image);
            let vote = rt.block_on(timed(60, "the check", check(&mut store, &model)));
            // A second round after the restart, then a second power cut.
            let term = vote.map_or(10, |v| v.leader_id.term + 10);
            let next = rt.block_on(async {
                use openraft::storage::RaftLogStorage;
                store
                    .get_log_state()
                    .await
                    .expect("state")
                    .last_log_id
                    .map_or(1, |l| l.index + 1)
            });
            let more = [
                Step::Vote(term),
                Step::Append {
                    term,
                    from: next,
                    to: next + 2,
                },
            ];
            rt.block_on(timed(
                60,
                "the second round",
                run(&mut store, &more, &mut model),
            ))
            .unwrap_or_else(|e| panic!("power cut at op {op}: the second round failed: {e}"));
            let image2 = image.crash_image(op + 1, models[((op + 1) % 3) as usize]);
            drop(store);
            let mut store = open(&image2);
            rt.block_on(timed(60, "the second check", check(&mut store, &model)));
        }
    });
}

/// Entries appended are held in memory only until `MEM_LIMIT` bytes of
/// them: then the store reads the WAL back for their places.
#[test]
fn memory_held_for_appended_entries_is_bounded() {
    use openraft::storage::RaftLogStorageExt;
    use openraft::RaftLogReader;
    within(300, || {
        let rt = runtime();
        let storage = MemStorage::new();
        let mut store = open(&storage);
        let big = |i: u64| workload::entry(1, i * 7); // 100,000-byte values
        let mut most = 0;
        rt.block_on(timed(240, "the appends", async {
            for i in 1..=60u64 {
                let mut e = big(i);
                e.log_id = workload::log_id(1, i);
                store.blocking_append([e]).await.expect("append");
                most = most.max(store.in_memory().1);
            }
        }));
        let limit = wal_raft::store::MEM_LIMIT;
        assert!(most <= limit + 400_000, "{most} bytes held for {limit}");
        let entries = rt
            .block_on(store.try_get_log_entries(..))
            .expect("read back");
        assert_eq!(entries.len(), 60);
        for (k, e) in entries.iter().enumerate() {
            assert_eq!(e.log_id.index, k as u64 + 1);
        }
    });
}

/// Appends large enough to fill the WAL's queue of buffers waiting for the
/// disk (buffers of 1 KiB, an entry each) meet backpressure, finish on the
/// blocking pool, and lose nothing: every entry is read back, before and
/// after a reopen, and every flushed callback fired.
#[test]
fn appends_held_back_by_backpressure_keep_everything() {
    within(120, || {
        let rt = runtime();
        let storage = MemStorage::new();
        let cfg = || {
            Config::default()
                .with_buffer_size(1024)
                .with_compression(false)
                .with_file_size(1 << 20)
        };
        let open = || {
            let wal = wal::Wal::with_storage(storage.clone(), cfg()).expect("the WAL opens");
            Store::with_wal(wal).expect("the log store opens")
        };
        let mut store = open();
        let mut next = 1;
        rt.block_on(timed(90, "the appends", async {
            use openraft::storage::RaftLogStorageExt;
            // Until one append is held back (20 at most, or the test fails).
            for _ in 0..20 {
                let batch: Vec<_> = (next..next + 200).map(|i| workload::entry(1, i)).collect();
                next += 200;
                store.blocking_append(batch).await.expect("append");
                if store.appends_held_back() > 0 {
                    break;
                }
            }
        }));
        assert!(
            store.appends_held_back() > 0,
            "no append of 200 buffers' worth met backpressure"
        );
        let read_all = |store: &mut Store| {
            rt.block_on(async {
                use openraft::RaftLogReader;
                store.try_get_log_entries(..).await.expect("read")
            })
        };
        let want: Vec<_> = (1..next).map(|i| workload::entry(1, i)).collect();
        assert!(
            read_all(&mut store) == want,
            "entries differ after the appends"
        );
        store.close().expect("close");
        drop(store);
        let mut store = open();
        assert!(
            read_all(&mut store) == want,
            "entries differ after a reopen"
        );
    });
}
