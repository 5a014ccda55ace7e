"""codegen: verify the module and produce the output (obj, asm, llvm-ir or llvm-bc) in memory.

LLVM's BPF backend orders part of the BTF it emits by *heap address* (BTFDebug's
`FixupDerivedTypes` is a `std::map` keyed by `DICompositeType *`; it appends the FWD types
of struct members that point to structs it does not define, e.g. `bpf_sock` and
`bpf_flow_keys` from `struct __sk_buff`, and their new names to the string table, in that
order). Where the metadata nodes land depends on everything the process allocated before,
down to the length of the input paths, so the same link run from two directories gave two
different objects. So:
- an object is compiled from the link's own module, as clang compiles its own, and its
  trailing FWD types (with the names only they use) are then put in name order
  (bpf_linker.btf_object.canonical_forward_types): same inputs and flags, same bytes.
  Compiling the module itself keeps the use-list order clang's bitcode carries, which
  decides some of the register allocator's choices (a bitcode copy made with LLVM 16's or
  19's writer loses it: a tracing program came out 181 instructions against clang's 178);
- assembly, and an object the canonicalizer cannot read, are compiled from a bitcode copy
  of the module parsed in a new thread: glibc gives it a fresh malloc arena, so the nodes
  parsed and the code generated there follow one allocation sequence that depends only on
  the bitcode.

When the btf pass left static BTF linkage of local functions to be done (C inputs), an
object gets it by a patch of its `.BTF`; any other output by the btf pass's textual
round trip before it is produced (see passes/btf.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bpf_linker.bindings import Context, Module, TargetMachine
from bpf_linker.btf_object import NotPatchable, canonical_forward_types
from bpf_linker.errors import LLVMError, PipelineError
from bpf_linker.options import EMIT_KINDS
from bpf_linker.passes.btf import PENDING_STATIC, mark_by_text, patch_object
from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class Codegen(Pass):
    name = "codegen"
    summary = "verify, then emit obj, asm, llvm-ir or llvm-bc into the link's outputs"
    emit: str = "obj"

    def __post_init__(self):
        if self.emit not in EMIT_KINDS:
            raise PipelineError(f"pass 'codegen': emit must be one of {', '.join(EMIT_KINDS)}, not '{self.emit}'")

    def run(self, module, ctx: LinkContext) -> None:
        options = ctx.options
        tm = ctx.target_machine
        module.triple = ctx.triple
        module.data_layout = tm.data_layout()
        pending_static = ctx.facts.get(PENDING_STATIC, False)
        if pending_static and self.emit != "obj":  # only an object can be patched afterwards
            mark_by_text(module, ctx, btf_rules=False)
        # Codegen of IR that fails the verifier can crash the process: check first.
        problem = module.verify()
        if problem:
            raise LLVMError(f"the linked module is invalid: {' '.join(problem.split())[:2000]}", (problem,))
        if self.emit == "llvm-ir":
            data = module.to_ir().encode()
        elif self.emit == "llvm-bc":
            data = module.to_bitcode()
        elif self.emit == "obj":
            mark = len(ctx.context.diagnostics)
            data = emit_object(ctx, module)
            if pending_static and self.emit == "obj":  # the btf pass left static BTF linkage to it
                patched = patch_object(data, ctx)
                if patched is None:
                    del ctx.context.diagnostics[mark:]  # the second emit reports them again
                    mark_by_text(module, ctx, btf_rules=False)
                    patched = emit_in_fresh_heap(ctx, module.to_bitcode(), self.emit)
                data = patched
        else:
            data = emit_in_fresh_heap(ctx, module.to_bitcode(), self.emit)
        # Every error of the link counts, whichever pass LLVM reported it in.
        errors = [" ".join(d.message.split()) for d in ctx.context.errors()]
        if errors and options.fatal_errors:
            raise LLVMError("; ".join(errors), tuple(errors))
        for error in errors:  # --fatal-errors=false: the output is written, the user still told
            ctx.logger(self.name).warning("LLVM error (not fatal with --fatal-errors=false): %s", error)
        ctx.outputs[self.emit] = data


def emit_object(ctx: LinkContext, module) -> bytes:
    """The object for the link's own module, compiled where it is, as clang compiles its own.

    The one part of it that depends on the heap, the order of the BTF forward declarations,
    is put in name order afterwards (bpf_linker.btf_object.canonical_forward_types); an
    object that cannot be read for that is compiled again from a bitcode copy in a fresh
    heap. Compiling the module itself keeps the use-list order clang's bitcode carries,
    which LLVM 16 and 19 cannot write into a copy, and saves the copy's time and memory.
    """
    data = ctx.target_machine.emit(module, "obj")
    try:
        return canonical_forward_types(data)
    except NotPatchable as e:
        ctx.logger("codegen").debug("compiling again in a fresh heap: %s", e)
        return emit_in_fresh_heap(ctx, module.to_bitcode(), "obj")


def emit_in_fresh_heap(ctx: LinkContext, bitcode: bytes, kind: str) -> bytes:
    """Object code or assembly for `bitcode`, parsed and compiled in a new thread (see the module doc).

    The new context's diagnostics are added to the link's context, so they are reported
    and counted as if the link's own module had been compiled.
    """
    box: dict = {}

    def work():
        context = Context(ctx.library)
        try:
            module = Module.parse_bitcode(context, bitcode, "linked_module")
            tm = TargetMachine.create(ctx.library, ctx.triple, ctx.cpu, ctx.cpu_features)
            try:
                box["data"] = tm.emit(module, kind)
            finally:
                tm.close()
                module.close()
        except BaseException as e:  # re-raised in the link's thread
            box["error"] = e
        finally:
            box["diagnostics"] = list(context.diagnostics)
            context.close()

    thread = threading.Thread(target=work, name="bpf-linker-codegen")
    thread.start()
    thread.join()
    ctx.context.diagnostics.extend(box.get("diagnostics", ()))
    if "error" in box:
        raise box["error"]
    return box["data"]


PASSES = [Codegen]
