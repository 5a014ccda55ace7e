"""BPF instructions: decode an object's code bytes and tell which CPU (v1 to v4) each one needs."""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Instruction classes (code & 0x07).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
CLASS_NAMES = ("ld", "ldx", "st", "stx", "alu32", "jmp", "jmp32", "alu64")

# ALU operations (code & 0xf0).
ALU_OPS = {0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div", 0x40: "or", 0x50: "and", 0x60: "lsh",
           0x70: "rsh", 0x80: "neg", 0x90: "mod", 0xA0: "xor", 0xB0: "mov", 0xC0: "arsh", 0xD0: "end"}
# Jump operations (code & 0xf0).
JA, CALL, EXIT = 0x00, 0x80, 0x90
JMP_OPS = {0x00: "ja", 0x10: "jeq", 0x20: "jgt", 0x30: "jge", 0x40: "jset", 0x50: "jne", 0x60: "jsgt",
           0x70: "jsge", 0x80: "call", 0x90: "exit", 0xA0: "jlt", 0xB0: "jle", 0xC0: "jslt", 0xD0: "jsle"}
JMP_V2_OPS = (0xA0, 0xB0, 0xC0, 0xD0)  # jlt, jle, jslt, jsle: cpu v2, kernel 4.14

# Memory access modes (code & 0xe0) and sizes (code & 0x18).
MODE_IMM, MODE_ABS, MODE_IND, MODE_MEM, MODE_MEMSX, MODE_ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0
SIZES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}
LD_IMM64 = LD | MODE_IMM | 0x18  # 0x18: two slots

ATOMIC_ADD = 0x00  # plain atomic add (`lock *(u64 *)(r1 + 0) += r2`): cpu v1
ATOMIC_OPS = {0x00: "add", 0x01: "fetch_add", 0x40: "or", 0x41: "fetch_or", 0x50: "and", 0x51: "fetch_and",
              0xA0: "xor", 0xA1: "fetch_xor", 0xE1: "xchg", 0xF1: "cmpxchg"}

FRAME_POINTER = 10  # r10: read-only frame pointer; the stack lies below it


@dataclass(frozen=True)
class Insn:
    """One instruction; `offset` is its byte offset in its section, `size` 8 or 16 (ld_imm64)."""

    offset: int
    code: int
    dst: int
    src: int
    off: int
    imm: int
    size: int = 8

    @property
    def cls(self) -> int:
        return self.code & 0x07

    @property
    def op(self) -> int:
        return self.code & 0xF0

    @property
    def mode(self) -> int:
        return self.code & 0xE0

    @property
    def is_call(self) -> bool:
        return self.code == JMP | CALL

    @property
    def is_exit(self) -> bool:
        return self.code == JMP | EXIT

    @property
    def is_jump(self) -> bool:
        """A jump with a target in the same function (not call, not exit)."""
        return self.cls in (JMP, JMP32) and self.op not in (CALL, EXIT)

    @property
    def jump_delta(self) -> int:
        """Target minus the next instruction, in instructions: `imm` for gotol (JMP32|JA), else `off`."""
        return self.imm if self.code == JMP32 | JA else self.off

    @property
    def jump_target(self) -> int | None:
        """Byte offset the jump lands on, or None for other instructions."""
        if not self.is_jump:
            return None
        return self.offset + 8 * (1 + self.jump_delta)

    @property
    def is_backward_jump(self) -> bool:
        """A jump to itself or an earlier instruction: a loop's back edge."""
        return self.is_jump and self.jump_delta < 0

    def mnemonic(self) -> str:
        """A short name for messages: `jlt`, `jmp32 jeq`, `alu32 add`, `ldxsx`, `sdiv`, `atomic fetch_add`."""
        cls, op = self.cls, self.op
        if cls in (JMP, JMP32):
            name = JMP_OPS.get(op, f"jmp op {op:#x}")
            if self.code == JMP32 | JA:
                return "gotol"
            return f"jmp32 {name}" if cls == JMP32 else name
        if cls in (ALU, ALU64):
            name = ALU_OPS.get(op, f"alu op {op:#x}")
            if op in (0x30, 0x90) and self.off == 1:
                name = "s" + name
            elif op == 0xB0 and self.off:
                name = "movsx"
            elif op == 0xD0:
                name = "bswap" if cls == ALU64 else "endian"
            return f"alu32 {name}" if cls == ALU and op != 0xD0 else name
        if cls == STX and self.mode == MODE_ATOMIC:
            return f"atomic {ATOMIC_OPS.get(self.imm, f'op {self.imm:#x}')}"
        if cls == LDX and self.mode == MODE_MEMSX:
            return "ldxsx"
        return CLASS_NAMES[cls]


