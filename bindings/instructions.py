"""Basic blocks, instructions (opcodes by name, callee, debug location, erasing) and uses of a value."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterator

from ._errors import decode
from ._ffi import ffi
from ._owned import Borrowed
from .values import GlobalValue, Value, wrap


class Opcode(enum.IntEnum):
    """LLVMOpcode (llvm-c/Core.h, stable from LLVM 16 to 22); `mnemonic` is the IR spelling."""

    RET = 1
    BR = 2
    SWITCH = 3
    INDIRECTBR = 4
    INVOKE = 5
    UNREACHABLE = 7
    CALLBR = 67
    FNEG = 66
    ADD = 8
    FADD = 9
    SUB = 10
    FSUB = 11
    MUL = 12
    FMUL = 13
    UDIV = 14
    SDIV = 15
    FDIV = 16
    UREM = 17
    SREM = 18
    FREM = 19
    SHL = 20
    LSHR = 21
    ASHR = 22
    AND = 23
    OR = 24
    XOR = 25
    ALLOCA = 26
    LOAD = 27
    STORE = 28
    GETELEMENTPTR = 29
    TRUNC = 30
    ZEXT = 31
    SEXT = 32
    FPTOUI = 33
    FPTOSI = 34
    UITOFP = 35
    SITOFP = 36
    FPTRUNC = 37
    FPEXT = 38
    PTRTOINT = 39
    PTRTOADDR = 69  # LLVM 22+
    INTTOPTR = 40
    BITCAST = 41
    ADDRSPACECAST = 60
    ICMP = 42
    FCMP = 43
    PHI = 44
    CALL = 45
    SELECT = 46
    USEROP1 = 47
    USEROP2 = 48
    VA_ARG = 49
    EXTRACTELEMENT = 50
    INSERTELEMENT = 51
    SHUFFLEVECTOR = 52
    EXTRACTVALUE = 53
    INSERTVALUE = 54
    FREEZE = 68
    FENCE = 55
    CMPXCHG = 56
    ATOMICRMW = 57
    RESUME = 58
    LANDINGPAD = 59
    CLEANUPRET = 61
    CATCHRET = 62
    CATCHPAD = 63
    CLEANUPPAD = 64
    CATCHSWITCH = 65

    @property
    def mnemonic(self) -> str:
        """The opcode as IR writes it: "call", "load", "getelementptr", "icmp"."""
        return self.name.lower()


@dataclass(frozen=True)
class DebugLocation:
    """Where an instruction (or a function, a global variable) comes from in the source."""

    directory: str
    filename: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}" if self.column else f"{self.filename}:{self.line}"


def debug_location(value: Value) -> DebugLocation | None:
    """The debug location of an instruction, function or global variable; None without debug info."""
    lib, handle = value.lib, value.handle
    if (lib.LLVMIsAInstruction(handle) == ffi.NULL and lib.LLVMIsAFunction(handle) == ffi.NULL
            and lib.LLVMIsAGlobalVariable(handle) == ffi.NULL):
        return None  # LLVM's getters assume one of the three
    size = ffi.new("unsigned *")
    filename = decode(lib.LLVMGetDebugLocFilename(handle, size), size[0])
    size[0] = 0
    directory = decode(lib.LLVMGetDebugLocDirectory(handle, size), size[0])
    line = lib.LLVMGetDebugLocLine(handle)
    if not filename and not line:
        return None
    column = lib.LLVMGetDebugLocColumn(handle) if lib.LLVMIsAInstruction(handle) != ffi.NULL else 0
    return DebugLocation(directory, filename, line, column)


class Use:
    """One use of a value: operand `index` of `user`. `set(v)` makes that operand `v`."""

    __slots__ = ("user", "index")

    def __init__(self, user: Value, index: int):
        self.user = user
        self.index = index

    @property
    def value(self) -> Value:
        """The value used (what `user.operand(index)` is)."""
        return wrap(self.user.module, self.user.lib.LLVMGetOperand(self.user.handle, self.index))

    def set(self, value: Value) -> None:
        """Replace this one use (LLVMSetOperand); other uses of the old value stay."""
        self.user.lib.LLVMSetOperand(self.user.handle, self.index, value.handle)

    def __repr__(self) -> str:
        return f"<Use operand {self.index} of {self.user!r}>"


def use_sites(value: Value) -> list[Use]:
    """Every use of `value`, as (user, operand index), collected before any is changed."""
    lib, out = value.lib, []
    use = lib.LLVMGetFirstUse(value.handle)
    while use != ffi.NULL:
        user = lib.LLVMGetUser(use)
        for index in range(lib.LLVMGetNumOperands(user)):
            if lib.LLVMGetOperandUse(user, index) == use:
                out.append(Use(wrap(value.module, user), index))
                break
        use = lib.LLVMGetNextUse(use)
    return out


class Instruction(Value):
    """An instruction of a function. Operands and users come back typed (instructions, globals)."""

    __slots__ = ()

    def __repr__(self) -> str:
        name = f" %{self.name}" if self.name else ""
        return f"<Instruction {self.opcode_name}{name} in {self.function.name}>"

    @property
    def opcode(self) -> Opcode | int:
        """The opcode as an Opcode (an int; a newer LLVM's unknown opcode stays a plain int)."""
        value = self.lib.LLVMGetInstructionOpcode(self.handle)
        try:
            return Opcode(value)
        except ValueError:
            return value

    @property
    def opcode_name(self) -> str:
        """"call", "load", "store", "br", "icmp", ... (LLVM IR's spelling)."""
        op = self.opcode
        return op.mnemonic if isinstance(op, Opcode) else f"opcode {op}"

    def operand(self, index: int) -> Value:
        if not 0 <= index < self.num_operands:
            raise IndexError(f"{self.opcode_name} has {self.num_operands} operands, not {index + 1}")
        return wrap(self.module, self.lib.LLVMGetOperand(self.handle, index))

    def set_operand(self, index: int, value: Value) -> None:
        if not 0 <= index < self.num_operands:
            raise IndexError(f"{self.opcode_name} has {self.num_operands} operands, not {index + 1}")
        self.lib.LLVMSetOperand(self.handle, index, value.handle)

    # -- position ------------------------------------------------------------
    @property
    def block(self) -> "BasicBlock":
        return BasicBlock(self.module, self.lib.LLVMGetInstructionParent(self.handle))

    @property
    def function(self) -> GlobalValue:
        return self.block.function

    @property
    def next(self) -> "Instruction | None":
        h = self.lib.LLVMGetNextInstruction(self.handle)
        return None if h == ffi.NULL else Instruction(self.module, h)

    @property
    def previous(self) -> "Instruction | None":
        h = self.lib.LLVMGetPreviousInstruction(self.handle)
        return None if h == ffi.NULL else Instruction(self.module, h)

    @property
    def debug_location(self) -> DebugLocation | None:
        """Source file, line and column (needs inputs compiled with -g); None without."""
        return debug_location(self)

    # -- kinds -----------------------------------------------------------------
    @property
    def is_terminator(self) -> bool:
        return self.lib.LLVMIsATerminatorInst(self.handle) != ffi.NULL

    def successors(self) -> "list[BasicBlock]":
        """The blocks a terminator may branch to; [] for other instructions."""
        if not self.is_terminator:
            return []
        return [BasicBlock(self.module, self.lib.LLVMGetSuccessor(self.handle, i))
                for i in range(self.lib.LLVMGetNumSuccessors(self.handle))]

    @property
    def callee(self) -> GlobalValue | None:
        """The function a call calls directly (intrinsics included: `llvm.memcpy.p0.p0.i64`);
        None for indirect calls, inline assembly and non-calls."""
        if not self.is_call:
            return None
        target = wrap(self.module, self.lib.LLVMGetCalledValue(self.handle))
        return target if isinstance(target, GlobalValue) and target.kind == "function" else None

    @property
    def arguments(self) -> list[Value]:
        """The arguments of a call, in order (the callee operand excluded); [] for non-calls."""
        if not self.is_call:
            return []
        return [wrap(self.module, self.lib.LLVMGetArgOperand(self.handle, i))
                for i in range(self.lib.LLVMGetNumArgOperands(self.handle))]

    @property
    def is_volatile(self) -> bool:
        """Whether a load, store, atomicrmw or cmpxchg is volatile (False for other instructions)."""
        if self.opcode not in (Opcode.LOAD, Opcode.STORE, Opcode.ATOMICRMW, Opcode.CMPXCHG):
            return False
        return bool(self.lib.LLVMGetVolatile(self.handle))

    @is_volatile.setter
    def is_volatile(self, value: bool) -> None:
        if self.opcode not in (Opcode.LOAD, Opcode.STORE, Opcode.ATOMICRMW, Opcode.CMPXCHG):
            raise ValueError(f"{self.opcode_name} has no volatile flag")
        self.lib.LLVMSetVolatile(self.handle, bool(value))

    @property
    def alignment(self) -> int:
        """Alignment in bytes of a load, store or alloca (0: none given)."""
        if self.opcode not in (Opcode.LOAD, Opcode.STORE, Opcode.ALLOCA, Opcode.ATOMICRMW, Opcode.CMPXCHG):
            raise ValueError(f"{self.opcode_name} has no alignment")
        return self.lib.LLVMGetAlignment(self.handle)

    @alignment.setter
    def alignment(self, value: int) -> None:
        if self.opcode not in (Opcode.LOAD, Opcode.STORE, Opcode.ALLOCA, Opcode.ATOMICRMW, Opcode.CMPXCHG):
            raise ValueError(f"{self.opcode_name} has no alignment")
        self.lib.LLVMSetAlignment(self.handle, value)

    # -- changes ---------------------------------------------------------------
    def erase(self) -> None:
        """Remove this instruction from its function and delete it. It must have no uses left
        (replace them first, e.g. with `replace_with`); this wrapper must not be used afterwards."""
        if self.has_uses():
            raise ValueError(f"cannot erase {self!r}: it still has uses (replace them first)")
        self.lib.LLVMInstructionEraseFromParent(self.handle)

    def replace_with(self, value: Value) -> None:
        """Replace every use of this instruction's result with `value`, then erase it."""
        self.replace_all_uses_with(value)
        self.erase()


class BasicBlock(Borrowed):
    """A basic block of a function: iterate it for its instructions."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<BasicBlock {self.name or '(unnamed)'} in {self.function.name}>"

    @property
    def name(self) -> str:
        return decode(self.lib.LLVMGetBasicBlockName(self.handle))

    @property
    def function(self) -> GlobalValue:
        return GlobalValue(self.module, self.lib.LLVMGetBasicBlockParent(self.handle), "function")

    def instructions(self) -> Iterator[Instruction]:
        """The block's instructions in order; erasing the one just yielded is safe."""
        lib = self.lib
        inst = lib.LLVMGetFirstInstruction(self.handle)
        while inst != ffi.NULL:
            nxt = lib.LLVMGetNextInstruction(inst)
            yield Instruction(self.module, inst)
            inst = nxt

    __iter__ = instructions

    @property
    def terminator(self) -> Instruction | None:
        h = self.lib.LLVMGetLastInstruction(self.handle)
        if h == ffi.NULL or self.lib.LLVMIsATerminatorInst(h) == ffi.NULL:
            return None
        return Instruction(self.module, h)

    def successors(self) -> "list[BasicBlock]":
        term = self.terminator
        return term.successors() if term is not None else []
