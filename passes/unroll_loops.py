"""unroll-loops: unroll every loop LLVM can, after cross-file inlining (kernels without bounded loops)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bpf_linker.bindings import run_passes
from bpf_linker.bindings.loops import loop_hints
from bpf_linker.passes.optimize import instcombine
from bpf_linker.pipeline import LinkContext, Pass

UNROLL_ARGS = ["--unroll-runtime", "--unroll-runtime-multi-exit",
               "--unroll-max-upperbound=4294967295", "--unroll-threshold=4294967295"]
UNROLL_DISABLE = "llvm.loop.unroll.disable"
# Where check-object finds the loops the user asked to keep: [(file basename, line, function)].
UNROLL_DISABLED = "unroll_disabled"
# Upper-bound unrolling copies a loop body once per possible iteration: beyond this many no
# kernel without bounded loops could load the result (4096 instructions before 5.2).
MAX_UPPER_BOUND = 4096


def unroll_pipeline(major: int) -> str:
    """The LLVM pipeline unroll-loops runs for libLLVM `major`.

    First loops bounded by a constant but with an early exit (upper-bound unrolling, no
    runtime unrolling, which would mark them as done), then upstream's unrolling: every
    constant trip count, whatever its size, and runtime unrolling of the rest.
    """
    return (f"function(loop-unroll<O3;upperbound;full-unroll-max={MAX_UPPER_BOUND};no-runtime>,"
            f"loop-unroll<O3>,{instcombine(major)},simplifycfg)")


@dataclass(frozen=True)
class UnrollLoops(Pass):
    """Sets LLVM's process-global options --unroll-runtime, --unroll-runtime-multi-exit,
    --unroll-max-upperbound and --unroll-threshold (upstream's values). The pipeline puts
    this pass after `optimize`, so a loop whose trip count becomes a constant only when its
    helper is inlined into the caller (a noinline helper of another file, with
    --ignore-inline-never) is unrolled too; unrolling first would make the helper too big to
    inline and leave both the call and the loop. It runs a small LLVM pipeline, not the
    full one (unroll_pipeline): loop-unroll with upper-bound unrolling first (an early-exit
    loop bounded by a constant, `for (i = 0; i < 8; i++) if (...) break;`, which upstream
    leaves), then upstream's loop-unroll, instcombine and simplifycfg. No IndVarSimplify: a
    second run of it has been seen to rewrite a packet-parsing loop's exit test into pointer
    arithmetic the verifier rejects (passes/optimize.py); measured on tests/c/loops,
    tests/c/split and tests/c/oldk, every loop with a constant bound unrolls without it on
    libLLVM 16, 19 and 22, nested (triangular) loops included.

    A loop marked `#pragma clang loop unroll(disable)` (or `nounroll`) is kept, as asked:
    its place is left in ctx.facts["unroll_disabled"] for check-object, which reports it.
    """

    name = "unroll-loops"
    summary = "unroll every loop LLVM can, after inlining (--unroll-loops)"

    def llvm_args(self, ctx: LinkContext) -> list[str]:
        return list(UNROLL_ARGS)

    def run(self, module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        # Before unrolling: LLVM marks the loops it unrolls partially with the same hint.
        kept = [(os.path.basename(h.file), h.line, h.function) for h in loop_hints(module)
                if UNROLL_DISABLE in h.hints]
        for file, line, function in kept:
            log.info("loop at %s:%d in %s is marked unroll(disable): kept", file or "?", line, function)
        ctx.facts.setdefault(UNROLL_DISABLED, []).extend(kept)
        run_passes(module, unroll_pipeline(ctx.library.major), ctx.target_machine)


PASSES = [UnrollLoops]
