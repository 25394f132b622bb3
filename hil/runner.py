"""Run a chip image on a MicroPython board and read back its trace.

    from hil.runner import ChipBoard

    with ChipBoard.open("qemu-microbit") as chip:     # profile name or port
        chip.deploy(image)           # the firmware modules this image needs (changed ones only)
        chip.load(image)             # capacity check, then upload (hex text) and load
        chip.run()                   # the program's own length, in bounded chunks
        trace = chip.trace()         # an emulator.trace.Trace, meta.backend = "board:<profile>"

The board side is ``firmware/nt_brd.py`` (RPC API: ``begin``, ``put``, ``load``, ``run``,
``final``, ``info``). Its event tuples are the reference backend's recorder callbacks with a
one-letter tag, so the trace is built by the very code the reference backend uses
(:func:`emulator.backends.reference.build_trace`).

Capacity (checked before anything is uploaded, see :func:`program_need`): the largest tile
(axons, neurons) against the profile's ``capacity.max_tile``, and the estimated heap the
program needs against what the board has (``capacity.heap`` of the profile, lowered to the
free heap the board reports in its handshake).

:class:`LocalBoard` runs the same board module in this process under CPython: a board
without a serial line, for unit tests of the host side.
"""

from __future__ import annotations

import struct
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .protocol import BoardError, BoardTimeout, RemoteError, decode_value

__all__ = [
    "ChipBoard",
    "LocalBoard",
    "CODE_HEAP_FACTOR",
    "firmware_modules",
    "program_need",
]

#: Board entry module (firmware/nt_brd.py).
ENTRY = "nt_brd"

# Feature bits of the image header (emulator.isa.FEAT_*) -> firmware modules they need.
# Kept here as numbers so that importing hil stays cheap; tests check them against isa.
_FEATURE_MODULES = (
    (1 << 0, ("nt_lif",)),                        # LIF
    (1 << 1, ("nt_tdm",)),                        # TD-MAC
    (1 << 2, ("nt_rtr",)),                        # router
    (1 << 3, ("nt_stdp", "nt_rng")),              # STDP (stochastic rounding uses the RNG)
    (1 << 4, ("nt_rew", "nt_stdp", "nt_rng")),    # reward-modulated STDP
    (1 << 5, ("nt_noise", "nt_rng")),             # analog non-idealities
    (1 << 6, ("nt_rc",)),                         # RC charge model
)
_HASH_MODULE = "nt_hash"

#: Compiled code costs about this much heap per byte of minified source (firmware/README).
CODE_HEAP_FACTOR = 1.5
# Per-tile record overhead (object, attribute dict, array headers), bytes.
_TILE_OVERHEAD = 160
# Chip record, sequencer lists, one run call's reply, bytes.
_CHIP_OVERHEAD = 600
# Bytes of heap per event tuple in a run reply (tuple + small ints + its repr text).
_EVENT_HEAP = 90

_HEADER = "<4sBBHII"
#: Boards whose profile heap is below this preload the entry module at every reset.
SMALL_HEAP = 32768


def _features(image: bytes) -> int:
    return struct.unpack_from(_HEADER, image, 0)[3]


def _imports(text: str) -> List[str]:
    import re

    return re.findall(r"^\s*(?:import|from)\s+(nt_\w+)", text, re.M)


def firmware_modules(features: int, hashing: bool = False, sources: Optional[Dict[str, str]] = None) -> List[str]:
    """File names of the firmware modules a board needs for an image with these feature
    bits (``hashing``: the per-tick state hash too).

    Start from the entry module and follow every ``import nt_*`` in the sources
    (``sources``: ``{file: text}``, default ``firmware/``): a module tied to a feature
    (:data:`_FEATURE_MODULES`, the hash module) is taken only when the image has that
    feature; any other module imported (a helper the firmware split off) always is."""
    if sources is None:
        from . import firmware_sources

        sources = firmware_sources()
    gated = {m for _, mods in _FEATURE_MODULES for m in mods} | {_HASH_MODULE}
    wanted = {m for bit, mods in _FEATURE_MODULES if features & bit for m in mods}
    if hashing:
        wanted.add(_HASH_MODULE)
    todo = [ENTRY] + sorted(wanted)
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in _imports(sources.get(name + ".py", "")):
            if dep not in seen and (dep not in gated or dep in wanted):
                todo.append(dep)
    missing = sorted(n for n in seen if n + ".py" not in sources)
    if missing:
        raise BoardError("firmware modules missing from firmware/: %s" % ", ".join(m + ".py" for m in missing))
    return sorted(n + ".py" for n in seen)


