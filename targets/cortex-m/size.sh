#!/usr/bin/env bash
# Code size of the Cortex-M binaries (build them first: cargo build
# --release): each one's .text and .rodata (llvm-size), and .text by crate
# (llvm-nm: a function counts for the crate whose path its demangled name
# starts with, or names first; code inlined into a caller counts for the
# caller: `footprint` and `wal_cortex_m` are the binaries themselves, with
# what got inlined into them). Needs the llvm-tools component (rustup component add llvm-tools).
set -euo pipefail
cd "$(dirname "$0")"
BIN="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
[ -x "$BIN/llvm-size" ] && [ -x "$BIN/llvm-nm" ] || { echo "size.sh: no llvm-size/llvm-nm: rustup component add llvm-tools" >&2; exit 1; }
OUT="${CARGO_TARGET_DIR:-$PWD/target}/thumbv7em-none-eabihf/release"
for exe in footprint wal-cortex-m; do
  [ -f "$OUT/$exe" ] || { echo "size.sh: $OUT/$exe missing: cargo build --release" >&2; exit 1; }
  "$BIN/llvm-size" -A "$OUT/$exe" | awk -v exe="$exe" '
    $1 == ".text" { text = $2 } $1 == ".rodata" { ro = $2 }
    END { printf "size: %s: .text %d B (%.1f KiB), .rodata %d B (%.1f KiB)\n", exe, text, text / 1024, ro, ro / 1024 }'
  "$BIN/llvm-nm" --print-size --size-sort --demangle --radix=d "$OUT/$exe" | awk -v exe="$exe" '
    $3 ~ /^[tTwW]$/ {
      name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name); gsub(/\.\./, "::", name); size = $2 + 0
      crate = "other"
      n = split("wal_core::testing wal_core wal_flash footprint wal_cortex_m embedded_alloc linked_list_allocator cortex_m_semihosting cortex_m_rt cortex_m hashbrown foldhash embedded_io embedded_storage crc alloc core compiler_builtins", crates, " ")
      best = 1e9
      for (i = 1; i <= n; i++) {
        p = index(name, crates[i] "::")
        if (p > 0 && p < best) { best = p; crate = crates[i] }
      }
      by[crate] += size; total += size
    }
    END {
      line = ""
      for (c in by) line = line sprintf("%s %d B, ", c, by[c])
      printf "size: %s: .text by crate (%d B in symbols): %s\n", exe, total, substr(line, 1, length(line) - 2)
    }'
done
