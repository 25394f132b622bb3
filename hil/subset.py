"""Check that board-side Python stays inside what MicroPython 1.9.2 can run.

The oldest board we support is the BBC micro:bit v1 (MicroPython 1.9.2); the WebAssembly
board runs 1.27 but lacks step slices and native emitters. Firmware files are parsed with
:mod:`ast` on the host and every construct or library call known to be missing on one of
them is reported, so a mistake shows up in CI rather than as a traceback on a board.

Rules (each was probed on the QEMU micro:bit or documented in HIL-NOTES.md):

* syntax: f-strings, ``:=``, annotations, ``async``/``await``, ``match``, ``@`` (matmul),
  positional-only ``/``, ``except*``, step slices (wasm), slice assignment/deletion
  (bytearray/array on 1.9.2), ``@property``, ``@micropython.native``/``viper``;
* missing methods: ``.hex()``, ``fromhex``, ``.encode()``, ``.decode()`` (use
  ``str(b, 'utf-8')`` / ``bytes(s, 'utf-8')``), ``zfill``, ``ljust``, ``rjust``,
  ``center``, ``partition``, ``rpartition``, ``splitlines``, ``bit_length``,
  ``format_map``, ``title``, ``capitalize``, ``swapcase``, ``casefold``,
  ``removeprefix``, ``removesuffix``, ``expandtabs``; ``memoryview``; 3-argument
  ``pow``; ``.__name__`` of a type and ``.__class__``; keyword arguments to
  ``int.from_bytes``/``to_bytes`` (1.9.2 takes them positionally);
* imports: outside ``try: ... except ImportError:`` only modules present on every board
  (:data:`PORTABLE_MODULES`) and sibling firmware modules;
* integer-only core: float literals and true division ``/`` (the micro:bit's floats are
  32-bit, so results would differ from the host's).

A line carrying the comment ``# subset: allow (why)`` is exempt.
"""

from __future__ import annotations

import ast
import os
from typing import List, Optional, Set

__all__ = ["check_micropython_subset", "check_source", "PORTABLE_MODULES"]

#: Modules importable on both the micro:bit (1.9.2) and the wasm board (1.27).
PORTABLE_MODULES = frozenset(
    {"array", "collections", "gc", "math", "micropython", "os", "random", "struct",
     "sys", "time"}
)

_MISSING_METHODS = {
    "hex": "bytes.hex() is missing: format with '%02x' per byte",
    "fromhex": "bytes.fromhex() is missing: parse with int(s[i:i+2], 16)",
    "encode": "str.encode() is missing: use bytes(s, 'utf-8')",
    "decode": "bytes.decode() is missing on 1.9.2: use str(b, 'utf-8')",
    "zfill": "str.zfill() is missing on 1.9.2: use '%05d' formatting",
    "ljust": "str.ljust() is missing on 1.9.2",
    "rjust": "str.rjust() is missing on 1.9.2",
    "center": "str.center() is missing on 1.9.2",
    "partition": "str.partition() is missing on 1.9.2: use find() and slices",
    "rpartition": "str.rpartition() is missing on 1.9.2: use rfind() and slices",
    "splitlines": "str.splitlines() is missing on 1.9.2: use split('\\n')",
    "bit_length": "int.bit_length() is missing on 1.9.2",
    "format_map": "str.format_map() is missing on 1.9.2",
    "title": "str.title() is missing on 1.9.2",
    "capitalize": "str.capitalize() is missing on 1.9.2",
    "swapcase": "str.swapcase() is missing on 1.9.2",
    "casefold": "str.casefold() is missing on MicroPython",
    "removeprefix": "str.removeprefix() is missing on MicroPython",
    "removesuffix": "str.removesuffix() is missing on MicroPython",
    "expandtabs": "str.expandtabs() is missing on MicroPython",
}

_ALLOW_PRAGMA = "# subset: allow"


def _imports_guarded(node: ast.Try) -> bool:
    """Does this ``try`` catch ImportError (so its body may import board-specific modules)?"""
    for handler in node.handlers:
        kind = handler.type
        names = []
        if isinstance(kind, ast.Name):
            names = [kind.id]
        elif isinstance(kind, ast.Tuple):
            names = [e.id for e in kind.elts if isinstance(e, ast.Name)]
        if "ImportError" in names or "Exception" in names:
            return True
    return False


