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
FIRST_ARGUMENT_INDEX = 1  # LLVMAttributeIndex of argument 0

# LLVMOpcode values used here.
ALLOCA, LOAD, STORE = 26, 27, 28
# LLVMTypeKind values: rustc (LLVM 19+) allocates every local as a byte array (`alloca [8 x i8]` for a u64).
INTEGER_TYPE, ARRAY_TYPE, POINTER_TYPE = 8, 11, 12


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

    @property
    def name(self) -> str:
        """The value's name; "" for unnamed values and constants."""
        size = ffi.new("size_t *")
        ptr = self.lib.LLVMGetValueName2(self.handle, size)
        return decode(ptr, size[0])

    # -- operands --------------------------------------------------------
    @property
    def num_operands(self) -> int:
        return self.lib.LLVMGetNumOperands(self.handle)

    def operand(self, index: int) -> "Value":
        return Value(self.module, self.lib.LLVMGetOperand(self.handle, index))

    def operands(self):
        return [self.operand(i) for i in range(self.num_operands)]

    # -- constants -------------------------------------------------------
    @property
    def constant_int(self) -> int | None:
        """The zero-extended value of a ConstantInt; None for anything else."""
        if self.lib.LLVMIsAConstantInt(self.handle) == ffi.NULL:
            return None
        return self.lib.LLVMConstIntGetZExtValue(self.handle)

    # -- instructions ----------------------------------------------------
    @property
    def is_instruction(self) -> bool:
        return self.lib.LLVMIsAInstruction(self.handle) != ffi.NULL

    @property
    def opcode(self) -> int | None:
        """The LLVMOpcode of an instruction; None for anything else."""
        return self.lib.LLVMGetInstructionOpcode(self.handle) if self.is_instruction else None

    @property
    def is_call(self) -> bool:
        return self.lib.LLVMIsACallInst(self.handle) != ffi.NULL

    @property
    def called_value(self) -> "Value":
        """The callee operand of a call instruction (a function or any other pointer value)."""
        return Value(self.module, self.lib.LLVMGetCalledValue(self.handle))

    def param_attribute(self, arg_index: int, kind: int) -> int | None:
        """A call's enum attribute `kind` on argument `arg_index`: its value (0 for flags), None if absent."""
        attr = self.lib.LLVMGetCallSiteEnumAttribute(self.handle, FIRST_ARGUMENT_INDEX + arg_index, kind)
        return None if attr == ffi.NULL else self.lib.LLVMGetEnumAttributeValue(attr)

    def is_promotable_alloca(self) -> bool:
        """An alloca of a scalar, pointer or byte array used only as the address of plain loads and stores."""
        lib = self.lib
        if self.opcode != ALLOCA or \
                lib.LLVMGetTypeKind(lib.LLVMGetAllocatedType(self.handle)) not in (INTEGER_TYPE, ARRAY_TYPE,
                                                                                   POINTER_TYPE):
            return False
        use = lib.LLVMGetFirstUse(self.handle)
        promotable = use != ffi.NULL
        while use != ffi.NULL and promotable:
            user = Value(self.module, lib.LLVMGetUser(use))
            op = user.opcode
            if op == STORE:
                promotable = user.operand(1) == self and user.operand(0) != self
            elif op != LOAD:
                promotable = False
            use = lib.LLVMGetNextUse(use)
        return promotable

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

    def string_attribute(self, key: str) -> str | None:
        """A function's string attribute (`"target-cpu"="v3"`): its value, None if absent."""
        k = key.encode()
        attr = self.lib.LLVMGetStringAttributeAtIndex(self.handle, FUNCTION_ATTRIBUTE_INDEX, k, len(k))
        if attr == ffi.NULL:
            return None
        size = ffi.new("unsigned *")
        return decode(self.lib.LLVMGetStringAttributeValue(attr, size), size[0])

    def set_string_attribute(self, key: str, value: str) -> None:
        """Add or replace a function's string attribute."""
        lib, k, v = self.lib, key.encode(), value.encode()
        context = lib.LLVMGetModuleContext(self.module.handle)
        lib.LLVMAddAttributeAtIndex(self.handle, FUNCTION_ATTRIBUTE_INDEX,
                                    lib.LLVMCreateStringAttribute(context, k, len(k), v, len(v)))

    def remove_string_attribute(self, key: str) -> None:
        k = key.encode()
        self.lib.LLVMRemoveStringAttributeAtIndex(self.handle, FUNCTION_ATTRIBUTE_INDEX, k, len(k))

    def replace_all_uses_with(self, other: "Value") -> None:
        self.lib.LLVMReplaceAllUsesWith(self.handle, other.handle)

    def delete(self) -> None:
        """Remove this function or global variable from its module (it must have no uses left)."""
        if self.kind == "function":
            self.lib.LLVMDeleteFunction(self.handle)
        elif self.kind == "variable":
            self.lib.LLVMDeleteGlobal(self.handle)
        else:
            raise ValueError(f"cannot delete a {self.kind}")

    def has_debug_info(self) -> bool:
        return self.lib.LLVMGetSubprogram(self.handle) != ffi.NULL

    def basic_blocks(self):
        bb = self.lib.LLVMGetFirstBasicBlock(self.handle)
        while bb != ffi.NULL:
            yield bb
            bb = self.lib.LLVMGetNextBasicBlock(bb)

    def entry_instructions(self):
        """The instructions of a function's entry block (none for a declaration)."""
        bb = self.lib.LLVMGetFirstBasicBlock(self.handle)
        if bb == ffi.NULL:
            return
        inst = self.lib.LLVMGetFirstInstruction(bb)
        while inst != ffi.NULL:
            nxt = self.lib.LLVMGetNextInstruction(inst)
            yield Value(self.module, inst)
            inst = nxt

    def instructions(self):
        """Every instruction of a function, block by block (raw handles)."""
        lib = self.lib
        for bb in self.basic_blocks():
            inst = lib.LLVMGetFirstInstruction(bb)
            while inst != ffi.NULL:
                nxt = lib.LLVMGetNextInstruction(inst)
                yield inst
                inst = nxt
