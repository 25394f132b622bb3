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
