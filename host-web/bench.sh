#!/usr/bin/env bash
# Browser vs native on the same input (BENCHMARKS.md, "In the browser"):
# N records (drive.mjs input: values of 0-300 bytes, half compressible)
# written by WebWal in headless Chromium on the OPFS, and by the native
# `wal append` (release) into a directory on this disk, each RUNS times on
# a fresh WAL, with `wal append`'s defaults on both sides. The browser is
# timed from its first write to the close that made every record durable
# (the input parsed before); the native run is the whole process (it parses
# its JSON-lines input as it goes), so the ratio flatters native slightly
# less than it looks. Needs what browser.sh needs.
#
#   host-web/bench.sh [N] [RUNS]   COMPRESSION=0: no snappy; SYNC=never: no syncs (either side)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
N="${1:-50000}"
RUNS="${2:-5}"
COMPRESSION="${COMPRESSION:-1}"
native_flags=()
[ "$COMPRESSION" = 1 ] || native_flags=(--no-compression)
SYNC="${SYNC:-always}"
native_flags+=(--sync "$SYNC")
WORK=$(mktemp -d /tmp/wal-web-bench.XXXXXX)
cargo build --release -p wal-host-web --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir host-web/www/pkg "$TARGET_DIR/wasm32-unknown-unknown/release/wal_host_web.wasm"
cargo build --release -p wal-tool --bin wal
node host-web/www/drive.mjs input "$N" 11 > "$WORK/input.jsonl"
node host-web/www/drive.mjs run "bench.html?runs=$RUNS&compression=$COMPRESSION&sync=$SYNC" "$WORK/browser" --input "$WORK/input.jsonl" --timeout 600
native=()
for _ in $(seq "$RUNS"); do
  rm -rf "$WORK/native"
  s=$(date +%s%N)
  "$TARGET_DIR/release/wal" append "$WORK/native" "${native_flags[@]}" < "$WORK/input.jsonl" > /dev/null 2>&1
  native+=("$(( $(date +%s%N) - s ))e-9")
done
node -e '
  const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const native = process.argv.slice(2).map(Number);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (name, xs) => {
    const s = median(xs);
    console.log(`${name.padEnd(8)} median of ${xs.length}: ${s.toFixed(3)} s, ${Math.round(b.records / s)} records/s, ${(b.bytes / s / 1e6).toFixed(2)} MB/s (runs: ${xs.map((x) => x.toFixed(3)).join(" ")})`);
    return s;
  };
  console.log(`${b.records} records, ${b.bytes} value bytes`);
  const sb = row("browser", b.seconds), sn = row("native", native);
  console.log(`browser / native throughput: ${(sn / sb).toFixed(2)}`);
' "$WORK/browser/done" "${native[@]}"
