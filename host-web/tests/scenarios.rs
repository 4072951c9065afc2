//! The core's behavioural scenarios over the OPFS storage, in a dedicated
//! worker of a real (headless) Chromium: `bash test.sh`, or
//! `cargo test -p wal-host-web --target wasm32-unknown-unknown` with
//! `wasm-bindgen-test-runner` as the target's runner (see host-web/README.md).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use wal_core::testing::scenarios::{self, Medium};
use wal_host_web::{OpfsStorage, Pool};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// One pool, emptied for each scenario; a reopen reads every pool file's
/// header again from the OPFS (what a restart reads once its handles are
/// open).
struct Opfs(Rc<RefCell<Pool>>);

impl Medium for Opfs {
    type S = OpfsStorage;
    fn fresh(&mut self) -> OpfsStorage {
        self.0.borrow_mut().reset().expect("reset the pool");
        OpfsStorage::new(self.0.clone())
    }
    fn reopen(&mut self) -> OpfsStorage {
        self.0.borrow_mut().reload().expect("reload the pool");
        OpfsStorage::new(self.0.clone())
    }
}

#[wasm_bindgen_test]
async fn every_scenario_passes_on_the_opfs() {
    let pool = Pool::open("tests/scenarios", scenarios::MAX_FILES + 4)
        .await
        .expect("open the pool");
    let mut medium = Opfs(Rc::new(RefCell::new(pool)));
    let summary = scenarios::run_all(&mut medium, |name, outcome| match outcome {
        Ok(()) => wasm_bindgen_test::console_log!("ok {name}"),
        Err(why) => wasm_bindgen_test::console_log!("FAILED {name}: {why}"),
    });
    assert_eq!(summary.failures, vec![]);
    assert_eq!(summary.passed, scenarios::all::<Opfs>().len());
}
