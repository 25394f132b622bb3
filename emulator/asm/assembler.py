"""Sections -> a checked :class:`emulator.image.Program` -> image bytes.

The assembler reads the sections the parser found in a fixed order, whatever
their order in the source: constants (in source order), then ``.name`` and
``.chip``, then ``.tile``, then ``.loihi`` and ``.stdp``, then ``.weights``,
``.routes``, ``.probe`` and ``.spikes``, then ``.program``. So a route can name a
tile defined further down, and the mesh is known before any tile address is read.

Field names, enum names, ranges, mnemonics and operand kinds all come from
:mod:`emulator.isa`; the only knowledge of its own is the syntax (docs/SPEC.md
section 17) and the Loihi preset of SPEC section 6.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import numpy as np

from emulator import image, isa
from emulator.asm.diagnostics import Abort, AsmError, Loc, Sink, TooManyErrors, suggest
from emulator.asm.expressions import Cursor, describe
from emulator.asm.lexer import END, NAME, STRING
from emulator.asm.parser import Line, Parser, decode_source, read_source

#: directives and the phase in which each is assembled
PHASES = {
    "const": 0, "name": 1, "chip": 1, "tile": 2, "loihi": 3, "stdp": 3,
    "weights": 4, "routes": 4, "probe": 4, "spikes": 4, "program": 5,
}
RESERVED_NAMES = ("all", "on", "off", "true", "false")
BOOL_NAMES = {"on": 1, "off": 0, "true": 1, "false": 0}

#: `.loihi` parameters (SPEC section 6): name -> (lo, hi, default, meaning)
LOIHI_PARAMS = {
    "vth_mant": (0, 131071, None, "threshold mantissa; threshold = vth_mant << 6"),
    "du": (0, 4095, 0, "Loihi current decay (12 bit)"),
    "dv": (0, 4095, 0, "Loihi voltage decay (12 bit)"),
    "bias_mant": (-4096, 4095, 0, "bias mantissa (13 bit signed)"),
    "bias_exp": (0, 7, 0, "bias exponent"),
    "wexp": (-6, 9, 0, "weight exponent; wshift = 6 + wexp"),
}

MAX_SPIKE_EVENTS = 1 << 20        # per program: keeps images (and fuzzing) bounded
WEIGHT_SUFFIXES = (".npy", ".csv")


@dataclass
class TileDef:
    index: int
    loc: Loc
    params: dict
    field_locs: dict
    weights: np.ndarray = None
    routes: list = None
    route_lines: list = field(default_factory=list)   # [(loc, [(tile, axon)...])]
    stdp: dict = None
    stdp_loc: Loc = None
    loihi_loc: Loc = None

    @property
    def wmax(self) -> int:
        return (1 << (self.params["wbits"] - 1)) - 1

    @property
    def core_name(self) -> str:
        return isa.CORE_NAMES[self.params["core"]]


@dataclass
class Assembly:
    """The outcome of a successful assembly."""

    program: image.Program
    image: bytes
    diagnostics: list          # warnings only (errors raise AsmError)

    @property
    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]


class Assembler:
    def __init__(self):
        self.sink = Sink()
        self.consts = {}           # name -> (value, loc)
        self.const_first = {}      # name -> Loc of its first .const (for "used before")
        self.used_consts = set()
        self.chip = isa.CHIP.defaults()
        self.chip_loc = None
        self.name = ""
        self.tiles = {}            # index -> TileDef, or None for an explicit `off`
        self.tile_decl = {}        # index -> Loc of its .tile
        self.broken_tiles = set()  # tiles whose .tile had errors
        self.broken_consts = set()
        self.singletons = {}       # (directive, key) -> Loc, for duplicate checks
        self.probes = []
        self.probe_locs = []
        self.blocks = []           # [(name, events array)]
        self.block_index = {}      # name -> (index, loc)
        self.block_locs = []
        self.used_blocks = set()
        self.code = []
        self.code_locs = []
        self.labels = {}           # name -> (pc, loc)
        self.used_labels = set()
        self.setw_tiles = set()
        self.first_loc = None

    # ------------------------------------------------------------------ driver
    def run(self, source, base_dir: str) -> Assembly:
        try:
            try:
                sections = Parser(self.sink).parse(source, base_dir)
            except Abort:
                sections = []
            self.first_loc = sections[0].loc if sections else Loc(source, 1, 1)
            for sec in sections:
                if sec.name == "const" and self._const_name(sec):
                    self.const_first.setdefault(self._const_name(sec), sec.head.tokens[0].loc)
            for phase in range(6):
                for pos, sec in enumerate(sections):
                    ph = PHASES.get(sec.name)
                    if ph is None and phase == 0:
                        self._guard(self._unknown_directive, sec)
                    elif ph == phase:
                        self._guard(getattr(self, "_d_" + sec.name), sec)
                if phase == 5:
                    self._guard(self._finish_program)
            if self.sink.n_errors == 0:
                prog = self._guard(self._build)
                if prog is not None:
                    self._warn_unused()
                    self._guard(self._warn_dead_routes, prog)
                    data = self._guard(self._encode, prog)
                    if data is not None and self.sink.n_errors == 0:
                        return Assembly(prog, data, self._sorted())
        except TooManyErrors:
            pass
        raise AsmError(self._sorted())

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except Abort:
            return None

    def _sorted(self):
        order = {}
        for d in self.sink.diagnostics:
            if d.loc is not None:
                order.setdefault(id(d.loc.source), len(order))

        def key(d):
            if d.loc is None:
                return (-1, 0, 0)
            return (order[id(d.loc.source)], d.loc.line, d.loc.col)
        return sorted(self.sink.diagnostics, key=key)

    # ------------------------------------------------------------------ helpers
    def cursor(self, line: Line) -> Cursor:
        return Cursor(line.tokens, self.sink, self._lookup)

    def _lookup(self, tok) -> int:
        name = tok.value
        if name in self.consts:
            self.used_consts.add(name)
            return self.consts[name][0]
        if name in self.broken_consts:
            raise Abort()
        if self._in_const_phase and name in self.const_first:
            self.sink.error(tok.loc, "constant '%s' is used before its definition" % name,
                            [("defined here", self.const_first[name])])
        if name in BOOL_NAMES or name == "all":
            self.sink.error(tok.loc, "'%s' cannot be used in an expression here" % name)
        if name in self.labels or name in self.block_index:
            what = "a label" if name in self.labels else "a spike block"
            self.sink.error(tok.loc, "'%s' is %s, not a constant" % (name, what))
        self.sink.error(tok.loc, "unknown name '%s'%s" % (name, suggest(name, self.consts)))

    _in_const_phase = False

    def _unknown_directive(self, sec) -> None:
        self.sink.error(sec.loc, "unknown directive '.%s'%s"
                        % (sec.name, suggest("." + sec.name, ["." + d for d in list(PHASES) + ["include"]])))

    def _once(self, key, loc, what) -> None:
        first = self.singletons.get(key)
        if first is not None:
            self.sink.error(loc, "duplicate %s" % what, [("first defined here", first)])
        self.singletons[key] = loc

    def _no_body(self, sec) -> None:
        if sec.body:
            self.sink.report(sec.body[0].loc, "'.%s' takes no indented lines; "
                                               "this line belongs to no section" % sec.name)

    def _lines(self, sec):
        """Head (if not empty) and body lines of a section, as cursors."""
        if sec.head.tokens[0].kind != END:
            yield self.cursor(sec.head)
        for line in sec.body:
            yield self.cursor(line)

    def tile_address(self, cur: Cursor):
        """A tile: an index expression or ``(x, y)``; checked against the mesh."""
        w, h = self.chip["mesh_w"], self.chip["mesh_h"]
        start = cur.peek()
        if start.is_op("(") and self._paren_has_comma(cur):
            cur.next()
            x = cur.expr()
            cur.expect(",")
            y = cur.expr()
            cur.expect(")", "to close the (x, y) pair")
            loc = cur.span_from(start)
            if not (0 <= x < w and 0 <= y < h):
                cur.fail(loc, "tile (%d, %d) is off the %dx%d mesh (x 0..%d, y 0..%d)"
                         % (x, y, w, h, w - 1, h - 1), self._mesh_note())
            return y * w + x, loc
        v, loc = cur.expr_loc()
        if not 0 <= v < w * h:
            cur.fail(loc, "tile %d is off the %dx%d mesh (tiles 0..%d)" % (v, w, h, w * h - 1),
                     self._mesh_note())
        return v, loc

    def _mesh_note(self):
        return [("mesh set here", self.chip_loc)] if self.chip_loc else []

    @staticmethod
    def _paren_has_comma(cur: Cursor) -> bool:
        depth = 0
        k = 0
        while True:
            t = cur.peek(k)
            if t.kind == END:
                return False
            if t.is_op("("):
                depth += 1
            elif t.is_op(")"):
                depth -= 1
                if depth == 0:
                    return False
            elif t.is_op(",") and depth == 1:
                return True
            k += 1

    def live_tile(self, cur: Cursor, what: str = "tile"):
        """A tile address that must name an on tile: returns (TileDef, loc)."""
        ti, loc = self.tile_address(cur)
        t = self.tiles.get(ti)
        if ti in self.broken_tiles:
            raise Abort()          # its definition has been reported already
        if t is None:
            if ti in self.tile_decl:
                cur.fail(loc, "tile %d is off" % ti, [("declared off here", self.tile_decl[ti])])
            cur.fail(loc, "tile %d is off: no '.tile %d' defines it" % (ti, ti))
        return t, loc

    def check_range(self, loc, what, v, lo, hi, extra=""):
        if not lo <= v <= hi:
            self.sink.error(loc, "%s = %d is out of range %d..%d%s" % (what, v, lo, hi, extra))
        return v

    def index_range(self, cur: Cursor, count: int, what: str, owner: str):
        """``a`` or ``a..b`` naming items 0..count-1 of something."""
        lo, hi, loc = cur.int_range()
        if lo < 0 or hi >= count:
            bad = lo if lo < 0 else hi
            cur.fail(loc, "%s has no %s %d (%ss 0..%d)" % (owner, what, bad, what, count - 1))
        return lo, hi, loc

    # ------------------------------------------------------------------ records
    def record_fields(self, sec, rec: isa.Record, skip=(), first_cursor=None, params=None):
        """Parse ``name=value`` items of ``rec`` from a section's head and body."""
        values = {}
        locs = {}
        cursors = list(self._lines(sec)) if first_cursor is None else \
            [first_cursor] + [self.cursor(line) for line in sec.body]
        for cur in cursors:
            try:
                while not cur.at_end():
                    if cur.accept(","):
                        continue
                    name_tok = cur.expect_name("a field name (name=value)")
                    if name_tok.value in skip or name_tok.value not in rec.names():
                        names = [n for n in rec.names() if n not in skip]
                        cur.fail(name_tok, "unknown %s field '%s'%s" % (rec.name, name_tok.value,
                                                                        suggest(name_tok.value, names)))
                    f = rec.field(name_tok.value)
                    cur.expect("=", "after the field name")
                    v, vloc = self.field_value(cur, f, rec.name)
                    if f.name in locs:
                        self.sink.report(name_tok.loc, "field '%s' is given twice" % f.name,
                                         [("first given here", locs[f.name])])
                    values[f.name] = v
                    locs[f.name] = name_tok.loc.to(vloc)
            except Abort:
                continue
        return values, locs

    def field_value(self, cur: Cursor, f: isa.Field, recname: str):
        t = cur.peek()
        if t.kind == NAME and f.enum and t.value in f.enum.values():
            cur.next()
            return {v: k for k, v in f.enum.items()}[t.value], t.loc
        if t.kind == NAME and f.enum and t.value not in self.consts:
            cur.fail(t, "unknown %s '%s'%s; expected one of: %s"
                     % (f.name, t.value, suggest(t.value, f.enum.values()), ", ".join(f.enum.values())))
        if t.kind == NAME and f.lo == 0 and f.hi == 1 and t.value in BOOL_NAMES:
            cur.next()
            return BOOL_NAMES[t.value], t.loc
        v, loc = cur.expr_loc()
        names = ""
        if f.enum:
            names = " (%s)" % ", ".join("%d=%s" % kv for kv in f.enum.items())
        self.check_range(loc, f.name, v, f.lo, f.hi, names)
        return v, loc

    # ------------------------------------------------------------------ phase 0
    def _const_name(self, sec):
        t = sec.head.tokens[0]
        return t.value if t.kind == NAME else None

    def _d_const(self, sec) -> None:
        self._no_body(sec)
        cur = self.cursor(sec.head)
        name = cur.expect_name("a constant name after '.const'")
        if name.value in RESERVED_NAMES:
            cur.fail(name, "'%s' is a reserved word and cannot name a constant" % name.value)
        cur.expect("=", "after the constant name")
        self._in_const_phase = True
        try:
            v = cur.expr()
        except Abort:
            if name.value not in self.consts:
                self.broken_consts.add(name.value)
            raise
        finally:
            self._in_const_phase = False
        cur.expect_end("after the expression")
        if name.value in self.consts:
            cur.fail(name, "duplicate constant '%s'" % name.value,
                     [("first defined here", self.consts[name.value][1])])
        self.consts[name.value] = (v, name.loc)

    # ------------------------------------------------------------------ phase 1
    def _d_name(self, sec) -> None:
        self._once(("name",), sec.loc, "'.name' (a program has one name)")
        self._no_body(sec)
        cur = self.cursor(sec.head)
        s = cur.expect_string("the program name")
        cur.expect_end("after the name")
        self.name = s.value

    def _d_chip(self, sec) -> None:
        self._once(("chip",), sec.loc, "'.chip' (a program configures one chip)")
        self.chip_loc = sec.loc
        values, _ = self.record_fields(sec, isa.CHIP)
        self.chip.update(values)

    # ------------------------------------------------------------------ phase 2
    def _d_tile(self, sec) -> None:
        before = self.sink.n_errors
        self._tile_index = None
        try:
            self._define_tile(sec)
        finally:
            if self.sink.n_errors > before and self._tile_index is not None:
                self.broken_tiles.add(self._tile_index)   # later references stay quiet

    def _define_tile(self, sec) -> None:
        cur = self.cursor(sec.head)
        if cur.at_end():
            cur.fail(sec.loc, "'.tile' needs a tile address: '.tile 0 lif axons=16 neurons=16'")
        ti, loc = self.tile_address(cur)
        if ti in self.tile_decl:
            self.sink.error(loc, "duplicate '.tile %d'" % ti, [("first defined here", self.tile_decl[ti])])
        self.tile_decl[ti] = sec.loc.to(loc)
        self._tile_index = ti
        core = None
        core_f = isa.TILE.field("core")
        t = cur.peek()
        if t.kind == NAME and not cur.peek(1).is_op("="):
            cur.next()
            names = {v: k for k, v in core_f.enum.items()}
            if t.value not in names:
                cur.fail(t, "unknown core type '%s'%s; expected one of: %s"
                         % (t.value, suggest(t.value, names), ", ".join(names)))
            core = names[t.value]
        before = self.sink.n_errors
        values, locs = self.record_fields(sec, isa.TILE, first_cursor=cur)
        if self.sink.n_errors > before:
            raise Abort()
        if "core" in values:
            if core is not None and values["core"] != core:
                self.sink.error(locs["core"], "core given twice")
            core = values["core"]
        if core is None:
            self.sink.error(sec.loc.to(loc), "tile %d needs a core type: %s"
                            % (ti, ", ".join(core_f.enum.values())))
        if core == isa.CORE_OFF:
            self.tiles[ti] = None
            return
        for need in ("axons", "neurons"):
            if need not in values:
                self.sink.report(sec.loc.to(loc), "tile %d needs '%s=' (1..%d)"
                                 % (ti, need, isa.TILE.field(need).hi))
        if "axons" not in values or "neurons" not in values:
            raise Abort()
        params = isa.TILE.defaults()
        params.update(values)
        params["core"] = core
        here = sec.loc.to(loc)
        if params["quant"] == 1:
            self.sink.report(locs["quant"], "quant = 1 is not allowed: 0 (ideal) or 2..256 levels")
        td = TileDef(ti, here, params, locs,
                     weights=np.zeros((params["axons"], params["neurons"]), np.int64),
                     routes=[[] for _ in range(params["neurons"])])
        self.tiles[ti] = td
        self._check_t_in(td)

    def _check_t_in(self, td: TileDef) -> None:
        if td.params["core"] != isa.CORE_TDMAC:
            return
        window = self.chip["window"]
        t_in = td.params["t_in"]
        if t_in >= window:
            loc = td.field_locs.get("t_in", td.loc)
            notes = [("window set here", self.chip_loc)] if self.chip_loc else []
            given = "" if "t_in" in td.field_locs else " (the default)"
            self.sink.report(loc, "t_in = %d%s must be below the window (%d cycles): the input phase "
                                  "is cycles 0..t_in-1 and the fire phase needs at least one cycle"
                             % (t_in, given, window), notes)

    # ------------------------------------------------------------------ phase 3
    def _d_loihi(self, sec) -> None:
        cur = self.cursor(sec.head)
        td, loc = self.live_tile(cur)
        if td.loihi_loc is not None:
            self.sink.error(sec.loc, "duplicate '.loihi' for tile %d" % td.index,
                            [("first defined here", td.loihi_loc)])
        td.loihi_loc = sec.loc
        if td.params["core"] != isa.CORE_LIF:
            self.sink.error(loc, "the loihi preset needs a lif tile; tile %d is %s" % (td.index, td.core_name),
                            [("defined here", td.loc)])
        vals = {}
        locs = {}
        before = self.sink.n_errors
        for c in [cur] + [self.cursor(line) for line in sec.body]:
            try:
                while not c.at_end():
                    if c.accept(","):
                        continue
                    nt = c.expect_name("a loihi parameter (name=value)")
                    if nt.value not in LOIHI_PARAMS:
                        c.fail(nt, "unknown loihi parameter '%s'%s; expected: %s"
                               % (nt.value, suggest(nt.value, LOIHI_PARAMS), ", ".join(LOIHI_PARAMS)))
                    c.expect("=", "after the parameter name")
                    v, vloc = c.expr_loc()
                    lo, hi, _, _ = LOIHI_PARAMS[nt.value]
                    self.check_range(vloc, nt.value, v, lo, hi)
                    if nt.value in vals:
                        self.sink.report(nt.loc, "parameter '%s' is given twice" % nt.value,
                                         [("first given here", locs[nt.value])])
                    vals[nt.value] = v
                    locs[nt.value] = nt.loc
            except Abort:
                continue
        if self.sink.n_errors > before:
            raise Abort()
        if "vth_mant" not in vals:
            self.sink.error(sec.loc, "the loihi preset needs vth_mant= (the threshold mantissa)")
        p = {k: (vals[k] if k in vals else d) for k, (_, _, d, _) in LOIHI_PARAMS.items()}
        mapped = {
            "du": min(p["du"] + 1, isa.DECAY_UNITY), "dv": p["dv"], "wshift": 6 + p["wexp"],
            "vth": (p["vth_mant"] << 6) + 1, "bias": p["bias_mant"] << p["bias_exp"],
            "reset": isa.RESET_ZERO, "refractory": 0,
        }
        for k, v in mapped.items():
            if k in td.field_locs and td.field_locs[k] is not None:
                self.sink.warn(td.field_locs[k], "%s is overridden by the loihi preset (%s = %d)" % (k, k, v),
                               [("loihi preset here", sec.loc)])
            td.params[k] = v

    def _d_stdp(self, sec) -> None:
        cur = self.cursor(sec.head)
        td, loc = self.live_tile(cur)
        if td.stdp_loc is not None:
            self.sink.error(sec.loc, "duplicate '.stdp' for tile %d" % td.index,
                            [("first defined here", td.stdp_loc)])
        td.stdp_loc = sec.loc
        if td.params["core"] != isa.CORE_LIF:
            self.sink.error(loc, "STDP needs a lif tile; tile %d is %s (learning acts on LIF tiles only)"
                            % (td.index, td.core_name), [("defined here", td.loc)])
        values, locs = self.record_fields(sec, isa.STDP, first_cursor=cur)
        st = isa.STDP.defaults()
        st.update(values)
        if st["wmin"] > st["wmax"]:
            self.sink.error(locs.get("wmin", sec.loc), "wmin = %d is above wmax = %d" % (st["wmin"], st["wmax"]))
        td.stdp = st

    # ------------------------------------------------------------------ phase 4: weights
    def _d_weights(self, sec) -> None:
        cur = self.cursor(sec.head)
        td, _ = self.live_tile(cur)
        cur.expect_end("after the tile ('.weights TILE', then one line per row or operation)")
        next_row = 0
        for line in sec.body:
            try:
                next_row = self._weights_line(td, self.cursor(line), next_row)
            except Abort:
                pass

    def _weights_line(self, td: TileDef, cur: Cursor, next_row: int) -> int:
        A, N = td.params["axons"], td.params["neurons"]
        first = cur.peek()
        owner = "tile %d" % td.index
        if first.is_name("fill", "random", "load") and not cur.peek(1).is_op(",", ":", ".."):
            cur.next()
            if first.value == "fill":
                v = cur.expr()
                region, _ = self._region(cur, td)
                block = np.full(_shape(region), v, dtype=object)
            elif first.value == "random":
                lo, hi, rloc = cur.int_range()
                region, seed = self._region(cur, td, allow_seed=True)
                if seed is None:
                    cur.fail(first, "'random' needs 'seed=N' (the fill is numpy's "
                                    "default_rng(seed).integers(lo, hi + 1))")
                if not (-(1 << 31) <= lo and hi < (1 << 31)):
                    cur.fail(rloc, "random range %d..%d is out of range -2^31..2^31-1" % (lo, hi))
                block = np.random.default_rng(seed).integers(lo, hi + 1, size=_shape(region)).astype(object)
            else:
                path_tok = cur.expect_string("a .npy or .csv file name")
                region, _ = self._region(cur, td)
                block = self._load_matrix(path_tok, _shape(region), region)
            self._store(td, region, block, first.loc.to(cur.span_from(first)))
            return next_row
        # a row: "K: v, v, ..." / "K..L: v, ..." / "v, v, ..." (the next row)
        lo, hi, rloc = cur.int_range()
        if cur.accept(":"):
            if lo < 0 or hi >= A:
                cur.fail(rloc, "%s has no axon %d (axons 0..%d)" % (owner, lo if lo < 0 else hi, A - 1))
            start_vals = []
        else:
            if lo != hi:
                cur.fail(rloc, "a range here needs a ':' after it ('%d..%d: values')" % (lo, hi))
            start_vals = [lo]
            lo = hi = next_row
            if next_row >= A:
                cur.fail(first, "%s has %d axons: this row would be axon %d (write 'K: values' "
                                "to say which row)" % (owner, A, next_row))
        vals = start_vals
        if start_vals:
            if not cur.at_end():
                cur.expect(",", "between the values of a row")
        while not cur.at_end():
            vals.append(cur.expr())
            if not cur.at_end():
                cur.expect(",", "between the values of a row")
        if len(vals) != N:
            cur.fail(first.loc.to(cur.span_from(first)),
                     "a row of %s has %d values (one per neuron), this one has %d" % (owner, N, len(vals)))
        block = np.array([vals] * (hi - lo + 1), dtype=object)
        self._store(td, (lo, hi, 0, N - 1), block, first.loc.to(cur.span_from(first)))
        return hi + 1

    def _region(self, cur: Cursor, td: TileDef, allow_seed: bool = False):
        """Options ``axons=a..b neurons=c..d`` (and ``seed=N``): (region, seed)."""
        A, N = td.params["axons"], td.params["neurons"]
        r = [0, A - 1, 0, N - 1]
        seen = {}
        seed = None
        allowed = ["axons", "neurons"] + (["seed"] if allow_seed else [])
        while not cur.at_end():
            cur.accept(",")
            t = cur.expect_name(" or ".join("'%s='" % a for a in allowed))
            if t.value not in allowed:
                cur.fail(t, "unknown option '%s'%s; expected %s"
                         % (t.value, suggest(t.value, allowed), ", ".join("%s=" % a for a in allowed)))
            if t.value in seen:
                cur.fail(t, "'%s' is given twice" % t.value, [("first given here", seen[t.value])])
            seen[t.value] = t.loc
            cur.expect("=")
            if t.value == "seed":
                seed, sloc = cur.expr_loc()
                self.check_range(sloc, "seed", seed, 0, (1 << 64) - 1)
                continue
            what = "axon" if t.value == "axons" else "neuron"
            lo, hi, _ = self.index_range(cur, A if what == "axon" else N, what, "tile %d" % td.index)
            k = 0 if what == "axon" else 2
            r[k], r[k + 1] = lo, hi
        return tuple(r), seed

    def _store(self, td: TileDef, region, block, loc) -> None:
        a0, a1, n0, n1 = region
        wmax = td.wmax
        rows = [[int(v) for v in row] for row in np.asarray(block, dtype=object).tolist()]
        clipped = [v for row in rows for v in row if not -wmax <= v <= wmax]
        if clipped:
            worst = max(clipped, key=abs)
            self.sink.warn(loc, "%d weight%s clipped to -%d..%d (wbits=%d), e.g. %d -> %d"
                           % (len(clipped), "" if len(clipped) == 1 else "s", wmax, wmax,
                              td.params["wbits"], worst, max(-wmax, min(wmax, worst))))
            rows = [[max(-wmax, min(wmax, v)) for v in row] for row in rows]
        td.weights[a0:a1 + 1, n0:n1 + 1] = np.array(rows, dtype=np.int64).reshape(a1 - a0 + 1, n1 - n0 + 1)

    def _data_path(self, tok) -> str:
        src = tok.loc.source
        base = os.path.dirname(src.path) if src.path else self.base_dir
        return os.path.join(base, tok.value)

    def _read_array(self, tok, what: str) -> np.ndarray:
        path = self._data_path(tok)
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in WEIGHT_SUFFIXES:
            self.sink.error(tok.loc, "unknown %s file type '%s': use .npy or .csv" % (what, suffix or tok.value))
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
                if not isinstance(arr, np.ndarray):
                    raise ValueError("not a single array")
            else:
                import warnings
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arr = np.loadtxt(path, delimiter=",", comments="#", ndmin=2, dtype=np.float64)
        except OSError as e:
            self.sink.error(tok.loc, "cannot read %s file '%s': %s" % (what, tok.value, e.strerror or e))
        except Exception as e:   # numpy reports malformed files with many exception types
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.sink.error(tok.loc, "cannot read %s file '%s': %s" % (what, tok.value, msg[:200]))
        if arr.dtype.kind not in "biuf":
            self.sink.error(tok.loc, "%s file '%s' holds %s values, not integers" % (what, tok.value, arr.dtype))
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                self.sink.error(tok.loc, "%s file '%s' holds non-integer values" % (what, tok.value))
            if arr.size and np.max(np.abs(arr)) >= 2.0 ** 62:
                self.sink.error(tok.loc, "%s file '%s' holds values too large" % (what, tok.value))
        return arr

    def _load_matrix(self, tok, shape, region) -> np.ndarray:
        arr = self._read_array(tok, "weight")
        if arr.shape != shape:
            a0, a1, n0, n1 = region
            self.sink.error(tok.loc, "weight file '%s' has shape %s, expected %s (axons %d..%d x neurons %d..%d)"
                            % (tok.value, tuple(arr.shape), shape, a0, a1, n0, n1))
        return arr.astype(np.int64).astype(object)

    # ------------------------------------------------------------------ phase 4: routes, probes
    def _d_routes(self, sec) -> None:
        cur = self.cursor(sec.head)
        td, _ = self.live_tile(cur)
        cur.expect_end("after the tile ('.routes TILE', then lines 'NEURONS -> TILE.AXONS, ...')")
        count = sum(len(r) for r in td.routes)
        for line in sec.body:
            try:
                count = self._route_line(td, self.cursor(line), count)
            except Abort:
                pass

    def _route_line(self, td: TileDef, cur: Cursor, count: int) -> int:
        first = cur.peek()
        s0, s1, sloc = self.index_range(cur, td.params["neurons"], "neuron", "tile %d" % td.index)
        arrow = cur.peek()
        if not arrow.is_op("->", "->*"):
            cur.fail(arrow, "expected '->' (or '->*' for all-to-all) after the neurons, found %s" % describe(arrow))
        cur.next()
        dense = arrow.value == "->*"
        dests = []
        while True:
            dt, a0, a1, dloc = self._tile_dot_range(cur, "axon")
            dests.append((dt, a0, a1, dloc))
            if cur.at_end():
                break
            cur.expect(",", "between destinations")
        n_src = s1 - s0 + 1
        per = []   # per source neuron: list of (tile, axon)
        total = 0
        for dt, a0, a1, dloc in dests:
            n_ax = a1 - a0 + 1
            if not dense and n_src > 1 and n_ax > 1 and n_ax != n_src:
                cur.fail(dloc, "one-to-one routes need as many axons as neurons: %d neurons (%d..%d), "
                               "%d axons (%d..%d); use '->*' to send every neuron to every axon"
                         % (n_src, s0, s1, n_ax, a0, a1))
            total += n_src * n_ax if (dense or n_src == 1 or n_ax == 1) else n_src
        if count + total > 0xFFFF:
            cur.fail(first.loc.to(cur.span_from(first)),
                     "tile %d would have %d route entries, at most 65535" % (td.index, count + total))
        for i in range(n_src):
            lst = []
            for dt, a0, a1, _ in dests:
                n_ax = a1 - a0 + 1
                if dense or n_src == 1 or n_ax == 1:
                    lst.extend((dt, a) for a in range(a0, a1 + 1))
                else:
                    lst.append((dt, a0 + i))
            per.append(lst)
            td.routes[s0 + i].extend(lst)
        td.route_lines.append((first.loc.to(cur.span_from(first)), [e for lst in per for e in lst]))
        return count + total

    def _tile_dot_range(self, cur: Cursor, what: str):
        """``TILE.a`` or ``TILE.a..b`` with TILE on; returns (tile, lo, hi, loc)."""
        start = cur.peek()
        td, tloc = self.live_tile(cur)
        cur.expect(".", "between the tile and the %s ('TILE.%s')" % (what, what.upper()))
        count = td.params["axons"] if what == "axon" else td.params["neurons"]
        lo, hi, _ = self.index_range(cur, count, what, "tile %d" % td.index)
        return td.index, lo, hi, cur.span_from(start)

    def _d_probe(self, sec) -> None:
        for cur in self._lines(sec):
            try:
                while not cur.at_end():
                    dt, lo, hi, loc = self._tile_dot_range(cur, "neuron")
                    for n in range(lo, hi + 1):
                        self.probes.append((dt, n))
                        self.probe_locs.append(loc)
                    if len(self.probes) > 0xFFFF:
                        cur.fail(loc, "more than 65535 probes")
                    if not cur.at_end():
                        cur.expect(",", "between probes")
            except Abort:
                continue

    # ------------------------------------------------------------------ phase 4: spikes
    def _d_spikes(self, sec) -> None:
        cur = self.cursor(sec.head)
        name = cur.expect_name("a block name ('.spikes NAME')")
        cur.expect_end("after the block name")
        if name.value in RESERVED_NAMES:
            cur.fail(name, "'%s' is a reserved word and cannot name a spike block" % name.value)
        if name.value in self.block_index:
            cur.fail(name, "duplicate spike block '%s'" % name.value,
                     [("first defined here", self.block_index[name.value][1])])
        events = []
        for line in sec.body:
            try:
                self._spike_line(self.cursor(line), events)
            except Abort:
                pass
        if len(self.blocks) >= 0xFFFF:
            cur.fail(name, "more than 65535 spike blocks")
        ev = np.array(events, dtype=np.int64).reshape(-1, 4)
        if len(ev):
            ev = ev[np.argsort(ev[:, 0], kind="stable")]
        self.block_index[name.value] = (len(self.blocks), name.loc)
        self.blocks.append((name.value, ev))
        self.block_locs.append(name.loc)

    def _room(self, cur, tok, n_new: int, events) -> None:
        total = n_new + len(events) + sum(len(b) for _, b in self.blocks)
        if total > MAX_SPIKE_EVENTS:
            cur.fail(tok, "too many spike events (%d, at most %d in a program)" % (total, MAX_SPIKE_EVENTS))

    def _spike_line(self, cur: Cursor, events: list) -> None:
        first = cur.peek()
        window = self.chip["window"]
        if first.is_name("load") and cur.peek(1).kind == STRING:
            cur.next()
            tok = cur.next()
            cur.expect_end("after the file name")
            arr = self._read_array(tok, "spike")
            if arr.ndim != 2 or arr.shape[1] not in (3, 4):
                self.sink.error(tok.loc, "spike file '%s' has shape %s, expected (events, 3) or (events, 4): "
                                         "columns dtick, tile, axon[, offset]" % (tok.value, tuple(arr.shape)))
            arr = arr.astype(np.int64)
            if arr.shape[1] == 3:
                arr = np.concatenate([arr, np.zeros((len(arr), 1), np.int64)], axis=1)
            self._room(cur, tok, len(arr), events)
            for row, (dtick, ti, ax, off) in enumerate(arr.tolist()):
                self._check_event(tok, dtick, ti, ax, off, window, "row %d: " % row)
                events.append((dtick, ti, ax, off))
            return
        if first.is_name("raster") and not cur.peek(1).is_op(":", ".."):
            cur.next()
            td, _ = self.live_tile(cur)
            tok = cur.expect_string("a .npy or .csv file name")
            cur.expect_end("after the file name")
            arr = self._read_array(tok, "raster")
            A = td.params["axons"]
            if arr.ndim != 2 or arr.shape[1] != A or arr.shape[0] > 0x10000:
                self.sink.error(tok.loc, "raster file '%s' has shape %s, expected (ticks, %d): one row per tick "
                                         "(at most 65536), one column per axon of tile %d"
                                % (tok.value, tuple(arr.shape), A, td.index))
            arr = arr.astype(np.int64)
            if arr.size and (arr.min() < 0 or arr.max() > isa.SPIKE_COUNT_MAX):
                self.sink.error(tok.loc, "raster file '%s' holds counts outside 0..%d"
                                % (tok.value, isa.SPIKE_COUNT_MAX))
            self._room(cur, tok, int(arr.sum()), events)
            for dtick, ax in zip(*np.nonzero(arr)):
                events.extend([(int(dtick), td.index, int(ax), 0)] * int(arr[dtick, ax]))
            return
        d0, d1, dloc = cur.int_range()
        self.check_range(dloc, "dtick", d0, 0, 0xFFFF)
        self.check_range(dloc, "dtick", d1, 0, 0xFFFF)
        cur.expect(":", "after the dtick ('DTICK: TILE.AXON@OFFSET, ...')")
        here = []
        while True:
            dt, a0, a1, loc = self._tile_dot_range(cur, "axon")
            off = 0
            if cur.accept("@"):
                off, oloc = cur.expr_loc()
                self.check_range(oloc, "offset", off, 0, window - 1, " (the window is %d cycles)" % window)
            here.extend((dt, a, off) for a in range(a0, a1 + 1))
            if cur.at_end():
                break
            cur.expect(",", "between spikes")
        self._room(cur, first, len(here) * (d1 - d0 + 1), events)
        for d in range(d0, d1 + 1):
            events.extend((d, t, a, o) for t, a, o in here)

    def _check_event(self, tok, dtick, ti, ax, off, window, where) -> None:
        w, h = self.chip["mesh_w"], self.chip["mesh_h"]
        if not 0 <= dtick <= 0xFFFF:
            self.sink.error(tok.loc, "%sdtick = %d is out of range 0..65535" % (where, dtick))
        if not 0 <= ti < w * h:
            self.sink.error(tok.loc, "%stile %d is off the %dx%d mesh" % (where, ti, w, h))
        t = self.tiles.get(ti)
        if t is None:
            self.sink.error(tok.loc, "%stile %d is off" % (where, ti))
        if not 0 <= ax < t.params["axons"]:
            self.sink.error(tok.loc, "%stile %d has no axon %d (axons 0..%d)" % (where, ti, ax, t.params["axons"] - 1))
        if not 0 <= off < window:
            self.sink.error(tok.loc, "%soffset = %d is out of range 0..%d (the window)" % (where, off, window - 1))

    # ------------------------------------------------------------------ phase 5: program
    def _d_program(self, sec) -> None:
        cur = self.cursor(sec.head)
        cur.expect_end("after '.program' (instructions go on the following lines)")
        if not hasattr(self, "_loops"):
            self._loops = []
            self._fixups = []
            self._after_end = None
        for line in sec.body:
            try:
                self._program_line(self.cursor(line))
            except Abort:
                pass

    def _program_line(self, cur: Cursor) -> None:
        t = cur.peek()
        if t.kind == NAME and cur.peek(1).is_op(":"):
            cur.next()
            cur.next()
            if t.value in self.labels:
                self.sink.report(t.loc, "duplicate label '%s'" % t.value,
                                 [("first defined here", self.labels[t.value][1])])
            else:
                self.labels[t.value] = (len(self.code), t.loc)
            self._after_end = None
            if cur.at_end():
                return
            t = cur.peek()
        mn = cur.expect_name("an instruction")
        ins = isa.BY_MNEMONIC.get(mn.value)
        if ins is None:
            cur.fail(mn, "unknown instruction '%s'%s" % (mn.value, suggest(mn.value, isa.BY_MNEMONIC)))
        if self._after_end and ins.mnemonic != "endloop":
            self.sink.warn(mn.loc, "instruction is unreachable (it follows '%s' and has no label)"
                           % self._after_end)
            self._after_end = None
        operands = ins.operands
        if ins.mnemonic == "endloop":
            operands = ()          # the target is filled in here
        groups = _split_operands(cur)
        if len(groups) != len(operands):
            if ins.mnemonic == "endloop" and self._loops:
                self._loops.pop()          # it still closes its loop
            names = ", ".join(o.name for o in operands)
            cur.fail(mn.loc.to(cur.toks[-1].loc) if len(cur.toks) > 1 else mn.loc,
                     "'%s' takes %d operand%s%s, %d given"
                     % (ins.mnemonic, len(operands), "" if len(operands) == 1 else "s",
                        " (%s)" % names if names else "", len(groups)))
        values = []
        tile = None
        for op, toks in zip(operands, groups):
            sub = Cursor(toks, self.sink, self._lookup)
            v, tile = self._operand(ins, op, sub, tile)
            sub.expect_end("after operand '%s'" % op.name)
            values.append(v)
        pc = len(self.code)
        if ins.mnemonic == "loop":
            self._loops.append((pc, mn.loc))
            if len(self._loops) > isa.MAX_LOOP_DEPTH:
                self.sink.report(mn.loc, "loops are nested deeper than %d" % isa.MAX_LOOP_DEPTH)
        elif ins.mnemonic == "endloop":
            if not self._loops:
                cur.fail(mn, "'endloop' without a matching 'loop'")
            start, _ = self._loops.pop()
            values = [start + 1]
        elif ins.mnemonic == "setw":
            self.setw_tiles.add(values[0])
        self.code.append((ins.mnemonic, tuple(values)))
        self._after_end = ins.mnemonic if ins.ends_block else None
        self.code_locs.append(mn.loc.to(cur.toks[-2].loc) if len(cur.toks) > 1 else mn.loc)

    def _operand(self, ins, op: isa.Operand, cur: Cursor, tile):
        t = cur.peek()
        if t.kind == END:
            cur.fail(t, "operand '%s' of '%s' is empty" % (op.name, ins.mnemonic))
        if op.kind == "tile_or_all" and t.is_name("all"):
            cur.next()
            return isa.ALL_TILES, None
        if op.kind in ("tile", "tile_or_all"):
            td, _ = self.live_tile(cur)
            return td.index, td
        if op.kind == "label":
            name = cur.expect_name("a label")
            self._fixups.append((len(self.code), len(cur.toks), name))
            self.used_labels.add(name.value)
            return 0, tile
        if op.kind == "block":
            name = cur.expect_name("a spike block name")
            if name.value not in self.block_index:
                cur.fail(name, "unknown spike block '%s'%s" % (name.value, suggest(name.value, self.block_index)))
            self.used_blocks.add(name.value)
            return self.block_index[name.value][0], tile
        if op.kind == "bool" and t.kind == NAME and t.value in BOOL_NAMES:
            cur.next()
            return BOOL_NAMES[t.value], tile
        v, loc = cur.expr_loc()
        self.check_range(loc, "%s %s" % (ins.mnemonic, op.name), v, op.lo, op.hi)
        # operands that index into the tile named earlier in the same instruction
        if tile is not None:
            limit = {"axon": tile.params["axons"], "neuron": tile.params["neurons"]}.get(op.name)
            if limit is not None and v >= limit:
                cur.fail(loc, "tile %d has no %s %d (%ss 0..%d)" % (tile.index, op.name, v, op.name, limit - 1))
            if op.name == "value" and ins.mnemonic == "setw" and abs(v) > tile.wmax:
                self.sink.warn(loc, "weight %d will be clipped to -%d..%d (tile %d has wbits=%d)"
                               % (v, tile.wmax, tile.wmax, tile.index, tile.params["wbits"]))
        if op.name == "offset":
            window = self.chip["window"]
            if v >= window:
                cur.fail(loc, "offset = %d is outside the window 0..%d" % (v, window - 1))
        return v, tile

    def _finish_program(self) -> None:
        if not hasattr(self, "_loops"):
            return
        for pc, loc in self._loops:
            self.sink.report(loc, "loop is never closed: add 'endloop' after its body")
        for pc, _, name in self._fixups:
            if name.value not in self.labels:
                self.sink.report(name.loc, "unknown label '%s'%s" % (name.value, suggest(name.value, self.labels)))
                continue
            target = self.labels[name.value][0]
            if target > 0xFFFF:
                self.sink.report(name.loc, "label '%s' is instruction %d: jump targets must be below 65536"
                                 % (name.value, target))
                continue
            if target >= len(self.code):
                self.sink.report(name.loc, "label '%s' is at the end of the program: there is no instruction "
                                           "to jump to (add 'halt' after it)" % name.value,
                                 [("label defined here", self.labels[name.value][1])])
                continue
            m, ops = self.code[pc]
            self.code[pc] = (m, tuple(target if o.kind == "label" else v
                                      for o, v in zip(isa.BY_MNEMONIC[m].operands, ops)))

    # ------------------------------------------------------------------ build and check
    def _build(self) -> image.Program:
        w, h = self.chip["mesh_w"], self.chip["mesh_h"]
        prog = image.Program(chip=dict(self.chip), tiles=[None] * (w * h))
        for ti, td in self.tiles.items():
            if td is None:
                continue
            prog.tiles[ti] = image.Tile(params=dict(td.params), weights=td.weights.astype(np.int8),
                                        routes=[list(r) for r in td.routes], stdp=td.stdp)
        prog.probes = list(self.probes)
        prog.blocks = [ev for _, ev in self.blocks]
        prog.code = list(self.code)
        prog.name = self.name
        return prog

    def _warn_unused(self) -> None:
        for name, (_, loc) in self.consts.items():
            if name not in self.used_consts:
                self.sink.warn(loc, "constant '%s' is never used" % name)
        for name, (_, loc) in self.labels.items():
            if name not in self.used_labels:
                self.sink.warn(loc, "label '%s' is never used" % name)
        for name, (_, loc) in self.block_index.items():
            if name not in self.used_blocks:
                self.sink.warn(loc, "spike block '%s' is never played" % name)

    def _warn_dead_routes(self, prog) -> None:
        """Routes to an axon whose weights are all zero (and never change) do nothing."""
        for td in self.tiles.values():
            if td is None:
                continue
            for loc, entries in td.route_lines:
                for dt, ax in entries:
                    dest = self.tiles[dt]
                    if dest.stdp is None and dt not in self.setw_tiles and not dest.weights[ax].any():
                        self.sink.warn(loc, "route to axon %d of tile %d, whose weights are all zero: "
                                            "spikes sent there have no effect" % (ax, dt))
                        break

    def _encode(self, prog) -> bytes:
        try:
            return image.encode(prog)
        except image.ImageError as e:
            self.sink.report(self._locate(str(e)), "invalid program: %s" % e)
            return None

    def _locate(self, msg: str) -> Loc:
        m = re.match(r"tile (\d+)", msg)
        if m and int(m.group(1)) in self.tiles and self.tiles[int(m.group(1))] is not None:
            return self.tiles[int(m.group(1))].loc
        m = re.match(r"program\[(\d+)\]", msg)
        if m and int(m.group(1)) < len(self.code_locs):
            return self.code_locs[int(m.group(1))]
        m = re.match(r"spike block (\d+)", msg)
        if m and int(m.group(1)) < len(self.block_locs):
            return self.block_locs[int(m.group(1))]
        if msg.startswith("probe") and self.probe_locs:
            return self.probe_locs[0]
        if msg.startswith("chip") and self.chip_loc:
            return self.chip_loc
        return self.first_loc


