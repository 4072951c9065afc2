// Byte identity: the driver's input through WebWal with the options of
// `wal append --file-size 65536 --buffer-size 4096 --flush-interval-ms 0`
// (and `--no-compression` with ?compression=0),
// closed, reopened, and every WAL file exported to the driver
// (report file-NAME), to be compared with the native tool's files.
import init, { WebWal } from "./pkg/wal_host_web.js";
import { report, parseInput, guarded } from "./common.js";

// ?compression=0: as `wal append --no-compression`.
const compression = new URLSearchParams(self.location.search).get("compression") !== "0";
const options = { fileSize: 65536, bufferSize: 4096, flushIntervalMs: null, compression };

guarded(async () => {
  await init();
  const records = parseInput(await (await fetch("/input.jsonl")).text());
  await WebWal.wipe("identity");
  let wal = await WebWal.open("identity", options);
  const writes = records.map((r) => wal.write(r.series, r.ts, r.value));
  await wal.close();
  await Promise.all(writes);
  wal = await WebWal.open("identity", options);
  const files = await wal.exportFiles();
  await wal.close();
  for (const f of files) await report(`file-${f.name}`, f.bytes);
  postMessage(`${records.length} records, ${files.length} files exported`);
  await report("done", String(files.length));
});
