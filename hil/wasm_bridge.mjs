// Virtual "wasm" board: MicroPython (WebAssembly build) behind stdin/stdout, so that
// `socat PTY,link=<path>,raw,echo=0 EXEC:"node wasm_bridge.mjs"` makes it a serial port.
//
// The interpreter runs in a worker thread (wasm_worker.mjs); this main thread only moves
// bytes between stdin/stdout and two shared-memory rings, and supervises the worker:
//
//  * stdin -> input ring. A Ctrl-C (0x03) also records its ring position in INTR_POS;
//    the worker turns it into a KeyboardInterrupt at its next hook (print, time.*),
//    like a UART interrupt would, and skips the byte when it reaches it.
//  * If the worker is still in the replProcessChar() call that was running when a Ctrl-C
//    arrived, --intr-deadline ms later (a pure compute loop never reaches a hook, and
//    time.sleep() busy-waits), the worker is killed and re-created: a hard reset, the
//    board boots to its banner.
//  * SIGUSR1 from the host: hard reset (the profile's "worker" reset method).
//  * Files the program writes are mirrored here (the worker posts them when idle), so
//    they survive a hard reset like flash on a real board. RAM does not.
//  * stdin closed (socat gone): stop the worker and exit.
//
// Flags: --heap BYTES (MicroPython heap, default 1 MiB), --intr-deadline MS (default
// 500), --pidfile PATH (write our pid, for SIGUSR1).

import { Worker } from "node:worker_threads";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { RING, CTRL_SLOTS, C } from "./wasm_ring.mjs";

const here = dirname(fileURLToPath(import.meta.url));

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const heapsize = parseInt(flag("--heap", String(1 << 20)), 10);
const intrDeadlineMs = parseInt(flag("--intr-deadline", "500"), 10);
const pidfile = flag("--pidfile", "");
if (pidfile) writeFileSync(pidfile, String(process.pid));

const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
const inRing = new Uint8Array(new SharedArrayBuffer(RING));
const outRing = new Uint8Array(new SharedArrayBuffer(RING));
Atomics.store(ctrl, C.INTR_POS, -1);
Atomics.store(ctrl, C.SKIP_POS, -1);

const files = new Map(); // path -> Uint8Array: the board's "flash"
let worker = null;
let stopping = false;
let generation = 0;
let intrSince = 0; // when a Ctrl-C arrived while the worker was busy (0: none)
let intrCalls = 0; // the worker's CALLS counter at that moment

function startWorker() {
  generation += 1;
  const gen = generation;
  // A reset loses whatever input was still queued, like a UART ring on a real board.
  Atomics.store(ctrl, C.IN_R, Atomics.load(ctrl, C.IN_W));
  Atomics.store(ctrl, C.INTR_POS, -1);
  Atomics.store(ctrl, C.SKIP_POS, -1);
  Atomics.store(ctrl, C.BUSY, 0);
  worker = new Worker(join(here, "wasm_worker.mjs"), {
    workerData: {
      ctrl: ctrl.buffer,
      inRing: inRing.buffer,
      outRing: outRing.buffer,
      heapsize,
      files: Array.from(files.entries()),
    },
  });
  worker.on("message", (msg) => {
    if (msg.type === "fs") {
      for (const [path, data] of msg.changed) files.set(path, data);
      for (const path of msg.removed) files.delete(path);
    }
  });
  worker.on("error", (err) => {
    process.stderr.write("wasm worker error: " + (err && err.stack ? err.stack : err) + "\n");
  });
  worker.on("exit", () => {
    // An unexpected exit (crash, abort) is a power cycle: boot again.
    if (!stopping && gen === generation) setTimeout(hardReset, 10);
  });
}

function hardReset() {
  if (stopping) return;
  const old = worker;
  generation += 1; // the old worker's exit must not trigger another reset
  if (old) old.terminate();
  startWorker();
}

// ---------------------------------------------------------------- stdin -> input ring
const pending = []; // bytes that did not fit in the ring yet
function pushInput() {
  let w = Atomics.load(ctrl, C.IN_W);
  const r = Atomics.load(ctrl, C.IN_R);
  let n = 0;
  while (pending.length && ((w - r) | 0) < RING) {
    const b = pending.shift();
    if (b === 0x03) {
      Atomics.store(ctrl, C.INTR_POS, w);
      if (!intrSince && Atomics.load(ctrl, C.BUSY)) {
        intrSince = Date.now();
        intrCalls = Atomics.load(ctrl, C.CALLS);
      }
    }
    inRing[w & (RING - 1)] = b;
    w = (w + 1) | 0;
    n += 1;
  }
  if (n) {
    Atomics.store(ctrl, C.IN_W, w);
    Atomics.notify(ctrl, C.IN_W);
  }
  if (pending.length) setTimeout(pushInput, 2);
}
process.stdin.on("data", (buf) => {
  for (const b of buf) pending.push(b);
  pushInput();
});
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);

// --------------------------------------------------------------- output ring -> stdout
async function pumpOutput() {
  let r = Atomics.load(ctrl, C.OUT_R);
  while (!stopping) {
    const w = Atomics.load(ctrl, C.OUT_W);
    if (w !== r) {
      const n = (w - r) | 0;
      const chunk = Buffer.alloc(n);
      for (let i = 0; i < n; i++) chunk[i] = outRing[(r + i) & (RING - 1)];
      r = w;
      Atomics.store(ctrl, C.OUT_R, r);
      Atomics.notify(ctrl, C.OUT_R);
      process.stdout.write(chunk);
      continue;
    }
    const res = Atomics.waitAsync(ctrl, C.OUT_W, w, 200);
    if (res.async) await res.value;
  }
}

// ----------------------------------------------------------- Ctrl-C deadline watchdog
setInterval(() => {
  if (!intrSince) return;
  // The call that was running when Ctrl-C came has finished: no action needed.
  if (!Atomics.load(ctrl, C.BUSY) || Atomics.load(ctrl, C.CALLS) !== intrCalls) {
    intrSince = 0;
    return;
  }
  // Still in that same call after the deadline: the program ignores Ctrl-C (a pure
  // compute loop never reaches a hook; time.sleep() busy-waits without checking).
  if (Date.now() - intrSince > intrDeadlineMs) {
    intrSince = 0;
    hardReset();
  }
}, 50).unref();

process.on("SIGUSR1", hardReset);
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.on("SIGHUP", shutdown);

function shutdown() {
  if (stopping) return;
  stopping = true;
  if (worker) worker.terminate();
  // Let stdout flush, then leave.
  setTimeout(() => process.exit(0), 50);
}

startWorker();
pumpOutput();
