"""Image bytes -> `.spk` source that assembles back to the identical bytes.

Everything is written out explicitly (every record field, every non-zero weight
row, every route), so the text documents the image completely; ranges are used
where they are exact (``0..15 -> 1.0..15``) so that it stays readable. Spike
blocks are named ``b0, b1, ...`` and jump targets ``L<pc>`` (the image keeps no
names).
"""

from __future__ import annotations

from emulator import image, isa
from emulator.asm.lexer import quote

LINE_WIDTH = 96


def disassemble(data: bytes) -> str:
    """Disassemble an image; raises :class:`emulator.image.ImageError` if it is invalid."""
    prog = image.decode(data)
    return disassemble_program(prog, size=len(data))


def disassemble_program(prog: image.Program, size: int | None = None) -> str:
    """The source text of a (valid) Program."""
    out = []
    feats = [n for bit, n in isa.FEATURE_NAMES.items() if image.features(prog) & bit]
    out.append("; disassembled by neurotile disasm%s; features: %s"
               % (" (%d-byte image)" % size if size is not None else "", ", ".join(feats) or "none"))
    if prog.name:
        out.append(".name %s" % quote(prog.name))
    out += _record(".chip", isa.CHIP, prog.chip)
    for ti, t in enumerate(prog.tiles):
        if t is None:
            continue
        out.append("")
        out += _record(".tile %d %s" % (ti, isa.CORE_NAMES[t.core]), isa.TILE, t.params, skip=("core",))
        if t.stdp is not None:
            out += _record(".stdp %d" % ti, isa.STDP, t.stdp)
        out.append(".weights %d" % ti)
        rows = t.weights.tolist()
        if not any(any(r) for r in rows):
            out.append("    ; all zero")
        k = 0
        while k < len(rows):       # identical consecutive rows: "K..L: values"
            j = k + 1
            while j < len(rows) and rows[j] == rows[k]:
                j += 1
            if any(rows[k]):
                head = "%d" % k if j - k == 1 else "%d..%d" % (k, j - 1)
                out.append("    %s: %s" % (head, ", ".join(str(v) for v in rows[k])))
            k = j
        if any(t.routes):
            out.append(".routes %d" % ti)
            out += ["    " + s for s in _routes(t.routes)]
    if prog.probes:
        out.append("")
        for chunk in _chunks(_runs([(t, n, 0) for t, n in prog.probes], with_offset=False)):
            out.append(".probe " + ", ".join(chunk))
    for bi, ev in enumerate(prog.blocks):
        out.append("")
        out.append(".spikes b%d" % bi)
        groups = []                # [dtick, events of that dtick]
        for d, t, a, o in ev.tolist():
            if groups and groups[-1][0] == d:
                groups[-1][1].append((t, a, o))
            else:
                groups.append([d, [(t, a, o)]])
        g = 0
        while g < len(groups):     # the same events on consecutive dticks: "D..E: ..."
            h = g + 1
            while h < len(groups) and groups[h][0] == groups[g][0] + (h - g) and groups[h][1] == groups[g][1]:
                h += 1
            d = groups[g][0]
            head = "%d" % d if h - g == 1 else "%d..%d" % (d, d + h - g - 1)
            items = _runs(groups[g][1], with_offset=True)
            if h - g > 1 and len(items) > 16:
                head = "%d" % d
                h = g + 1
            for chunk in _chunks(items, per_line=16):
                out.append("    %s: %s" % (head, ", ".join(chunk)))
            g = h
    if prog.code:
        out.append("")
        out += _program(prog.code)
    return "\n".join(out) + "\n"


def _record(head: str, rec: isa.Record, values: dict, skip=()) -> list:
    items = []
    for f in rec.fields:
        if f.name in skip or f.lo == f.hi:     # fields with one legal value carry nothing
            continue
        v = values[f.name]
        items.append("%s=%s" % (f.name, f.enum[v] if f.enum and v in f.enum else v))
    lines = [head]
    cur = "   "
    for it in items:
        if len(cur) + 1 + len(it) > LINE_WIDTH - 4 and cur.strip():
            lines.append(cur)
            cur = "   "
        cur += " " + it
    if cur.strip():
        lines.append(cur)
    return lines


def _runs(items, with_offset: bool) -> list:
    """(tile, index, offset) items -> 'T.a..b[@o]' strings, merging ascending runs."""
    out = []
    i = 0
    while i < len(items):
        t, a, o = items[i]
        j = i + 1
        while j < len(items) and items[j] == (t, a + (j - i), o):
            j += 1
        s = "%d.%d" % (t, a) if j - i == 1 else "%d.%d..%d" % (t, a, a + j - i - 1)
        if with_offset and o:
            s += "@%d" % o
        out.append(s)
        i = j
    return out


def _chunks(items, per_line: int = 12):
    for i in range(0, len(items), per_line):
        yield items[i:i + per_line]


def _routes(routes) -> list:
    """Route lines, using the range forms where they reproduce the entry order exactly."""
    lines = []
    n = 0
    N = len(routes)
    while n < N:
        ents = routes[n]
        if not ents:
            n += 1
            continue
        end = n + 1
        kinds = None
        if end < N and len(routes[end]) == len(ents):
            kinds = []
            for (t0, a0), (t1, a1) in zip(ents, routes[end]):
                if t1 != t0 or a1 - a0 not in (0, 1):
                    kinds = None
                    break
                kinds.append(a1 - a0)
        if kinds is not None:
            while end < N and routes[end] == [(t, a + k * (end - n)) for (t, a), k in zip(ents, kinds)]:
                end += 1
        if end - n >= 2 and kinds is not None:
            L = end - n
            if not any(kinds):
                lines.append("%d..%d ->* %s" % (n, end - 1, ", ".join(_runs([(t, a, 0) for t, a in ents], False))))
            else:
                dests = ["%d.%d..%d" % (t, a, a + L - 1) if k else "%d.%d" % (t, a)
                         for (t, a), k in zip(ents, kinds)]
                lines.append("%d..%d -> %s" % (n, end - 1, ", ".join(dests)))
            n = end
            continue
        parts = _runs([(t, a, 0) for t, a in ents], False)
        for chunk in _chunks(parts, per_line=16):
            lines.append("%d -> %s" % (n, ", ".join(chunk)))
        n += 1
    return lines


def _program(code) -> list:
    targets = set()
    for m, ops in code:
        ins = isa.BY_MNEMONIC[m]
        if m != "endloop":
            targets.update(v for o, v in zip(ins.operands, ops) if o.kind == "label")
    lines = [".program"]
    depth = 1
    for pc, (m, ops) in enumerate(code):
        ins = isa.BY_MNEMONIC[m]
        if pc in targets:
            lines.append("L%d:" % pc)
        if m == "endloop":
            depth = max(1, depth - 1)
            lines.append("    " * depth + "endloop")
            continue
        args = []
        for o, v in zip(ins.operands, ops):
            if o.kind == "tile_or_all" and v == isa.ALL_TILES:
                args.append("all")
            elif o.kind == "bool":
                args.append("on" if v else "off")
            elif o.kind == "block":
                args.append("b%d" % v)
            elif o.kind == "label":
                args.append("L%d" % v)
            else:
                args.append(str(v))
        lines.append("    " * depth + m + (" " + ", ".join(args) if args else ""))
        if m == "loop":
            depth += 1
    return lines
