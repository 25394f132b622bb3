"""Energy model: turns the integer counters of a trace into joules.

The backends count events exactly (docs/SPEC.md section 14); this module, host
only and in floating point, prices them. Every default is documented with its
source or reasoning so that a user can replace it with figures for their own
process (``EnergyParams(**overrides)``).

- TD-MAC (the article's Fig. 4b): a neuron's capacitor C is charged to about V
  once per window by its N inputs together, so one multiply-accumulate costs
  ``C * V**2 / N`` (the article's formula). Defaults: C = 10 fF (the article's
  "fF-scale" capacitance), V = 1.0 V.
- LIF synaptic event (one spike meeting one synapse): 23.6 pJ, neuron update:
  52 pJ, synaptic (learning) update: 120 pJ -- Intel Loihi's published figures
  (Davies et al., IEEE Micro 38(1), 2018, Table 1), a digital reference point.
- Router hop: 3.5 pJ per packet per link (same source, mesh hop energy).
- Static: 0.5 pJ per tile per cycle (assumption: leakage of a small tile at
  ~100 MHz is in the tens of microwatts; ``0.5 pJ * 1e8 /s = 50 uW``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class EnergyParams:
    c_farad: float = 10e-15          # TD-MAC node capacitance
    v_volt: float = 1.0              # TD-MAC swing
    e_syn_j: float = 23.6e-12        # per LIF synaptic event
    e_neuron_j: float = 52e-12       # per neuron update
    e_stdp_j: float = 120e-12        # per synapse touched by learning
    e_hop_j: float = 3.5e-12         # per packet per link
    e_static_j: float = 0.5e-12      # per tile per cycle
    clock_hz: float = 100e6          # to express cycles as seconds


def breakdown(meta: dict, arrays: dict, params: EnergyParams | None = None) -> dict:
    """Energy per category (joules), totals and per-tick figures for one trace.

    ``meta``/``arrays`` are a trace's (docs/SPEC.md section 16).
    """
    p = params or EnergyParams()
    tiles = meta["tiles"]
    axons = np.array([max(1, t.get("axons", 1)) for t in tiles], dtype=np.float64)
    active = np.array([t.get("core", "off") != "off" for t in tiles])
    mac = np.asarray(arrays["cnt_mac_ops"], dtype=np.float64)
    e_mac = float(np.sum(mac * p.c_farad * p.v_volt ** 2 / axons))
    e_syn = float(np.sum(arrays["cnt_syn_events"])) * p.e_syn_j
    e_neuron = float(np.sum(arrays["cnt_neuron_updates"])) * p.e_neuron_j
    e_stdp = float(np.sum(arrays["cnt_stdp_updates"])) * p.e_stdp_j
    e_hop = float(np.sum(arrays["cnt_hops"])) * p.e_hop_j
    cycles = int(meta.get("cycles", 0))
    e_static = float(np.count_nonzero(active)) * cycles * p.e_static_j
    parts = {
        "tdmac_mac": e_mac,
        "synaptic_events": e_syn,
        "neuron_updates": e_neuron,
        "learning": e_stdp,
        "routing": e_hop,
        "static": e_static,
    }
    total = sum(parts.values())
    ticks = max(1, int(meta.get("ticks", 0)))
    return {
        "parts_j": parts,
        "total_j": total,
        "per_tick_j": total / ticks,
        "seconds": cycles / p.clock_hz,
        "power_w": total / (cycles / p.clock_hz) if cycles else 0.0,
        "params": asdict(p),
    }


# ---------------------------------------------------------------------------
# Energy models given as per-event prices (``neurotile run --energy-model``)
# ---------------------------------------------------------------------------
# A price model is a YAML file: ``name``, ``source`` (where the numbers come from),
# optional ``clock_hz``, and ``prices_j``: joules per event, for any of the events
# below (an event left out costs nothing). The events are exact integers of the
# trace (docs/SPEC.md sections 14 and 16), so the same run priced two ways
# differs only by the prices. Built-in models live in emulator/energy_models/.

import os as _os  # noqa: E402  (imports kept with the code that uses them)

from emulator.errors import UserError  # noqa: E402

#: event name -> what one event is (and the trace arrays it is counted from)
EVENTS = {
    "syn_event": "a spike meeting one synapse of a LIF crossbar (cnt_syn_events)",
    "mac_op": "one TD-MAC multiply-accumulate (cnt_mac_ops)",
    "neuron_update": "one neuron updated for one tick (cnt_neuron_updates)",
    "stdp_update": "one synapse touched by learning (cnt_stdp_updates)",
    "spike": "one output spike of a neuron (spk_tick)",
    "input_spike": "one external input spike (inp_tick)",
    "packet": "one packet sent into the router, a message (pkt_tick)",
    "hop_ew": "one packet crossing one east or west link (link_busy E, W)",
    "hop_ns": "one packet crossing one north or south link (link_busy N, S)",
    "tile_cycle": "one non-off tile for one cycle (static energy)",
}
BUILTIN_MODELS = ("default", "loihi-sanafe")
_MODEL_DIR = _os.path.join(_os.path.dirname(__file__), "energy_models")
_MAX_MODEL_BYTES = 1 << 20


class EnergyModelError(UserError):
    """An energy model file that cannot be used (named in the message)."""


@dataclass(frozen=True)
class PriceModel:
    """Joules per event (keys of :data:`EVENTS`), with where the figures come from."""
    name: str
    prices_j: dict
    source: str = ""
    clock_hz: float = 100e6


def _number(value, what: str, where: str) -> float:
    # YAML 1.1 reads "1e-12" (no dot) as a string: accept any text float() reads.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise EnergyModelError("%s: %s must be a number, not %r" % (where, what, value))
    try:
        x = float(value)
    except ValueError:
        raise EnergyModelError("%s: %s must be a number, not %r" % (where, what, value)) from None
    if x != x or x in (float("inf"), float("-inf")):
        raise EnergyModelError("%s: %s must be finite, not %r" % (where, what, value))
    return x


def model_from_dict(doc, where: str = "energy model") -> PriceModel:
    """Check a parsed model document and build its :class:`PriceModel`."""
    if not isinstance(doc, dict):
        raise EnergyModelError("%s: expected a mapping with prices_j (event: joules), got %s"
                               % (where, type(doc).__name__))
    unknown = sorted(set(doc) - {"name", "source", "clock_hz", "prices_j"})
    if unknown:
        raise EnergyModelError("%s: unknown key(s) %s (allowed: name, source, clock_hz, prices_j)"
                               % (where, ", ".join(map(str, unknown))))
    prices = doc.get("prices_j")
    if not isinstance(prices, dict) or not prices:
        raise EnergyModelError("%s: prices_j must map event names to joules (events: %s)"
                               % (where, ", ".join(EVENTS)))
    bad = sorted(str(k) for k in prices if k not in EVENTS)
    if bad:
        raise EnergyModelError("%s: unknown event(s) %s (events: %s)" % (where, ", ".join(bad), ", ".join(EVENTS)))
    out = {}
    for k, v in prices.items():
        x = _number(v, "the price of %s" % k, where)
        if x < 0:
            raise EnergyModelError("%s: the price of %s is negative (%r J)" % (where, k, x))
        out[k] = x
    clock = _number(doc.get("clock_hz", 100e6), "clock_hz", where)
    if clock <= 0:
        raise EnergyModelError("%s: clock_hz must be positive (got %r)" % (where, clock))
    name = doc.get("name", where)
    source = doc.get("source", "")
    if not isinstance(name, str) or not isinstance(source, str):
        raise EnergyModelError("%s: name and source must be text" % where)
    return PriceModel(name=name, prices_j=out, source=source, clock_hz=clock)


def load_model(spec):
    """An energy model from a name or a file.

    ``spec``: ``None`` or ``"default"`` (this module's :class:`EnergyParams`),
    ``"loihi-sanafe"`` (Loihi's per-event energies as SANA-FE's loihi.yaml gives
    them), a path to a YAML price file, an :class:`EnergyParams` or a
    :class:`PriceModel`. Raises :class:`EnergyModelError` (a UserError) for a bad one.
    """
    if spec is None or spec == "default":
        return EnergyParams()
    if isinstance(spec, (EnergyParams, PriceModel)):
        return spec
    if not isinstance(spec, (str, _os.PathLike)):
        raise EnergyModelError("energy model must be a name (%s) or a YAML file, not %r"
                               % (", ".join(BUILTIN_MODELS), spec))
    path = _os.fspath(spec)
    if path in BUILTIN_MODELS:
        path = _os.path.join(_MODEL_DIR, path + ".yaml")
    elif not _os.path.exists(path):
        raise EnergyModelError("energy model %r is neither a built-in model (%s) nor an existing file"
                               % (path, ", ".join(BUILTIN_MODELS)))
    import yaml

    try:
        with open(path, "rb") as fh:
            raw = fh.read(_MAX_MODEL_BYTES + 1)
    except OSError as e:
        raise EnergyModelError("cannot read energy model %s: %s" % (path, e.strerror or e)) from None
    if len(raw) > _MAX_MODEL_BYTES:
        raise EnergyModelError("energy model %s is larger than %d bytes" % (path, _MAX_MODEL_BYTES))
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = " (line %d)" % (mark.line + 1) if mark is not None else ""
        raise EnergyModelError("energy model %s is not valid YAML%s: %s"
                               % (path, at, getattr(e, "problem", None) or e)) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise EnergyModelError("energy model %s is not valid YAML: %s" % (path, e)) from None
    return model_from_dict(doc, where="energy model %s" % spec)


def event_counts(meta: dict, arrays: dict) -> dict:
    """The events of :data:`EVENTS`, counted from one trace (plain ints)."""
    lb = np.asarray(arrays["link_busy"], dtype=np.int64).reshape(-1, 5)   # L, N, E, S, W
    active = sum(1 for t in meta["tiles"] if t.get("core", "off") != "off")
    cycles = int(meta.get("cycles", 0))
    return {
        "syn_event": int(np.sum(arrays["cnt_syn_events"])),
        "mac_op": int(np.sum(arrays["cnt_mac_ops"])),
        "neuron_update": int(np.sum(arrays["cnt_neuron_updates"])),
        "stdp_update": int(np.sum(arrays["cnt_stdp_updates"])),
        "spike": int(len(arrays["spk_tick"])),
        "input_spike": int(len(arrays["inp_tick"])),
        "packet": int(len(arrays["pkt_tick"])),
        "hop_ew": int(lb[:, 2].sum() + lb[:, 4].sum()),
        "hop_ns": int(lb[:, 1].sum() + lb[:, 3].sum()),
        "tile_cycle": active * cycles,
    }


def price(meta: dict, arrays: dict, model: PriceModel) -> dict:
    """Like :func:`breakdown`, for a :class:`PriceModel`: ``parts_j`` per event."""
    counts = event_counts(meta, arrays)
    parts = {k: counts[k] * model.prices_j[k] for k in EVENTS if k in model.prices_j}
    total = sum(parts.values())
    ticks = max(1, int(meta.get("ticks", 0)))
    cycles = int(meta.get("cycles", 0))
    seconds = cycles / model.clock_hz
    return {
        "parts_j": parts,
        "total_j": total,
        "per_tick_j": total / ticks,
        "seconds": seconds,
        "power_w": total / seconds if cycles else 0.0,
        "counts": counts,
        "params": {"model": model.name, "source": model.source, "clock_hz": model.clock_hz,
                   "prices_j": dict(model.prices_j)},
    }


def estimate(trace_or_meta, arrays: dict | None = None, model=None) -> dict:
    """Energy of one run under ``model`` (see :func:`load_model`; default: this module's).

    ``estimate(trace, model="loihi-sanafe")`` or ``estimate(meta, arrays, model=...)``.
    """
    if arrays is None:
        meta, arrays = trace_or_meta.meta, trace_or_meta.arrays
    else:
        meta = trace_or_meta
    m = load_model(model)
    if isinstance(m, EnergyParams):
        out = breakdown(meta, arrays, m)
        out["params"]["model"] = "default"
        return out
    return price(meta, arrays, m)