def decode(data: bytes, little_endian: bool = True) -> list[Insn]:
    """Every instruction of a code section, in order (ld_imm64 is one 16-byte Insn)."""
    fmt = "<BBhi" if little_endian else ">BBhi"
    out = []
    i = 0
    while i + 8 <= len(data):
        code, regs, off, imm = struct.unpack_from(fmt, data, i)
        dst, src = (regs & 0x0F, regs >> 4) if little_endian else (regs >> 4, regs & 0x0F)
        size = 16 if code == LD_IMM64 and i + 16 <= len(data) else 8
        out.append(Insn(i, code, dst, src, off, imm, size))
        i += size
    return out


# --- which CPU an instruction needs ----------------------------------------------------

CPU_LEVELS = {"generic": 1, "v1": 1, "v2": 2, "v3": 3, "v4": 4}


def cpu_level(cpu: str) -> int:
    """1 to 4 for generic/v1..v4; a CPU we do not know (`probe`, a newer one) allows everything."""
    return CPU_LEVELS.get(cpu, 99)


@dataclass(frozen=True)
class Need:
    """What an instruction needs beyond cpu v1: the CPU level, the LLVM feature that also allows it."""

    level: int
    what: str
    feature: str = ""  # e.g. "alu32": `--cpu-features +alu32` lets a v1/v2 CPU emit it


def needs(insn: Insn) -> Need | None:
    """The CPU an instruction needs when that is more than v1, else None.

    v2: jlt/jle/jslt/jsle; v3: the JMP32 class and 32-bit ALU (the ALU class but its
    byte swaps), atomic operations other than add; v4: sign-extending loads (ldxsx) and
    moves (movsx), bswap, sdiv/smod, gotol.
    """
    cls, op = insn.cls, insn.op
    if insn.code == JMP32 | JA:
        return Need(4, "gotol")
    if cls == JMP32:
        return Need(3, insn.mnemonic(), "jmp32")
    if cls == JMP and op in JMP_V2_OPS:
        return Need(2, insn.mnemonic())
    if cls in (ALU, ALU64):
        if op in (0x30, 0x90) and insn.off == 1:
            return Need(4, insn.mnemonic())
        if op == 0xB0 and insn.off:
            return Need(4, "movsx")
        if cls == ALU64 and op == 0xD0:
            return Need(4, "bswap")
        if cls == ALU and op != 0xD0:
            return Need(3, insn.mnemonic(), "alu32")
        return None
    if cls == LDX and insn.mode == MODE_MEMSX:
        return Need(4, "ldxsx")
    if cls == STX and insn.mode == MODE_ATOMIC and insn.imm != ATOMIC_ADD:
        return Need(3, insn.mnemonic())
    return None


def allowed(need: Need, level: int, features: str = "") -> bool:
    """Whether a CPU of `level` with target `features` ("+alu32,-dwarfris") may emit `need`."""
    if need.level <= level:
        return True
    enabled = {f[1:] for f in features.split(",") if f.startswith("+")}
    return bool(need.feature) and need.feature in enabled


def stack_offsets(insns: list[Insn]) -> int:
    """The deepest byte below r10 the instructions touch: a function's stack depth, as the verifier counts it.

    Loads and stores through r10, and pointers made from it (`r1 = r10; r1 += -16`).
    """
    deepest = 0
    from_fp: dict[int, int] = {}  # register -> offset from r10 it holds
    for insn in insns:
        cls = insn.cls
        if cls == LDX and insn.src == FRAME_POINTER and insn.off < 0:
            deepest = max(deepest, -insn.off)
        elif cls in (ST, STX) and insn.dst == FRAME_POINTER and insn.off < 0:
            deepest = max(deepest, -insn.off)
        if cls == ALU64 and insn.op == 0xB0 and insn.code & 0x08 and insn.src == FRAME_POINTER:
            from_fp[insn.dst] = 0
            continue
        if cls == ALU64 and insn.op == 0x00 and not insn.code & 0x08 and insn.dst in from_fp:
            from_fp[insn.dst] += insn.imm
            deepest = max(deepest, -from_fp[insn.dst])
            continue
        if insn.is_call:  # r0-r5 are clobbered
            for reg in range(6):
                from_fp.pop(reg, None)
        elif cls in (ALU, ALU64, LDX, LD):
            from_fp.pop(insn.dst, None)
    return deepest
