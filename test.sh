#!/usr/bin/env bash
# Runs every check and every test of the project. This is the README's test
# command and exactly what CI runs (.ci/run). It installs what a fresh
# machine with only the Rust toolchain lacks (rustup targets and components,
# cargo-nextest, QEMU for the Cortex-M harness, Node if it is missing,
# Chromium, chromedriver and wasm-bindgen-cli for the browser tests), and
# skips nothing: if something cannot be had, it fails and says why.
set -euo pipefail
cd "$(dirname "$0")"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\ntest.sh: %s\n' "$*" >&2; exit 1; }

step "toolchain: targets, components, cargo-nextest"
for t in thumbv7em-none-eabihf wasm32-wasip1 wasm32-wasip2 wasm32-unknown-unknown; do
  if ! rustup target list --installed | grep -qx "$t"; then
    rustup target add "$t" || die "cannot install the $t target (rustup target add $t)"
  fi
done
for c in rustfmt clippy llvm-tools; do
  rustup component list --installed | grep -q "^$c" || rustup component add "$c" || die "cannot install $c"
done
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked || die "cannot install cargo-nextest (needed to run the WASI tests one process per test)"
fi
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  { apt-get update && apt-get install -y --no-install-recommends qemu-system-arm; } \
    || die "cannot install QEMU (apt-get install -y qemu-system-arm): the Cortex-M harness runs under it"
fi
if ! command -v node >/dev/null 2>&1; then
  { apt-get update && apt-get install -y --no-install-recommends nodejs; } || die "cannot install Node (apt-get install -y nodejs): the second WASI runtime"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node $(node --version) is too old: node:wasi with version 'preview1' needs Node 20 or later"
if ! command -v chromium >/dev/null 2>&1 || ! [ -x /usr/bin/chromedriver ]; then
  { apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver; } \
    || die "cannot install Chromium (apt-get install -y chromium chromium-driver): the browser tests run in it"
fi
# wasm-bindgen-test-runner must be the wasm-bindgen of Cargo.lock, exactly.
wb_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
[ -n "$wb_version" ] || die "no wasm-bindgen in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb_version" ]; then
  # Without TLS (the runner only talks http to chromedriver and its own
  # server on 127.0.0.1): no rustls or ring to build, a fifth less CPU.
  # --locked first; where the registry lacks a locked dependency (this
  # mirror has no webpki-roots 1.0.11), the newest compatible ones.
  cargo install wasm-bindgen-cli --version "$wb_version" --no-default-features --locked \
    || cargo install wasm-bindgen-cli --version "$wb_version" --no-default-features \
    || die "cannot install wasm-bindgen-cli $wb_version (the browser tests' runner)"
fi
if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || die "cannot install the nightly toolchain (cargo-fuzz needs it)"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || die "cannot install cargo-fuzz"
fi

step "format"
cargo fmt --all -- --check
(cd targets/cortex-m && cargo fmt -- --check)

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p wal-host-std --all-targets --features metrics -- -D warnings
cargo clippy -p wal-core --no-default-features -- -D warnings
cargo clippy -p wal-flash --features sim --all-targets -- -D warnings
(cd targets/cortex-m && cargo clippy --release --all-targets -- -D warnings)
cargo clippy --target wasm32-wasip1 -p wal -p wal-host-wasi --all-targets -- -D warnings
# The tool's tests run the native binary; under WASI only its library and bins.
cargo clippy --target wasm32-wasip1 -p wal-tool --lib --bins -- -D warnings
cargo clippy --target wasm32-wasip2 -p wal -p wal-host-wasi --all-targets -- -D warnings
cargo clippy --target wasm32-wasip2 -p wal-tool --lib --bins -- -D warnings
# The browser host (empty on other targets, so the workspace runs above
# check only its stub).
cargo clippy --target wasm32-unknown-unknown -p wal-host-web --all-targets -- -D warnings

step "the house: what a library user links (no CLI, JSON or hex crate; no threaded WAL in the WASI guest)"
for p in wal wal-host-std wal-fs; do
  cli=$(cargo tree -p "$p" -e normal --prefix none | grep -E '^(clap|serde|serde_json|hex|const-hex|memchr|indicatif|wal-tool) ' || true)
  [ -z "$cli" ] || die "$p links what only the CLI needs: $cli"
done
for t in wasm32-wasip1 wasm32-wasip2; do
  for p in wal wal-host-wasi; do
    if cargo tree -p "$p" --target "$t" -e normal --prefix none | grep -qE '^(wal-host-std|wal-tool|wasmtime) '; then
      die "$p for $t links the native host, the tool or wasmtime"
    fi
  done
done

step "the core builds for bare metal (no std leak)"
cargo build -p wal-core --no-default-features --target thumbv7em-none-eabihf
cargo build -p wal-core --no-default-features --features mem,scenarios --target thumbv7em-none-eabihf
cargo build -p wal-flash --features sim --target thumbv7em-none-eabihf

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc -p wal-host-web --no-deps --quiet --target wasm32-unknown-unknown

