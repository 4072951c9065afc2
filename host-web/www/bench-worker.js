// The browser side of host-web/bench.sh: the driver's input (parsed
// first, not timed) written with `wal append`'s defaults (64 MiB segments,
// 16 KiB buffers, 10 ms flush interval, sync always, snappy), every write
// issued at once, timed from the first write to the close that makes them
// all durable; `runs` times (?runs=N), each on a fresh WAL; ?compression=0
// stores frames raw, ?sync=never syncs only at close.
import init, { WebWal } from "./pkg/wal_host_web.js";
import { report, parseInput, guarded } from "./common.js";

guarded(async () => {
  await init();
  const params = new URLSearchParams(self.location.search);
  const runs = Number(params.get("runs") ?? 3);
  const compression = params.get("compression") !== "0";
  const sync = params.get("sync") ?? "always";
  const records = parseInput(await (await fetch("/input.jsonl")).text());
  const bytes = records.reduce((n, r) => n + r.value.length, 0);
  const seconds = [];
  for (let run = 0; run < runs; run++) {
    await WebWal.wipe("bench");
    const wal = await WebWal.open("bench", { compression, sync });
    const t0 = performance.now();
    const writes = records.map((r) => wal.write(r.series, r.ts, r.value));
    await wal.close();
    await Promise.all(writes);
    seconds.push((performance.now() - t0) / 1000);
  }
  const result = { records: records.length, bytes, seconds };
  postMessage(JSON.stringify(result));
  await report("done", JSON.stringify(result));
});
