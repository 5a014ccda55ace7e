"""Borrowed handles to a module's functions, global variables and aliases."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from ._errors import decode, take_message
from ._ffi import ffi

if TYPE_CHECKING:
    from .instructions import Use
    from .types import Type


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

    def __repr__(self) -> str:
        text = " ".join(str(self).split())
        return f"<{type(self).__name__} {text if len(text) <= 60 else text[:57] + '...'}>"

    @property
    def name(self) -> str:
        """The value's name; "" for unnamed values and constants."""
        size = ffi.new("size_t *")
        ptr = self.lib.LLVMGetValueName2(self.handle, size)
        return decode(ptr, size[0])

    @name.setter
    def name(self, value: str) -> None:
        data = value.encode()
        self.lib.LLVMSetValueName2(self.handle, data, len(data))

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

    # -- the pass-author API (typed results; see README "Pass API reference") ----

    @property
    def type(self) -> "Type":
        """The value's type (`ptr` for globals and functions: see GlobalValue.value_type)."""
        from .types import Type
        return Type(self.module, self.lib.LLVMTypeOf(self.handle))

    @property
    def is_constant(self) -> bool:
        """True for constants: numbers, strings, constant expressions, and globals' addresses."""
        return bool(self.lib.LLVMIsConstant(self.handle))

    @property
    def constant_sint(self) -> int | None:
        """The sign-extended value of a ConstantInt; None for anything else."""
        if self.lib.LLVMIsAConstantInt(self.handle) == ffi.NULL:
            return None
        return self.lib.LLVMConstIntGetSExtValue(self.handle)

    def typed(self) -> "Value":
        """This value as its most specific wrapper: GlobalValue, Instruction or Value."""
        return wrap(self.module, self.handle)

    def users(self) -> list["Value"]:
        """The values using this one, typed (Instruction, GlobalValue, constant Value); one entry per use."""
        return [use.user for use in self.use_sites()]

    def use_sites(self) -> list["Use"]:
        """Every use of this value as a Use (user and operand index): `use.set(v)` replaces one."""
        from .instructions import use_sites
        return use_sites(self)

    def replace_all_uses_with(self, other: "Value") -> None:
        """Make every user use `other` instead (types must match)."""
        self.lib.LLVMReplaceAllUsesWith(self.handle, other.handle)


class Visibility(enum.IntEnum):
    DEFAULT = 0
    HIDDEN = 1
    PROTECTED = 2


def wrap(module, handle) -> Value | None:
    """The most specific wrapper for a borrowed handle: GlobalValue (function, variable,
    alias), Instruction, or Value; None for NULL."""
    if handle == ffi.NULL:
        return None
    lib = module.lib
    if lib.LLVMIsAFunction(handle) != ffi.NULL:
        return GlobalValue(module, handle, "function")
    if lib.LLVMIsAGlobalVariable(handle) != ffi.NULL:
        return GlobalValue(module, handle, "variable")
    if lib.LLVMIsAGlobalAlias(handle) != ffi.NULL:
        return GlobalValue(module, handle, "alias")
    if lib.LLVMIsAInstruction(handle) != ffi.NULL:
        from .instructions import Instruction
        return Instruction(module, handle)
    return Value(module, handle)


