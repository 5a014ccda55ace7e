"""The one ownership rule for LLVM handles: adopt with a destructor, detach when consumed."""

from __future__ import annotations

from bpf_linker.errors import BpfLinkerError

from ._ffi import Library, ffi


class UseAfterConsumeError(BpfLinkerError):
    """A handle was used after LLVM took ownership of it (or after close())."""


class Owned:
    """Owns one LLVM handle; disposes it on close() or garbage collection, exactly once.

    Subclasses name their LLVM destructor in `_dispose`. A parent object passed as
    `parent` is kept alive as long as this one (a module keeps its context alive).
    """

    _dispose: str = ""

    def __init__(self, library: Library, handle, parent=None):
        if handle == ffi.NULL:
            raise ValueError(f"{type(self).__name__}: NULL handle")
        self.library = library
        self.lib = library.lib
        self._parent = parent
        self._handle = ffi.gc(handle, getattr(self.lib, self._dispose))

    @property
    def handle(self):
        if self._handle is None:
            raise UseAfterConsumeError(f"{type(self).__name__} was consumed or closed")
        return self._handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Dispose now; harmless when called twice."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            ffi.release(handle)

    def consume(self):
        """Give up ownership (LLVM takes it) and return the raw handle."""
        handle = self.handle
        self._handle = None
        raw = ffi.cast(ffi.typeof(handle), handle)
        ffi.gc(handle, None)  # drop the destructor: LLVM owns it now
        return raw

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Borrowed:
    """A handle owned by LLVM (a type, a basic block) that keeps its module alive; compared by handle."""

    __slots__ = ("module", "handle")

    def __init__(self, module, handle):
        if handle == ffi.NULL:
            raise ValueError(f"{type(self).__name__}: NULL handle")
        self.module = module
        self.handle = handle

    @property
    def lib(self):
        return self.module.lib

    def __eq__(self, other) -> bool:
        return isinstance(other, type(self)) and self.handle == other.handle

    def __hash__(self) -> int:
        return hash(int(ffi.cast("uintptr_t", self.handle)))
