"""expand-memcpy: the backend's in-order memcpy; memory intrinsics expanded at least as well as clang's object."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import Builder
from bpf_linker.bindings.builder import DataLayout
from bpf_linker.pipeline import LinkContext, Pass

MAX_STORES = 128  # LLVM's BPF limit for memset/memcpy expansion without the in-order option
MAX_MEMMOVE_CHUNKS = 16  # all loads happen before the stores: keep register pressure sane
STACK_ALIGN = 8  # BPF's stack alignment and widest access: how far a stack object is raised
MAX_LENGTH = MAX_STORES * STACK_ALIGN  # longer than this never expands (here or in the backend)
WIDTHS = (8, 4, 2, 1)


def chunks(length: int, align: int):
    """(offset, width) pieces covering `length` bytes, widest first, never wider than the alignment."""
    out, offset = [], 0
    while offset < length:
        for width in WIDTHS:
            if width <= length - offset and width <= align and offset % width == 0:
                out.append((offset, width))
                offset += width
                break
    return out


def lowbit(offset: int) -> int:
    """The largest power of two dividing `offset` (the alignment an offset keeps); large for 0."""
    return offset & -offset if offset else 1 << 32


@dataclass
class Side:
    """One memory operand of a call: the alignment it proves now, and the stack object it starts in."""

    align: int
    alloca: object = None  # the alloca the address is a known offset into, if any
    offset: int = 0

    def reachable(self) -> int:
        """The alignment this side can have once its stack object is raised."""
        if self.alloca is None:
            return self.align
        return max(self.align, min(STACK_ALIGN, lowbit(self.offset)))


class _Expander:
    def __init__(self, module, ctx: LinkContext):
        self.builder = Builder(module)
        self.layout = DataLayout(module)
        self.align_kind = ctx.context.attribute_kind("align")
        self.constant_sources: dict = {}  # globals whose bytes were stored as immediates
        self.raised = 0

    def close(self):
        self.builder.close()

    @staticmethod
    def const_len(call) -> int | None:
        """The call's constant length if it is one that can expand at all; else None."""
        length = call.operand(2).constant_int
        return length if length is not None and length <= MAX_LENGTH else None

    def param_align(self, call, arg_index: int) -> int:
        align = call.param_attribute(arg_index, self.align_kind)
        return max(1, align) if align is not None else 1

    @staticmethod
    def is_volatile(call) -> bool:
        flag = call.operand(3).constant_int
        return flag is not None and flag != 0

    def side(self, call, arg_index: int) -> Side:
        """What operand `arg_index` (0 destination, 1 source) of `call` proves about its alignment."""
        align = self.param_align(call, arg_index)
        base, offset = self.layout.base_and_offset(call.operand(arg_index))
        known = self.layout.object_alignment(base)
        if known:
            align = max(align, min(known, lowbit(offset)))
        return Side(align, base if self.layout.is_alloca(base) else None, offset)

    def choose(self, length: int, sides: list[Side]):
        """(alignment, pieces): the fewest pieces the sides allow once raised, at the lowest alignment giving them."""
        now = min(s.align for s in sides)
        best = max(now, min(s.reachable() for s in sides))
        fewest = len(chunks(length, best))
        for align in sorted({now, *(w for w in WIDTHS if now < w <= best)}):
            pieces = chunks(length, align)
            if len(pieces) == fewest:
                return align, pieces
        return best, chunks(length, best)

    def raise_to(self, sides: list[Side], align: int) -> None:
        """Raise the stack objects of the sides that prove less than `align` (choose() said they can)."""
        for s in sides:
            if s.align < align:
                self.builder.set_alignment(s.alloca, align)
                s.align = align
                self.raised += 1

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

    def store_plan(self, call, length: int):
        """The pieces of stores into `call`'s destination (raised as far as that helps), with the
        builder before the call; None when there would be more than MAX_STORES."""
        dest = self.side(call, 0)
        align, pieces = self.choose(length, [dest])
        if len(pieces) > MAX_STORES:
            return None
        self.raise_to([dest], align)
        self.builder.position_before(call)
        return pieces

    def expand_memset(self, call) -> bool:
        length = self.const_len(call)
        if length is None:
            return False
        pieces = self.store_plan(call, length)
        if pieces is None:
            return False
        builder = self.builder
        target, value, volatile = call.operand(0), call.operand(1), self.is_volatile(call)
        widest = max((w for _o, w in pieces), default=1)
        wide = self.splat(value, widest)
        splats = {widest: wide}
        for offset, width in pieces:
            if width not in splats:
                splats[width] = (self.splat(value, width) if value.constant_int is not None
                                 else builder.trunc(wide, width * 8))
            builder.store(splats[width], self.address(target, offset), width, volatile)
        builder.erase(call)
        return True

    def expand_constant_copy(self, call) -> bool:
        """memcpy/memmove from constant data: stores of its bytes."""
        length = self.const_len(call)
        if length is None or self.is_volatile(call):
            return False
        base, offset = self.layout.base_and_offset(call.operand(1))
        data = self.layout.constant_bytes(base, offset, length)
        if data is None:
            return False
        pieces = self.store_plan(call, length)
        if pieces is None:
            return False
        builder = self.builder
        target, order = call.operand(0), self.layout.byteorder
        for offset_, width in pieces:
            value = builder.const_int(width * 8, int.from_bytes(data[offset_:offset_ + width], order))
            builder.store(value, self.address(target, offset_), width)
        builder.erase(call)
        self.constant_sources[base] = True
        return True

    def expand_memmove(self, call) -> bool:
        length = self.const_len(call)
        if length is None:
            return False
        sides = [self.side(call, 0), self.side(call, 1)]
        align, pieces = self.choose(length, sides)
        if len(pieces) > MAX_MEMMOVE_CHUNKS:
            return False
        self.raise_to(sides, align)
        builder = self.builder
        builder.position_before(call)
        dest, src, volatile = call.operand(0), call.operand(1), self.is_volatile(call)
        loaded = []
        for offset, width in pieces:  # every load before any store: correct when the ranges overlap
            loaded.append(builder.load(width * 8, self.address(src, offset), width, volatile))
        for (offset, width), value in zip(pieces, loaded):
            builder.store(value, self.address(dest, offset), width, volatile)
        builder.erase(call)
        return True

    def align_memcpy(self, call) -> bool:
        """A memcpy left to the backend: raise its stack objects and `align` attributes; True if changed."""
        length = self.const_len(call)
        if length is None:
            return False
        sides = [self.side(call, 0), self.side(call, 1)]
        align, _pieces = self.choose(length, sides)
        self.raise_to(sides, align)
        changed = False
        for index, s in enumerate(sides):
            proven = min(s.align, STACK_ALIGN)
            if proven > self.param_align(call, index):
                self.builder.set_param_alignment(call, index, proven)
                changed = True
        return changed

    def align_stack_accesses(self, module) -> int:
        """Loads and stores of 2, 4 or 8 bytes at a known offset into a stack object, aligned below
        their width: raise the object and the access (LLVM's infer-alignment, which clang 18+ runs
        after instcombine turned a small memcpy into one load and store; the BPF backend splits an
        under-aligned access into bytes). Returns how many accesses were realigned."""
        layout, builder, count = self.layout, self.builder, 0
        for f in module.functions():
            for inst in layout.instructions(f):
                access = layout.access(inst)
                if access is None:
                    continue
                ptr, ty = access
                width = layout.store_size(ty)
                if width not in (2, 4, 8) or layout.alignment(inst) >= width:
                    continue
                base, offset = layout.base_and_offset(ptr)
                if not layout.is_alloca(base) or lowbit(offset) < width:
                    continue
                if layout.object_alignment(base) < width:
                    builder.set_alignment(base, width)
                    self.raised += 1
                builder.set_alignment(inst, width)
                count += 1
        return count

    def drop_unused_sources(self) -> int:
        """Delete the local constant globals copies were read from that nothing uses any more."""
        dropped = 0
        for gv in self.constant_sources:
            gv = self.layout.constant_global(gv)
            if gv is not None and gv.linkage.is_local and not gv.has_uses():
                self.builder.erase_global(gv)
                dropped += 1
        return dropped


