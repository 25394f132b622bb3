"""The one table: instructions, configuration records, image sections, limits.

Everything that two parts of neurotile must agree on is defined here, once, as
data: the assembler, the disassembler, the image codec, both emulator backends
and the MicroPython firmware derive from it.  The firmware cannot import this
module (no numpy, no host package on a board), so each firmware module spells
the constants it uses as ``_NAME = const(value)`` and tests/test_isa.py checks
every one of them against :func:`exported_constants`.

docs/SPEC.md explains the meaning of every entry; the tables in SPEC.md that
list opcodes and fields are generated from here too (``--markdown``).
"""

from __future__ import annotations

import struct
import sys
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Image framing
# ---------------------------------------------------------------------------
MAGIC = b"NTIL"
FORMAT_VERSION = 1
#: magic(4s) version(B) flags(B) features(H) length(I) crc32(I)
HEADER_FMT = "<4sBBHII"
HEADER_SIZE = struct.calcsize(HEADER_FMT)  # 16
#: section header: id(B) flags(B) tile(H) length(I)
SECTION_FMT = "<BBHI"
SECTION_HEADER_SIZE = struct.calcsize(SECTION_FMT)  # 8
GLOBAL_TILE = 0xFFFF  # tile field of a section that is not per tile

# ---------------------------------------------------------------------------
# Geometry and number formats (SPEC.md "Limits" and "Number formats")
# ---------------------------------------------------------------------------
MAX_MESH_DIM = 16          # mesh is W x H, 1 <= W, H <= 16, so a tile index fits a byte
MAX_AXONS = 256            # crossbar inputs per tile
MAX_NEURONS = 256          # crossbar outputs per tile
MAX_WINDOW = 4096          # cycles per tick
MAX_FIFO_DEPTH = 64
MAX_LOOP_DEPTH = 8         # nested `loop` blocks in the sequencer
MAX_STEPS_WITHOUT_TICK = 100000  # sequencer instructions between two ticks

STATE_BITS = 24            # LIF membrane v and synaptic current u: signed, saturating
STATE_MAX = (1 << (STATE_BITS - 1)) - 1
STATE_MIN = -(1 << (STATE_BITS - 1))
DECAY_BITS = 12            # decay multipliers du, dv in 0..4096 (4096 = full decay)
DECAY_UNITY = 1 << DECAY_BITS
TRACE_MAX = 255            # STDP pre/post traces: unsigned 8 bit, saturating
ELIG_MAX = 32767           # eligibility traces: signed 16 bit, saturating
ELIG_MIN = -32768
SPIKE_COUNT_MAX = 255      # spikes counted per axon per tick (LIF input), saturating
NO_ARRIVAL = 0xFFFF        # TD-MAC input buffer: "no spike on this axon this tick"
VARIATION_DEN_SHIFT = 7    # device variation e is in units of 1/128

# Core types
CORE_OFF = 0
CORE_LIF = 1
CORE_TDMAC = 2
CORE_NAMES = {CORE_OFF: "off", CORE_LIF: "lif", CORE_TDMAC: "tdmac"}

# LIF reset modes
RESET_ZERO = 0
RESET_SUBTRACT = 1
RESET_NAMES = {RESET_ZERO: "zero", RESET_SUBTRACT: "subtract"}

# TD-MAC charge models
CHARGE_LINEAR = 0
CHARGE_RC = 1
CHARGE_NAMES = {CHARGE_LINEAR: "linear", CHARGE_RC: "rc"}

# Router modes
ROUTER_BARRIER = 0
ROUTER_FIXED = 1
ROUTER_NAMES = {ROUTER_BARRIER: "barrier", ROUTER_FIXED: "fixed"}

# Router ports.  Input port p of a tile is fed by exactly one link; output
# port p of a tile goes to exactly one place.  +x is east, +y is south.
PORT_LOCAL = 0
PORT_NORTH = 1
PORT_EAST = 2
PORT_SOUTH = 3
PORT_WEST = 4
N_PORTS = 5
PORT_NAMES = ("L", "N", "E", "S", "W")

# STDP modes
STDP_PAIR = 0      # weight changes at once
STDP_REWARD = 1    # changes go to an eligibility trace; the reward register applies them

