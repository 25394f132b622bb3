"""Binary image codec: :class:`Program` <-> bytes (docs/SPEC.md section 15).

The image is the contract between the host and a board. :func:`encode` writes the
canonical form, :func:`decode` reads and fully validates it, and
:func:`validate` checks a :class:`Program` built in Python (for example by the
assembler or a test strategy) so that an invalid chip is refused before anything
runs. Every refusal is an :class:`ImageError` whose message names what is wrong.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from emulator import isa


class ImageError(ValueError):
    """An image (or a Program) that cannot be loaded; the message says why."""


@dataclass
class Tile:
    """One tile as the image describes it. ``params`` holds every TILE field."""

    params: dict
    weights: np.ndarray                      # int8 [axons, neurons]
    routes: list                             # per neuron: list of (tile, axon)
    stdp: dict | None = None                 # STDP record, or None (no learning)

    @property
    def core(self) -> int:
        return self.params["core"]

    @property
    def axons(self) -> int:
        return self.params["axons"]

    @property
    def neurons(self) -> int:
        return self.params["neurons"]

    @property
    def wmax(self) -> int:
        return (1 << (self.params["wbits"] - 1)) - 1


@dataclass
class Program:
    """A decoded image: the built, checked form of a spike program."""

    chip: dict
    tiles: list                              # W*H entries: Tile or None (off)
    probes: list = field(default_factory=list)   # [(tile, neuron)]
    blocks: list = field(default_factory=list)   # per block: int array [events, 4] (dtick, tile, axon, offset)
    code: list = field(default_factory=list)     # [(mnemonic, (operands...))]
    name: str = ""

    @property
    def n_tiles(self) -> int:
        return self.chip["mesh_w"] * self.chip["mesh_h"]

    def features(self) -> int:
        return features(self)

    def static_ticks(self):
        """Length in ticks, or None when the program can loop forever (`jmp`)."""
        return static_ticks(self.code)

    def __repr__(self) -> str:        # one line, not every weight (Jupyter, the REPL)
        from emulator.notebook import program_repr

        return program_repr(self)

    def _repr_html_(self) -> str:
        from emulator.notebook import program_html

        return program_html(self)


def new_program(mesh_w=1, mesh_h=1, **chip) -> Program:
    """An empty program (all tiles off) to fill in from Python."""
    c = isa.CHIP.defaults()
    c.update(mesh_w=mesh_w, mesh_h=mesh_h, **chip)
    return Program(chip=c, tiles=[None] * (mesh_w * mesh_h))


def new_tile(core: str | int, axons: int, neurons: int, **params) -> Tile:
    """A tile with default parameters, zero weights and no routes."""
    p = isa.TILE.defaults()
    if isinstance(core, str):
        core = {v: k for k, v in isa.CORE_NAMES.items()}[core]
    p.update(core=core, axons=axons, neurons=neurons, **params)
    return Tile(params=p, weights=np.zeros((axons, neurons), np.int8),
                routes=[[] for _ in range(neurons)])


# ---------------------------------------------------------------------------
# features and static length
# ---------------------------------------------------------------------------
def features(prog: Program) -> int:
    f = 0
    for t in prog.tiles:
        if t is None:
            continue
        if t.core == isa.CORE_LIF:
            f |= isa.FEAT_LIF
        elif t.core == isa.CORE_TDMAC:
            f |= isa.FEAT_TDMAC
            if t.params["charge"] == isa.CHARGE_RC:
                f |= isa.FEAT_RC
        if any(t.routes):
            f |= isa.FEAT_ROUTER
        if t.stdp is not None:
            f |= isa.FEAT_STDP
            if t.stdp["mode"] == isa.STDP_REWARD:
                f |= isa.FEAT_REWARD
        p = t.params
        if p["quant"] or p["variation"] or p["cmp_offset"] or p["cmp_noise"]:
            f |= isa.FEAT_NOISE
    if prog.blocks:
        f |= isa.FEAT_SPIKES
    return f


def static_ticks(code) -> int | None:
    """Ticks a program runs, computed from its text; None if it uses `jmp`."""
    if any(m == "jmp" for m, _ in code):
        return None
    total = 0
    mult = [1]
    for m, ops in code:
        if m == "run":
            total += ops[0] * mult[-1]
        elif m == "loop":
            mult.append(mult[-1] * ops[0])
        elif m == "endloop":
            mult.pop()
        elif m == "halt":
            break
    return total


# ---------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------
def _check_record(rec: isa.Record, values: dict, where: str) -> None:
    for f in rec.fields:
        if f.name not in values:
            raise ImageError("%s: missing field %r" % (where, f.name))
        v = values[f.name]
        if not isinstance(v, (int, np.integer)) or not f.lo <= v <= f.hi:
            raise ImageError("%s: field %r = %r is outside %d..%d" % (where, f.name, v, f.lo, f.hi))
    extra = set(values) - set(rec.names())
    if extra:
        raise ImageError("%s: unknown fields %s" % (where, ", ".join(sorted(extra))))


def validate(prog: Program) -> None:
    """Raise ImageError unless ``prog`` is a chip every backend can run."""
    _check_record(isa.CHIP, prog.chip, "chip")
    w, h = prog.chip["mesh_w"], prog.chip["mesh_h"]
    n_tiles = w * h
    window = prog.chip["window"]
    if len(prog.tiles) != n_tiles:
        raise ImageError("chip: %d tiles given for a %dx%d mesh" % (len(prog.tiles), w, h))
    for ti, t in enumerate(prog.tiles):
        if t is None:
            continue
        where = "tile %d" % ti
        _check_record(isa.TILE, t.params, where)
        if t.core == isa.CORE_OFF:
            raise ImageError("%s: an off tile must be None, not a tile record" % where)
        wts = np.asarray(t.weights)
        if wts.shape != (t.axons, t.neurons):
            raise ImageError("%s: weights have shape %s, expected (%d, %d)"
                             % (where, wts.shape, t.axons, t.neurons))
        if wts.size and (wts.min() < -t.wmax or wts.max() > t.wmax):
            raise ImageError("%s: weights outside +-%d (wbits=%d)" % (where, t.wmax, t.params["wbits"]))
        if t.core == isa.CORE_TDMAC:
            if not t.params["t_in"] < window:
                raise ImageError("%s: t_in=%d must be smaller than the window (%d)"
                                 % (where, t.params["t_in"], window))
        if t.params["quant"] == 1:
            raise ImageError("%s: quant must be 0 (ideal) or at least 2 levels" % where)
        if len(t.routes) != t.neurons:
            raise ImageError("%s: %d route lists for %d neurons" % (where, len(t.routes), t.neurons))
        n_entries = 0
        for n, dests in enumerate(t.routes):
            for dt, ax in dests:
                n_entries += 1
                if not 0 <= dt < n_tiles:
                    raise ImageError("%s: neuron %d routes to tile %d, off the %dx%d mesh"
                                     % (where, n, dt, w, h))
                dtile = prog.tiles[dt]
                if dtile is None:
                    raise ImageError("%s: neuron %d routes to tile %d, which is off" % (where, n, dt))
                if not 0 <= ax < dtile.axons:
                    raise ImageError("%s: neuron %d routes to axon %d of tile %d, which has %d axons"
                                     % (where, n, ax, dt, dtile.axons))
        if n_entries > 0xFFFF:
            raise ImageError("%s: %d route entries, at most 65535" % (where, n_entries))
        if t.stdp is not None:
            _check_record(isa.STDP, t.stdp, where + " stdp")
            if t.core != isa.CORE_LIF:
                raise ImageError("%s: STDP needs a LIF tile" % where)
            lo, hi = max(t.stdp["wmin"], -t.wmax), min(t.stdp["wmax"], t.wmax)
            if lo > hi:
                raise ImageError("%s stdp: the clamp range wmin..wmax = %d..%d leaves no weight of "
                                 "a %d-bit tile (-%d..%d)" % (where, t.stdp["wmin"], t.stdp["wmax"],
                                                             t.params["wbits"], t.wmax, t.wmax))
    if len(prog.probes) > 0xFFFF:
        raise ImageError("probes: at most 65535")
    for ti, n in prog.probes:
        if not 0 <= ti < n_tiles or prog.tiles[ti] is None:
            raise ImageError("probe: tile %d does not exist or is off" % ti)
        if not 0 <= n < prog.tiles[ti].neurons:
            raise ImageError("probe: tile %d has no neuron %d" % (ti, n))
    if len(prog.blocks) > 0xFFFF:
        raise ImageError("spikes: at most 65535 blocks")
    for bi, ev in enumerate(prog.blocks):
        ev = np.asarray(ev)
        if ev.ndim != 2 or ev.shape[1] != 4:
            raise ImageError("spike block %d: events must be rows of (dtick, tile, axon, offset)" % bi)
        if len(ev) and np.any(np.diff(ev[:, 0]) < 0):
            raise ImageError("spike block %d: events are not sorted by dtick" % bi)
        for dtick, ti, ax, off in ev.tolist():
            if not 0 <= dtick <= 0xFFFF:
                raise ImageError("spike block %d: dtick %d outside 0..65535" % (bi, dtick))
            if not 0 <= ti < n_tiles or prog.tiles[ti] is None:
                raise ImageError("spike block %d: tile %d does not exist or is off" % (bi, ti))
            if not 0 <= ax < prog.tiles[ti].axons:
                raise ImageError("spike block %d: tile %d has no axon %d" % (bi, ti, ax))
            if not 0 <= off < window:
                raise ImageError("spike block %d: offset %d outside the window 0..%d" % (bi, off, window - 1))
    _validate_code(prog, n_tiles, window)


def _validate_code(prog: Program, n_tiles: int, window: int) -> None:
    depth = 0
    loop_starts = []
    for pc, (m, ops) in enumerate(prog.code):
        ins = isa.BY_MNEMONIC.get(m)
        where = "program[%d] %s" % (pc, m)
        if ins is None:
            raise ImageError("program[%d]: unknown instruction %r" % (pc, m))
        if len(ops) != len(ins.operands):
            raise ImageError("%s: %d operands, expected %d" % (where, len(ops), len(ins.operands)))
        for o, v in zip(ins.operands, ops):
            if not isinstance(v, (int, np.integer)) or not o.lo <= v <= o.hi:
                raise ImageError("%s: operand %s = %r outside %d..%d" % (where, o.name, v, o.lo, o.hi))
            if o.kind == "tile" or (o.kind == "tile_or_all" and v != isa.ALL_TILES):
                if not v < n_tiles or prog.tiles[v] is None:
                    raise ImageError("%s: tile %d does not exist or is off" % (where, v))
            if o.kind == "block" and not v < len(prog.blocks):
                raise ImageError("%s: spike block %d does not exist" % (where, v))
            if o.kind == "label" and not v < len(prog.code):
                raise ImageError("%s: target %d is past the end (%d instructions)" % (where, v, len(prog.code)))
        if m == "inject":
            t = prog.tiles[ops[0]]
            if ops[1] >= t.axons:
                raise ImageError("%s: tile %d has no axon %d" % (where, ops[0], ops[1]))
            if ops[2] >= window:
                raise ImageError("%s: offset %d outside the window 0..%d" % (where, ops[2], window - 1))
        elif m == "setw":
            t = prog.tiles[ops[0]]
            if ops[1] >= t.axons or ops[2] >= t.neurons:
                raise ImageError("%s: tile %d has no crossing (axon %d, neuron %d)" % (where, *ops[:3]))
        elif m == "loop":
            depth += 1
            loop_starts.append(pc + 1)
            if depth > isa.MAX_LOOP_DEPTH:
                raise ImageError("%s: loops nested deeper than %d" % (where, isa.MAX_LOOP_DEPTH))
        elif m == "endloop":
            if not loop_starts:
                raise ImageError("%s: endloop without loop" % where)
            start = loop_starts.pop()
            depth -= 1
            if ops[0] != start:
                raise ImageError("%s: target %d is not the start of its loop (%d)" % (where, ops[0], start))
    if loop_starts:
        raise ImageError("program: loop at instruction %d has no endloop" % (loop_starts[-1] - 1))


# ---------------------------------------------------------------------------
# encode
# ---------------------------------------------------------------------------
def _section(sid: int, tile: int, payload: bytes) -> bytes:
    return struct.pack(isa.SECTION_FMT, sid, 0, tile, len(payload)) + payload


def encode_code(code) -> bytes:
    out = bytearray()
    for m, ops in code:
        ins = isa.BY_MNEMONIC[m]
        out.append(ins.opcode)
        out += struct.pack(ins.fmt, *[int(v) for v in ops])
    return bytes(out)


def encode(prog: Program) -> bytes:
    """Validate and encode ``prog`` in the canonical byte form."""
    validate(prog)
    body = bytearray()
    body += _section(isa.SEC_CHIP, isa.GLOBAL_TILE, isa.CHIP.pack(prog.chip))
    if prog.name:
        body += _section(isa.SEC_NAME, isa.GLOBAL_TILE, prog.name.encode("utf-8"))
    for ti, t in enumerate(prog.tiles):
        if t is None:
            continue
        body += _section(isa.SEC_TILE, ti, isa.TILE.pack(t.params))
        body += _section(isa.SEC_WEIGHTS, ti, np.ascontiguousarray(t.weights, dtype=np.int8).tobytes())
        if any(t.routes):
            offs = [0]
            entries = bytearray()
            for dests in t.routes:
                for dt, ax in dests:
                    entries += bytes((dt, ax))
                offs.append(offs[-1] + len(dests))
            body += _section(isa.SEC_ROUTES, ti, struct.pack("<%dH" % len(offs), *offs) + bytes(entries))
        if t.stdp is not None:
            body += _section(isa.SEC_STDP, ti, isa.STDP.pack(t.stdp))
    if prog.probes:
        payload = struct.pack("<H", len(prog.probes)) + bytes(b for p in prog.probes for b in p)
        body += _section(isa.SEC_PROBES, isa.GLOBAL_TILE, payload)
    if prog.blocks:
        firsts = [0]
        events = bytearray()
        for ev in prog.blocks:
            for row in np.asarray(ev).tolist():
                events += struct.pack(isa.SPIKE_EVENT_FMT, *row)
            firsts.append(firsts[-1] + len(ev))
        payload = struct.pack("<H%dI" % len(firsts), len(prog.blocks), *firsts) + bytes(events)
        body += _section(isa.SEC_SPIKES, isa.GLOBAL_TILE, payload)
    if prog.code:
        body += _section(isa.SEC_PROGRAM, isa.GLOBAL_TILE, encode_code(prog.code))
    length = isa.HEADER_SIZE + len(body)
    header = struct.pack(isa.HEADER_FMT, isa.MAGIC, isa.FORMAT_VERSION, 0, features(prog),
                         length, zlib.crc32(bytes(body)) & 0xFFFFFFFF)
    return header + bytes(body)


def image_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# decode
# ---------------------------------------------------------------------------
_ORDER = {isa.SEC_CHIP: 0, isa.SEC_NAME: 1, isa.SEC_TILE: 2, isa.SEC_WEIGHTS: 2, isa.SEC_ROUTES: 2,
          isa.SEC_STDP: 2, isa.SEC_PROBES: 3, isa.SEC_SPIKES: 4, isa.SEC_PROGRAM: 5}
_TILE_ORDER = {isa.SEC_TILE: 0, isa.SEC_WEIGHTS: 1, isa.SEC_ROUTES: 2, isa.SEC_STDP: 3}


def read_header(data: bytes) -> dict:
    """Check framing (magic, version, length, CRC) and return the header fields."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("an image is bytes, not %s" % type(data).__name__)
    data = bytes(data)
    if len(data) < isa.HEADER_SIZE:
        raise ImageError("not a neurotile image: %d bytes, shorter than the %d-byte header"
                         % (len(data), isa.HEADER_SIZE))
    magic, version, flags, feats, length, crc = struct.unpack_from(isa.HEADER_FMT, data, 0)
    if magic != isa.MAGIC:
        raise ImageError("not a neurotile image: magic %r, expected %r" % (magic, isa.MAGIC))
    if version > isa.FORMAT_VERSION:
        raise ImageError("image format version %d is newer than this neurotile understands (%d); "
                         "upgrade neurotile" % (version, isa.FORMAT_VERSION))
    if version != isa.FORMAT_VERSION:
        raise ImageError("image format version %d is not supported (expected %d)" % (version, isa.FORMAT_VERSION))
    if flags != 0:
        raise ImageError("image header flags 0x%02x are not understood" % flags)
    if length != len(data):
        raise ImageError("image is truncated or padded: header says %d bytes, file has %d" % (length, len(data)))
    actual = zlib.crc32(data[isa.HEADER_SIZE:]) & 0xFFFFFFFF
    if actual != crc:
        raise ImageError("image is corrupt: CRC-32 is 0x%08x, header says 0x%08x" % (actual, crc))
    return {"version": version, "features": feats, "length": length, "crc": crc}


