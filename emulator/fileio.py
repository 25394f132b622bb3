"""Writing files so that an interrupted write never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path, write) -> None:
    """Write ``path`` through ``write(fh)`` (or bytes) via a temp file and a rename.

    The temporary file sits in the same folder (so the rename is atomic), is fsynced
    before the rename, and is removed if anything fails or the user interrupts.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(write, (bytes, bytearray)):
                fh.write(write)
            else:
                write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