def _shape(region):
    a0, a1, n0, n1 = region
    return (a1 - a0 + 1, n1 - n0 + 1)


def _split_operands(cur: Cursor) -> list:
    """The rest of the line split at top-level commas: one token list per operand."""
    groups = []
    cur_toks = []
    depth = 0
    while not cur.at_end():
        t = cur.next()
        if t.is_op("("):
            depth += 1
        elif t.is_op(")"):
            depth -= 1
        if t.is_op(",") and depth == 0:
            groups.append(cur_toks)
            cur_toks = []
            continue
        cur_toks.append(t)
    end = cur.peek()
    if cur_toks or groups:
        groups.append(cur_toks)
    # every group ends with an END token placed right after its last token
    out = []
    for g in groups:
        last = g[-1].loc if g else end.loc
        out.append(g + [type(end)(END, "", None, Loc(last.source, last.line, last.col + last.width))])
    return out


# ---------------------------------------------------------------------- entry points
def assemble_source(source, base_dir: str) -> Assembly:
    a = Assembler()
    a.base_dir = base_dir
    return a.run(source, base_dir)


def assemble(text: str | None = None, *, path: str | None = None, filename: str = "<string>",
             base_dir: str | None = None) -> Assembly:
    """Assemble source text or a file; returns an :class:`Assembly` (program, image, warnings).

    Raises :class:`AsmError` listing every error (and the warnings found so far).
    """
    sink = Sink()
    try:
        if path is not None:
            src = read_source(path, sink, display=filename if filename != "<string>" else path)
            base = os.path.dirname(os.path.abspath(path))
        else:
            if isinstance(text, (bytes, bytearray)):
                src = decode_source(bytes(text), filename, sink)
            else:
                src = decode_source(text.encode("utf-8", "surrogatepass"), filename, sink)
            base = base_dir if base_dir is not None else (
                os.path.dirname(os.path.abspath(filename)) if not filename.startswith("<") else os.getcwd())
    except Abort:
        raise AsmError(sink.diagnostics) from None
    return assemble_source(src, base)