def _decode_code(payload: bytes) -> list:
    code = []
    pos = 0
    while pos < len(payload):
        op = payload[pos]
        ins = isa.BY_OPCODE.get(op)
        if ins is None:
            raise ImageError("program: unknown opcode 0x%02x at byte %d" % (op, pos))
        if pos + ins.size > len(payload):
            raise ImageError("program: instruction %s at byte %d is truncated" % (ins.mnemonic, pos))
        code.append((ins.mnemonic, tuple(struct.unpack_from(ins.fmt, payload, pos + 1))))
        pos += ins.size
    return code


def decode(data: bytes) -> Program:
    """Parse and fully validate an image; raise ImageError naming what is wrong."""
    hdr = read_header(data)
    data = bytes(data)
    pos = isa.HEADER_SIZE
    sections = []
    while pos < len(data):
        if pos + isa.SECTION_HEADER_SIZE > len(data):
            raise ImageError("section header at byte %d is truncated" % pos)
        sid, sflags, tile, length = struct.unpack_from(isa.SECTION_FMT, data, pos)
        pos += isa.SECTION_HEADER_SIZE
        name = isa.SECTION_NAMES.get(sid)
        if name is None:
            raise ImageError("unknown section id %d at byte %d" % (sid, pos - isa.SECTION_HEADER_SIZE))
        if sflags != 0:
            raise ImageError("section %s: flags 0x%02x not understood" % (name, sflags))
        if pos + length > len(data):
            raise ImageError("section %s at byte %d is truncated (%d bytes, %d left)"
                             % (name, pos - isa.SECTION_HEADER_SIZE, length, len(data) - pos))
        per_tile = sid in isa.PER_TILE_SECTIONS
        if per_tile == (tile == isa.GLOBAL_TILE):
            raise ImageError("section %s: tile field %d is wrong for a %s section"
                             % (name, tile, "per-tile" if per_tile else "global"))
        sections.append((sid, tile, data[pos:pos + length]))
        pos += length
    # canonical order, no duplicates
    keys = [(_ORDER[s], t if _ORDER[s] == 2 else 0, _TILE_ORDER.get(s, 0)) for s, t, _ in sections]
    if len(set(keys)) != len(keys):
        raise ImageError("duplicate section")
    if keys != sorted(keys):
        raise ImageError("sections out of canonical order")
    if not sections or sections[0][0] != isa.SEC_CHIP:
        raise ImageError("image has no chip section")

    def need(payload, size, what):
        if len(payload) != size:
            raise ImageError("section %s: %d bytes, expected %d" % (what, len(payload), size))

    need(sections[0][2], isa.CHIP.size, "chip")
    chip = isa.CHIP.unpack(sections[0][2])
    _check_record(isa.CHIP, chip, "chip")
    n_tiles = chip["mesh_w"] * chip["mesh_h"]
    prog = Program(chip=chip, tiles=[None] * n_tiles)
    for sid, ti, payload in sections[1:]:
        if sid in isa.PER_TILE_SECTIONS and ti >= n_tiles:
            raise ImageError("section %s for tile %d, off the %dx%d mesh"
                             % (isa.SECTION_NAMES[sid], ti, chip["mesh_w"], chip["mesh_h"]))
        t = prog.tiles[ti] if sid in isa.PER_TILE_SECTIONS else None
        if sid in isa.PER_TILE_SECTIONS and sid != isa.SEC_TILE and t is None:
            raise ImageError("section %s for tile %d comes without its tile section"
                             % (isa.SECTION_NAMES[sid], ti))
        if sid == isa.SEC_NAME:
            try:
                prog.name = payload.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ImageError("section name: not UTF-8 (%s)" % e) from None
        elif sid == isa.SEC_TILE:
            need(payload, isa.TILE.size, "tile %d" % ti)
            params = isa.TILE.unpack(payload)
            _check_record(isa.TILE, params, "tile %d" % ti)
            if params["core"] == isa.CORE_OFF:
                raise ImageError("tile %d: an off tile has no tile section" % ti)
            prog.tiles[ti] = Tile(params=params, weights=None, routes=[[] for _ in range(params["neurons"])])
        elif sid == isa.SEC_WEIGHTS:
            need(payload, t.axons * t.neurons, "weights of tile %d" % ti)
            t.weights = np.frombuffer(payload, dtype=np.int8).reshape(t.axons, t.neurons).copy()
        elif sid == isa.SEC_ROUTES:
            head = 2 * (t.neurons + 1)
            if len(payload) < head:
                raise ImageError("section routes of tile %d: %d bytes, shorter than its offsets table"
                                 % (ti, len(payload)))
            offs = struct.unpack_from("<%dH" % (t.neurons + 1), payload, 0)
            if offs[0] != 0 or any(b < a for a, b in zip(offs, offs[1:])):
                raise ImageError("section routes of tile %d: offsets are not increasing from 0" % ti)
            need(payload, head + 2 * offs[-1], "routes of tile %d" % ti)
            ent = payload[head:]
            t.routes = [[(ent[2 * e], ent[2 * e + 1]) for e in range(offs[n], offs[n + 1])]
                        for n in range(t.neurons)]
            if not any(t.routes):
                raise ImageError("section routes of tile %d: no entries (omit the section)" % ti)
        elif sid == isa.SEC_STDP:
            need(payload, isa.STDP.size, "stdp of tile %d" % ti)
            t.stdp = isa.STDP.unpack(payload)
        elif sid == isa.SEC_PROBES:
            if len(payload) < 2:
                raise ImageError("section probes: truncated")
            (count,) = struct.unpack_from("<H", payload, 0)
            need(payload, 2 + 2 * count, "probes")
            prog.probes = [(payload[2 + 2 * i], payload[3 + 2 * i]) for i in range(count)]
            if not prog.probes:
                raise ImageError("section probes: empty (omit the section)")
        elif sid == isa.SEC_SPIKES:
            if len(payload) < 2:
                raise ImageError("section spikes: truncated")
            (nb,) = struct.unpack_from("<H", payload, 0)
            head = 2 + 4 * (nb + 1)
            if nb == 0 or len(payload) < head:
                raise ImageError("section spikes: truncated or empty")
            firsts = struct.unpack_from("<%dI" % (nb + 1), payload, 2)
            if firsts[0] != 0 or any(b < a for a, b in zip(firsts, firsts[1:])):
                raise ImageError("section spikes: block offsets are not increasing from 0")
            need(payload, head + isa.SPIKE_EVENT_SIZE * firsts[-1], "spikes")
            raw = np.frombuffer(payload, dtype=np.dtype([("dtick", "<u2"), ("tile", "u1"),
                                                         ("axon", "u1"), ("offset", "<u2")]),
                                count=firsts[-1], offset=head)
            allev = np.stack([raw["dtick"], raw["tile"], raw["axon"], raw["offset"]], axis=1).astype(np.int64) \
                if len(raw) else np.zeros((0, 4), np.int64)
            prog.blocks = [allev[firsts[b]:firsts[b + 1]] for b in range(nb)]
        elif sid == isa.SEC_PROGRAM:
            prog.code = _decode_code(payload)
            if not prog.code:
                raise ImageError("section program: empty (omit the section)")
    for ti, t in enumerate(prog.tiles):
        if t is not None and t.weights is None:
            raise ImageError("tile %d has no weights section" % ti)
    validate(prog)
    if features(prog) != hdr["features"]:
        raise ImageError("header features 0x%04x do not match the content (0x%04x)"
                         % (hdr["features"], features(prog)))
    return prog


def load(path) -> tuple:
    """Read an image file; returns (Program, bytes)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ImageError("cannot read image %s: %s" % (path, e.strerror or e)) from None
    return decode(data), data
