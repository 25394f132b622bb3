// Interpreter thread of the virtual "wasm" board (see wasm_bridge.mjs).
//
// Feeds the REPL one byte per replProcessChar() call (the REPL needs every byte, and the
// default line-buffered stdout would drop the partial prompt lines the raw REPL uses,
// hence linebuffer: false). Emulates what this build of MicroPython does not do itself:
//
//  * Ctrl-C while a program runs: the bridge records the byte's ring position; the
//    hooks below (stdout writes and Date.now(), which time.* calls) raise
//    KeyboardInterrupt through mp_sched_keyboard_interrupt(), and the byte is skipped
//    when the input loop reaches it. Outside a program it is an ordinary REPL byte.
//  * Soft reset: Ctrl-D on an empty line makes replProcessChar() return
//    PYEXEC_FORCED_EXIT and nothing else happens here; we start a fresh interpreter,
//    keep the files, print what a board prints and go back to the raw REPL if we were in it.
//  * Raw-paste probe (Ctrl-E at the start of a raw REPL line): this build hangs in it, so
//    the byte is dropped and the board answers like MicroPython 1.9.2 (no raw-paste).
//  * Files: the in-memory VFS is mirrored to the main thread when idle, so it survives a
//    hard reset (worker re-created) like flash.

import { workerData, parentPort } from "node:worker_threads";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { RING, C } from "./wasm_ring.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const modulePath =
  process.env.NEUROTILE_WASM_MODULE ||
  join(here, "node", "node_modules", "@micropython", "micropython-webassembly-pyscript",
       "micropython.mjs");
const { loadMicroPython } = await import(pathToFileURL(modulePath).href);

const ctrl = new Int32Array(workerData.ctrl);
const inRing = new Uint8Array(workerData.inRing);
const outRing = new Uint8Array(workerData.outRing);
const heapsize = workerData.heapsize;
const PYEXEC_FORCED_EXIT = 0x100;

let mp = null; // the interpreter (loadMicroPython's result)
let M = null; // its emscripten module
let muted = false; // drop interpreter output (while we print what a board would)
let executing = false; // inside replProcessChar() for a byte that runs code
let rawMode = false; // in the raw REPL (entered with Ctrl-A, left with Ctrl-B)
let lineEmpty = true; // nothing typed on the current raw REPL line yet
const realNow = Date.now.bind(Date);

// ------------------------------------------------------------------------- output
function putByte(c) {
  for (;;) {
    const w = Atomics.load(ctrl, C.OUT_W);
    const r = Atomics.load(ctrl, C.OUT_R);
    if (((w - r) | 0) < RING) {
      outRing[w & (RING - 1)] = c;
      Atomics.store(ctrl, C.OUT_W, (w + 1) | 0);
      Atomics.notify(ctrl, C.OUT_W);
      return;
    }
    Atomics.wait(ctrl, C.OUT_R, r, 50); // ring full: the host is slow to read
  }
}
function putStr(s) {
  for (const c of Buffer.from(s, "latin1")) putByte(c);
}

// ---------------------------------------------------------------- Ctrl-C delivery
// Is a program running right now? This build's event-driven REPL never sets the
// interrupt char, so mp_hal_get_interrupt_char() cannot tell; we track it ourselves.
// Raw REPL: between the "OK" that acknowledges Ctrl-D and the first 0x04 of the reply.
// Friendly REPL: inside an Enter that has run for 20 ms or more, and only from
// Date.now() (stdout there is mostly echo and prompts). An interrupt scheduled while
// nothing runs would stay pending and hit the next program, so these are strict.
let running = false; // raw REPL program between "OK" and its first 0x04
let callStart = 0; // when the current replProcessChar() call began
let lastOut = 0; // previous output byte (to spot "OK")
function trackOutput(c) {
  if (!executing || !rawMode) return;
  if (!running && lastOut === 0x4f && c === 0x4b) running = true; // "OK"
  else if (running && c === 4) running = false;
  lastOut = c;
}

function checkInterrupt(fromStdout) {
  if (!M) return;
  const pos = Atomics.load(ctrl, C.INTR_POS);
  if (pos === -1) return;
  if (rawMode ? !running : !executing || fromStdout || realNow() - callStart < 20) return;
  if (Atomics.compareExchange(ctrl, C.INTR_POS, pos, -1) !== pos) return;
  Atomics.store(ctrl, C.SKIP_POS, pos);
  M._mp_sched_keyboard_interrupt();
}
Date.now = () => {
  checkInterrupt(false);
  return realNow();
};

