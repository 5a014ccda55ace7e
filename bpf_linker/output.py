"""Atomic output: write to a temporary file beside the target and rename it into place."""

from __future__ import annotations

import os
import secrets

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


def _create_temporary(directory: str, base: str, path: str) -> tuple[int, str]:
    """A new file beside the target; mode 0666 less the umask, as the final file should have."""
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
    raise BpfLinkerError(f"{path}: cannot write output: no free temporary name in {directory}")


def write_atomically(path: str, data: bytes) -> None:
    """The file appears complete or not at all; an existing file is replaced only on success."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = _create_temporary(directory, os.path.basename(path), path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
        raise
