"""Readable `.spk` source for a compiled NIR graph.

The body is the disassembler's text (so it assembles to exactly the compiled image); this
module adds comments saying which NIR node every tile and axon came from and how it was
quantised.
"""

from __future__ import annotations

import re

from emulator.asm.disassembler import disassemble_program


def write_spk(comp, prog=None, title: str = "") -> str:
    """Source text of ``prog`` (default: the compiled program without inputs)."""
    prog = prog if prog is not None else comp.with_inputs({}, 1)
    text = disassemble_program(prog)
    by_tile = {p.index: p for p in comp.plans}
    out = []
    head = [
        "; %s" % (title or "compiled from NIR by neurotile nir compile"),
        ";",
        "; dt = %g s per tick; window %d cycles; one NIR step = one tick." % (comp.options.dt, comp.options.window),
        "; The chip delivers a spike one tick after it is fired, so each node runs `lag` ticks",
        "; behind NIR: inputs are injected shifted by the lag of the node they feed, and the",
        "; outputs of node X at NIR step t appear at tick t + lag(X) (max lag %d)." % comp.max_lag,
        ";",
        "; NIR node -> tiles:",
    ]
    for info in comp.pops.values():
        tiles = sorted({p.index for p in info.tiles if not p.pop.startswith("relay:")})
        relays = sorted({p.index for p in info.tiles if p.pop.startswith("relay:")})
        head.append(";   %-16s %-9s %5d neurons, lag %d, tiles %s%s" % (
            repr(info.name), info.kind, info.n, info.lag, _ints(tiles),
            ", relay tiles %s" % _ints(relays) if relays else ""))
    for name, (src, _perm) in comp.outputs.items():
        head.append(";   output %r <- %s of node %r" % (
            name, "spikes" if comp.pops[src].spiking else "probed voltage", src))
    for note in comp.timing:
        head.append("; timing: " + note)
    out += head
    for line in text.splitlines():
        if line.startswith("; disassembled by"):
            out.append(";" + line[1:].replace("disassembled by neurotile disasm", "image"))
            continue
        m = re.match(r"\.tile (\d+) ", line)
        if m and int(m.group(1)) in by_tile:
            out.append("")
            out += ["; " + c for c in by_tile[int(m.group(1))].comment]
        if line.startswith(".spikes b0"):
            out.append("; input spikes (and bias axons: one spike every tick)")
        out.append(line)
    return "\n".join(out) + "\n"


def _ints(xs) -> str:
    if not xs:
        return "-"
    runs = []
    for x in xs:
        if runs and runs[-1][1] == x - 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    return ", ".join(str(a) if a == b else "%d..%d" % (a, b) for a, b in runs)