// ---------------------------------------------------------------------- files
let posted = new Map(); // path -> Uint8Array last sent to the main thread

function listFiles(FS, dir = "/", found = new Map()) {
  for (const name of FS.readdir(dir)) {
    if (name === "." || name === "..") continue;
    const path = dir === "/" ? "/" + name : dir + "/" + name;
    if (path === "/dev" || path === "/proc") continue;
    const st = FS.stat(path);
    if (FS.isDir(st.mode)) listFiles(FS, path, found);
    else if (FS.isFile(st.mode)) found.set(path, FS.readFile(path));
  }
  return found;
}

function syncFiles() {
  const now = listFiles(M.FS);
  const changed = [];
  for (const [path, data] of now) {
    const old = posted.get(path);
    if (!old || Buffer.compare(Buffer.from(old), Buffer.from(data)) !== 0) changed.push([path, data]);
  }
  const removed = [...posted.keys()].filter((p) => !now.has(p));
  if (changed.length || removed.length) parentPort.postMessage({ type: "fs", changed, removed });
  posted = now;
}

function restoreFiles(FS, entries) {
  for (const [path, data] of entries) {
    const parts = path.split("/").filter(Boolean);
    let dir = "";
    for (const part of parts.slice(0, -1)) {
      dir += "/" + part;
      try {
        FS.mkdir(dir);
      } catch (err) {
        // exists already
      }
    }
    FS.writeFile(path, data);
  }
}

// -------------------------------------------------------------------- booting
async function boot(entries, quiet) {
  muted = quiet;
  mp = await loadMicroPython({
    stdout: (bytes) => {
      for (const c of bytes) {
        trackOutput(c);
        checkInterrupt(true);
        if (!muted) putByte(c);
      }
    },
    linebuffer: false,
    heapsize,
  });
  M = mp._module;
  restoreFiles(M.FS, entries);
  posted = new Map(entries.map(([p, d]) => [p, d]));
  mp.replInit(); // prints the banner and ">>> " unless muted
  muted = false;
}

async function softReset() {
  const entries = Array.from(listFiles(M.FS).entries());
  putStr("MPY: soft reboot\r\n");
  if (rawMode) {
    await boot(entries, true);
    muted = true;
    mp.replProcessChar(1); // Ctrl-A: back into the raw REPL, as a board does
    muted = false;
    putStr("raw REPL; CTRL-B to exit\r\n>");
    lineEmpty = true;
  } else {
    await boot(entries, false);
  }
}

// ---------------------------------------------------------------- input loop
await boot(workerData.files, false);
let maybeDirty = false;
for (;;) {
  const w = Atomics.load(ctrl, C.IN_W);
  let r = Atomics.load(ctrl, C.IN_R);
  if (r === w) {
    if (maybeDirty) {
      maybeDirty = false;
      syncFiles();
    }
    Atomics.wait(ctrl, C.IN_W, w, 1000);
    continue;
  }
  const pos = r;
  const c = inRing[pos & (RING - 1)];
  Atomics.store(ctrl, C.IN_R, (pos + 1) | 0);
  if (pos === Atomics.load(ctrl, C.SKIP_POS)) {
    Atomics.store(ctrl, C.SKIP_POS, -1); // this Ctrl-C was delivered as an interrupt
    continue;
  }
  // Reached a Ctrl-C that no program took: it is an ordinary REPL byte now.
  Atomics.compareExchange(ctrl, C.INTR_POS, pos, -1);
  if (c === 0x05 && rawMode && lineEmpty) continue; // raw-paste probe: not offered
  Atomics.store(ctrl, C.BUSY, 1);
  // Ctrl-D runs a raw REPL line, Enter a friendly one (or continues a block).
  executing = c === 4 || c === 13;
  lastOut = 0;
  callStart = realNow();
  Atomics.add(ctrl, C.CALLS, 1);
  const ret = mp.replProcessChar(c);
  executing = running = false;
  Atomics.store(ctrl, C.BUSY, 0);
  if (c === 1) {
    rawMode = true;
    lineEmpty = true;
  } else if (c === 2) {
    rawMode = false;
  } else if (c === 3 || c === 4) {
    lineEmpty = true;
  } else {
    lineEmpty = false;
  }
  if (c === 4 || c === 13) maybeDirty = true;
  if (ret & PYEXEC_FORCED_EXIT) await softReset();
}
