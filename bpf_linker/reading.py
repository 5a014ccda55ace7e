"""Reading the files a user names, bounded: `/dev/zero` as an input must fail at once, not fill memory."""

from __future__ import annotations

import os
import stat

CHUNK = 1 << 20
# Real inputs are far smaller (a vmlinux.h program is about 1 MB of bitcode, an rlib tens of MB).
MAX_INPUT = 1 << 30
# Names of an already open descriptor may be character devices (a terminal) and are still inputs.
_FD_PATHS = ("/dev/stdin", "/dev/fd/", "/proc/self/fd/")


class TooLarge(Exception):
    """More than `limit` bytes."""

    def __init__(self, limit: int):
        super().__init__(f"larger than {human(limit)}")
        self.limit = limit


def human(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def not_a_file(path: str) -> str | None:
    """Why `path` cannot be read as a file (a device, a socket), or None. Raises OSError from stat."""
    if path.startswith(_FD_PATHS):
        return None
    mode = os.stat(path).st_mode
    if stat.S_ISCHR(mode):
        return "is a character device, not a file"
    if stat.S_ISBLK(mode):
        return "is a block device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return None


def read_prefix_then_rest(f, limit: int, head_size: int, check_head) -> bytes:
    """Read `head_size` bytes (and one more, to know whether there is more), call
    `check_head(head, complete)` (it raises to refuse the file), then read the rest."""
    head = f.read(head_size)
    more = f.read(1) if len(head) == head_size else b""
    check_head(head + more, not more)
    if not more:
        return head
    parts, size = [head, more], len(head) + 1
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        parts.append(chunk)


def read_bounded(path: str, limit: int) -> bytes:
    """The whole file, or TooLarge past `limit` bytes (OSError as open/read raise it)."""
    reason = not_a_file(path)
    if reason:
        raise OSError(0, reason, path)
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(limit)
    return data


def read_bounded_text(path: str, limit: int, what: str) -> str:
    """A text file of at most `limit` bytes; ValueError naming `what` if it holds NUL bytes."""
    data = read_bounded(path, limit)
    if b"\0" in data:
        raise ValueError(f"{path}: {what} is not a text file (it contains NUL bytes)")
    return os.fsdecode(data)
