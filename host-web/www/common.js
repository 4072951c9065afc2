// What the test pages' workers share: reporting to the driver (POST
// /report/NAME, see drive.mjs) and the JSON-lines input of `wal append`
// (series_id and timestamp as BigInts: nanosecond timestamps pass 2^53).
export async function report(name, body) {
  await fetch(`/report/${name}`, { method: "POST", body });
}

const LINE = /^\{"series_id": (\d+), "timestamp": (-?\d+), "value_hex": "([0-9a-f]*)"\}$/;

export function parseInput(text) {
  return text.split("\n").filter((l) => l).map((line) => {
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a canonical input line: ${line}`);
    const bytes = new Uint8Array(m[3].length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(m[3].substr(2 * i, 2), 16);
    return { series: BigInt(m[1]), ts: BigInt(m[2]), value: bytes };
  });
}

export async function guarded(main) {
  try {
    await main();
  } catch (e) {
    await report("error", String((e && e.stack) || e));
  }
}
