"""LLVMBuilder: insert new instructions into a module's functions; DataLayout: the memory facts they need."""

from __future__ import annotations

from ._ffi import ffi
from ._owned import Owned, UseAfterConsumeError
from .values import FIRST_ARGUMENT_INDEX, LOAD, STORE, GlobalValue, Linkage, Value


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

    # -- added for expand-memcpy ---------------------------------------------
    def trunc(self, value: Value, bits: int) -> Value:
        """`value` truncated to `i<bits>`."""
        return self._value(self.lib.LLVMBuildTrunc(self.handle, value.handle, self._int_type(bits), b""))

    def set_alignment(self, value: Value, align: int) -> None:
        """Set the alignment of an alloca, global variable, load or store to `align` bytes."""
        self._check_open()
        self.lib.LLVMSetAlignment(value.handle, align)

    def set_param_alignment(self, call: Value, arg_index: int, align: int) -> None:
        """Replace the `align` attribute of a call's argument `arg_index` with `align`."""
        self._check_open()
        lib, index = self.lib, FIRST_ARGUMENT_INDEX + arg_index
        kind = self.context.attribute_kind("align")
        lib.LLVMRemoveCallSiteEnumAttribute(call.handle, index, kind)
        lib.LLVMAddCallSiteAttribute(call.handle, index, lib.LLVMCreateEnumAttribute(self.context.handle, kind, align))

    def erase_global(self, gv: Value) -> None:
        """Delete a global variable that has no uses left; `gv` must not be used afterwards."""
        self._check_open()
        if gv.has_uses():
            raise ValueError(f"erase_global: {gv.name} still has uses")
        self.lib.LLVMDeleteGlobal(gv.handle)


# LLVMOpcode values of the address computations DataLayout looks through.
GETELEMENTPTR, BITCAST = 29, 49
STRUCT_TYPE, ARRAY_TYPE, VECTOR_TYPE = 10, 11, 13
LITTLE_ENDIAN = 1  # LLVMByteOrdering
# Linkages whose definition another module may replace: their initializer proves nothing.
INTERPOSABLE = (Linkage.WEAK_ANY, Linkage.LINKONCE_ANY, Linkage.EXTERNAL_WEAK, Linkage.COMMON)


