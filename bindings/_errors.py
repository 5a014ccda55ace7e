"""The one place that decodes C strings and frees the messages LLVM hands us."""

from __future__ import annotations

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
