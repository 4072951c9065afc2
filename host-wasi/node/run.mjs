// run.mjs: run a WASI preview 1 command under Node's built-in WASI
// (`node:wasi`, which is uvwasi: a C implementation independent of
// wasmtime). The same command line as the wasmtime launcher `wasi-run`:
//
//   node --no-warnings host-wasi/node/run.mjs [--dir HOST::GUEST]... [--env K=V]... MODULE.wasm [ARGS...]
//
// Only the directories given are preopened. With no `--dir` (as when cargo
// uses this as the runner for `--target wasm32-wasip1`, through the
// `wasi-node` wrapper beside it), a fresh temporary directory is preopened
// as `/tmp` and `TMPDIR=/tmp` is set, so test binaries have somewhere to
// write; it is removed afterwards. The guest sees only the `--env`
// variables (and `TMPDIR`), not this process's environment, and its
// arguments start with the module's file name.
//
// The guest's exit code becomes this process's. A trap (V8 throws a
// `WebAssembly.RuntimeError`) prints `wasi-node: the guest trapped: ...` with
// the message and the wasm stack on stderr and exits with 134, as `wasi-run`
// does. Anything else that goes wrong (a missing or invalid module, a bad
// preopen) prints `wasi-node: ...` and exits with 1; a usage error exits
// with 64.
//
// This process's stdio is left alone: the guest reads and writes fds 0-2
// through uvwasi, and the runner writes with `writeSync`. It never touches
// `process.stdin`/`stdout`/`stderr` (nor imports `node:process`, whose
// named exports include them): creating the stdin stream puts fd 0 in
// non-blocking mode, and the guest's next read of an empty pipe then fails
// with EAGAIN ("Resource temporarily unavailable") instead of waiting.
//
// Node's WASI is not a sandbox (its documentation says so): uvwasi resolves
// guest paths inside the preopens, but that is all. Use it to test, not to
// contain untrusted guests. `--no-warnings` silences the ExperimentalWarning
// that `node:wasi` prints.

import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { WASI } from 'node:wasi';

const TRAP_EXIT = 134;
const USAGE =
  'usage: run.mjs [--dir HOST::GUEST]... [--env K=V]... MODULE.wasm [ARGS...]';

function fail(code, message) {
  writeSync(2, `wasi-node: ${message}\n`);
  process.exit(code);
}

function parse(argv) {
  const preopens = [];
  const env = {};
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dir') {
      const d = argv[++i] ?? '';
      const at = d.indexOf('::');
      if (at < 0) fail(64, `--dir takes HOST::GUEST\n${USAGE}`);
      preopens.push([d.slice(0, at), d.slice(at + 2)]);
    } else if (a === '--env') {
      const e = argv[++i] ?? '';
      const at = e.indexOf('=');
      if (at < 0) fail(64, `--env takes K=V\n${USAGE}`);
      env[e.slice(0, at)] = e.slice(at + 1);
    } else if (a === '--help' || a === '-h') {
      writeSync(1, `${USAGE}\n`);
      process.exit(0);
    } else {
      break;
    }
  }
  const module = argv[i];
  if (module === undefined) fail(64, USAGE);
  return { preopens, env, module, args: argv.slice(i + 1) };
}

async function main() {
  const { preopens, env, module, args } = parse(process.argv.slice(2));
  let compiled;
  try {
    compiled = await WebAssembly.compile(await readFile(module));
  } catch (e) {
    fail(1, `cannot load guest module ${module}: ${e.message}`);
  }
  const map = {};
  for (const [host, guest] of preopens) {
    let isDir = false;
    try {
      isDir = statSync(host).isDirectory();
    } catch (e) {
      fail(1, `cannot preopen ${host} as ${guest}: ${e.message}`);
    }
    if (!isDir) fail(1, `cannot preopen ${host} as ${guest}: not a directory`);
    map[guest] = host;
  }
  let tmp = null;
  if (preopens.length === 0) {
    tmp = mkdtempSync(join(tmpdir(), 'wasi-node-'));
    map['/tmp'] = tmp;
    env.TMPDIR = '/tmp';
  }
  let code;
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: [basename(module), ...args],
      env,
      preopens: map,
      // `proc_exit` returns its code from `start` instead of ending this
      // process, so the temporary directory is still removed.
      returnOnExit: true,
    });
    const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject());
    try {
      code = wasi.start(instance);
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      writeSync(2, `wasi-node: the guest trapped: ${e.stack ?? e}\n`);
      code = TRAP_EXIT;
    }
  } finally {
    if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
  }
  process.exitCode = code;
}

main().catch((e) => fail(1, e?.stack ?? String(e)));
