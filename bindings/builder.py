"""LLVMBuilder: insert new instructions into a module's functions."""

from __future__ import annotations

from ._ffi import ffi
from ._owned import Owned, UseAfterConsumeError
from .values import Value


class Builder(Owned):
    """Owns an LLVMBuilderRef for one module; keeps the module (and its context) alive.

    The instructions and constants it returns are borrowed `Value`s of that module.
    """

    _dispose = "LLVMDisposeBuilder"

    def __init__(self, module):
        context = module.context
        super().__init__(module.library, module.lib.LLVMCreateBuilderInContext(context.handle), parent=module)
        self.module = module
        self.context = context

    def _check_open(self) -> None:
        if self.closed:
            raise UseAfterConsumeError("Builder was consumed or closed")

    def _value(self, handle) -> Value:
        return Value(self.module, handle)

    def _int_type(self, bits: int):
        return self.lib.LLVMIntTypeInContext(self.context.handle, bits)

    def position_before(self, inst: Value) -> None:
        """New instructions go right before `inst`."""
        self.lib.LLVMPositionBuilderBefore(self.handle, inst.handle)

    def const_int(self, bits: int, value: int) -> Value:
        """An `i<bits>` constant (zero-extended)."""
        self._check_open()  # a closed builder makes nothing, constants included
        return self._value(self.lib.LLVMConstInt(self._int_type(bits), value, 0))

    def store(self, value: Value, ptr: Value, align: int | None = None, volatile: bool = False) -> Value:
        st = self.lib.LLVMBuildStore(self.handle, value.handle, ptr.handle)
        self._memory_flags(st, align, volatile)
        return self._value(st)

    def load(self, bits: int, ptr: Value, align: int | None = None, volatile: bool = False) -> Value:
        """Load an `i<bits>` from `ptr`."""
        ld = self.lib.LLVMBuildLoad2(self.handle, self._int_type(bits), ptr.handle, b"")
        self._memory_flags(ld, align, volatile)
        return self._value(ld)

    def _memory_flags(self, inst, align: int | None, volatile: bool) -> None:
        if align is not None:
            self.lib.LLVMSetAlignment(inst, align)
        if volatile:
            self.lib.LLVMSetVolatile(inst, 1)

    def gep_i8(self, ptr: Value, offset: int) -> Value:
        """`getelementptr i8, ptr, i64 offset`: `ptr` advanced by `offset` bytes."""
        lib = self.lib
        i8 = lib.LLVMInt8TypeInContext(self.context.handle)
        index = ffi.new("LLVMValueRef[1]", [lib.LLVMConstInt(self._int_type(64), offset, 0)])
        return self._value(lib.LLVMBuildGEP2(self.handle, i8, ptr.handle, index, 1, b""))

    def zext(self, value: Value, bits: int) -> Value:
        """`value` zero-extended to `i<bits>`."""
        return self._value(self.lib.LLVMBuildZExt(self.handle, value.handle, self._int_type(bits), b""))

    def mul(self, lhs: Value, rhs: Value) -> Value:
        return self._value(self.lib.LLVMBuildMul(self.handle, lhs.handle, rhs.handle, b""))

    def erase(self, inst: Value) -> None:
        """Remove `inst` from its block and delete it; `inst` must not be used afterwards."""
        self._check_open()
        self.lib.LLVMInstructionEraseFromParent(inst.handle)
