"""optimize: whole-program optimization after linking, without re-running what the compiler ran.

Inputs that were already optimized (clang -O2, rustc release) get a post-link pipeline:
inlining across files, constant propagation and dead code removal, with no loop passes —
a second IndVarSimplify run has been seen to rewrite a packet-parsing loop's exit test
into pointer arithmetic the verifier rejects. Unoptimized inputs (a scalar alloca that
mem2reg would promote is still there, as in rustc's -O0 output) get LLVM's full
`default<Ox>` pipeline. The BPF target machine always rides along. One optimized input
whose functions internalize left alone (programs and `static` helpers only, the usual
single-file libbpf tool) gains nothing from either: its code stays as clang made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import run_passes
from bpf_linker.errors import PipelineError
from bpf_linker.options import OPT_LEVELS
from bpf_linker.pipeline import LinkContext, Pass

MODES = ("auto", "full", "post-link", "none")

# From LLVM 18 instcombine runs once, and when it is named in a pipeline string (not in
# LLVM's own default<Ox>) it aborts the process if that run left work for a second one: a
# testing aid, hit after cross-file inlining. The parameter that turns it off came with it
# (llvm-project 41895843); measured: 16 rejects it, 19 and 22 accept it and abort without it.
NO_VERIFY_FIXPOINT_SINCE = 18


def instcombine(major: int) -> str:
    """LLVM's instcombine without fixpoint verification, spelled for libLLVM `major`."""
    return "instcombine<no-verify-fixpoint>" if major >= NO_VERIFY_FIXPOINT_SINCE else "instcombine"


def post_link_pipeline(major: int) -> str:
    """The pipeline for inputs already optimized: what linking makes possible, no loop passes."""
    return ("ipsccp,globalopt,deadargelim,"
            f"cgscc(inline,function-attrs,function(sroa,early-cse<memssa>,{instcombine(major)},simplifycfg)),"
            "globalopt,globaldce,constmerge")


# Passes that may run before optimize without giving it anything to do on a single input.
_NEUTRAL = ("unpack-archives", "link", "internalize")


def nothing_to_gain(ctx: LinkContext) -> bool:
    """One already-optimized input whose functions internalize left alone, and no other pass
    before this one (defsym, ignore-noinline, a plugin): the post-link pipeline would only
    run instcombine and simplifycfg again over finished code, which is not idempotent (a
    loop came out 3 instructions longer than clang's own object)."""
    internalized = ctx.facts.get("internalized")
    pipeline = ctx.facts.get("pipeline", ())
    before = pipeline[:pipeline.index("optimize")] if "optimize" in pipeline else pipeline
    return (internalized is not None and len(ctx.inputs) == 1
            and not any(kind == "function" for kind, _ in internalized)
            and all(name in _NEUTRAL for name in before))


def full_pipeline(level: str) -> str:
    # Upstream treats -O0 as -O1: almost nothing unoptimized passes the verifier.
    return f"default<O{'1' if level == '0' else level}>,dce"


@dataclass(frozen=True)
class Optimize(Pass):
    name = "optimize"
    summary = "post-link optimization (auto: full default<Ox> only for unoptimized inputs)"
    level: str = "2"
    mode: str = "auto"
    # An explicit LLVM pipeline string replaces both choices.
    pipeline: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise PipelineError(f"pass 'optimize': mode must be one of {', '.join(MODES)}, not '{self.mode}'")
        if self.level not in OPT_LEVELS:
            raise PipelineError(f"pass 'optimize': level must be 0, 1, 2, 3, s or z, not '{self.level}'")

    def choose(self, ctx: LinkContext) -> tuple[str, str]:
        """(pipeline, reason)."""
        if self.pipeline:
            return self.pipeline, "given"
        if self.mode == "none":
            return "", "mode=none"
        unoptimized = ctx.facts.get("unoptimized_inputs", [])
        if self.mode == "full" or (self.mode == "auto" and unoptimized):
            why = "mode=full" if self.mode == "full" else f"unoptimized inputs: {', '.join(unoptimized[:5])}"
            return full_pipeline(self.level), why
        if self.mode == "auto" and nothing_to_gain(ctx):
            return "", "one optimized input and no function made internal: clang's (rustc's) optimization stands"
        why = "inputs already optimized" if self.mode == "auto" else "mode=post-link"
        return post_link_pipeline(ctx.library.major), why

    def run(self, module, ctx: LinkContext) -> None:
        pipeline, why = self.choose(ctx)
        ctx.logger(self.name).info("running '%s' (%s)", pipeline, why)
        if pipeline:
            run_passes(module, pipeline, ctx.target_machine)


PASSES = [Optimize]
