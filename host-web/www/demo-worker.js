// The demo's worker: writes N records (256 in flight), reporting the
// durable write rate every 100 ms, rotates, reads every segment back, and
// sends the stats.
import init, { WebWal } from "./pkg/wal_host_web.js";

onmessage = async ({ data: { n, size } }) => {
  try {
    await init();
    await WebWal.wipe("demo");
    const wal = await WebWal.open("demo", { fileSize: 1 << 20 });
    const value = new Uint8Array(size).map((_, i) => 97 + (i % 26));
    const start = performance.now();
    let durable = 0, lastT = 0, lastN = 0;
    const tick = () => {
      const t = performance.now() - start;
      if (t - lastT >= 100) {
        postMessage({ type: "progress", t, written: durable, rate: ((durable - lastN) * 1000) / (t - lastT) });
        lastT = t;
        lastN = durable;
      }
    };
    for (let i = 0; i < n; ) {
      const batch = [];
      for (let k = 0; k < 256 && i < n; k++, i++) {
        batch.push(wal.write(BigInt(i % 16), BigInt(Date.now()) * 1000000n + BigInt(i), value).then(() => { durable++; }));
      }
      await Promise.all(batch);
      tick();
    }
    const seconds = (performance.now() - start) / 1000;
    const closed = await wal.rotate();
    let read = 0;
    for (const id of await wal.segments()) {
      for (const e of await wal.read(id)) read += e.values.length;
    }
    const stats = await wal.stats();
    await wal.close();
    postMessage({
      type: "done",
      summary: `${n.toLocaleString()} records durable in ${seconds.toFixed(2)} s ` +
        `(${Math.round(n / seconds).toLocaleString()} records/s, ${((n * size) / seconds / 1e6).toFixed(2)} MB/s); ` +
        `rotated segment ${closed.id}; read back ${read.toLocaleString()} records`,
      stats: { ...stats },
    });
  } catch (e) {
    postMessage({ type: "error", error: String((e && e.stack) || e) });
  }
};
