"""MicroPython firmware of the neurotile chip, shipped as package data.

On a board these modules are top-level (``import nt_lif``), so they import each
other by bare name. On the host the same files run under CPython as the
reference backend; this package puts its own folder on ``sys.path`` so that the
bare imports resolve to the very same files.
"""

import os as _os
import sys as _sys

FIRMWARE_DIR = _os.path.dirname(_os.path.abspath(__file__))
if FIRMWARE_DIR not in _sys.path:
    _sys.path.append(FIRMWARE_DIR)

# Feature bits of the image header (emulator/isa.py FEAT_*) and the opcodes that need
# nt_op (play learn setw reward reset mark); kept here as plain numbers so this helper
# stays importable without the emulator.
_FEAT_MODULES = (
    (1 << 0, ("nt_lif.py",)),                           # LIF
    (1 << 1, ("nt_tdm.py",)),                           # TD-MAC
    (1 << 2, ("nt_rtr.py",)),                           # router
    (1 << 3, ("nt_stdp.py", "nt_rng.py")),              # STDP (+ stochastic rounding)
    (1 << 4, ("nt_rew.py", "nt_stdp.py", "nt_rng.py")),  # reward
    (1 << 5, ("nt_noise.py", "nt_rng.py")),             # noise
    (1 << 6, ("nt_rc.py",)),                            # RC charge model
    (1 << 7, ("nt_op.py",)),                            # spike blocks (`play`)
)
_OPS_NEEDING_NT_OP = (3, 4, 5, 6, 10, 11)
# split mode runs play and mark on the host; the board gets only the tile instructions
_OPS_ON_TILES = (4, 5, 6, 10)
_HOST_SIDE = ("nt_rtr.py", "nt_op.py")  # split mode: router and sequencer run on the host
LOADER_MODULES = ("nt_brd.py", "nt_img.py", "nt_ims.py", "nt_imo.py", "nt_imx.py", "nt_seq.py",
                  "nt_new.py", "nt_til.py", "nt_fin.py")
SPLIT_MODULES = ("nt_new.py", "nt_til.py")


def modules_for(features, opcodes=(), hashing=False, stochastic=True, split=False):
    """The firmware files a board needs to load and run an image, mirroring the imports
    of nt_brd/nt_seq/nt_ims/the cores: ``features`` is the header's feature mask,
    ``opcodes`` the opcodes the program uses (an iterable of ints or a bit mask like the
    firmware's ``c.ops``), ``hashing`` whether the host asks for state hashes, and
    ``stochastic`` whether an STDP tile uses stochastic rounding (nt_rng; pass False only
    when you know it does not). ``split``: split mode (nt_til's entry points; SPEC section 19), where
    the host runs the loader, the sequencer and the router. Returns a sorted list of
    file names."""
    if isinstance(opcodes, int):
        opcodes = [op for op in range(opcodes.bit_length()) if opcodes >> op & 1]
    out = set(SPLIT_MODULES if split else LOADER_MODULES)
    for bit, names in _FEAT_MODULES:
        if features & bit:
            out.update(n for n in names if not (split and n in _HOST_SIDE))
    if not stochastic and not features & ((1 << 4) | (1 << 5)):
        out.discard("nt_rng.py")
    if any(op in (_OPS_ON_TILES if split else _OPS_NEEDING_NT_OP) for op in opcodes):
        out.add("nt_op.py")
    if hashing:
        out.add("nt_hash.py")
    return sorted(out)
