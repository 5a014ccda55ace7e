"""The one place that decodes C strings and frees the messages LLVM hands us."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager

from . import _ffi
from ._ffi import ffi


def decode(ptr, length: int | None = None) -> str:
    """A borrowed `const char *` (LLVM keeps ownership) as str."""
    if ptr == ffi.NULL:
        return ""
    raw = ffi.string(ptr) if length is None else ffi.unpack(ptr, length)
    return raw.decode("utf-8", errors="replace")


def take_message(lib, ptr) -> str:
    """An owned `char *` from LLVM: decode it and free it with LLVMDisposeMessage."""
    if ptr == ffi.NULL:
        return ""
    try:
        return ffi.string(ptr).decode("utf-8", errors="replace")
    finally:
        lib.LLVMDisposeMessage(ptr)


def take_out_message(lib, out) -> str:
    """The message behind a `char **` out-parameter, freed; empty if LLVM set none."""
    return take_message(lib, out[0])


def take_error(lib, err) -> str | None:
    """An LLVMErrorRef: None for success, else its message (consuming the error)."""
    if err == ffi.NULL:
        return None
    msg = lib.LLVMGetErrorMessage(err)
    try:
        return ffi.string(msg).decode("utf-8", errors="replace")
    finally:
        lib.LLVMDisposeErrorMessage(msg)


@contextmanager
def llvm_stderr_to_log(log):
    """Send what LLVM prints on stderr during the block to `log` at debug level.

    LLVM writes some details straight to stderr: reading a module with broken debug
    info, its verifier dumps the offending metadata there before the diagnostic
    "ignoring invalid debug info" (a warning we log). Lines of our own (`bpf-linker: ...`,
    logged meanwhile) are passed on; a fatal error still reaches the real stderr.
    """
    sys.stderr.flush()
    try:
        capture = tempfile.TemporaryFile(prefix="bpf-linker-llvm-stderr-")
    except OSError:
        yield
        return
    saved = os.dup(2)
    os.dup2(capture.fileno(), 2)
    _ffi.fatal_error_fd = saved
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        _ffi.fatal_error_fd = 2
        os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
        capture.close()
        ours = []
        for line in text.splitlines():
            # LLVM does not always end its output with a newline: ours may follow on the line.
            at = line.find("bpf-linker: ")
            raw, own = (line, "") if at < 0 else (line[:at], line[at:])
            if raw.strip():
                log.debug("LLVM: %s", raw.rstrip())
            if own:
                ours.append(own + "\n")
        if ours:
            os.write(2, "".join(ours).encode())
