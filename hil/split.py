"""Split mode (SPEC section 19): chip images on boards too small for the image loader
and the sequencer, such as the BBC micro:bit v1 (~9.5 KB of heap).

The work is split the way a chip splits it between its controller and its tiles:

    host (CPython)                              board (firmware/nt_new.py, nt_til.py)
    nt_img.load: header, CRC, sections
    tile records, weights   -- nt_new.mk tl wt done -->  tiles, weights; builder dropped
                            -- nt_til.go -->  noise, cores (after the imports)
    nt_seq: program, phase 1  -- nt_til.step(tk, inputs) -->  phases 2-4 (cores,
      (run inject play loop                                   probes, STDP) and
       jmp mark)              <-- fired, probes, hash --       the state hash
    nt_rtr: phase 5 (router)
    learn setw reward reset   -- nt_til.op -->  nt_op.do on the board's tiles
    final state               -- nt_til.rd, a slice at a time -->  w, v, u, counters

The host runs the very firmware modules the reference backend runs (nt_img, nt_seq,
nt_rtr, nt_op); the board runs nt_til and the cores. Every value the trace holds about a
tile (spikes, probe values, state hashes, final weights, v and u, the counters) is
computed on the board; the host computes the input schedule and the packets, as a real
chip's controller and mesh would. The comparison with the emulator is therefore a test
of the board's cores, learning and state, tick by tick.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from emulator import isa

from .protocol import BoardError, BoardTimeout, RemoteError
from .runner import ChipBoard, program_need

__all__ = ["SplitChipBoard", "SPLIT_ENTRY"]

#: Board-side entry module of split mode.
SPLIT_ENTRY = "nt_til"

_CORE_TDMAC = isa.CORE_TDMAC
_NO_ARRIVAL = isa.NO_ARRIVAL
_HOST_OPS = (isa.BY_MNEMONIC["play"].opcode, isa.BY_MNEMONIC["mark"].opcode)  # run on the host
_EVENT_TAGS = {"inp": "i", "spike": "s", "probe": "p", "pkt": "k", "mark": "m", "tick": "t"}


class _Tagged:
    """Recorder for the host's sequencer: the tagged event tuples of nt_brd.run."""

    def __init__(self) -> None:
        self.events: List[tuple] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        tag = _EVENT_TAGS.get(name)
        if tag is None:
            raise AttributeError(name)
        return lambda *a: self.events.append((tag,) + a)


