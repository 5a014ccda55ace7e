"""Writing the output: atomically for files, directly for devices, FIFOs and `-` (stdout).

A regular file (or a new one) is written to a temporary file beside it and renamed into
place, so it appears complete or not at all. What is not a regular file cannot be
replaced that way without destroying it (`-o /dev/null` as root would become an
ordinary file): as GNU ld does, such outputs are opened and written in place, after the
link has succeeded. `-` means standard output, as for llc.
"""

from __future__ import annotations

import os
import stat
import sys

from .errors import BpfLinkerError, UsageError

STDOUT = "-"
_TMP_SUFFIX_LEN = len("..0123456789ab.tmp")


def refuse_input_as_output(output: str, inputs) -> None:
    if output == STDOUT:
        return
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


# Names of an already open descriptor: renaming a file onto them would replace the link itself.
_FD_PATHS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")


def check_output_path(path: str) -> None:
    """Before linking: an output that names a directory, or lives in one that does not exist,
    fails at once (not after the whole link)."""
    if path == STDOUT:
        return
    if os.path.isdir(path):
        raise BpfLinkerError(f"{path}: cannot write output: Is a directory")
    if is_special(path):
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise BpfLinkerError(f"{path}: cannot write output: {directory}: No such directory")


def is_special(path: str) -> bool:
    """True for an existing output that is not a regular file (device, FIFO, socket) or names a descriptor."""
    if path.startswith(_FD_PATHS):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode)


def _name_max(directory: str) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _create_temporary(directory: str, base: str, path: str) -> tuple[int, str]:
    """A new file beside the target; mode 0666 less the umask, as the final file should have."""
    # A legal output name can be too long to carry a suffix: shorten the temporary's stem.
    stem = base if len(base) + _TMP_SUFFIX_LEN <= _name_max(directory) else "bpf-linker"
    for _ in range(100):
        tmp = os.path.join(directory, f".{stem}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue
        except OSError as e:
            raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
    raise BpfLinkerError(f"{path}: cannot write output: no free temporary name in {directory}")


def write_output(path: str, data: bytes) -> None:
    """Write a link's output to `path`: `-` is stdout, special files in place, files atomically."""
    if path == STDOUT:
        _write_stream(sys.stdout.buffer, data, "standard output")
    elif is_special(path):
        try:
            with open(path, "wb") as f:
                _write_stream(f, data, path)
        except OSError as e:
            raise BpfLinkerError(f"{path}: cannot write output: {e.strerror}") from None
    else:
        write_atomically(path, data)


def _write_stream(stream, data: bytes, what: str) -> None:
    try:
        stream.write(data)
        stream.flush()
    except OSError as e:
        raise BpfLinkerError(f"{what}: cannot write output: {e.strerror}") from None


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
