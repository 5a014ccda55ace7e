"""Borrowed handles to a module's functions, global variables and aliases."""

from __future__ import annotations

import enum

from ._errors import decode, take_message
from ._ffi import ffi


class Linkage(enum.IntEnum):
    EXTERNAL = 0
    AVAILABLE_EXTERNALLY = 1
    LINKONCE_ANY = 2
    LINKONCE_ODR = 3
    WEAK_ANY = 5
    WEAK_ODR = 6
    APPENDING = 7
    INTERNAL = 8
    PRIVATE = 9
    EXTERNAL_WEAK = 12
    COMMON = 14

    @property
    def is_local(self) -> bool:
        return self in (Linkage.INTERNAL, Linkage.PRIVATE)

    @property
    def is_weak(self) -> bool:
        return self in (Linkage.LINKONCE_ANY, Linkage.LINKONCE_ODR, Linkage.WEAK_ANY,
                        Linkage.WEAK_ODR, Linkage.EXTERNAL_WEAK, Linkage.COMMON)


FUNCTION_ATTRIBUTE_INDEX = 0xFFFFFFFF  # LLVMAttributeFunctionIndex


class Value:
    """A borrowed LLVMValueRef; keeps its module alive."""

    __slots__ = ("module", "handle")

    def __init__(self, module, handle):
        self.module = module
        self.handle = handle

    @property
    def lib(self):
        return self.module.lib

    def __eq__(self, other):
        return isinstance(other, Value) and self.handle == other.handle

    def __hash__(self):
        return hash(int(ffi.cast("uintptr_t", self.handle)))

    def __str__(self) -> str:
        return take_message(self.lib, self.lib.LLVMPrintValueToString(self.handle))

    def uses(self):
        """The values using this one (instructions, constants)."""
        use = self.lib.LLVMGetFirstUse(self.handle)
        while use != ffi.NULL:
            yield Value(self.module, self.lib.LLVMGetUser(use))
            use = self.lib.LLVMGetNextUse(use)

    def has_uses(self) -> bool:
        return self.lib.LLVMGetFirstUse(self.handle) != ffi.NULL


class GlobalValue(Value):
    """A function, global variable or alias."""

    __slots__ = ("kind",)

    def __init__(self, module, handle, kind: str):
        super().__init__(module, handle)
        self.kind = kind  # "function" | "variable" | "alias"

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} {self.linkage.name.lower()}>"

    @property
    def name(self) -> str:
        size = ffi.new("size_t *")
        ptr = self.lib.LLVMGetValueName2(self.handle, size)
        return decode(ptr, size[0])

    @property
    def linkage(self) -> Linkage:
        value = self.lib.LLVMGetLinkage(self.handle)
        try:
            return Linkage(value)
        except ValueError:
            return Linkage.EXTERNAL

    @linkage.setter
    def linkage(self, value: Linkage) -> None:
        self.lib.LLVMSetLinkage(self.handle, int(value))

    @property
    def section(self) -> str:
        return decode(self.lib.LLVMGetSection(self.handle))

    @property
    def visibility(self) -> int:
        return self.lib.LLVMGetVisibility(self.handle)

    @visibility.setter
    def visibility(self, value: int) -> None:
        self.lib.LLVMSetVisibility(self.handle, value)

    @property
    def is_declaration(self) -> bool:
        return bool(self.lib.LLVMIsDeclaration(self.handle))

    @property
    def is_intrinsic(self) -> bool:
        return self.name.startswith("llvm.")

    def make_internal(self) -> None:
        """Internal linkage; internal symbols must have default visibility."""
        self.linkage = Linkage.INTERNAL
        self.visibility = 0

    # Global variables only.
    @property
    def initializer(self) -> Value | None:
        init = self.lib.LLVMGetInitializer(self.handle)
        return None if init == ffi.NULL else Value(self.module, init)

    def make_declaration(self) -> None:
        """Drop a global variable's initializer, turning its definition into a declaration."""
        self.lib.LLVMSetInitializer(self.handle, ffi.NULL)
        self.linkage = Linkage.EXTERNAL

    # Functions only.
    def has_function_attribute(self, kind: int) -> bool:
        return self.lib.LLVMGetEnumAttributeAtIndex(self.handle, FUNCTION_ATTRIBUTE_INDEX, kind) != ffi.NULL

    def remove_function_attribute(self, kind: int) -> None:
        self.lib.LLVMRemoveEnumAttributeAtIndex(self.handle, FUNCTION_ATTRIBUTE_INDEX, kind)

    def has_debug_info(self) -> bool:
        return self.lib.LLVMGetSubprogram(self.handle) != ffi.NULL

    def basic_blocks(self):
        bb = self.lib.LLVMGetFirstBasicBlock(self.handle)
        while bb != ffi.NULL:
            yield bb
            bb = self.lib.LLVMGetNextBasicBlock(bb)

    def instructions(self):
        """Every instruction of a function, block by block (raw handles)."""
        lib = self.lib
        for bb in self.basic_blocks():
            inst = lib.LLVMGetFirstInstruction(bb)
            while inst != ffi.NULL:
                nxt = lib.LLVMGetNextInstruction(inst)
                yield inst
                inst = nxt