class _Checker(ast.NodeVisitor):
    def __init__(self, filename: str, local_modules: Set[str], lines: List[str]):
        self.filename = filename
        self.local_modules = local_modules
        self.lines = lines
        self.problems: List[str] = []
        self._guard_depth = 0

    # -- reporting
    def report(self, node: ast.AST, message: str) -> None:
        lineno = getattr(node, "lineno", 0)
        if 0 < lineno <= len(self.lines) and _ALLOW_PRAGMA in self.lines[lineno - 1]:
            return
        self.problems.append("%s:%d: %s" % (self.filename, lineno, message))

    # -- syntax
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self.report(node, "f-string: not in MicroPython 1.9.2 (use '%' or str.format)")

    def visit_NamedExpr(self, node: ast.AST) -> None:
        self.report(node, "walrus ':=': not in MicroPython 1.9.2")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.report(node, "variable annotation: not in MicroPython 1.9.2")
        self.generic_visit(node)

    def _check_function(self, node: ast.AST) -> None:
        args = node.args  # type: ignore[attr-defined]
        every = args.posonlyargs + args.args + args.kwonlyargs
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        if node.returns is not None or any(a.annotation is not None for a in every):  # type: ignore[attr-defined]
            self.report(node, "function annotations: not in MicroPython 1.9.2")
        if args.posonlyargs:
            self.report(node, "positional-only parameters '/': not in MicroPython 1.9.2")
        for deco in node.decorator_list:  # type: ignore[attr-defined]
            text = ast.unparse(deco)
            if text == "property" or text.endswith((".setter", ".getter", ".deleter")):
                self.report(deco, "@property: not in MicroPython 1.9.2 (use a method)")
            elif text in ("micropython.native", "micropython.viper"):
                self.report(deco, "@%s: not on the wasm board" % text)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_function(node)
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.report(node, "async def: not on the micro:bit")
        self._check_function(node)
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.report(node, "await: not on the micro:bit")
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AST) -> None:
        self.report(node, "async for: not on the micro:bit")
        self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AST) -> None:
        self.report(node, "async with: not on the micro:bit")
        self.generic_visit(node)

    def visit_Match(self, node: ast.AST) -> None:
        self.report(node, "match statement: not in MicroPython")
        self.generic_visit(node)

    def visit_TryStar(self, node: ast.AST) -> None:
        self.report(node, "except*: not in MicroPython")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult):
            self.report(node, "'@' operator: not in MicroPython 1.9.2")
        if isinstance(node.op, ast.Div):
            self.report(node, "true division '/': floats differ on the board, use '//'")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Div):
            self.report(node, "true division '/=': floats differ on the board, use '//='")
        if isinstance(node.op, ast.MatMult):
            self.report(node, "'@=' operator: not in MicroPython 1.9.2")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (float, complex)):
            self.report(node, "float literal %r: the core is integer-only" % (node.value,))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        sl = node.slice
        if isinstance(sl, ast.Slice):
            if sl.step is not None:
                self.report(node, "step slice: not on the wasm board (use a loop)")
            if isinstance(node.ctx, (ast.Store, ast.Del)):
                self.report(
                    node, "slice assignment/deletion: not on bytearray/array in 1.9.2"
                )
        self.generic_visit(node)

    # -- library
    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in _MISSING_METHODS:
            self.report(node, _MISSING_METHODS[node.attr])
        elif node.attr == "__class__":
            self.report(node, "__class__: missing on 1.9.2 (use type(x))")
        elif (
            node.attr == "__name__"
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "type"
        ):
            self.report(node, "type(x).__name__: missing on 1.9.2 (use repr(x))")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "memoryview":
            self.report(node, "memoryview: not on the micro:bit")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "pow" and len(node.args) == 3:
            self.report(node, "3-argument pow(): not in MicroPython 1.9.2")
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("from_bytes", "to_bytes")
            and node.keywords
        ):
            self.report(
                node,
                "%s() with keyword arguments: 1.9.2 takes (length, order[, signed]) "
                "positionally" % func.attr,
            )
        self.generic_visit(node)

    # -- imports
    def _check_module(self, node: ast.AST, name: Optional[str], level: int = 0) -> None:
        if level:
            self.report(node, "relative import: firmware modules are flat files")
            return
        top = (name or "").split(".")[0]
        if self._guard_depth or top in PORTABLE_MODULES or top in self.local_modules:
            return
        self.report(
            node,
            "import %s: not on every board; import it inside try/except ImportError"
            % top,
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "__future__":
            self.report(node, "from __future__: not in MicroPython")
            return
        self._check_module(node, node.module, node.level)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = _imports_guarded(node)
        self._guard_depth += guarded
        for stmt in node.body:
            self.visit(stmt)
        self._guard_depth -= guarded
        for part in node.handlers + node.orelse + node.finalbody:
            self.visit(part)


def check_source(
    source: str, filename: str = "<source>", local_modules: Optional[Set[str]] = None
) -> List[str]:
    """Return the subset violations in ``source`` (empty list: fine).

    ``local_modules`` are module names that may be imported freely (the firmware's own).
    A syntax error is reported as a single violation.
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return ["%s:%s: syntax error: %s" % (filename, exc.lineno, exc.msg)]
    checker = _Checker(filename, set(local_modules or ()), source.splitlines())
    checker.visit(tree)
    return checker.problems


def check_micropython_subset(path: str) -> List[str]:
    """Return the MicroPython 1.9.2 subset violations of the file at ``path``.

    Each entry reads ``path:line: what is wrong and what to use``. The other ``*.py``
    files in the same folder count as importable local modules.
    """
    folder = os.path.dirname(os.path.abspath(path))
    local = {name[:-3] for name in os.listdir(folder) if name.endswith(".py")}
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    return check_source(source, path, local)