class SplitChipBoard(ChipBoard):
    """:class:`ChipBoard` in split mode: same API (deploy, load, run, trace), same
    capacity check and recovery; the host holds the sequencer and the router."""

    entry = SPLIT_ENTRY
    split = True

    def __init__(self, board, **kwargs: Any):
        if kwargs.get("preload") is None and hasattr(board, "session"):
            kwargs["preload"] = ()  # set per image: every module it needs (see _preload_for)
        super().__init__(board, **kwargs)
        self.host = None  # the host's chip record (nt_img.load), sequencer state included
        self._run_time: List[str] = []  # modules imported after the tiles are built
        self._good_orders: Dict[frozenset, Tuple[str, ...]] = {}  # see _import_orders

    # ------------------------------------------------------------ capacity, deploy
    def _preload_for(self, image: bytes, hashing: bool) -> None:
        """On a serial board only the tile builder (nt_new) is imported at each soft
        reset; once the tiles are built and the builder's code dropped, the run-time
        modules are imported outside any RPC call (the micro:bit cannot hold the builder
        and the run-time modules at once). See :meth:`_import_orders`."""
        if not hasattr(self.board, "session"):
            return
        from .minify import minify

        files = self.firmware_files(image, hashing)
        self._run_time = sorted((n[:-3] for n in files if n != "nt_new.py"),
                                key=lambda n: (len(minify(files[n + ".py"])), n))
        preload = ("nt_new",)
        if preload != self.preload:
            self.preload = preload
            self._fresh = True

    def _import_orders(self) -> List[Tuple[str, ...]]:
        """Orders to try importing the run-time modules in. Whether a module compiles
        between the tiles' arrays depends on where the arrays left room, not only on
        how much: measured on the micro:bit, TD-MAC loads only in one order and LIF
        only in another. So the last order that worked for these modules comes first,
        then smallest first, biggest first, and each module moved to the front."""
        up = tuple(self._run_time)
        orders = [self._good_orders.get(frozenset(up)), up, up[::-1]]
        orders += [(m,) + tuple(x for x in up if x != m) for m in up]
        seen: List[Tuple[str, ...]] = []
        for o in orders:
            if o and o not in seen:
                seen.append(o)
        return seen[:6]

    def _need(self, image: bytes, hashing: bool) -> Dict[str, Any]:
        return split_need(image, hashing)

    def capacity(self) -> Dict[str, Any]:
        """As :meth:`ChipBoard.capacity`, but the profile's heap budget is not lowered to
        the free heap of the handshake: that is measured with other code resident (the
        dispatcher compiled from text) and split mode's budget already counts the code
        (see :func:`split_need`). Without a profile budget, the handshake's figure."""
        cap = super().capacity()
        budget = (self.profile.capacity or {}).get("heap")
        if budget is not None:
            cap["heap"] = int(budget)
        return cap

    def _what_needs_heap(self, need: Dict[str, Any], detail: bool = False) -> str:
        text = "firmware code ~%d B + tile state ~%d B" % (need["heap_code"], need["heap_data"])
        if detail:
            text += "; modules %s" % " ".join(m[:-3] for m in need["modules"])
        return text

    def load(self, image: bytes, seed: Optional[int] = None, hashing: bool = False,
             progress: Optional[Callable[[int, int], None]] = None, deploy: bool = True) -> Dict[str, Any]:
        self._preload_for(bytes(image), hashing)
        return super().load(image, seed, hashing, progress, deploy)

    # ------------------------------------------------------------ load
    def _load_on_board(self, progress: Optional[Callable[[int, int], None]] = None):
        import firmware  # noqa: F401  (the firmware folder on sys.path)
        import nt_img
        import nt_seq

        try:
            c = nt_img.load(self.image, self.seed)
        except ValueError as exc:
            raise BoardError(str(exc)) from None
        nt_seq.start(c)
        c.tt = self._tiles
        c.do = self._op
        self.host = c
        if not hasattr(self.board, "import_modules"):  # in-process board: no memory limits
            self._build(c, progress)
            return self._call("go"), c.T
        orders = self._import_orders()
        for k, order in enumerate(orders):
            if k:
                self._restarting = True
                try:
                    self.board.soft_reset(self.preload)
                finally:
                    self._restarting = False
                self._lost = False  # our own reset, not the board's
            self._build(c, progress)
            try:
                self.board.import_modules(order)
                free = self._call("go")
            except (BoardError, RemoteError) as exc:
                if "MemoryError" not in str(exc):
                    raise
                if k == len(orders) - 1:
                    raise RemoteError("import", "MemoryError(%r)" % (
                        "%d orders of %s tried, none fits; last: %s"
                        % (len(orders), " ".join(order), str(exc)[-120:]),)) from None
                self.stats["import_retries"] = self.stats.get("import_retries", 0) + 1
                continue
            finally:
                # the builder is gone until the next soft reset where the port has no
                # sys.modules (1.9.2): the next load starts with one
                self._fresh = bool(self.preload)
            self._good_orders[frozenset(order)] = order
            return free, c.T
        raise AssertionError("unreachable")

    def _build(self, c, progress: Optional[Callable[[int, int], None]]) -> None:
        """The chip's tiles on the board (nt_new.mk, tl, wt), then the builder dropped."""
        self.board.call("nt_new.mk", len(c.tiles), c.K, c.f, c.seed, list(c.pr))
        total = sum(len(t.w) for t in c.tiles if t is not None)
        sent = 0
        # short requests: long transient strings between the tiles' arrays fragment a
        # small heap (the micro:bit then cannot compile the run-time modules)
        step = min(self._put_chunk, 32)
        for ti, t in enumerate(c.tiles):
            if t is None:
                continue
            self.board.call("nt_new.tl", ti, list(t.p), list(t.sp) if t.sp is not None else None)
            w = bytes(x & 255 for x in t.w)
            for o in range(0, len(w), step):
                self.board.call("nt_new.wt", ti, o, w[o:o + step].hex())
                sent += len(w[o:o + step])
                if progress is not None:
                    progress(sent, total)
        self.board.call("nt_new.done")

    # ------------------------------------------------------------ run
    def _chunk(self) -> int:
        return self.chunk_ticks or 8  # one board call per tick in any case

    def _run_ticks(self, want: int, timeout: float):
        """``want`` ticks of the host's sequencer; each tick is one board call with its
        own timeout (``timeout``, meant for one call of ``want`` ticks, is not used)."""
        import nt_seq

        out = _Tagged()
        got = nt_seq.run(self.host, want, out, self.hashing)
        return got, out.events

    def _tiles(self, c, tk: int, hashing: bool):
        """Phases 2-4 of tick tk on the board: the inputs the host's phase 1 and router
        left in its tiles' buffers go to the board; the fired lists, probe values and
        state hash come back (nt_til.tiles' result)."""
        inputs: List[int] = []
        for ti, t in enumerate(c.tiles):
            if t is None:
                continue
            if t.core == _CORE_TDMAC:
                buf, empty = t.arr, _NO_ARRIVAL
            else:
                buf, empty = t.cnt, 0
            for k in range(t.A):
                if buf[k] != empty:
                    inputs += (ti, k, buf[k])
                    buf[k] = empty
        reply = self._call("step", tk, inputs, 1 if hashing else 0, timeout=self._tick_timeout(1))
        return self._check_step(c, tk, reply, hashing)

    def _check_step(self, c, tk: int, reply: Any, hashing: bool):
        bad = "board %s sent a malformed step reply at tick %d: %%s" % (self.profile.name, tk)
        if not (isinstance(reply, (list, tuple)) and len(reply) == 3):
            raise BoardError(bad % repr(reply)[:80])
        fl, probes, h = reply
        if not isinstance(fl, list) or len(fl) != len(c.tiles):
            raise BoardError(bad % "fired lists for %r tiles, the image has %d" % (
                len(fl) if isinstance(fl, list) else fl, len(c.tiles)))
        for t, f in zip(c.tiles, fl):
            if (t is None) != (f is None) or (f is not None and not all(isinstance(x, int) for x in f)):
                raise BoardError(bad % "fired list %r" % (f,))
        if not isinstance(probes, list) or len(probes) != len(c.pr):
            raise BoardError(bad % "%r probe values, expected %d" % (probes, len(c.pr)))
        if not isinstance(h, int) or (h < 0) == bool(hashing):
            raise BoardError(bad % "state hash %r" % (h,))
        return fl, probes, h

    def _op(self, c, op: int, a, out) -> None:
        """The rare instructions: play and mark on the host, the others on the board."""
        if op in _HOST_OPS:
            import nt_op

            nt_op.do(c, op, a, out)
        else:
            self._call("op", op, list(a))

    # ------------------------------------------------------------ final state
    def _final(self):
        """The board's final state (weights, v, u, counters), read a slice at a time
        with ``nt_til.rd`` (a small heap cannot build it whole); the router's counters
        from the host. If the board had to be reset on the way (its heap too full to
        compile a request), the run is reloaded and replayed, and read again."""
        for attempt in range(3):
            try:
                return self._read_final()
            except (RemoteError, BoardTimeout):
                raise
            except BoardError:
                if not self._lost or attempt == 2:
                    raise
                self._recover_state()
        raise AssertionError("unreachable")

    def _read_final(self):
        W, V, U, K = [], [], [], []
        for ti, t in enumerate(self.host.tiles):
            if t is None:
                W.append(None), V.append(None), U.append(None), K.append([0, 0, 0, 0])
                continue
            w = self._read(ti, "w", len(t.w))
            W.append(bytes(x & 255 for x in w).hex())
            if t.core == _CORE_TDMAC:
                V.append(self._read(ti, "q", t.N))
                U.append([0] * t.N)
            else:
                V.append(self._read(ti, "v", t.N))
                U.append(self._read(ti, "u", t.N))
            K.append([self._call("rd", ti, k) for k in ("syn", "mac", "nup", "sup")])
        c = self.host
        return W, V, U, K, list(c.lb) if c.lb else None, list(c.fp) if c.lb else None

    def _read(self, ti: int, attr: str, n: int, step: int = 32) -> List[int]:
        out: List[int] = []
        for o in range(0, n, step):
            part = self._call("rd", ti, attr, o, min(step, n - o))
            if not isinstance(part, list) or len(part) != min(step, n - o) \
                    or not all(isinstance(x, int) for x in part):
                raise BoardError("board %s sent a malformed %s slice of tile %d: %r"
                                 % (self.profile.name, attr, ti, part))
            out += part
        return out


def split_need(image: bytes, hashing: bool = False) -> Dict[str, Any]:
    """What an image needs from a board in split mode: its tiles' state (no image
    buffer: the host holds the image) plus the firmware code that stays resident
    (every module but the tile builder, which is dropped after loading)."""
    from .runner import CODE_HEAP_FACTOR, _minified_sizes, image_modules

    need = program_need(image, hashing, code_sizes={})  # full mode's code: not needed
    modules = image_modules(image, hashing, split=True)
    resident = [m for m in modules if m != "nt_new.py"]
    code = int(CODE_HEAP_FACTOR * sum(_minified_sizes(resident).values()))
    data = need["heap"] - need["image_bytes"]
    need.update(modules=modules, heap_code=code, heap_data=data, heap=code + data)
    return need
