"""neurotile: a cycle-accurate emulator of a tiled neuromorphic crossbar chip."""

__version__ = "0.1.0"