class DataLayout:
    """A module's data layout (borrowed from it; keeps the module alive): type sizes, constant
    offsets of addresses, alignments of stack objects and globals, the bytes of constant globals.

    Without a data layout string in the module, offsets through structs and constant bytes
    are unknown (None): LLVM's default layout is not the BPF one.
    """

    def __init__(self, module):
        self.module = module
        self.lib = module.lib
        self.known = bool(module.data_layout)
        self._td = self.lib.LLVMGetModuleDataLayout(module.handle)
        self.byteorder = "little" if self.lib.LLVMByteOrder(self._td) == LITTLE_ENDIAN else "big"

    def alloc_size(self, ty) -> int:
        """Bytes between consecutive elements of type `ty` in an array (its ABI size)."""
        return self.lib.LLVMABISizeOfType(self._td, ty)

    def store_size(self, ty) -> int:
        """Bytes a load or store of type `ty` touches."""
        return self.lib.LLVMStoreSizeOfType(self._td, ty)

    def instructions(self, function: Value):
        """Every instruction of `function` as a Value, block by block (the next one is fetched first)."""
        lib = self.lib
        bb = lib.LLVMGetFirstBasicBlock(function.handle)
        while bb != ffi.NULL:
            inst = lib.LLVMGetFirstInstruction(bb)
            while inst != ffi.NULL:
                nxt = lib.LLVMGetNextInstruction(inst)
                yield Value(self.module, inst)
                inst = nxt
            bb = lib.LLVMGetNextBasicBlock(bb)

    def access(self, inst: Value) -> tuple[Value, object] | None:
        """(pointer, accessed type) of a load or store instruction; None for anything else."""
        op = inst.opcode
        if op == LOAD:
            return inst.operand(0), self.lib.LLVMTypeOf(inst.handle)
        if op == STORE:
            return inst.operand(1), self.lib.LLVMTypeOf(inst.operand(0).handle)
        return None

    # -- addresses -------------------------------------------------------------
    def gep_offset(self, gep: Value) -> int | None:
        """The constant byte offset a getelementptr (instruction or constant expression) adds; None if not constant."""
        lib = self.lib
        if not self.known:
            return None
        indices = gep.operands()[1:]
        if not indices:
            return 0
        ty = lib.LLVMGetGEPSourceElementType(gep.handle)
        first = indices[0]
        if first.constant_int is None:
            return None
        offset = lib.LLVMConstIntGetSExtValue(first.handle) * self.alloc_size(ty)
        for index in indices[1:]:
            if index.constant_int is None:
                return None
            kind = lib.LLVMGetTypeKind(ty)
            if kind == STRUCT_TYPE:
                offset += lib.LLVMOffsetOfElement(self._td, ty, index.constant_int)
                ty = lib.LLVMStructGetTypeAtIndex(ty, index.constant_int)
            elif kind in (ARRAY_TYPE, VECTOR_TYPE):
                ty = lib.LLVMGetElementType(ty)
                offset += lib.LLVMConstIntGetSExtValue(index.handle) * self.alloc_size(ty)
            else:
                return None
        return offset

    def _address_step(self, ptr: Value) -> tuple[Value, int] | None:
        """(operand, offset) when `ptr` is a constant-offset GEP or a pointer bitcast of it; else None."""
        lib = self.lib
        if lib.LLVMIsAConstantExpr(ptr.handle) != ffi.NULL:
            opcode = lib.LLVMGetConstOpcode(ptr.handle)
        elif ptr.is_instruction:
            opcode = ptr.opcode
        else:
            return None
        if opcode == BITCAST:
            return ptr.operand(0), 0
        if opcode == GETELEMENTPTR:
            offset = self.gep_offset(ptr)
            return None if offset is None else (ptr.operand(0), offset)
        return None

    def base_and_offset(self, ptr: Value) -> tuple[Value, int]:
        """The value `ptr` is a constant byte offset from, through GEPs and bitcasts: (base, offset)."""
        total = 0
        while True:
            step = self._address_step(ptr)
            if step is None:
                return ptr, total
            ptr, offset = step
            total += offset

    def is_alloca(self, value: Value) -> bool:
        return self.lib.LLVMIsAAllocaInst(value.handle) != ffi.NULL

    def alignment(self, value: Value) -> int:
        """The alignment of an alloca, global variable, load or store (0: unspecified)."""
        return self.lib.LLVMGetAlignment(value.handle)

    def object_alignment(self, value: Value) -> int:
        """The alignment of a stack object or a global variable's definition; 0 for any other value."""
        lib = self.lib
        if self.is_alloca(value) or (lib.LLVMIsAGlobalVariable(value.handle) != ffi.NULL
                                     and not lib.LLVMIsDeclaration(value.handle)):
            return lib.LLVMGetAlignment(value.handle)
        return 0

    # -- constant data -----------------------------------------------------------
    def constant_global(self, value: Value) -> GlobalValue | None:
        """`value` as a global variable whose contents are its initializer for certain (a constant
        with a definitive initializer: not externally initialized, not replaceable at link time)."""
        lib, h = self.lib, value.handle
        if lib.LLVMIsAGlobalVariable(h) == ffi.NULL or not lib.LLVMIsGlobalConstant(h):
            return None
        gv = GlobalValue(value.module, h, "variable")
        if gv.initializer is None or lib.LLVMIsExternallyInitialized(h) or gv.linkage in INTERPOSABLE:
            return None
        return gv

    def constant_bytes(self, value: Value, offset: int, length: int) -> bytes | None:
        """Bytes [offset, offset + length) of the constant global `value` as they lie in memory
        (padding and undef read as zero); None if `value` is not one or its initializer holds
        something other than integers, null and undef (addresses of globals, floats, vectors)."""
        gv = self.constant_global(value)
        if gv is None or not self.known:
            return None
        size = self.alloc_size(self.lib.LLVMGlobalGetValueType(gv.handle))
        if offset < 0 or length < 0 or offset + length > size:
            return None
        buf = bytearray(length)
        ok = self._fill(buf, offset, gv.initializer.handle, self.lib.LLVMGlobalGetValueType(gv.handle), 0)
        return bytes(buf) if ok else None

    def _fill(self, buf: bytearray, lo: int, c, ty, at: int) -> bool:
        """Write constant `c` of type `ty`, placed at byte `at`, into `buf` (which holds bytes from `lo` on)."""
        lib = self.lib
        hi = lo + len(buf)
        size = self.alloc_size(ty)
        if at >= hi or at + size <= lo or lib.LLVMIsNull(c) or lib.LLVMIsUndef(c):
            return True  # outside the window, or zero bytes (buf starts zeroed)
        if lib.LLVMIsAConstantInt(c) != ffi.NULL:
            bits = lib.LLVMGetIntTypeWidth(ty)
            if bits > 64:
                return False
            nbytes = lib.LLVMStoreSizeOfType(self._td, ty)
            raw = (lib.LLVMConstIntGetZExtValue(c) & ((1 << bits) - 1)).to_bytes(nbytes, self.byteorder)
            self._put(buf, lo, at, raw)
            return True
        kind = lib.LLVMGetTypeKind(ty)
        if kind == ARRAY_TYPE and lib.LLVMIsAConstantDataSequential(c) != ffi.NULL:
            if lib.LLVMIsConstantString(c):  # i8 elements: the raw bytes (other widths are in host order)
                length = ffi.new("size_t *")
                data = lib.LLVMGetAsString(c, length)
                first, last = max(0, lo - at), min(length[0], hi - at)
                if last > first:
                    self._put(buf, lo, at + first, ffi.unpack(data + first, last - first))
                return True
            return self._fill_elements(buf, lo, ty, at, lib.LLVMGetArrayLength(ty),
                                       lambda i: lib.LLVMGetElementAsConstant(c, i))
        if kind == ARRAY_TYPE and lib.LLVMIsAConstantArray(c) != ffi.NULL:
            return self._fill_elements(buf, lo, ty, at, lib.LLVMGetArrayLength(ty), lambda i: lib.LLVMGetOperand(c, i))
        if kind == STRUCT_TYPE and lib.LLVMIsAConstantStruct(c) != ffi.NULL:
            for i in range(lib.LLVMGetNumOperands(c)):
                if not self._fill(buf, lo, lib.LLVMGetOperand(c, i), lib.LLVMStructGetTypeAtIndex(ty, i),
                                  at + lib.LLVMOffsetOfElement(self._td, ty, i)):
                    return False
            return True
        return False

    def _fill_elements(self, buf: bytearray, lo: int, ty, at: int, count: int, element) -> bool:
        """The elements of an array constant that overlap the window, each through _fill."""
        elem_ty = self.lib.LLVMGetElementType(ty)
        stride = self.alloc_size(elem_ty)
        if stride == 0:
            return True
        first = max(0, (lo - at) // stride)
        last = min(count, -(-(lo + len(buf) - at) // stride))
        return all(self._fill(buf, lo, element(i), elem_ty, at + i * stride) for i in range(first, last))

    @staticmethod
    def _put(buf: bytearray, lo: int, at: int, raw: bytes) -> None:
        """Copy `raw` (bytes starting at `at`) into the part of `buf` (starting at `lo`) it overlaps."""
        start = max(at, lo)
        end = min(at + len(raw), lo + len(buf))
        if end > start:
            buf[start - lo:end - lo] = raw[start - at:end - at]
