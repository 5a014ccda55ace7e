"""Atomic output: write to a temporary file beside the target and rename it into place."""

from __future__ import annotations

import os
import tempfile

from .errors import BpfLinkerError, UsageError


def refuse_input_as_output(output: str, inputs) -> None:
    out_real = os.path.realpath(output)
    for path in inputs:
        same = os.path.realpath(path) == out_real
        if not same and os.path.exists(output) and os.path.exists(path):
            try:
                same = os.path.samefile(path, output)
            except OSError:
                same = False
        if same:
            raise UsageError(f"{output}: the output is also an input; refusing to overwrite it")


def write_atomically(path: str, data: bytes) -> None:
    """The file appears complete or not at all; an existing file is replaced only on success."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as e:
        raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
        raise
