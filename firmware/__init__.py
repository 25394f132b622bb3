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
