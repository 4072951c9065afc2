// Drives a page of this folder in headless Chromium and collects what it
// reports (POST /report/NAME), for host-web/browser.sh:
//
//   node drive.mjs input N SEED > input.jsonl     a deterministic workload
//   node drive.mjs run PAGE OUT [--input F] [--profile DIR] [--kill-after NAME]
//                  [--port N] [--timeout S] [--screenshot FILE]
//
// `run` serves this folder on 127.0.0.1, starts Chromium on
// http://127.0.0.1:PORT/PAGE with the profile DIR (--user-data-dir: the
// OPFS lives there), stores every report in OUT, and ends when the page
// reports `done` (exit 0) or `error` (exit 1), or when the timeout passes
// (exit 2). --kill-after NAME: SIGKILL Chromium (its whole process group:
// browser, renderers, helpers) as soon as report NAME arrives (the crash
// test), then exit 0. Chromium is always killed on exit.
// The OPFS is per origin, port included: a second run that must see the
// first one's files passes the port the first wrote to OUT/port.
// --screenshot FILE: once the page reports `done`, save a PNG of it
// (through the DevTools protocol; Node 20 needs --experimental-websocket).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { serve } from "./serve.mjs";

const [cmd, ...rest] = process.argv.slice(2);

if (cmd === "input") {
  const [n, seed] = rest.map(Number);
  let x = BigInt(seed) | 1n;
  const mask = (1n << 64n) - 1n;
  const next = () => {
    x ^= (x << 13n) & mask; x ^= x >> 7n; x ^= (x << 17n) & mask;
    return x;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = Number(next() % 301n);
    const noisy = next() % 2n === 0n;
    let hex = "";
    for (let j = 0; j < len; j++) {
      const b = noisy ? Number(next() & 0xffn) : "cpu=0.42 mem=17 ".charCodeAt(j % 16);
      hex += b.toString(16).padStart(2, "0");
    }
    const series = next() % 50n;
    out.push(`{"series_id": ${series}, "timestamp": ${1700000000000000000n + BigInt(i)}, "value_hex": "${hex}"}`);
  }
  process.stdout.write(out.join("\n") + "\n");
  process.exit(0);
}

if (cmd !== "run") {
  console.error("usage: node drive.mjs input N SEED | run PAGE OUT [options]");
  process.exit(64);
}

const [page, out, ...flags] = rest;
const opt = (name, dflt) => {
  const i = flags.indexOf(name);
  return i >= 0 ? flags[i + 1] : dflt;
};
const timeout = Number(opt("--timeout", "120"));
const killAfter = opt("--kill-after", null);
const input = opt("--input", null);
const screenshot = opt("--screenshot", null);
const profile = opt("--profile", fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "wal-web-profile-")));
fs.mkdirSync(out, { recursive: true });

let chrome = null;
// Chromium runs in a process group of its own: a kill takes the browser,
// its renderers (where the worker writes) and its helpers at once.
const killAll = () => {
  try {
    process.kill(-chrome.pid, "SIGKILL");
  } catch {
    // already gone
  }
};
const finish = (code, why) => {
  if (why) console.error(`drive: ${page}: ${why}`);
  if (chrome) killAll();
  process.exit(code);
};

const server = await serve({
  port: Number(opt("--port", "0")),
  extra: input ? { "/input.jsonl": path.resolve(input) } : {},
  reports: out,
  onReport: (name, body) => {
    if (name === "log") process.stderr.write(`page: ${body}\n`);
    if (name === killAfter) {
      chrome.on("exit", () => finish(0, null));
      killAll();
    } else if (name === "error") finish(1, `the page failed: ${body}`);
    else if (name === "done" && screenshot) capture().then(() => finish(0, null), (e) => finish(1, `screenshot: ${e}`));
    else if (name === "done") finish(0, null);
  },
});
fs.writeFileSync(path.join(out, "port"), String(server.address().port));
const url = `http://127.0.0.1:${server.address().port}/${page}`;
const args = [
  "--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
  "--no-first-run", "--disable-dev-shm-usage", `--user-data-dir=${profile}`,
];
if (screenshot) args.push("--remote-debugging-port=0", "--window-size=1000,900");
chrome = spawn(process.env.CHROMIUM ?? "chromium", [...args, url], { stdio: ["ignore", "ignore", "pipe"], detached: true });
let stderr = "";
let devtools = null;
chrome.stderr.on("data", (d) => {
  stderr = (stderr + d).slice(-4000);
  devtools ??= /DevTools listening on ws:\/\/([^/]+)\//.exec(stderr)?.[1];
});

/** Saves a PNG of the page through the DevTools protocol. */
async function capture() {
  if (!devtools) throw new Error("Chromium printed no DevTools address");
  if (typeof WebSocket === "undefined") throw new Error("no WebSocket in this Node (run it with --experimental-websocket)");
  const targets = await (await fetch(`http://${devtools}/json/list`)).json();
  const target = targets.find((t) => t.type === "page");
  if (!target) throw new Error("no page target");
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = () => fail(new Error("cannot connect to the page")); });
  const png = await new Promise((ok, fail) => {
    ws.onmessage = (m) => {
      const reply = JSON.parse(m.data);
      if (reply.id === 1) reply.result ? ok(reply.result.data) : fail(new Error(JSON.stringify(reply.error)));
    };
    ws.send(JSON.stringify({ id: 1, method: "Page.captureScreenshot", params: { format: "png" } }));
  });
  fs.writeFileSync(screenshot, Buffer.from(png, "base64"));
  ws.close();
}
chrome.on("exit", (code, signal) => {
  if (signal !== "SIGKILL") finish(3, `Chromium exited (${code ?? signal}) before the page was done:\n${stderr}`);
});
setTimeout(() => finish(2, `no report after ${timeout} s (reports so far: ${fs.readdirSync(out).join(", ")})`), timeout * 1000);