# Streams of the shared counter-based generator (SPEC.md "Random numbers")
STREAM_VARIATION = 1   # per crossing, drawn when a weight is (re)programmed
STREAM_CMP_OFFSET = 2  # per neuron, drawn once at load
STREAM_CMP_NOISE = 3   # per neuron per tick
STREAM_STDP = 4        # stochastic rounding of pair STDP, per crossing per tick
STREAM_REWARD = 5      # stochastic rounding of reward updates, per crossing per tick
STREAM_FILL = 6        # assembler's seeded random weight fill (host only)

# The generator itself (SPEC.md "Random numbers"): murmur3's 32-bit finaliser.
RNG_GOLDEN = 0x9E3779B9
RNG_MUL1 = 0x85EBCA6B
RNG_MUL2 = 0xC2B2AE35
# The per-tick state hash (SPEC.md "State hash") is Adler-style modulo this prime.
HASH_MOD = 65521

# Feature bits in the image header: which firmware modules a board must import.
FEAT_LIF = 1 << 0
FEAT_TDMAC = 1 << 1
FEAT_ROUTER = 1 << 2      # more than one tile, or any route at all
FEAT_STDP = 1 << 3
FEAT_REWARD = 1 << 4
FEAT_NOISE = 1 << 5       # quantisation, variation, comparator offset/noise
FEAT_RC = 1 << 6          # a TD-MAC tile uses the RC charge model
FEAT_SPIKES = 1 << 7      # spike blocks (`play`)
FEATURE_NAMES = {
    FEAT_LIF: "lif", FEAT_TDMAC: "tdmac", FEAT_ROUTER: "router", FEAT_STDP: "stdp",
    FEAT_REWARD: "reward", FEAT_NOISE: "noise", FEAT_RC: "rc", FEAT_SPIKES: "spikes",
}

# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------
SEC_CHIP = 1      # global: CHIP record
SEC_TILE = 2      # per tile: TILE record
SEC_WEIGHTS = 3   # per tile: axons*neurons int8, axon-major (row = axon)
SEC_ROUTES = 4    # per tile: uint16 offsets[neurons+1], then (tile u8, axon u8) pairs
SEC_STDP = 5      # per tile: STDP record
SEC_PROBES = 6    # global: uint16 count, then (tile u8, neuron u8) pairs
SEC_SPIKES = 7    # global: uint16 blocks, uint32 offsets[blocks+1] (event index), events
SEC_PROGRAM = 8   # global: sequencer instructions, opcode byte + operands
SEC_NAME = 9      # global: UTF-8 program name (informational, optional)

SECTION_NAMES = {
    SEC_CHIP: "chip", SEC_TILE: "tile", SEC_WEIGHTS: "weights", SEC_ROUTES: "routes",
    SEC_STDP: "stdp", SEC_PROBES: "probes", SEC_SPIKES: "spikes", SEC_PROGRAM: "program",
    SEC_NAME: "name",
}
PER_TILE_SECTIONS = (SEC_TILE, SEC_WEIGHTS, SEC_ROUTES, SEC_STDP)
#: one spike-block event: dtick(H) tile(B) axon(B) offset(H)
SPIKE_EVENT_FMT = "<HBBH"
SPIKE_EVENT_SIZE = struct.calcsize(SPIKE_EVENT_FMT)
ROUTE_ENTRY_SIZE = 2


