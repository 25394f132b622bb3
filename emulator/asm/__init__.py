"""The spike-program assembler and disassembler (docs/SPEC.md section 17).

Public API::

    assemble_file(path) -> bytes            # a .spk file -> image bytes
    assemble_text(text, filename) -> bytes  # source text -> image bytes
    assemble(text=..., path=...) -> Assembly  # program, image and warnings
    disassemble(data) -> str                # image bytes -> .spk text
    AsmError                                # .diagnostics; str() is the full report

Modules, one idea each: ``lexer`` (tokens of a line), ``expressions`` (integer
expressions and the token cursor), ``parser`` (files, includes, sections),
``assembler`` (sections -> Program -> bytes), ``diagnostics`` (located
errors and warnings), ``disassembler`` (bytes -> text).
"""

from __future__ import annotations

from emulator.asm.assembler import Assembly, assemble
from emulator.asm.diagnostics import AsmError, Diagnostic
from emulator.asm.disassembler import disassemble, disassemble_program

__all__ = ["AsmError", "Assembly", "Diagnostic", "assemble", "assemble_file", "assemble_text",
           "disassemble", "disassemble_program"]


def assemble_file(path, werror: bool = False) -> bytes:
    """Assemble the `.spk` file at ``path`` and return the image bytes.

    Includes and data files are found relative to the file that names them.
    Raises :class:`AsmError` on any error (and on any warning if ``werror``).
    """
    return _bytes(assemble(path=str(path)), werror)


def assemble_text(text: str, filename: str = "<string>", werror: bool = False,
                  base_dir: str | None = None) -> bytes:
    """Assemble source text and return the image bytes.

    ``filename`` is the name shown in diagnostics; includes and data files are
    found relative to ``base_dir`` (default: the directory of ``filename`` if it
    names a file, else the current directory). Raises :class:`AsmError`.
    """
    return _bytes(assemble(text, filename=filename, base_dir=base_dir), werror)


def _bytes(result: Assembly, werror: bool) -> bytes:
    if werror and result.warnings:
        raise AsmError(_as_errors(result.diagnostics))
    return result.image


def _as_errors(diagnostics):
    out = []
    for d in diagnostics:
        if d.severity == "warning":
            d = Diagnostic("error", d.message + " [--werror]", d.loc, d.notes)
        out.append(d)
    return out