def image_modules(image: bytes, hashing: bool = False, sources: Optional[Dict[str, str]] = None,
                  split: bool = False) -> List[str]:
    """The firmware files a board needs for ``image``: the firmware's own table
    (``firmware.modules_for``: features, opcodes used, hashing; ``split``: split mode)
    when it has one, else :func:`firmware_modules` (features and the sources' imports)."""
    import firmware

    table = getattr(firmware, "modules_for", None)
    if table is None:
        if split:
            raise BoardError("this firmware has no split mode (firmware.modules_for is missing)")
        return firmware_modules(_features(image), hashing, sources)
    from emulator import image as _image, isa

    prog = _image.decode(bytes(image))
    ops = sorted({isa.BY_MNEMONIC[m].opcode for m, _ in prog.code})
    st = any(t is not None and t.stdp and t.stdp.get("stochastic") for t in prog.tiles)
    names = list(table(_features(image), ops, hashing, stochastic=st, split=split))
    if sources is not None:
        missing = [n for n in names if n not in sources]
        if missing:
            raise BoardError("firmware modules missing from firmware/: %s" % ", ".join(missing))
    return names


def _minified_sizes(names: Sequence[str]) -> Dict[str, int]:
    from . import firmware_sources
    from .minify import minify

    return {n: len(minify(t)) for n, t in firmware_sources(names).items()}


