"""NIR (Neuromorphic Intermediate Representation) in and out: docs/NIR.md.

:func:`compile_graph` turns a NIR graph into a program (:mod:`emulator.nir.compiler`),
:func:`write_spk` writes it as readable source, :func:`export_program` turns a program
back into a NIR graph (:mod:`emulator.nir.export`). The public face is the ``neurotile``
package (``neurotile.from_nir``, ``neurotile.to_nir``).
"""

from emulator.nir.graph import NIRError  # noqa: F401


def __getattr__(name):
    if name in ("compile_graph", "Options", "Compiled"):
        from emulator.nir import compiler

        return getattr(compiler, name)
    if name == "write_spk":
        from emulator.nir.spk import write_spk

        return write_spk
    if name in ("export_program", "ExportError"):
        from emulator.nir import export

        return getattr(export, name)
    raise AttributeError(name)
