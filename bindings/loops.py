"""Loops as LLVM left them: the `!llvm.loop` hints on each loop latch, and the latch's source line."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import decode
from ._ffi import ffi

LOOP_KIND = b"llvm.loop"


@dataclass(frozen=True)
class LoopHints:
    """One loop latch: its function, source file and line ("" and 0 without debug info), and hint names."""

    function: str
    file: str
    line: int
    hints: tuple[str, ...]  # e.g. ("llvm.loop.mustprogress", "llvm.loop.unroll.disable")


def _operands(lib, node) -> list:
    count = lib.LLVMGetMDNodeNumOperands(node)
    if not count:
        return []
    out = ffi.new("LLVMValueRef[]", count)
    lib.LLVMGetMDNodeOperands(node, out)
    return [v for v in out if v != ffi.NULL]


def _hint_names(lib, loop_id) -> tuple[str, ...]:
    names = []
    for op in _operands(lib, loop_id)[1:]:  # operand 0 is the loop id itself
        if lib.LLVMIsAMDNode(op) == ffi.NULL:
            continue
        first = _operands(lib, op)[:1]
        if first:
            size = ffi.new("unsigned *")
            ptr = lib.LLVMGetMDString(first[0], size)
            if ptr != ffi.NULL:
                names.append(decode(ptr, size[0]))
    return tuple(names)


def _where(lib, inst) -> tuple[str, int]:
    loc = lib.LLVMInstructionGetDebugLoc(inst)
    if loc == ffi.NULL:
        return "", 0
    line = lib.LLVMDILocationGetLine(loc)
    scope = lib.LLVMDILocationGetScope(loc)
    file = lib.LLVMDIScopeGetFile(scope) if scope != ffi.NULL else ffi.NULL
    if file == ffi.NULL:
        return "", line
    size = ffi.new("unsigned *")
    return decode(lib.LLVMDIFileGetFilename(file, size), size[0]), line


def loop_hints(module) -> list[LoopHints]:
    """Every branch carrying `!llvm.loop` metadata (a loop latch) in the module's function bodies."""
    lib = module.lib
    context = lib.LLVMGetModuleContext(module.handle)
    kind = lib.LLVMGetMDKindIDInContext(context, LOOP_KIND, len(LOOP_KIND))
    out = []
    for f in module.functions():
        bb = lib.LLVMGetFirstBasicBlock(f.handle)
        while bb != ffi.NULL:
            term = lib.LLVMGetBasicBlockTerminator(bb)
            bb = lib.LLVMGetNextBasicBlock(bb)
            if term == ffi.NULL:
                continue
            loop_id = lib.LLVMGetMetadata(term, kind)
            if loop_id == ffi.NULL:
                continue
            file, line = _where(lib, term)
            out.append(LoopHints(f.name, file, line, _hint_names(lib, loop_id)))
    return out
