"""Board profiles: how to reach a board and what to expect from it.

Shipped defaults live in ``hil/profiles.yaml`` (its header documents every key). A
user file, ``$NEUROTILE_BOARDS`` if set, else ``~/.config/neurotile/boards.yaml``
(``$XDG_CONFIG_HOME`` honoured), is merged over them key by key and may add profiles
(``base: NAME`` copies an existing one first). :func:`load_profiles` validates
everything and raises :class:`ProfileError` naming the file, profile and key.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import yaml

from .protocol import Timeouts
from .transport import Pacing

__all__ = [
    "BoardProfile",
    "ProfileError",
    "ProfileStatus",
    "generic_profile",
    "list_profiles",
    "load_profiles",
    "user_profiles_path",
    "SHIPPED_PROFILES",
]

SHIPPED_PROFILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles.yaml")

HARD_RESETS = ("qmp", "worker", "dtr", "machine", "none")
LAUNCHERS = ("qemu-microbit", "wasm")
# Which hard reset a launcher can do.
_LAUNCHER_RESETS = {"qemu-microbit": ("qmp", "none"), "wasm": ("worker", "none")}

_KEYS = {
    "description", "port", "launcher", "launcher_options", "baud", "pacing", "timeouts",
    "capacity", "files", "hard_reset", "raw_paste", "upload_chunk", "max_attempts", "base",
    "mode",
}
_TIMEOUT_KEYS = {"ack", "rpc", "inter_byte", "boot", "tick", "step"}


class ProfileError(ValueError):
    """A profile file or entry is invalid; the message says where and why."""


@dataclass(frozen=True)
class BoardProfile:
    """One validated board profile. See ``hil/profiles.yaml`` for the meaning of fields."""

    name: str
    description: str = ""
    port: Optional[str] = None
    launcher: Optional[str] = None
    launcher_options: Mapping[str, Any] = field(default_factory=dict)
    baud: int = 115200
    pacing: Pacing = Pacing()
    timeouts: Timeouts = Timeouts()
    capacity: Mapping[str, Any] = field(default_factory=dict)
    files: bool = True
    hard_reset: str = "none"
    raw_paste: str = "auto"
    upload_chunk: int = 256
    max_attempts: int = 6
    mode: str = "full"
    source: str = ""

    @property
    def virtual(self) -> bool:
        return self.launcher is not None


@dataclass(frozen=True)
class ProfileStatus:
    """Whether a profile's board can be used now, and why not."""

    name: str
    kind: str  # "virtual" or "serial"
    reachable: bool
    detail: str


def user_profiles_path() -> str:
    """The user's profile file (it need not exist)."""
    explicit = os.environ.get("NEUROTILE_BOARDS")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "neurotile", "boards.yaml")


def _read_yaml(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        raise ProfileError("%s: not valid YAML: %s" % (path, exc)) from exc
    except OSError as exc:
        raise ProfileError("%s: cannot read: %s" % (path, exc.strerror)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError("%s: expected a mapping of profile names, got %s" % (path, type(data).__name__))
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise ProfileError("%s: profile %r must be a mapping" % (path, name))
    return data


def _merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _number(where: str, key: str, value: Any, minimum: float = 0.0, integer: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ProfileError("%s: %s must be %s, got %r" % (where, key, "an integer" if integer else "a number", value))
    if value < minimum:
        raise ProfileError("%s: %s must be >= %s, got %r" % (where, key, minimum, value))
    return value


def _build(name: str, raw: Dict[str, Any], where: str) -> BoardProfile:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ProfileError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(_KEYS))))
    port, launcher = raw.get("port"), raw.get("launcher")
    if (port is None) == (launcher is None):
        raise ProfileError("%s: give exactly one of 'port' (real board) or 'launcher' (virtual)" % where)
    if launcher is not None and launcher not in LAUNCHERS:
        raise ProfileError("%s: launcher %r unknown (known: %s)" % (where, launcher, ", ".join(LAUNCHERS)))
    if port is not None and not isinstance(port, str):
        raise ProfileError("%s: port must be a string" % where)

    pacing_raw = raw.get("pacing", {}) or {}
    if not isinstance(pacing_raw, dict) or set(pacing_raw) - {"chunk", "pause_ms"}:
        raise ProfileError("%s: pacing must be {chunk: N, pause_ms: N}" % where)
    pacing = Pacing(
        int(_number(where, "pacing.chunk", pacing_raw.get("chunk", 0), integer=True)),
        _number(where, "pacing.pause_ms", pacing_raw.get("pause_ms", 0)) / 1000.0,
    )

    t_raw = raw.get("timeouts", {}) or {}
    if not isinstance(t_raw, dict) or set(t_raw) - _TIMEOUT_KEYS:
        raise ProfileError("%s: timeouts keys are %s" % (where, ", ".join(sorted(_TIMEOUT_KEYS))))
    defaults = Timeouts()
    timeouts = Timeouts(**{
        key: float(_number(where, "timeouts." + key, t_raw.get(key, getattr(defaults, key)), 0.001))
        for key in _TIMEOUT_KEYS
    })

    capacity = raw.get("capacity", {}) or {}
    if not isinstance(capacity, dict):
        raise ProfileError("%s: capacity must be a mapping" % where)
    if "heap" in capacity:
        _number(where, "capacity.heap", capacity["heap"], 1, integer=True)
    tile = capacity.get("max_tile")
    if tile is not None and not (
        isinstance(tile, list) and len(tile) == 2 and all(isinstance(v, int) and v > 0 for v in tile)
    ):
        raise ProfileError("%s: capacity.max_tile must be [axons, neurons], got %r" % (where, tile))

    lacks = capacity.get("unsupported")
    if lacks is not None:
        from emulator.isa import FEATURE_NAMES

        known = set(FEATURE_NAMES.values())
        if not (isinstance(lacks, dict) and all(k in known and isinstance(v, str) for k, v in lacks.items())):
            raise ProfileError("%s: capacity.unsupported must map features (%s) to a reason, got %r"
                               % (where, ", ".join(sorted(known)), lacks))
    hard_reset = raw.get("hard_reset", "none")
    if hard_reset not in HARD_RESETS:
        raise ProfileError("%s: hard_reset %r unknown (known: %s)" % (where, hard_reset, ", ".join(HARD_RESETS)))
    if launcher is not None and hard_reset not in _LAUNCHER_RESETS[launcher]:
        raise ProfileError("%s: launcher %s cannot do hard_reset %r (use %s)"
                           % (where, launcher, hard_reset, " or ".join(_LAUNCHER_RESETS[launcher])))
    if port is not None and hard_reset in ("qmp", "worker"):
        raise ProfileError("%s: hard_reset %r needs a virtual board (launcher)" % (where, hard_reset))
    raw_paste = raw.get("raw_paste", "auto")
    if raw_paste not in ("auto", "never"):
        raise ProfileError("%s: raw_paste must be auto or never" % where)
    files = raw.get("files", True)
    if not isinstance(files, bool):
        raise ProfileError("%s: files must be true or false" % where)
    mode = raw.get("mode", "full")
    if mode not in ("full", "split"):
        raise ProfileError("%s: mode must be full or split, got %r" % (where, mode))
    options = raw.get("launcher_options", {}) or {}
    if not isinstance(options, dict):
        raise ProfileError("%s: launcher_options must be a mapping" % where)

    return BoardProfile(
        name=name,
        description=str(raw.get("description", "")),
        port=port,
        launcher=launcher,
        launcher_options=dict(options),
        baud=int(_number(where, "baud", raw.get("baud", 115200), 1, integer=True)),
        pacing=pacing,
        timeouts=timeouts,
        capacity=dict(capacity),
        files=files,
        hard_reset=hard_reset,
        raw_paste=raw_paste,
        upload_chunk=int(_number(where, "upload_chunk", raw.get("upload_chunk", 256), 1, integer=True)),
        max_attempts=int(_number(where, "max_attempts", raw.get("max_attempts", 6), 1, integer=True)),
        mode=mode,
        source=where.split(":")[0],
    )