def program_need(image: bytes, hashing: bool = False, code_sizes: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
    """What a program needs from a board: ``largest_tile`` (axons, neurons),
    ``image_bytes``, ``modules``, ``heap`` (what the capacity check uses) and, for
    information, ``heap_code``.

    ``heap`` estimates the heap the *program* needs on top of the firmware's code
    (bytes) = the image buffer (held whole while it loads) + per tile its state (LIF:
    weights A*N, v and u 4 bytes per neuron, refractory counters N, input counts A;
    STDP adds eligibility 2*A*N and traces A+N; TD-MAC: weights A*N, q and d 4 bytes
    per neuron, arrivals 2*A) + a record overhead per tile + a chip overhead (sequencer
    lists, one run call's reply). ``heap_code`` is :data:`CODE_HEAP_FACTOR` x the
    minified size of the modules: the firmware imports them lazily and drops the loader
    after loading, so it is an upper bound, reported but not used to refuse (a board
    that still runs out of heap while loading is reported with its capacity).
    """
    from emulator import image as _image, isa

    prog = _image.decode(bytes(image))
    largest = (0, 0)
    data = 0
    for t in prog.tiles:
        if t is None:
            continue
        a, n = int(t.axons), int(t.neurons)
        if a * n > largest[0] * largest[1]:
            largest = (a, n)
        if t.core == isa.CORE_TDMAC:
            data += a * n + 8 * n + 2 * a
        else:
            data += a * n + 9 * n + a
        if getattr(t, "stdp", None) is not None:
            data += 2 * a * n + a + n
        data += _TILE_OVERHEAD
    modules = image_modules(image, hashing)
    sizes = code_sizes if code_sizes is not None else _minified_sizes(modules)
    return {
        "largest_tile": largest,
        "image_bytes": len(image),
        "modules": modules,
        "heap": len(image) + data + _CHIP_OVERHEAD,
        "heap_code": int(CODE_HEAP_FACTOR * sum(sizes.values())),
        "program": prog,
    }


class _Events:
    """Feeds a board's tagged event tuples into a reference Recorder."""

    def __init__(self):
        from emulator.backends.reference import Recorder

        self.rec = Recorder()
        self.calls = {"i": self.rec.inp, "s": self.rec.spike, "p": self.rec.probe,
                      "k": self.rec.pkt, "m": self.rec.mark, "t": self.rec.tick}

    def feed(self, events) -> int:
        """Record the events; return how many ticks they close (``'t'`` events)."""
        ticks = 0
        calls = self.calls
        for ev in events:
            try:
                fn = calls[ev[0]]
            except (KeyError, IndexError, TypeError):
                raise BoardError("the board sent an event the host does not know: %r" % (ev,)) from None
            fn(*ev[1:])
            if ev[0] == "t":
                ticks += 1
        return ticks


class ChipBoard:
    """A board (:class:`hil.Board`, or :class:`LocalBoard`) running chip images.

    ``chunk_ticks``: ticks per ``run`` call (default: adapted to the board's free heap
    and the events per tick seen so far). ``preload``: firmware modules imported right
    after each soft reset (most heap free for compiling).
    """

    #: The board-side module whose functions the host calls.
    entry = ENTRY
    #: Split mode (SPEC section 19): see :class:`hil.split.SplitChipBoard`.
    split = False

    def __init__(self, board, *, chunk_ticks: Optional[int] = None, preload: Optional[Sequence[str]] = None,
                 sources: Optional[Dict[str, str]] = None):
        self.board = board
        self.profile = board.profile
        self.chunk_ticks = chunk_ticks
        if preload is None:
            # small boards cannot compile the entry module inside an RPC call
            heap = (self.profile.capacity or {}).get("heap") or 0
            preload = (self.entry,) if hasattr(board, "session") and heap < SMALL_HEAP else ()
        self.preload = tuple(preload)
        self._fresh = bool(self.preload)  # preloaded modules not (or no longer) imported
        self._restarting = False
        self.sources = dict(sources or {})  # file name -> source that replaces firmware/'s
        self.image: Optional[bytes] = None
        self.prog = None
        self.seed: Optional[int] = None
        self.hashing = False
        self.ticks_done = 0
        self.ended = False
        self.mem_free_after_load: Optional[int] = None
        self.total_ticks: Optional[int] = None
        self.deployed: List[str] = []
        self.stats: Dict[str, float] = {"upload_s": 0.0, "run_s": 0.0, "reloads": 0, "run_calls": 0}
        self._events = _Events()
        self._max_events_per_tick = 0
        self._sec_per_tick = 0.0
        self._put_chunk = max(16, getattr(self.profile, "upload_chunk", 256) // 2)
        self._chunk_cap = 1 << 30  # lowered when replies do not get through
        self._lost = False
        self._info: Optional[Dict[str, Any]] = None
        board.on_reset.append(self._on_reset)

    # ------------------------------------------------------------ opening, closing
    @classmethod
    def open(cls, target: str, **kwargs: Any) -> "ChipBoard":
        """Open a board by profile name or port (see :meth:`hil.Board.open`)."""
        from . import Board

        board_keys = ("soft_reset", "profiles", "max_attempts", "launcher_options")
        board = Board.open(target, **{k: kwargs.pop(k) for k in board_keys if k in kwargs})
        try:
            return cls.on(board, **kwargs)
        except BaseException:
            board.close()
            raise

    @classmethod
    def on(cls, board, **kwargs: Any) -> "ChipBoard":
        """A chip runner for an open board, in the mode its profile asks for
        (``mode: split``: :class:`hil.split.SplitChipBoard`)."""
        if cls is ChipBoard and getattr(board.profile, "mode", "full") == "split":
            from .split import SplitChipBoard

            return SplitChipBoard(board, **kwargs)
        return cls(board, **kwargs)

    def close(self) -> None:
        """Close the board (stops a virtual one)."""
        self.board.close()

    def __enter__(self) -> "ChipBoard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_reset(self, step: str) -> None:
        # Runs inside the recovery ladder: only note it; the next operation reloads.
        self._lost = True
        if not self._restarting:
            self._fresh = bool(self.preload)

    # ------------------------------------------------------------ capacity
    def handshake(self) -> Dict[str, Any]:
        """The board's handshake (cached until a reset)."""
        if self._info is None:
            self._info = self.board.handshake()
        return self._info

    def capacity(self) -> Dict[str, Any]:
        """``heap`` (bytes for the chip: the profile's budget, lowered to the free heap
        the board reports), ``max_tile`` (axons, neurons), ``unsupported`` (feature ->
        why the board cannot run it) and where they come from."""
        info = self.handshake()
        cap = self.profile.capacity or {}
        heap = cap.get("heap")
        free = info.get("heap_free")
        if isinstance(free, int) and free > 0:
            heap = free if heap is None else min(int(heap), free)
        tile = cap.get("max_tile")
        return {"heap": heap, "max_tile": tuple(tile) if tile else None,
                "unsupported": dict(cap.get("unsupported") or {}),
                "heap_free": free, "profile": self.profile.name}

    def check_fits(self, image: bytes, hashing: bool = False) -> Dict[str, Any]:
        """Raise BoardError if the program is too big for the board (nothing is sent);
        return the program's need (see :func:`program_need`)."""
        need = self._need(image, hashing)
        cap = self.capacity()
        problems = []
        a, n = need["largest_tile"]
        if cap["max_tile"] is not None:
            ma, mn = cap["max_tile"]
            if a > ma or n > mn:
                problems.append("largest tile %d axons x %d neurons, board takes at most %d x %d"
                                % (a, n, ma, mn))
        if cap["heap"] is not None and need["heap"] > cap["heap"]:
            problems.append("needs ~%d bytes of heap for %s, board has %d"
                            % (need["heap"], self._what_needs_heap(need), cap["heap"]))
        from emulator.isa import FEATURE_NAMES

        feats = need["program"].features()
        for bit, name in sorted(FEATURE_NAMES.items()):
            if feats & bit and name in cap["unsupported"]:
                problems.append("uses %s, which this board cannot run: %s" % (name, cap["unsupported"][name]))
        if problems:
            raise BoardError(
                "program too big for board %s%s: %s. Board capacity: heap %s bytes, largest tile %s; "
                "program need: heap ~%d bytes (%s), largest tile %d x %d. "
                "Use a bigger board (neurotile hil boards) or a smaller program."
                % (self.profile.name, " (split mode)" if self.split else "", "; ".join(problems), cap["heap"],
                   "%d x %d" % cap["max_tile"] if cap["max_tile"] else "unlimited",
                   need["heap"], self._what_needs_heap(need, detail=True), a, n))
        return need

    def _need(self, image: bytes, hashing: bool) -> Dict[str, Any]:
        return program_need(image, hashing, code_sizes=self._code_sizes(image, hashing))

    def _what_needs_heap(self, need: Dict[str, Any], detail: bool = False) -> str:
        if not detail:
            return "its image and state"
        return "image %d B + chip state; firmware code up to ~%d B more" % (need["image_bytes"], need["heap_code"])

    def _code_sizes(self, image: bytes, hashing: bool) -> Dict[str, int]:
        from .minify import minify

        files = self.firmware_files(image, hashing)
        # modules imported at every reset are already inside the free heap the board reports
        return {n: len(minify(t)) for n, t in files.items() if n[:-3] not in self.preload}

    # ------------------------------------------------------------ deploy
    def modules_for(self, image: bytes, hashing: bool) -> List[str]:
        """The firmware files ``image`` needs: ``firmware.modules_for`` (features, opcodes
        used, hashing) where the firmware provides it, else :func:`firmware_modules`."""
        return image_modules(image, hashing, self._all_sources(), split=self.split)

    def _all_sources(self) -> Dict[str, str]:
        from . import firmware_sources

        every = firmware_sources()
        every.update(self.sources)
        return every

    def firmware_files(self, image: Optional[bytes] = None, hashing: bool = True) -> Dict[str, str]:
        """The firmware files for ``image`` (None: every module), with ``sources``
        overrides applied."""
        from . import firmware_sources

        if image is None:
            files = firmware_sources()
        else:
            every = self._all_sources()
            files = {n: every[n] for n in image_modules(image, hashing, every, split=self.split)}
        for name, text in self.sources.items():
            if image is None or name in files:
                files[name] = text
        return files

    def deploy(self, image: Optional[bytes] = None, progress: Optional[Callable[[str, int, int], None]] = None,
               hashing: bool = True) -> List[str]:
        """Upload the firmware modules ``image`` needs (None: all of them) that differ
        from the board's copies; returns the names uploaded (soft-resets the board
        when any was). Hash module included unless ``hashing=False``."""
        files = self.firmware_files(image, hashing)
        if image is not None:
            self._prune(files)
        self._restarting = True
        try:
            uploaded = self.board.deploy(files, progress=progress, preload=self.preload)
        except RemoteError as exc:
            if "OSError(28" in exc.remote:  # ENOSPC
                from .minify import minify

                size = sum(len(minify(t)) for t in files.values())
                raise BoardError(
                    "the file system of board %s is full: the firmware for this program is %d files, "
                    "%d bytes minified (%s)" % (self.profile.name, len(files), size, ", ".join(sorted(files)))
                ) from None
            raise
        finally:
            self._restarting = False
        if uploaded or self.preload:
            self._fresh = False
        self.deployed = sorted(set(self.deployed) | set(files))
        if uploaded:
            self._lost = True
        return uploaded

    def _prune(self, keep: Dict[str, str]) -> List[str]:
        """Remove firmware files this image does not need from the board (the
        micro:bit's file system holds ~10 KB) and drop them from its version file."""
        from . import firmware_sources
        from .protocol import VERSION_FILE, _parse_versions, _version_lines

        if not hasattr(self.board, "session"):
            return []
        ours = set(firmware_sources()) | set(self.sources)
        try:
            present = self.board.call("os.listdir")
        except RemoteError:
            return []
        stale = sorted(n for n in present if n in ours and n not in keep)
        if not stale:
            return []
        versions = _parse_versions(self.board.read_file(VERSION_FILE))
        for name in stale:
            versions.pop(name, None)
        self.board.upload(VERSION_FILE, _version_lines(versions))  # first: a crash redoes it
        for name in stale:
            self.board.call("os.remove", name)
        self.deployed = [n for n in self.deployed if n not in stale]
        return stale

    # ------------------------------------------------------------ load
    def load(self, image: bytes, seed: Optional[int] = None, hashing: bool = False,
             progress: Optional[Callable[[int, int], None]] = None, deploy: bool = True) -> Dict[str, Any]:
        """Check that the program fits (else BoardError, nothing uploaded), deploy the
        modules it needs (only changed files), upload the image as hex text and load it.
        Returns the program's need plus ``mem_free`` after loading."""
        from emulator import image as _image

        image = bytes(image)
        try:
            prog = _image.decode(image)
        except _image.ImageError as exc:
            raise BoardError("image: %s" % exc) from None
        need = self.check_fits(image, hashing)
        self._put_chunk = max(16, getattr(self.profile, "upload_chunk", 256) // 2)
        self._chunk_cap = 1 << 30
        if deploy:
            missing = [n for n in self.firmware_files(image, hashing) if n not in self.deployed]
            if missing or self.sources:
                self.deploy(image, hashing=hashing)
        self.image, self.prog, self.seed, self.hashing = image, prog, seed, bool(hashing)
        start = time.monotonic()
        self._upload(progress)
        self.stats["upload_s"] += time.monotonic() - start
        self._reset_run()
        need["mem_free"] = self.mem_free_after_load
        return need

    def _upload(self, progress: Optional[Callable[[int, int], None]] = None) -> None:
        assert self.image is not None
        if self._fresh:
            self._restarting = True
            try:
                self.board.soft_reset(self.preload)
            finally:
                self._restarting = False
            self._fresh = False
        self._lost = False
        try:
            reply = self._load_on_board(progress)
        except RemoteError as exc:
            if exc.remote_type == "MemoryError":
                cap = self.capacity()
                raise BoardError("board %s ran out of heap loading the image (%s); board capacity: heap %s "
                                 "bytes, largest tile %s; program: image %d B"
                                 % (self.profile.name, exc, cap["heap"],
                                    "%d x %d" % cap["max_tile"] if cap["max_tile"] else "unlimited",
                                    len(self.image))) from None
            raise BoardError("board %s refused the image: %s" % (self.profile.name, exc.remote)) from None
        if self._lost:
            raise BoardError("board %s reset itself while the image was loading" % self.profile.name)
        self.mem_free_after_load, total = reply[0], reply[1]
        self.total_ticks = None if total is None or total < 0 else int(total)

    def _load_on_board(self, progress: Optional[Callable[[int, int], None]] = None):
        """Send the image and load it: the board's ``(free heap, static length)``."""
        self._call("begin", len(self.image))
        self._send_image(progress)
        return self._call("load", self.seed, 1 if self.hashing else 0)

    def _send_image(self, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """``put(offset, hex)`` chunk by chunk. ``put`` is idempotent, so a chunk that
        cannot get through (a noisy link) is sent again in halves, down to 8 bytes."""
        data = self.image
        offset = 0
        while offset < len(data):
            piece = data[offset:offset + self._put_chunk]
            try:
                self._call("put", offset, piece.hex())
            except (RemoteError, BoardTimeout):
                raise
            except BoardError:
                if self._put_chunk <= 8:
                    raise
                self._put_chunk = max(8, self._put_chunk // 2)
                self.stats["shrinks"] = self.stats.get("shrinks", 0) + 1
                continue
            offset += len(piece)
            if progress is not None:
                progress(offset, len(data))

    def _reset_run(self) -> None:
        self._max_events_per_tick = 0
        self._sec_per_tick = 0.0
        self.ticks_done = 0
        self.ended = False
        self._events = _Events()

    def _call(self, name: str, *args: Any, timeout: Optional[float] = None) -> Any:
        return self.board.call(self.entry + "." + name, *args, timeout=timeout)

    # ------------------------------------------------------------ run
    def _chunk(self) -> int:
        if self.chunk_ticks:
            return self.chunk_ticks
        free = self.mem_free_after_load or 0
        big = (self.profile.capacity or {}).get("heap") or 0
        top = 64 if big >= 100000 else 8
        budget = max(8, (free // 3) // _EVENT_HEAP)  # events one reply may hold
        if not self._max_events_per_tick:
            return 1  # first call: measure events and time per tick
        by_events = budget // max(1, self._max_events_per_tick)
        # keep a call's expected time within half of the fixed part of its timeout
        by_time = int(0.5 * self.profile.timeouts.rpc / max(1e-6, self._sec_per_tick))
        return max(1, min(top, by_events, by_time, self._chunk_cap))

    def _tick_timeout(self, ticks: int) -> float:
        t = self.profile.timeouts
        return t.tick * ticks + t.rpc

    def _recover_state(self) -> None:
        """After a reset: load the image again and replay the ticks already run
        (deterministic; their events are dropped)."""
        self.stats["reloads"] += 1
        self._upload()
        done = 0
        while done < self.ticks_done:
            want = min(self._chunk(), self.ticks_done - done)
            got, _events = self._run_ticks(want, self._tick_timeout(want))
            if got != want:
                raise BoardError("replaying the run after a reset of %s: the board ran %d ticks, expected %d"
                                 % (self.profile.name, done + got, self.ticks_done))
            done += got

    def _run_ticks(self, want: int, timeout: float):
        """One ``run`` call on the board: (ticks run, tagged events)."""
        return self._call("run", want, timeout=timeout)

    def run(self, ticks: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None) -> int:
        """Run ``ticks`` more ticks (None: to the program's end); returns the ticks run.

        Each call's wait is bounded by the profile's ``timeouts.tick`` x ticks in the
        call + ``timeouts.rpc``; a board that stops answering is reported as a
        BoardError naming the tick. A board that reset (and came back) is reloaded and
        brought back to the current tick first.
        """
        if self.image is None:
            raise BoardError("no image loaded: call load(image) first")
        if ticks is None:
            own = self.prog.static_ticks()
            if own is None:
                raise BoardError("the program jumps (jmp) and may never halt: give a tick limit (--ticks)")
            ticks = max(0, own - self.ticks_done)
        target = self.ticks_done + ticks
        start_time = time.monotonic()
        ran = 0
        failures = 0
        while self.ticks_done < target and not self.ended:
            want = min(self._chunk(), target - self.ticks_done)
            timeout = self._tick_timeout(want)
            try:
                if self._lost:
                    self._recover_state()
                t_call = time.monotonic()
                got, events = self._run_ticks(want, timeout)
            except RemoteError as exc:
                raise BoardError("the firmware failed on board %s at tick %d: %s"
                                 % (self.profile.name, self.ticks_done, exc.remote)) from None
            except BoardTimeout as exc:
                failures += 1
                if failures > 1 or not exc.tried:
                    raise BoardError(
                        "board %s stopped answering at tick %d: no reply within %.2fs "
                        "(timeouts.tick %.3fs x %d ticks + timeouts.rpc %.1fs)%s"
                        % (self.profile.name, self.ticks_done, timeout, self.profile.timeouts.tick,
                           want, self.profile.timeouts.rpc,
                           "; recovered by %s, then failed again" % exc.tried[-1] if exc.tried else "")
                    ) from None
                self._lost = True  # recovered by a reset: reload and catch up
                continue
            except BoardError as exc:
                # The board answers, but the call did not get through intact (a noisy
                # link, a long reply): fewer ticks per call, reload and catch up.
                if not exc.tried and want > 1 and failures < 8:
                    failures += 1
                    self._chunk_cap = max(1, want // 2)
                    self._lost = True
                    continue
                raise BoardError("board %s stopped answering at tick %d (call timeout %.2fs): %s"
                                 % (self.profile.name, self.ticks_done, timeout, exc)) from None
            self.stats["run_calls"] += 1
            n = self._events.feed(events)
            if n != got:
                raise BoardError("board %s reported %d ticks but sent %d tick records"
                                 % (self.profile.name, got, n))
            if n:
                self._max_events_per_tick = max(self._max_events_per_tick, -(-len(events) // n))
                self._sec_per_tick = max(self._sec_per_tick, (time.monotonic() - t_call) / n)
            self.ticks_done += n
            ran += n
            if n < want:
                self.ended = True
            if progress is not None:
                progress(self.ticks_done, target)
        self.stats["run_s"] += time.monotonic() - start_time
        return ran

    def _final(self):
        """``final()`` of the board; if its (long) reply cannot get through intact (a
        noisy link), the repr of the same result is fetched in short slices instead."""
        try:
            return self._call("final")
        except (RemoteError, BoardTimeout):
            raise
        except BoardError:
            if not hasattr(self.board, "session"):
                raise
        expr = "repr(__import__('%s').final())" % self.entry
        size = self.board.call("eval", "len(%s)" % expr)
        step = 48
        text = "".join(self.board.call("eval", "%s[%d:%d]" % (expr, a, a + step)) for a in range(0, size, step))
        self.stats["final_sliced"] = 1
        return decode_value(text)

    # ------------------------------------------------------------ trace
    def trace(self):
        """The run so far as an :class:`emulator.trace.Trace` (``meta.backend`` is
        ``board:<profile>``), built by the reference backend's builder."""
        import numpy as np

        import firmware  # noqa: F401  (the firmware folder on sys.path)
        import nt_img
        from emulator.backends.reference import FinalState, build_trace

        if self.image is None:
            raise BoardError("no image loaded: nothing to trace")
        if self._lost:
            self._recover_state()
        try:
            W, V, U, K, lb, fp = self._final()
        except RemoteError as exc:
            raise BoardError("reading the final state from %s: %s" % (self.profile.name, exc.remote)) from None
        host = nt_img.load(self.image, self.seed)  # the image as the board parsed it
        tiles = host.tiles
        if len(W) != len(tiles):
            raise BoardError("board %s sent %d tiles, the image has %d" % (self.profile.name, len(W), len(tiles)))
        w_init, w_final, v_final, u_final = [], [], [], []
        counters = {k: [] for k in ("syn", "mac", "nup", "sup")}
        for i, t in enumerate(tiles):
            if t is None or W[i] is None:
                w_init.append(np.zeros(0, np.int8))
                w_final.append(np.zeros(0, np.int8))
                v_final.append(np.zeros(0, np.int32))
                u_final.append(np.zeros(0, np.int32))
            else:
                w_init.append(np.array(t.w, np.int8))
                w_final.append(np.frombuffer(bytes.fromhex(W[i]), np.uint8).view(np.int8).copy())
                v_final.append(np.array(V[i], np.int32))
                u_final.append(np.array(U[i], np.int32))
            for j, k in enumerate(("syn", "mac", "nup", "sup")):
                counters[k].append(int(K[i][j]))
        rows = self._events.rec.tick_rows
        cycles = rows[-1][0] + host.K + rows[-1][1] if rows else 0
        final = FinalState(len(tiles), bytes(host.pr), host.seed, cycles, w_init, w_final, v_final,
                           u_final, counters, lb, fp)
        return build_trace(self.prog, self.image, self._events.rec, final,
                           "board:%s" % self.profile.name, self.hashing)


class _Gc:
    """gc for the board module under CPython: nothing to collect, a fixed free heap."""

    def __init__(self, free: int):
        self.free = free

    def collect(self) -> None:
        pass

    def mem_free(self) -> int:
        return self.free


class LocalBoard:
    """The board module (``firmware/nt_brd.py``; ``entry="nt_til"``: split mode, which
    also calls ``nt_new``) run in this process by CPython, behind the same ``call``
    interface as :class:`hil.Board` (arguments and results make the same repr round
    trip). ``profile``: whose capacity and timeouts to report (default: a generous
    in-process one)."""

    def __init__(self, profile=None, heap_free: int = 1 << 20, entry: str = ENTRY):
        import firmware  # noqa: F401
        import importlib

        from .boards import generic_profile

        if profile is None:
            profile = generic_profile("local")
            import dataclasses

            profile = dataclasses.replace(profile, name="local",
                                          capacity={"heap": heap_free, "max_tile": [256, 256]})
        self.profile = profile
        self.heap_free = heap_free
        self.on_reset: List[Callable[[str], None]] = []
        self.files: Dict[str, str] = {}
        self.calls = 0
        self.entry = entry
        self.mod = importlib.import_module(entry)
        self.mod.gc = _Gc(heap_free)

    @property
    def port(self) -> str:
        return "local"

    def handshake(self) -> Dict[str, Any]:
        return {"heap_free": self.heap_free, "heap_total": self.heap_free, "platform": "cpython",
                "micropython": (), "version": "", "machine": "", "profile": self.profile.name,
                "port": "local", "files": True, "heap_budget": self.profile.capacity.get("heap"),
                "max_tile": tuple(self.profile.capacity.get("max_tile") or ()) or None}

    def call(self, func: str, *args: Any, timeout: Optional[float] = None) -> Any:
        import importlib

        mod, _, name = func.rpartition(".")
        if mod not in (self.entry, "nt_new"):
            raise BoardError("LocalBoard only runs %s functions, not %s" % (self.entry, func))
        args = decode_value(repr(args))
        self.calls += 1
        module = importlib.import_module(mod)
        if getattr(module, "gc", None) is not None:
            module.gc = self.mod.gc  # the board's gc: a fixed free heap, nothing to collect
        try:
            result = getattr(module, name)(*args)
        except Exception as exc:  # noqa: BLE001 - a board error, as the dispatcher reports it
            raise RemoteError(func, repr(exc)) from None
        return decode_value(repr(result))

    def send_chunks(self, func, data, chunk=None, progress=None, timeout=None) -> int:
        from . import Board

        return Board.send_chunks(self, func, data, chunk, progress, timeout)  # type: ignore[arg-type]

    def deploy(self, files: Dict[str, str], progress=None, minify_python=True, preload=()) -> List[str]:
        changed = [n for n in sorted(files) if self.files.get(n) != files[n]]
        self.files.update(files)
        return changed

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalBoard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
