"""Compare a board's trace with the emulator's, and report where they part.

Two traces of one image agree when every array is equal and the meta too, except
``backend`` (docs/SPEC.md section 16): :meth:`emulator.trace.Trace.first_divergence`
decides. On a difference the report gives the first divergent tick, cycle, tile and
neuron, a side-by-side table of the spikes around it (board | emulator), and with
lockstep (both sides hashed the chip state every tick, SPEC section 13) the first tick
whose state hash differs, which is often earlier than the first different spike. The
diff raster is :func:`emulator.viewer.diff.render_diff`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

__all__ = ["Comparison", "compare_traces", "emulator_trace", "report"]

#: Ticks shown either side of the divergence in the neighbourhood table.
WINDOW = 2
#: Rows at most in that table.
MAX_ROWS = 40


def emulator_trace(prog, image: bytes, ticks: Optional[int] = None, seed: Optional[int] = None,
                   state_hash: bool = False, backend: str = "numba", progress=None):
    """The emulator's trace of ``image`` (``prog`` its decoded Program)."""
    from emulator.api import _backend

    return _backend(backend).run(prog, bytes(image), ticks=ticks, seed=seed, state_hash=state_hash,
                                 progress=progress)


def _hash_tick(a, b) -> Optional[int]:
    ha, hb = np.asarray(a["state_hash"]), np.asarray(b["state_hash"])
    if not ha.size or not hb.size:
        return None
    n = min(ha.size, hb.size)
    bad = np.flatnonzero(ha[:n] != hb[:n])
    if bad.size:
        return int(bad[0])
    return n if ha.size != hb.size else None


