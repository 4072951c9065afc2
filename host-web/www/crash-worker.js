// The crash test's page (see host-web/browser.sh). ?phase=write: writes
// without end, 64 in flight, reporting the highest record whose Promise
// resolved (report `acked`; `kill-now` the first time it passes 3000),
// still writing while the driver SIGKILLs Chromium. ?phase=check,
// on the same profile: reopens and reports (`done`) what recovery found
// and the longest run of records 0, 1, 2, ... present.
import init, { WebWal } from "./pkg/wal_host_web.js";
import { report, guarded } from "./common.js";

const options = { fileSize: 65536, bufferSize: 1024, flushIntervalMs: 2 };
const phase = new URLSearchParams(self.location.search).get("phase");
const value = (i) => new TextEncoder().encode(`record ${i} ${"y".repeat(i % 40)}`);

guarded(async () => {
  await init();
  if (phase === "write") {
    await WebWal.wipe("crash");
    const wal = await WebWal.open("crash", options);
    let acked = -1;
    let asked = false;
    // One report in flight at a time (a pile of them would reach the
    // driver long after the writes they count): the latest count, named
    // `kill-now` the first time it passes 3000.
    let sending = false;
    const tell = () => {
      if (sending) return;
      sending = true;
      const name = !asked && acked >= 3000 ? "kill-now" : "acked";
      asked ||= name === "kill-now";
      report(name, String(acked)).finally(() => { sending = false; });
    };
    for (let i = 0; ; ) {
      const batch = [];
      for (let k = 0; k < 64; k++, i++) {
        const n = i;
        batch.push(wal.write(BigInt(n % 7), BigInt(n), value(n)).then(() => { acked = Math.max(acked, n); }));
      }
      await Promise.all(batch);
      tell(); // not awaited: the writes go on while reports (and the kill) travel

    }
  } else if (phase === "check") {
    const wal = await WebWal.open("crash", options);
    const seen = new Set();
    for (const e of await wal.replay()) {
      for (const ts of e.timestamps) seen.add(Number(ts));
    }
    let run = 0;
    while (seen.has(run)) run++;
    const result = { recovery: wal.recovery, records: seen.size, contiguous: run - 1 };
    await wal.close();
    postMessage(JSON.stringify(result));
    await report("done", JSON.stringify(result));
  } else {
    throw new Error(`unknown phase ${phase}`);
  }
});
