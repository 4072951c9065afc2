#!/usr/bin/env bash
# The browser tests of wal-host-web, in headless Chromium (run by test.sh,
# which installs chromium, chromium-driver and wasm-bindgen-cli first; it
# can be run alone once they are there):
#
# 1. the core's scenarios and the JS API's tests, in a dedicated worker on
#    the OPFS, through wasm-bindgen-test-runner and chromedriver;
# 2. byte identity: the same input through the browser (exported through
#    the page) and through the native `wal append` gives the same files;
# 3. the crash test: Chromium SIGKILLed mid-writes, started again on the
#    same profile: every record whose Promise had resolved is there;
# 4. the demo page, loaded and checked (what it shows), with a screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="${WAL_WEB_WORK:-$(mktemp -d /tmp/wal-web.XXXXXX)}"
mkdir -p "$WORK"
step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nbrowser.sh: %s\n' "$*" >&2; exit 1; }

export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
[ -x "$CHROMEDRIVER" ] || die "no chromedriver at $CHROMEDRIVER (apt-get install -y chromium-driver)"
command -v wasm-bindgen-test-runner >/dev/null || die "no wasm-bindgen-test-runner (cargo install wasm-bindgen-cli)"

step "browser: the scenarios and the JS API in a dedicated worker on the OPFS (headless Chromium)"
# The runner fails a test binary that runs longer than this (seconds).
(cd host-web && WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}" \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p wal-host-web --target wasm32-unknown-unknown)

step "browser: the bindings of the release build (host-web/www/pkg)"
cargo build --release -p wal-host-web --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir host-web/www/pkg \
  "$TARGET_DIR/wasm32-unknown-unknown/release/wal_host_web.wasm"

step "browser: byte identity with the native tool (the files exported through the page), snappy and raw frames"
cargo build -p wal-tool --bin wal
node host-web/www/drive.mjs input 4000 7 > "$WORK/input.jsonl"
for case in snappy raw; do
  flags=() query=""
  [ "$case" = snappy ] || { flags=(--no-compression); query="?compression=0"; }
  "$TARGET_DIR/debug/wal" append "$WORK/native-$case" --file-size 65536 --buffer-size 4096 \
    --flush-interval-ms 0 "${flags[@]}" < "$WORK/input.jsonl" > /dev/null
  node host-web/www/drive.mjs run "identity.html$query" "$WORK/browser-$case" --input "$WORK/input.jsonl" \
    --timeout 120 || die "the identity page failed ($case; reports in $WORK/browser-$case)"
  native=$(cd "$WORK/native-$case" && ls | grep -v '^LOCK$' | sort)
  browser=$(cd "$WORK/browser-$case" && ls file-* | sed 's/^file-//' | sort)
  [ -n "$native" ] || die "the native tool wrote no segment ($case)"
  [ "$native" = "$browser" ] || die "different files ($case): native [$native] browser [$browser]"
  for f in $native; do
    cmp "$WORK/native-$case/$f" "$WORK/browser-$case/file-$f" \
      || die "$f differs between the browser and the native tool ($case)"
  done
  echo "identical ($case frames): $(echo $native | wc -w) segment files, $(cat "$WORK/native-$case"/seg* | wc -c) bytes"
done

step "browser: the crash test (SIGKILL Chromium mid-writes, start it again on the same profile)"
node host-web/www/drive.mjs run "crash.html?phase=write" "$WORK/crash-write" --profile "$WORK/profile" \
  --kill-after kill-now --timeout 120 || die "the crash test's writing run failed (reports in $WORK/crash-write)"
# The highest count the driver received before the kill.
acked=$(for f in kill-now acked; do cat "$WORK/crash-write/$f" 2>/dev/null; echo; done | sort -n | tail -1)
node host-web/www/drive.mjs run "crash.html?phase=check" "$WORK/crash-check" --profile "$WORK/profile" \
  --port "$(cat "$WORK/crash-write/port")" --timeout 120 \
  || die "the crash test's reopen failed (reports in $WORK/crash-check)"
contiguous=$(node -p "JSON.parse(require('fs').readFileSync('$WORK/crash-check/done', 'utf8')).contiguous")
echo "acknowledged through record $acked before the SIGKILL; after the restart records 0..$contiguous are there: $(cat "$WORK/crash-check/done")"
[ "$contiguous" -ge "$acked" ] || die "records $((contiguous + 1))..$acked had resolved but are gone after the crash"

step "browser: the demo page (write, rotate, read back, stats, the live chart), loaded in headless Chromium"
SHOT="${WAL_WEB_SCREENSHOT:-$WORK/demo.png}"
node --experimental-websocket host-web/www/drive.mjs run "index.html?auto=1&report=1&n=20000" "$WORK/demo" \
  --timeout 120 --screenshot "$SHOT" || die "the demo page failed (reports in $WORK/demo)"
grep -q "read back 20,000 records" "$WORK/demo/done" || die "the demo did not read back its 20,000 records: $(cat "$WORK/demo/done")"
grep -E "records durable in" "$WORK/demo/done"
echo "the demo's screenshot: $SHOT"
