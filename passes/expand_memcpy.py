"""expand-memcpy: keep the BPF backend's in-order memcpy and expand constant-size memset/memmove.

With --bpf-expand-memcpy-in-order (set here unless disabled, a process-global LLVM option)
the BPF backend expands memcpy itself, in order, but stops expanding memset and memmove:
they would become calls to functions a C program does not define ("failed to find BTF
for extern 'memset'" at load time). So this pass rewrites constant-size llvm.memset and
small llvm.memmove intrinsics into plain stores, as LLVM does without the option.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings._ffi import ffi
from bpf_linker.pipeline import LinkContext, Pass

MAX_STORES = 128  # LLVM's BPF limit for memset/memcpy expansion without the in-order option
MAX_MEMMOVE_CHUNKS = 16  # all loads happen before the stores: keep register pressure sane


def chunks(length: int, align: int):
    """(offset, width) pieces covering `length` bytes, widest first, never wider than the alignment."""
    out, offset = [], 0
    while offset < length:
        for width in (8, 4, 2, 1):
            if width <= length - offset and width <= align and offset % width == 0:
                out.append((offset, width))
                offset += width
                break
    return out


class _Expander:
    def __init__(self, module, ctx: LinkContext):
        self.module = module
        self.lib = module.lib
        self.context = ctx.context
        self.builder = self.lib.LLVMCreateBuilderInContext(ctx.context.handle)
        self.align_kind = ctx.context.attribute_kind("align")
        self.i8 = self.lib.LLVMInt8TypeInContext(ctx.context.handle)
        self.i64 = self.lib.LLVMIntTypeInContext(ctx.context.handle, 64)

    def close(self):
        self.lib.LLVMDisposeBuilder(self.builder)

    def int_type(self, width: int):
        return self.lib.LLVMIntTypeInContext(self.context.handle, width * 8)

    def const_len(self, call) -> int | None:
        length = self.lib.LLVMGetOperand(call, 2)
        if self.lib.LLVMIsAConstantInt(length) == ffi.NULL:
            return None
        return self.lib.LLVMConstIntGetZExtValue(length)

    def param_align(self, call, arg_index: int) -> int:
        attr = self.lib.LLVMGetCallSiteEnumAttribute(call, arg_index + 1, self.align_kind)
        return max(1, self.lib.LLVMGetEnumAttributeValue(attr)) if attr != ffi.NULL else 1

    def is_volatile(self, call) -> bool:
        flag = self.lib.LLVMGetOperand(call, 3)
        return self.lib.LLVMIsAConstantInt(flag) != ffi.NULL and self.lib.LLVMConstIntGetZExtValue(flag) != 0

    def address(self, base, offset: int):
        if offset == 0:
            return base
        index = ffi.new("LLVMValueRef[1]", [self.lib.LLVMConstInt(self.i64, offset, 0)])
        return self.lib.LLVMBuildGEP2(self.builder, self.i8, base, index, 1, b"")

    def splat(self, value, width: int):
        lib = self.lib
        ty = self.int_type(width)
        if lib.LLVMIsAConstantInt(value) != ffi.NULL:
            byte = lib.LLVMConstIntGetZExtValue(value) & 0xFF
            return lib.LLVMConstInt(ty, int.from_bytes(bytes([byte]) * width, "little"), 0)
        if width == 1:
            return value
        wide = lib.LLVMBuildZExt(self.builder, value, ty, b"")
        return lib.LLVMBuildMul(self.builder, wide, lib.LLVMConstInt(ty, int.from_bytes(b"\x01" * width, "little"), 0), b"")

    def store(self, value, ptr, align: int, volatile: bool):
        st = self.lib.LLVMBuildStore(self.builder, value, ptr)
        self.lib.LLVMSetAlignment(st, align)
        if volatile:
            self.lib.LLVMSetVolatile(st, 1)

    def expand_memset(self, call) -> bool:
        length = self.const_len(call)
        if length is None:
            return False
        align = self.param_align(call, 0)
        pieces = chunks(length, align)
        if len(pieces) > MAX_STORES:
            return False
        lib = self.lib
        lib.LLVMPositionBuilderBefore(self.builder, call)
        dest, value, volatile = lib.LLVMGetOperand(call, 0), lib.LLVMGetOperand(call, 1), self.is_volatile(call)
        splats = {}
        for offset, width in pieces:
            if width not in splats:
                splats[width] = self.splat(value, width)
            self.store(splats[width], self.address(dest, offset), min(width, align), volatile)
        lib.LLVMInstructionEraseFromParent(call)
        return True

    def expand_memmove(self, call) -> bool:
        length = self.const_len(call)
        if length is None:
            return False
        align = min(self.param_align(call, 0), self.param_align(call, 1))
        pieces = chunks(length, align)
        if len(pieces) > MAX_MEMMOVE_CHUNKS:
            return False
        lib = self.lib
        lib.LLVMPositionBuilderBefore(self.builder, call)
        dest, src, volatile = lib.LLVMGetOperand(call, 0), lib.LLVMGetOperand(call, 1), self.is_volatile(call)
        loaded = []
        for offset, width in pieces:  # every load before any store: correct when the ranges overlap
            load = lib.LLVMBuildLoad2(self.builder, self.int_type(width), self.address(src, offset), b"")
            lib.LLVMSetAlignment(load, min(width, align))
            if volatile:
                lib.LLVMSetVolatile(load, 1)
            loaded.append(load)
        for (offset, width), value in zip(pieces, loaded):
            self.store(value, self.address(dest, offset), min(width, align), volatile)
        lib.LLVMInstructionEraseFromParent(call)
        return True


def intrinsic_calls(module, prefixes: tuple[str, ...]):
    """(call instruction, intrinsic name) for calls to intrinsics starting with one of `prefixes`."""
    lib = module.lib
    for f in list(module.functions()):
        name = f.name
        if f.is_declaration and name.startswith(prefixes):
            for user in list(f.uses()):
                if lib.LLVMIsACallInst(user.handle) != ffi.NULL and lib.LLVMGetCalledValue(user.handle) == f.handle:
                    yield user.handle, name


@dataclass(frozen=True)
class ExpandMemcpy(Pass):
    name = "expand-memcpy"
    summary = "memcpy expanded in order by the backend; constant memset/memmove expanded to stores here"
    in_order: bool = True

    def llvm_args(self, ctx: LinkContext) -> list[str]:
        return ["--bpf-expand-memcpy-in-order"] if self.in_order else []

    def run(self, module, ctx: LinkContext) -> None:
        if not self.in_order:
            return  # LLVM's own expansion is active
        log = ctx.logger(self.name)
        expander = _Expander(module, ctx)
        try:
            calls = list(intrinsic_calls(module, ("llvm.memset.", "llvm.memmove.")))
            expanded = 0
            for call, name in calls:
                done = expander.expand_memset(call) if name.startswith("llvm.memset.") else expander.expand_memmove(call)
                expanded += done
            if calls:
                log.debug("expanded %d of %d memset/memmove calls", expanded, len(calls))
        finally:
            expander.close()


PASSES = [ExpandMemcpy]
