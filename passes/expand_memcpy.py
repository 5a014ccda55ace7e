"""expand-memcpy: keep the BPF backend's in-order memcpy and expand constant-size memset/memmove.

With --bpf-expand-memcpy-in-order (set here unless disabled, a process-global LLVM option)
the BPF backend expands memcpy itself, in order, but stops expanding memset and memmove:
they would become calls to functions a C program does not define ("failed to find BTF
for extern 'memset'" at load time). So this pass rewrites constant-size llvm.memset and
small llvm.memmove intrinsics into plain stores, as LLVM does without the option.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import Builder
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
        self.builder = Builder(module)
        self.align_kind = ctx.context.attribute_kind("align")

    def close(self):
        self.builder.close()

    @staticmethod
    def const_len(call) -> int | None:
        return call.operand(2).constant_int

    def param_align(self, call, arg_index: int) -> int:
        align = call.param_attribute(arg_index, self.align_kind)
        return max(1, align) if align is not None else 1

    @staticmethod
    def is_volatile(call) -> bool:
        flag = call.operand(3).constant_int
        return flag is not None and flag != 0

    def address(self, base, offset: int):
        if offset == 0:
            return base
        return self.builder.gep_i8(base, offset)

    def splat(self, value, width: int):
        byte = value.constant_int
        if byte is not None:
            return self.builder.const_int(width * 8, int.from_bytes(bytes([byte & 0xFF]) * width, "little"))
        if width == 1:
            return value
        wide = self.builder.zext(value, width * 8)
        return self.builder.mul(wide, self.builder.const_int(width * 8, int.from_bytes(b"\x01" * width, "little")))

    def plan(self, call, align: int, limit: int):
        """The pieces to expand `call` into, positioning the builder before it; None to leave the call."""
        length = self.const_len(call)
        if length is None:
            return None
        pieces = chunks(length, align)
        if len(pieces) > limit:
            return None
        self.builder.position_before(call)
        return pieces

    def expand_memset(self, call) -> bool:
        align = self.param_align(call, 0)
        pieces = self.plan(call, align, MAX_STORES)
        if pieces is None:
            return False
        builder = self.builder
        dest, value, volatile = call.operand(0), call.operand(1), self.is_volatile(call)
        splats = {}
        for offset, width in pieces:
            if width not in splats:
                splats[width] = self.splat(value, width)
            builder.store(splats[width], self.address(dest, offset), min(width, align), volatile)
        builder.erase(call)
        return True

    def expand_memmove(self, call) -> bool:
        align = min(self.param_align(call, 0), self.param_align(call, 1))
        pieces = self.plan(call, align, MAX_MEMMOVE_CHUNKS)
        if pieces is None:
            return False
        builder = self.builder
        dest, src, volatile = call.operand(0), call.operand(1), self.is_volatile(call)
        loaded = []
        for offset, width in pieces:  # every load before any store: correct when the ranges overlap
            loaded.append(builder.load(width * 8, self.address(src, offset), min(width, align), volatile))
        for (offset, width), value in zip(pieces, loaded):
            builder.store(value, self.address(dest, offset), min(width, align), volatile)
        builder.erase(call)
        return True


def intrinsic_calls(module, prefixes: tuple[str, ...]):
    """(call instruction, intrinsic name) for calls to intrinsics starting with one of `prefixes`."""
    for f in list(module.functions()):
        name = f.name
        if f.is_declaration and name.startswith(prefixes):
            for user in list(f.uses()):
                if user.is_call and user.called_value == f:
                    yield user, name


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