def _linkage(value) -> "Linkage":
    if isinstance(value, str):
        try:
            return Linkage[value.upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(m.name.lower() for m in Linkage)
            raise ValueError(f"unknown linkage '{value}' (known: {known})") from None
    return Linkage(value)


def _attribute_index(index) -> int:
    """"function" (default), "return", or an argument number (0 is the first argument)."""
    if index == "function":
        return FUNCTION_ATTRIBUTE_INDEX
    if index == "return":
        return 0
    if isinstance(index, int) and index >= 0:
        return FIRST_ARGUMENT_INDEX + index
    raise ValueError(f"attribute index must be 'function', 'return' or an argument number, not {index!r}")


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
    def linkage(self, value: "Linkage | str") -> None:
        """A Linkage or its name ("internal", "external", "weak_any", ...)."""
        self.lib.LLVMSetLinkage(self.handle, int(_linkage(value)))

    @property
    def section(self) -> str:
        """The ELF section ("" for the default: .text for functions); a program's section names its type."""
        return decode(self.lib.LLVMGetSection(self.handle))

    @section.setter
    def section(self, value: str) -> None:
        self.lib.LLVMSetSection(self.handle, value.encode())

    @property
    def visibility(self) -> Visibility:
        return Visibility(self.lib.LLVMGetVisibility(self.handle))

    @visibility.setter
    def visibility(self, value: "Visibility | int | str") -> None:
        """A Visibility, its number, or its name ("default", "hidden", "protected")."""
        if isinstance(value, str):
            try:
                value = Visibility[value.upper()]
            except KeyError:
                raise ValueError(f"unknown visibility '{value}' (default, hidden or protected)") from None
        self.lib.LLVMSetVisibility(self.handle, int(value))

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
        """A global variable's initial value (typed); None for declarations, functions and aliases."""
        if self.kind != "variable":
            return None
        init = self.lib.LLVMGetInitializer(self.handle)
        return wrap(self.module, init)

    @initializer.setter
    def initializer(self, value: "Value | None") -> None:
        """A global variable's initial value (a constant of its value type); None makes it a declaration."""
        if self.kind != "variable":
            raise ValueError(f"a {self.kind} has no initializer")
        self.lib.LLVMSetInitializer(self.handle, ffi.NULL if value is None else value.handle)

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
        """Remove this function or global variable from its module (it must have no uses left:
        replace them first). The wrapper must not be used afterwards."""
        if self.has_uses():
            raise ValueError(f"cannot delete {self.kind} '{self.name}': it still has uses (replace them first)")
        if self.kind == "function":
            self.lib.LLVMDeleteFunction(self.handle)
        elif self.kind == "variable":
            self.lib.LLVMDeleteGlobal(self.handle)
        else:
            raise ValueError(f"cannot delete a {self.kind}")

    def has_debug_info(self) -> bool:
        return self.lib.LLVMGetSubprogram(self.handle) != ffi.NULL

    def basic_blocks(self):
        """A function's basic blocks (BasicBlock), entry block first."""
        from .instructions import BasicBlock
        bb = self.lib.LLVMGetFirstBasicBlock(self.handle)
        while bb != ffi.NULL:
            nxt = self.lib.LLVMGetNextBasicBlock(bb)
            yield BasicBlock(self.module, bb)
            bb = nxt

    def blocks(self) -> list:
        """A function's basic blocks as a list (empty for a declaration)."""
        if self.kind != "function":
            return []
        return list(self.basic_blocks())

    def entry_instructions(self):
        """The instructions of a function's entry block (none for a declaration)."""
        from .instructions import Instruction
        bb = self.lib.LLVMGetFirstBasicBlock(self.handle)
        if bb == ffi.NULL:
            return
        inst = self.lib.LLVMGetFirstInstruction(bb)
        while inst != ffi.NULL:
            nxt = self.lib.LLVMGetNextInstruction(inst)
            yield Instruction(self.module, inst)
            inst = nxt

    def instructions(self):
        """Every instruction of a function (Instruction), block by block; erasing the one
        just yielded is safe."""
        for bb in self.basic_blocks():
            yield from bb.instructions()

    # -- the pass-author API (see README "Pass API reference") ------------------
    @property
    def is_function(self) -> bool:
        return self.kind == "function"

    @property
    def is_variable(self) -> bool:
        return self.kind == "variable"

    @property
    def is_alias(self) -> bool:
        return self.kind == "alias"

    @property
    def value_type(self):
        """The type of what the symbol holds: a variable's contents (`i32`, `[4 x i8]`), a
        function's signature (`i32 (ptr)`); `type` itself is always `ptr`."""
        from .types import Type
        return Type(self.module, self.lib.LLVMGlobalGetValueType(self.handle))

    @property
    def alignment(self) -> int:
        """Alignment in bytes of a function or variable (0: the target's default)."""
        return self.lib.LLVMGetAlignment(self.handle)

    @alignment.setter
    def alignment(self, value: int) -> None:
        if value < 0 or value & (value - 1):
            raise ValueError(f"alignment must be a power of two, not {value}")
        self.lib.LLVMSetAlignment(self.handle, value)

    @property
    def global_constant(self) -> bool:
        """Whether a global variable is `constant` (read-only: .rodata)."""
        return self.kind == "variable" and bool(self.lib.LLVMIsGlobalConstant(self.handle))

    @global_constant.setter
    def global_constant(self, value: bool) -> None:
        if self.kind != "variable":
            raise ValueError(f"a {self.kind} cannot be a global constant")
        self.lib.LLVMSetGlobalConstant(self.handle, bool(value))

    @property
    def is_thread_local(self) -> bool:
        return self.kind == "variable" and bool(self.lib.LLVMIsThreadLocal(self.handle))

    @property
    def aliasee(self) -> "Value | None":
        """What an alias points to (typed); None for functions and variables."""
        if self.kind != "alias":
            return None
        return wrap(self.module, self.lib.LLVMAliasGetAliasee(self.handle))

    @property
    def debug_location(self):
        """Source file and line of a function (its DISubprogram) or variable; None without -g."""
        from .instructions import debug_location
        return debug_location(self)

    def arguments(self) -> list[Value]:
        """A function's parameters (values of the arguments inside its body)."""
        if self.kind != "function":
            return []
        return [Value(self.module, self.lib.LLVMGetParam(self.handle, i))
                for i in range(self.lib.LLVMCountParams(self.handle))]

    def attributes(self, index="function") -> dict:
        """A function's attributes at `index` ("function", "return" or an argument number):
        name -> value. Flags (`noinline`) are True, integer attributes (`align`) ints, type
        attributes (`byval`) Types, string attributes (`"target-cpu"`) strs."""
        from .attributes import read_attributes
        self._require_function("attributes")
        return read_attributes(self, _attribute_index(index))

    def has_attribute(self, name: str, index="function") -> bool:
        return name in self.attributes(index)

    def attribute(self, name: str, index="function"):
        """One attribute's value (see `attributes`); None when absent."""
        return self.attributes(index).get(name)

    def add_attribute(self, name: str, value=None, index="function") -> None:
        """Add (or replace) an attribute: `add_attribute("noinline")`, `add_attribute("align", 8,
        index=0)`, `add_attribute("target-cpu", "v3")` (names LLVM does not know are string attributes)."""
        from .attributes import add_attribute
        self._require_function("attributes")
        add_attribute(self, _attribute_index(index), name, value)

    def remove_attribute(self, name: str, index="function") -> None:
        """Remove an attribute by name; harmless when absent."""
        from .attributes import remove_attribute
        self._require_function("attributes")
        remove_attribute(self, _attribute_index(index), name)

    def _require_function(self, what: str) -> None:
        if self.kind != "function":
            raise ValueError(f"{self.name}: a {self.kind} has no {what} (only functions do)")
