"""The `neurotile` command line tool.

Each subcommand lives in its own module with two functions: ``register(sub)``
adds its parser (cheap: no heavy imports at module level, so ``--help`` is fast)
and the handler it sets as ``func`` does the work. Handlers return an exit status;
a :class:`UserError` (or any error type listed in ``_USER_ERRORS``) becomes a
one-line message and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from emulator.errors import UserError  # re-exported: commands raise it

# Modules that provide subcommands, in the order `--help` lists them.
COMMAND_MODULES = (
    "emulator.commands.asm",
    "emulator.commands.run",
    "emulator.commands.view",
    "hil.commands",
    "emulator.commands.bench",
    "emulator.commands.nir",
)




def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurotile",
        description="Cycle-accurate emulator of a tiled neuromorphic crossbar chip: assemble "
                    "spike programs, run them, view traces, and check a MicroPython board "
                    "against the emulator spike for spike.",
        epilog="Run `neurotile COMMAND --help` for the options of one command. "
               "Docs: README.md, docs/SPEC.md, docs/TUTORIAL.md.",
    )
    from emulator import __version__
    parser.add_argument("--version", action="version", version="neurotile " + __version__)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:      # command not built yet
                continue
            raise
        mod.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("neurotile: interrupted", file=sys.stderr)
        return 130
    except UserError as e:
        print("neurotile: error: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # known user-facing error types from other modules
        if type(e).__name__ in _USER_ERRORS:
            print("neurotile: error: %s" % e, file=sys.stderr)
            return 1
        raise


# Error classes whose message is meant for the user (matched by name to avoid
# importing every subsystem here).
_USER_ERRORS = {"ImageError", "TraceError", "BoardError", "AsmError", "RunError", "ProfileError"}


if __name__ == "__main__":
    raise SystemExit(main())