# ---------------------------------------------------------------------------
# Fixed-layout records: CHIP, TILE, STDP
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One field of a fixed-layout record.

    ``fmt`` is a ``struct`` code; ``lo``/``hi`` the legal range (inclusive);
    ``default`` what the assembler writes when the source says nothing.
    """

    name: str
    fmt: str
    lo: int
    hi: int
    default: int
    doc: str
    enum: dict | None = None


@dataclass(frozen=True)
class Record:
    name: str
    fields: tuple

    @property
    def fmt(self) -> str:
        return "<" + "".join(f.fmt for f in self.fields)

    @property
    def size(self) -> int:
        return struct.calcsize(self.fmt)

    def names(self):
        return [f.name for f in self.fields]

    def defaults(self) -> dict:
        return {f.name: f.default for f in self.fields}

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def pack(self, values: dict) -> bytes:
        return struct.pack(self.fmt, *[values[f.name] for f in self.fields])

    def unpack(self, data: bytes, offset: int = 0) -> dict:
        return dict(zip(self.names(), struct.unpack_from(self.fmt, data, offset)))


CHIP = Record("chip", (
    Field("mesh_w", "B", 1, MAX_MESH_DIM, 1, "mesh width (tiles along x)"),
    Field("mesh_h", "B", 1, MAX_MESH_DIM, 1, "mesh height (tiles along y)"),
    Field("window", "H", 1, MAX_WINDOW, 16, "cycles per tick (K)"),
    Field("router_mode", "B", 0, 1, ROUTER_BARRIER, "late-spike policy", ROUTER_NAMES),
    Field("fifo_depth", "B", 1, MAX_FIFO_DEPTH, 4, "depth of every router input FIFO"),
    Field("reserved", "H", 0, 0, 0, "zero"),
    Field("seed", "I", 0, 0xFFFFFFFF, 1, "seed of the shared generator"),
))

TILE = Record("tile", (
    Field("core", "B", 0, 2, CORE_OFF, "core type", CORE_NAMES),
    Field("wbits", "B", 2, 8, 8, "weight width in bits (signed, symmetric)"),
    Field("axons", "H", 1, MAX_AXONS, 1, "crossbar inputs"),
    Field("neurons", "H", 1, MAX_NEURONS, 1, "crossbar outputs"),
    # --- LIF ---
    Field("vth", "i", 1, STATE_MAX, 64, "LIF threshold (v >= vth fires)"),
    Field("bias", "i", STATE_MIN, STATE_MAX, 0, "LIF bias added to v every tick"),
    Field("du", "H", 0, DECAY_UNITY, DECAY_UNITY, "LIF current decay (4096 = no memory)"),
    Field("dv", "H", 0, DECAY_UNITY, 0, "LIF voltage decay (0 = no leak)"),
    Field("refractory", "B", 0, 255, 0, "LIF refractory ticks after a spike"),
    Field("reset", "B", 0, 1, RESET_ZERO, "LIF reset mode", RESET_NAMES),
    Field("wshift", "B", 0, 15, 0, "LIF input scale: u += (sum w) << wshift"),
    # --- TD-MAC ---
    Field("charge", "B", 0, 1, CHARGE_LINEAR, "TD-MAC charge model", CHARGE_NAMES),
    Field("theta", "i", 1, (1 << 30) - 1, 64, "TD-MAC comparator threshold"),
    Field("t_in", "H", 1, MAX_WINDOW - 1, 8, "TD-MAC input phase length in cycles"),
    Field("ramp", "H", 0, 32767, 1, "TD-MAC fire-phase ramp, charge per cycle"),
    Field("rc_shift", "B", 0, 24, 8, "TD-MAC RC model: dQ = (G*(rail-Q)) >> rc_shift"),
    Field("rail", "i", 1, 1 << 20, 1 << 16, "TD-MAC RC model: supply rail in charge units"),
    # --- analog non-idealities (both core types) ---
    Field("quant", "H", 0, 256, 0, "conductance levels per device (0 = ideal)"),
    Field("variation", "B", 0, 127, 0, "device variation, +-n/128 per crossing"),
    Field("cmp_offset", "H", 0, 32767, 0, "comparator offset amplitude per neuron"),
    Field("cmp_noise", "H", 0, 32767, 0, "comparator noise amplitude per neuron per tick"),
))

STDP = Record("stdp", (
    Field("enabled", "B", 0, 1, 0, "learning on at start"),
    Field("mode", "B", 0, 1, STDP_PAIR, "pair STDP or reward-modulated",
          {STDP_PAIR: "pair", STDP_REWARD: "reward"}),
    Field("pre_inc", "B", 0, TRACE_MAX, 64, "pre trace increment per input spike"),
    Field("post_inc", "B", 0, TRACE_MAX, 64, "post trace increment per output spike"),
    Field("pre_shift", "B", 0, 8, 2, "pre trace decay: x -= x >> pre_shift"),
    Field("post_shift", "B", 0, 8, 2, "post trace decay: y -= y >> post_shift"),
    Field("a_plus", "B", 0, 255, 16, "potentiation gain"),
    Field("a_minus", "B", 0, 255, 16, "depression gain"),
    Field("frac_bits", "B", 0, 16, 8, "fraction bits of a weight change"),
    Field("stochastic", "B", 0, 1, 0, "stochastic rounding from the shared generator"),
    Field("wmin", "b", -127, 127, -127, "lower weight clamp"),
    Field("wmax", "b", -127, 127, 127, "upper weight clamp"),
    Field("elig_shift", "B", 0, 15, 3, "eligibility decay: e -= e >> elig_shift"),
    Field("reward_shift", "B", 0, 15, 4, "reward update: dw = (R * e) >> reward_shift"),
))


# ---------------------------------------------------------------------------
# Sequencer instructions
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Operand:
    name: str
    fmt: str      # struct code
    lo: int
    hi: int
    doc: str = ""
    kind: str = "int"   # int | tile | tile_or_all | label | block | bool


@dataclass(frozen=True)
class Instr:
    mnemonic: str
    opcode: int
    operands: tuple = field(default_factory=tuple)
    doc: str = ""
    ends_block: bool = False   # control never falls through (halt, jmp)

    @property
    def fmt(self) -> str:
        return "<" + "".join(o.fmt for o in self.operands)

    @property
    def size(self) -> int:
        return 1 + struct.calcsize(self.fmt)


ALL_TILES = 0xFF
_T = Operand("tile", "B", 0, MAX_MESH_DIM * MAX_MESH_DIM - 1, "tile index", "tile")
_TA = Operand("tile", "B", 0, 0xFF, "tile index, or `all`", "tile_or_all")

INSTRUCTIONS = (
    Instr("halt", 0x00, (), "stop the program", ends_block=True),
    Instr("run", 0x01, (Operand("ticks", "I", 1, 0xFFFFFFFF, "ticks to advance"),),
          "advance the chip by `ticks` ticks"),
    Instr("inject", 0x02, (_T, Operand("axon", "B", 0, MAX_AXONS - 1, "axon"),
                           Operand("offset", "H", 0, MAX_WINDOW - 1, "cycle offset in the window")),
          "external input spike for the next tick"),
    Instr("play", 0x03, (Operand("block", "H", 0, 0xFFFF, "spike block", "block"),),
          "play a spike block, its dtick 0 being the next tick"),
    Instr("learn", 0x04, (_TA, Operand("on", "B", 0, 1, "1 on, 0 off", "bool")),
          "switch STDP on or off from the next tick"),
    Instr("setw", 0x05, (_T, Operand("axon", "B", 0, MAX_AXONS - 1),
                         Operand("neuron", "B", 0, MAX_NEURONS - 1),
                         Operand("value", "b", -127, 127, "weight, clipped to the tile's width")),
          "program one crossing"),
    Instr("reward", 0x06, (_TA, Operand("value", "h", -32768, 32767, "reward R")),
          "set the reward register for the next tick"),
    Instr("loop", 0x07, (Operand("count", "I", 1, 0xFFFFFFFF, "iterations"),),
          "repeat the body up to the matching endloop `count` times"),
    Instr("endloop", 0x08, (Operand("target", "H", 0, 0xFFFF, "first body instruction", "label"),),
          "end of a loop body (target is filled in by the assembler)"),
    Instr("jmp", 0x09, (Operand("target", "H", 0, 0xFFFF, "instruction index", "label"),),
          "jump", ends_block=True),
    Instr("reset", 0x0A, (_TA,), "clear neuron state (v, u, refractory) of a tile"),
    Instr("mark", 0x0B, (Operand("id", "H", 0, 0xFFFF, "marker id"),),
          "record a marker (tick, id) in the trace"),
)

BY_MNEMONIC = {i.mnemonic: i for i in INSTRUCTIONS}
BY_OPCODE = {i.opcode: i for i in INSTRUCTIONS}


def _check_tables() -> None:
    """Refuse a table that contradicts itself (riscv-opcodes style)."""
    assert len(BY_MNEMONIC) == len(INSTRUCTIONS), "duplicate mnemonic"
    assert len(BY_OPCODE) == len(INSTRUCTIONS), "duplicate opcode"
    for ins in INSTRUCTIONS:
        assert 0 <= ins.opcode <= 0xFF
        for op in ins.operands:
            lo, hi = _fmt_range(op.fmt)
            assert lo <= op.lo <= op.hi <= hi, (ins.mnemonic, op.name)
    for rec in (CHIP, TILE, STDP):
        assert len(set(rec.names())) == len(rec.fields), rec.name
        for f in rec.fields:
            lo, hi = _fmt_range(f.fmt)
            assert lo <= f.lo <= f.default <= f.hi <= hi, (rec.name, f.name)
    assert len(set(SECTION_NAMES)) == len(SECTION_NAMES)


def _fmt_range(fmt: str):
    bits = struct.calcsize(fmt) * 8
    if fmt.islower() and fmt != "?":
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


_check_tables()


# ---------------------------------------------------------------------------
# Generated artefacts
# ---------------------------------------------------------------------------
def exported_constants() -> dict:
    """Every constant a firmware module may use, by name.

    Board code cannot import this module and cannot afford a big constants
    module either (each global costs heap on a micro:bit), so each firmware
    module writes the constants it needs as ``_NAME = const(value)`` (folded
    at compile time, no heap) or ``NAME = value``.  tests/test_isa.py checks
    that every such assignment in ``firmware/*.py`` whose name (without the
    leading underscore) is exported here has exactly this value.
    """
    names = [
        "MAGIC", "FORMAT_VERSION", "HEADER_FMT", "HEADER_SIZE", "SECTION_FMT",
        "SECTION_HEADER_SIZE", "GLOBAL_TILE",
        "MAX_MESH_DIM", "MAX_AXONS", "MAX_NEURONS", "MAX_WINDOW", "MAX_FIFO_DEPTH",
        "MAX_LOOP_DEPTH", "MAX_STEPS_WITHOUT_TICK", "STATE_MAX", "STATE_MIN", "DECAY_BITS",
        "DECAY_UNITY", "TRACE_MAX", "ELIG_MAX", "ELIG_MIN", "SPIKE_COUNT_MAX", "NO_ARRIVAL",
        "VARIATION_DEN_SHIFT", "CORE_OFF", "CORE_LIF", "CORE_TDMAC", "RESET_ZERO",
        "RESET_SUBTRACT", "CHARGE_LINEAR", "CHARGE_RC", "ROUTER_BARRIER", "ROUTER_FIXED",
        "PORT_LOCAL", "PORT_NORTH", "PORT_EAST", "PORT_SOUTH", "PORT_WEST", "N_PORTS",
        "STDP_PAIR", "STDP_REWARD", "STREAM_VARIATION", "STREAM_CMP_OFFSET",
        "STREAM_CMP_NOISE", "STREAM_STDP", "STREAM_REWARD", "FEAT_LIF", "FEAT_TDMAC",
        "FEAT_ROUTER", "FEAT_STDP", "FEAT_REWARD", "FEAT_NOISE", "FEAT_RC", "FEAT_SPIKES",
        "SEC_CHIP", "SEC_TILE", "SEC_WEIGHTS", "SEC_ROUTES", "SEC_STDP", "SEC_PROBES",
        "SEC_SPIKES", "SEC_PROGRAM", "SEC_NAME", "SPIKE_EVENT_FMT", "SPIKE_EVENT_SIZE",
        "ALL_TILES", "RNG_GOLDEN", "RNG_MUL1", "RNG_MUL2", "HASH_MOD",
    ]
    g = globals()
    out = {n: g[n] for n in names}
    for rec in (CHIP, TILE, STDP):
        up = rec.name.upper()
        out[up + "_FMT"] = rec.fmt
        out[up + "_SIZE"] = rec.size
        for i, f in enumerate(rec.fields):   # index in the unpacked tuple
            out["%s_%s" % (up, f.name.upper())] = i
    for ins in INSTRUCTIONS:
        out["OP_" + ins.mnemonic.upper()] = ins.opcode
        out["OPFMT_" + ins.mnemonic.upper()] = ins.fmt
    return out


def markdown_tables() -> str:
    """The instruction and record tables of docs/SPEC.md (generated, diffed by a test)."""
    lines = ["| mnemonic | opcode | operands (encoding) | meaning |", "|---|---|---|---|"]
    for ins in INSTRUCTIONS:
        ops = ", ".join("%s:%s[%d..%d]" % (o.name, o.fmt, o.lo, o.hi) for o in ins.operands)
        lines.append("| `%s` | 0x%02X | %s | %s |" % (ins.mnemonic, ins.opcode, ops or "-", ins.doc))
    for rec in (CHIP, TILE, STDP):
        lines += ["", "Record `%s` (`%s`, %d bytes):" % (rec.name.upper(), rec.fmt, rec.size), "",
                  "| field | type | range | default | meaning |", "|---|---|---|---|---|"]
        for f in rec.fields:
            enum = " (%s)" % ", ".join("%d=%s" % kv for kv in f.enum.items()) if f.enum else ""
            lines.append("| `%s` | %s | %d..%d | %d | %s%s |" % (f.name, f.fmt, f.lo, f.hi, f.default, f.doc, enum))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m emulator.isa", description=__doc__.splitlines()[0])
    p.add_argument("--constants", action="store_true", help="print the constants firmware may use")
    p.add_argument("--markdown", action="store_true", help="print the SPEC.md tables")
    a = p.parse_args(argv)
    if a.constants:
        for k, v in exported_constants().items():
            print("%s = %r" % (k, v))
    if a.markdown:
        sys.stdout.write(markdown_tables())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