def load_profiles(
    shipped: str = SHIPPED_PROFILES, user: Optional[str] = None
) -> Dict[str, BoardProfile]:
    """Load, merge and validate the shipped and user profiles.

    ``user``: path of the user file (default :func:`user_profiles_path`; a missing
    default file is fine, a missing ``$NEUROTILE_BOARDS`` file is an error).
    """
    merged: Dict[str, Dict[str, Any]] = {}
    origin: Dict[str, str] = {}
    for name, entry in _read_yaml(shipped).items():
        merged[str(name)] = entry
        origin[str(name)] = shipped
    user_path = user if user is not None else user_profiles_path()
    must_exist = user is not None or bool(os.environ.get("NEUROTILE_BOARDS"))
    if user_path and (must_exist or os.path.exists(user_path)):
        for name, entry in _read_yaml(user_path).items():
            name = str(name)
            entry = dict(entry)
            base_name = entry.pop("base", None)
            if base_name is not None:
                if base_name not in merged:
                    raise ProfileError("%s: profile %r: base %r is not a known profile" % (user_path, name, base_name))
                start = merged[base_name]
            else:
                start = merged.get(name, {})
            # Switching between a real port and a launcher drops the other one.
            if "port" in entry:
                start = {k: v for k, v in start.items() if k != "launcher"}
            if "launcher" in entry:
                start = {k: v for k, v in start.items() if k != "port"}
            merged[name] = _merge(start, entry)
            origin[name] = user_path
    return {
        name: _build(name, entry, "%s: profile %r" % (origin[name], name))
        for name, entry in merged.items()
    }


def generic_profile(port: str) -> BoardProfile:
    """A cautious profile for a port given by path or URL, with no profile of its own.

    Paced like the micro:bit (the slowest board we know), no hard reset.
    """
    return BoardProfile(
        name=port,
        description="serial port %s" % port,
        port=port,
        pacing=Pacing(32, 0.005),
        timeouts=Timeouts(ack=1.0, rpc=5.0, inter_byte=1.0, boot=8.0, tick=0.05, step=2.0),
        hard_reset="none",
        upload_chunk=128,
    )


def profile_status(profile: BoardProfile) -> ProfileStatus:
    """Can this profile's board be used right now?"""
    if profile.virtual:
        from .virtual import prerequisites

        missing = prerequisites(profile.launcher or "")
        if missing:
            return ProfileStatus(profile.name, "virtual", False, "; ".join(missing))
        return ProfileStatus(profile.name, "virtual", True, "launcher %s ready" % profile.launcher)
    port = profile.port or ""
    if "://" in port:
        return ProfileStatus(profile.name, "serial", True, "URL %s (not probed)" % port)
    if os.path.exists(port):
        return ProfileStatus(profile.name, "serial", True, "port %s present" % port)
    return ProfileStatus(profile.name, "serial", False, "port %s not present" % port)


def list_profiles(profiles: Optional[Dict[str, BoardProfile]] = None) -> List[ProfileStatus]:
    """Every profile with whether it is reachable now (virtual: prerequisites
    installed; real: the port exists), in name order."""
    profiles = load_profiles() if profiles is None else profiles
    return [profile_status(profiles[name]) for name in sorted(profiles)]