def intrinsic_calls(module, prefixes: tuple[str, ...]):
    """(call instruction, intrinsic name) for calls to intrinsics starting with one of `prefixes`."""
    for f in list(module.functions()):
        name = f.name
        if f.is_declaration and name.startswith(prefixes) and ".element.unordered.atomic" not in name:
            for user in list(f.uses()):
                if user.is_call and user.called_value == f:
                    yield user, name


@dataclass(frozen=True)
class ExpandMemcpy(Pass):
    """Expands memory intrinsics so the object is never larger than clang's own.

    With --bpf-expand-memcpy-in-order (set here unless disabled, a process-global LLVM option)
    the BPF backend expands memcpy itself, in order (each load right before its store, for the
    kernel JITs' copy matchers), but stops expanding memset and memmove: they would become
    calls to functions a C program does not define ("failed to find BTF for extern 'memset'"
    at load time). Its memcpy also copies with the call's declared alignment only (a
    `char comm[16]` byte by byte) and loads copies of constant data from .rodata.

    What clang's own object does (LLVM's generic lowering, measured with clang-16 -c and
    llc-22, -mcpu generic and v3): a stack object that is the destination itself (offset 0)
    is raised to 8 and zeroed or filled 8 bytes at a time; a copy from constant data (strings,
    `__const.*` initializers) becomes immediates stored (ld_imm64 or mov, then stx, per piece);
    otherwise the width is min(destination, source alignment) (a string copied into a map
    value or a struct member of alignment 1 goes byte by byte, a byte-aligned copy becomes
    byte loads combined with shifts); a variable memset splats the byte once, 64 bits wide;
    clang 18+ runs infer-alignment, which raises a stack object a small memcpy turned into
    one wide load or store.

    The rules here, for llvm.memset/memmove/memcpy (and .inline) of constant length up to
    1024 bytes (longer never expands, here or in the backend):

    - Alignment of each side: the larger of the call's `align` attribute and what the address
      proves through constant-offset GEPs and bitcasts: min(object alignment, largest power of
      two dividing the offset) when the base is an alloca or a global variable's definition.
    - Stack objects are raised as LLVM's lowering raises them, at any known offset: an alloca
      a side starts in may be raised up to 8 (BPF's stack alignment and widest access), by as
      little as gives the fewest pieces, and only for a call that is then expanded (or, for
      memcpy, left to the backend).
    - Pieces: widest first (8, 4, 2, 1 bytes), each aligned, never wider than the alignment.
    - memset: stores of the splatted byte (a variable byte splatted once at the widest piece,
      truncated for the narrower), up to 128 pieces (LLVM's BPF limit).
    - memcpy/memmove from constant data (not volatile; the source is, at a known offset, a
      constant global with a definitive initializer: not externally initialized nor
      replaceable at link time; its bytes made of integers, strings, zero and undef): stores
      of the bytes as integer immediates, aligned by the destination alone, up to 128 pieces.
      A local constant left without uses is deleted (no unused .rodata map at load time).
    - memmove between other memory: every load, then every store (correct when the ranges
      overlap), up to 16 pieces.
    - memcpy between other memory stays a memcpy for the backend's in-order expansion (where
      the in-order property matters); its `align` attributes are raised to what both sides now
      prove (at most 8), so it copies with the widest accesses both allow.
    - Loads and stores of 2, 4 or 8 bytes at a known offset into a stack object, aligned below
      their width (instcombine's form of a small memcpy): the object and the access are raised
      to the width, as clang 18+'s infer-alignment does (the backend splits them into bytes).
    - Anything else is left as it is: volatile copies of constants (copied by the backend),
      non-constant lengths, element-wise atomic intrinsics. Everything that expanded before
      these rules still expands: a higher alignment never needs more pieces.

    Known cost: where code generation deletes a copy's stores because the object is only read
    back byte by byte before it dies, it forwards byte stores to byte loads but not wider
    stores, so raising costs a few instructions there (seen: a memmove inside a char array
    read back by two byte loads, 16 instructions against clang's 12).
    """

    name = "expand-memcpy"
    summary = "memcpy expanded in order by the backend; constant memset/memmove and copies of constants expanded here"
    in_order: bool = True

    def llvm_args(self, ctx: LinkContext) -> list[str]:
        return ["--bpf-expand-memcpy-in-order"] if self.in_order else []

    def run(self, module, ctx: LinkContext) -> None:
        if not self.in_order:
            return  # LLVM's own expansion is active
        log = ctx.logger(self.name)
        expander = _Expander(module, ctx)
        try:
            calls = list(intrinsic_calls(module, ("llvm.memset.", "llvm.memmove.", "llvm.memcpy.")))
            expanded, left = 0, []
            for call, name in calls:
                if name.startswith("llvm.memset."):
                    done = expander.expand_memset(call)
                else:
                    done = expander.expand_constant_copy(call) or (
                        name.startswith("llvm.memmove.") and expander.expand_memmove(call))
                    if not done and name.startswith("llvm.memcpy."):
                        left.append(call)
                expanded += done
            # After every expansion raised what it could, so these see the final stack alignments.
            realigned = sum(expander.align_memcpy(call) for call in left)
            accesses = expander.align_stack_accesses(module)
            dropped = expander.drop_unused_sources()
            if calls or accesses:
                log.debug("expanded %d of %d memset/memmove/memcpy calls; %d memcpy left to the backend "
                          "(%d realigned); %d loads/stores realigned; %d stack objects raised; "
                          "%d unused constants dropped",
                          expanded, len(calls), len(left), realigned, accesses, expander.raised, dropped)
        finally:
            expander.close()


PASSES = [ExpandMemcpy]