class Comparison:
    """The outcome of comparing ``board`` with ``emulator`` (two Traces).

    ``identical``: every array and the meta (except backend) equal. ``divergence``:
    what :meth:`Trace.first_divergence` says (None when identical). ``hash_tick``: the
    first tick whose state hash differs (lockstep runs; None otherwise or if equal).
    ``tick``, ``cycle``, ``tile``, ``neuron``: where the first difference is (as far as
    known; None where not).
    """

    def __init__(self, board, emulator, lockstep: bool = False):
        self.board = board
        self.emulator = emulator
        self.lockstep = lockstep
        self.divergence = board.first_divergence(emulator)
        self.hash_tick = _hash_tick(board, emulator) if lockstep else None
        self.identical = self.divergence is None
        d = self.divergence or {}
        self.tick = d.get("tick")
        self.cycle = d.get("cycle")
        self.tile = d.get("tile")
        self.neuron = d.get("neuron")
        if self.hash_tick is not None and (self.tick is None or self.hash_tick < self.tick):
            self.tick, self.cycle, self.tile, self.neuron = self.hash_tick, None, None, None
        if self.tick is not None and self.cycle is None:
            ts = np.asarray(emulator["tick_start"])
            if 0 <= self.tick < ts.size:
                self.cycle = int(ts[self.tick])

    def summary(self) -> str:
        """One paragraph: agree, or the first divergence in words."""
        if self.identical:
            return ("board and emulator agree: %d ticks, %d spikes, every array identical"
                    % (self.board.n_ticks, int(np.asarray(self.board["spk_tick"]).size)))
        d = self.divergence or {}
        parts = []
        where = []
        for key in ("tick", "cycle", "tile", "neuron"):
            value = getattr(self, key)
            if value is not None:
                where.append("%s %d" % (key, value))
        parts.append("board and emulator differ; first divergence at %s"
                     % (", ".join(where) if where else "(no tick: %s)" % d.get("what")))
        if d.get("what") == "spike":
            side = "board" if d.get("in_self") else "emulator"
            other = "emulator" if side == "board" else "board"
            parts.append("first different spike: tick %d, tile %d, neuron %d, offset %d (cycle %s): "
                         "on the %s, not on the %s"
                         % (d["tick"], d["tile"], d["neuron"], d["offset"], d.get("cycle"), side, other))
        elif d.get("what") == "array":
            parts.append("first different array: %s%s (board %s, emulator %s)"
                         % (d.get("array"), " at %s" % d["index"] if "index" in d else "",
                            d.get("self", d.get("detail", "")), d.get("other", "")))
        elif d.get("what") == "meta":
            parts.append("meta %s differs: board %r, emulator %r" % (d["key"], d["self"], d["other"]))
        if self.lockstep:
            parts.append("lockstep: " + ("state hash first differs at tick %d" % self.hash_tick
                                         if self.hash_tick is not None else "state hashes equal every tick"))
        return "\n".join(parts)

    def as_dict(self) -> Dict[str, Any]:
        return {"identical": self.identical, "tick": self.tick, "cycle": self.cycle, "tile": self.tile,
                "neuron": self.neuron, "hash_tick": self.hash_tick, "divergence": self.divergence}

    # ---------------------------------------------------------------- neighbourhood
    def neighbourhood(self):
        """A rich Table: the spikes of both sides in the ticks around the divergence
        (on its tile, when known), side by side; differing rows marked."""
        from rich.table import Table

        d = self.divergence or {}
        # spikes around the first different spike (else the first different tick)
        if d.get("what") == "spike":
            tick, tile = d["tick"], d["tile"]
        else:
            tick, tile = (self.tick if self.tick is not None else 0), self.tile
        lo, hi = max(0, tick - WINDOW), tick + WINDOW

        def spikes(t):
            a = t.arrays
            keep = (a["spk_tick"] >= lo) & (a["spk_tick"] <= hi)
            if tile is not None:
                keep &= a["spk_tile"] == tile
            ts = np.asarray(t["tick_start"])
            rows = set()
            for tk, tl, nr, off in zip(a["spk_tick"][keep], a["spk_tile"][keep], a["spk_neuron"][keep],
                                       a["spk_offset"][keep]):
                rows.add((int(tk), int(off), int(tl), int(nr), int(ts[tk]) + int(off) if tk < ts.size else -1))
            return rows

        b, e = spikes(self.board), spikes(self.emulator)
        table = Table(title="spikes around tick %d%s (ticks %d-%d): board | emulator"
                      % (tick, ", tile %d" % tile if tile is not None else "", lo, hi),
                      title_justify="left")
        for col in ("tick", "cycle", "tile", "neuron", "offset"):
            table.add_column(col, justify="right")
        table.add_column("board", justify="center")
        table.add_column("emulator", justify="center")
        rows = sorted(b | e)
        first = None
        if (self.divergence or {}).get("what") == "spike":
            d = self.divergence
            first = (d["tick"], d["offset"], d["tile"], d["neuron"])
        shown = rows
        if len(rows) > MAX_ROWS:
            # keep the rows around the first difference
            bad = [i for i, r in enumerate(rows) if (r in b) != (r in e)] or [0]
            c = bad[0]
            shown = rows[max(0, c - MAX_ROWS // 2):max(0, c - MAX_ROWS // 2) + MAX_ROWS]
        for r in shown:
            tk, off, tl, nr, cyc = r
            on_b, on_e = r in b, r in e
            style = None if on_b and on_e else "bold red"
            if first is not None and r[:4] == first:
                style = "bold reverse red"
            table.add_row(str(tk), str(cyc), str(tl), str(nr), str(off), "spike" if on_b else "-",
                          "spike" if on_e else "-", style=style)
        if not rows:
            table.add_row("-", "-", "-", "-", "-", "no spikes", "no spikes")
        hb, he = np.asarray(self.board["state_hash"]), np.asarray(self.emulator["state_hash"])
        if self.lockstep and hb.size and he.size:
            hashes = Table(title="state hash per tick (lockstep)", title_justify="left")
            hashes.add_column("tick", justify="right")
            hashes.add_column("board", justify="right")
            hashes.add_column("emulator", justify="right")
            h = self.hash_tick if self.hash_tick is not None else tick
            for t in range(max(0, h - WINDOW), min(h + WINDOW + 1, hb.size, he.size)):
                same = hb[t] == he[t]
                hashes.add_row(str(t), "%08x" % (int(hb[t]) & 0xFFFFFFFF), "%08x" % (int(he[t]) & 0xFFFFFFFF),
                               style=None if same else "bold red")
            from rich.console import Group

            return Group(table, hashes)
        return table


def compare_traces(board, emulator, lockstep: bool = False) -> Comparison:
    """Compare a board trace with the emulator's (exact equality of every array)."""
    return Comparison(board, emulator, lockstep)


def report(comparison: Comparison, console, diff: bool = True) -> Dict[str, Any]:
    """Print the comparison on a rich ``console``: the summary, and on a difference the
    neighbourhood table and the diff view (:func:`emulator.viewer.diff.render_diff`)."""
    out = comparison.as_dict()
    if comparison.identical:
        console.print("[bold green]%s[/]" % comparison.summary())
        return out
    console.print("[bold red]%s[/]" % comparison.summary())
    console.print(comparison.neighbourhood())
    if diff:
        from emulator.viewer.diff import render_diff

        n = max(comparison.board.n_ticks, comparison.emulator.n_ticks, 1)
        tick = comparison.tick or 0
        lo = max(0, tick - 20)
        window = (lo, min(n, max(lo + 1, tick + 40)))
        try:
            out["diff"] = render_diff(comparison.board, comparison.emulator, console, ticks=window)
        except Exception as exc:  # noqa: BLE001 - the words above stand without the raster
            console.print("(diff view unavailable: %s)" % exc)
    return out
