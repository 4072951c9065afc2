//! openraft's own storage suite (`openraft::testing::Suite::test_all`) on
//! the WAL-backed log store and the key-value state machine.

mod within;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;
use wal_raft::{KvConfig, KvStateMachine, LogStore};

struct Builder;

impl StoreBuilder<KvConfig, LogStore<KvConfig>, KvStateMachine, TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore<KvConfig>, KvStateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().to_path_buf();
        let config = wal::Config::default().with_file_size(256 << 10);
        let store = tokio::task::spawn_blocking(move || LogStore::open(path, config))
            .await
            .expect("the open task")
            .expect("the log store opens");
        Ok((dir, store, KvStateMachine::new()))
    }
}

#[test]
fn openraft_storage_suite() {
    within::within(300, || Suite::test_all(Builder).map_err(|e| e.to_string()))
        .expect("the suite passes");
}
