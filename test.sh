#!/usr/bin/env bash
# Runs every check and every test of the project. This is the README's test
# command and exactly what CI runs (.ci/run). It installs what a fresh
# machine with only the Rust toolchain lacks, and skips nothing.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n==> %s\n' "$*"; }

step "toolchain targets"
for t in thumbv7em-none-eabihf; do
  if ! rustup target list --installed | grep -qx "$t"; then
    rustup target add "$t"
  fi
done
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed | grep -q '^clippy' || rustup component add clippy

step "format"
cargo fmt --all -- --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p wal-core --no-default-features -- -D warnings

step "the core builds for bare metal (no std leak)"
cargo build -p wal-core --no-default-features --target thumbv7em-none-eabihf
cargo build -p wal-core --no-default-features --features mem --target thumbv7em-none-eabihf

step "docs build without warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "tests (native: core, memory, files, threads, doc tests)"
cargo test --workspace
# The core without std and snappy (the software CRC path; snappy frames are
# refused with a clear error). Doc examples use the default config, which
# needs snappy, so they run in the step above.
cargo test -p wal-core --no-default-features --features mem --lib --tests

step "all checks passed"