step "build the wasmtime launcher (release) and the WASI guests (preview 1 modules, preview 2 components)"
cargo build --release -p wal-host-wasi --bin wasi-run
for t in wasm32-wasip1 wasm32-wasip2; do
  cargo build --release --target "$t" -p wal-tool --bin wal-wasi
  cargo build --release --target "$t" -p wal-host-wasi --bin wasi-probe
done

step "tests, native: core, memory, files, threads, the house, tool, doc tests"
cargo test --workspace --exclude wal-host-wasi --exclude wal-bench --exclude wal-raft
# The `metrics` feature: the stats reach an installed recorder.
cargo test -p wal-host-std --features metrics --test metrics
# The benchmark harness's own statistics (its verdicts' arithmetic).
cargo test -p wal-bench --bins
# The core without std and snappy (the software CRC path; snappy frames are
# refused with a clear error). Doc examples use the default config, which
# needs snappy, so they run in the step above.
cargo test -p wal-core --no-default-features --features mem --lib --tests
# The core's own tests with its default features plus the in-memory storage
# (not a default feature: a production build never links it).
cargo test -p wal-core --features mem
# The flash storage on simulated NOR flash: the scenarios, a power cut at
# every program and erase.
cargo test -p wal-flash --features sim

step "tests, replicated (wal-raft): lint, openraft's storage suite, reopen and a power cut at every operation, three raft-kv processes with leader kills"
cargo clippy -p wal-raft --all-targets -- -D warnings
# The benchmark harness's raft workload (a feature: it builds openraft).
cargo clippy -p wal-bench --features raft --all-targets -- -D warnings
# The whole package: its tests, and the raft-kv example the cluster test runs
# (cargo test builds the examples beside the tests).
cargo test -p wal-raft

step "tests, WASI: the behavioural suite and the scenarios under wasmtime (one process per test)"
CARGO_TARGET_WASM32_WASIP1_RUNNER="$TARGET_DIR/release/wasi-run" \
  cargo nextest run --target wasm32-wasip1 -p wal --test mem --test fs --test scenarios
# Segments sparse past 4 GiB, under a 32-bit usize. The runner's temporary
# directory (the guest's /tmp) goes on a tmpfs, which reads holes from the
# zero page (5 GiB in 1.4 s, no memory); ext4 fills its page cache with
# them first (50 s for 5 GiB under load, and 5 GiB of cache).
[ -d /dev/shm ] || die "no /dev/shm: tests/large_files.rs under WASI wants a tmpfs for its sparse files"
TMPDIR=/dev/shm CARGO_TARGET_WASM32_WASIP1_RUNNER="$TARGET_DIR/release/wasi-run" \
  cargo nextest run --target wasm32-wasip1 -p wal --test large_files

step "tests, WASI preview 2: the same suite and scenarios as components under wasmtime (the directory synced)"
CARGO_TARGET_WASM32_WASIP2_RUNNER="$TARGET_DIR/release/wasi-run" \
  cargo nextest run --target wasm32-wasip2 -p wal --test mem --test fs --test scenarios

step "tests, WASI: the same test binaries under Node's WASI (uvwasi, host-wasi/node/run.mjs)"
CARGO_TARGET_WASM32_WASIP1_RUNNER="$PWD/host-wasi/node/wasi-node" \
  cargo nextest run --target wasm32-wasip1 -p wal --test mem --test fs --test scenarios

step "tests, native <-> WASI: byte identity (native, wasmtime, Node, preview 2), cross reading, both runners, directory sync under preview 2 (release: shares the launcher's build)"
cargo test --release -p wal-host-wasi

step "tests, browser: the scenarios and the JS API on the OPFS in headless Chromium, byte identity with the native tool, a SIGKILL mid-writes"
host-web/browser.sh || die "the browser tests failed (host-web/browser.sh)"

step "the core on a Cortex-M4 under QEMU (mps2-an386): the scenarios over memory and simulated NOR flash, flash wear, code size"
(cd targets/cortex-m && cargo run --release 2>&1 | tee /tmp/cortex-m.log) \
  || die "the Cortex-M harness failed (exit 124: QEMU's two minutes ran out): see /tmp/cortex-m.log"
grep -qE '^[0-9]+ passed, 0 failed$' /tmp/cortex-m.log || die "the Cortex-M harness did not end with N passed, 0 failed: see /tmp/cortex-m.log"
(cd targets/cortex-m && cargo run --release --bin footprint) || die "the footprint binary failed under QEMU"
targets/cortex-m/size.sh || die "cannot measure the Cortex-M code size (targets/cortex-m/size.sh)"

step "fuzzing: each target for 30 seconds (nightly, cargo-fuzz)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
for t in decode recover ops ops_threaded; do
  (cd fuzz && cargo +nightly fuzz run "$t" -O -- -max_total_time="$FUZZ_SECONDS" \
      -malloc_limit_mb=512 -rss_limit_mb=2048 2>&1 | tee "/tmp/fuzz-$t.log" | grep -E '^Done|ERROR|panicked' ) \
    || die "fuzz target $t failed: see /tmp/fuzz-$t.log and fuzz/artifacts/$t (save the input under tests/fuzz-regressions/${t%_threaded})"
  grep -q '^Done' "/tmp/fuzz-$t.log" || die "fuzz target $t did not finish: see /tmp/fuzz-$t.log"
done

step "all checks passed"
