"""`neurotile asm` and `neurotile disasm`: spike programs <-> binary images."""

from __future__ import annotations

import os
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "asm", help="assemble a .spk program into a binary image",
        description="Assemble a spike program (.spk, docs/SPEC.md section 17) into a binary "
                    "image (.bin, section 15). Errors and warnings are reported as "
                    "file:line:col with the source line; on any error no output is written.",
        epilog="Example: neurotile asm programs/hello_lif.spk -o hello.bin")
    p.add_argument("source", metavar="PROG.spk", help="program to assemble")
    p.add_argument("-o", "--output", metavar="PROG.bin",
                   help="image to write (default: the source path with .bin)")
    p.add_argument("--werror", action="store_true", help="treat warnings as errors")
    p.add_argument("--quiet", action="store_true", help="print neither warnings nor the summary line")
    p.set_defaults(func=run_asm)

    d = sub.add_parser(
        "disasm", help="print the assembly of a binary image",
        description="Disassemble a binary image into .spk source that assembles back to the "
                    "identical bytes.",
        epilog="Example: neurotile disasm hello.bin -o hello_again.spk")
    d.add_argument("image", metavar="PROG.bin", help="image to disassemble")
    d.add_argument("-o", "--output", metavar="OUT.spk", help="write here instead of standard output")
    d.set_defaults(func=run_disasm)


def write_atomic(path: str, data: bytes) -> None:
    from emulator.fileio import write_atomic as _write

    _write(path, data)


def run_asm(args) -> int:
    from emulator import asm
    from emulator.errors import UserError

    out = args.output or os.path.splitext(args.source)[0] + ".bin"
    try:
        result = asm.assemble(path=args.source)
    except asm.AsmError as e:
        print(str(e), file=sys.stderr)
        return 1
    warnings = result.warnings
    if warnings and args.werror:
        print(str(asm.AsmError(asm._as_errors(result.diagnostics))), file=sys.stderr)
        return 1
    if warnings and not args.quiet:
        print(str(asm.AsmError(result.diagnostics)), file=sys.stderr)
    try:
        write_atomic(out, result.image)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (out, e.strerror or e)) from None
    if not args.quiet:
        ticks = result.program.static_ticks()
        print("%s: %d bytes, %d tiles on, %d instructions, %s" % (
            out, len(result.image), sum(t is not None for t in result.program.tiles),
            len(result.program.code), "%d ticks" % ticks if ticks is not None else "runs until --ticks"))
    return 0


def run_disasm(args) -> int:
    from emulator import image
    from emulator.asm import disassemble
    from emulator.errors import UserError

    try:
        with open(args.image, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise UserError("cannot read %s: %s" % (args.image, e.strerror or e)) from None
    try:
        text = disassemble(data)
    except image.ImageError as e:
        raise UserError("%s: %s" % (args.image, e)) from None
    if args.output:
        try:
            write_atomic(args.output, text.encode("utf-8"))
        except OSError as e:
            raise UserError("cannot write %s: %s" % (args.output, e.strerror or e)) from None
    else:
        sys.stdout.write(text)
    return 0
