"""LLVMMemoryBuffer: a copy of Python bytes that LLVM can read (and bytes back out)."""

from __future__ import annotations

from ._ffi import Library, ffi
from ._owned import Owned


class MemoryBuffer(Owned):
    _dispose = "LLVMDisposeMemoryBuffer"

    @classmethod
    def from_bytes(cls, library: Library, data: bytes, name: str = "") -> "MemoryBuffer":
        # The Copy variant: LLVM keeps no pointer into Python memory.
        handle = library.lib.LLVMCreateMemoryBufferWithMemoryRangeCopy(data, len(data), name.encode())
        return cls(library, handle)

    def to_bytes(self) -> bytes:
        start = self.lib.LLVMGetBufferStart(self.handle)
        return ffi.unpack(start, self.lib.LLVMGetBufferSize(self.handle))
