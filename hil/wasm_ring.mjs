// Layout shared by wasm_bridge.mjs (main thread) and wasm_worker.mjs (interpreter).
// Ring indices are free-running int32 counters; a byte lives at index & (RING - 1).

export const RING = 1 << 16; // bytes per ring (power of two)

export const C = {
  IN_W: 0, // input ring: next write index (main thread)
  IN_R: 1, // input ring: next read index (worker)
  OUT_W: 2, // output ring: next write index (worker)
  OUT_R: 3, // output ring: next read index (main thread)
  BUSY: 4, // 1 while the worker is inside replProcessChar()
  INTR_POS: 5, // input index of a pending Ctrl-C, or -1
  SKIP_POS: 6, // input index of a Ctrl-C already delivered as KeyboardInterrupt, or -1
  CALLS: 7, // replProcessChar() calls started (the bridge's watchdog sees progress)
};
export const CTRL_SLOTS = 8;
