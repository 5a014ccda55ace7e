"""unroll-loops: unroll every loop LLVM can (kernels without bounded loops).

Sets LLVM's process-global options --unroll-runtime, --unroll-runtime-multi-exit,
--unroll-max-upperbound and --unroll-threshold (upstream's values) and runs LLVM's
loop-unroll pass; `optimize` in full mode unrolls again with the same options.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import run_passes
from bpf_linker.passes.optimize import instcombine
from bpf_linker.pipeline import LinkContext, Pass

UNROLL_ARGS = ["--unroll-runtime", "--unroll-runtime-multi-exit",
               "--unroll-max-upperbound=4294967295", "--unroll-threshold=4294967295"]


@dataclass(frozen=True)
class UnrollLoops(Pass):
    name = "unroll-loops"
    summary = "try hard to unroll loops (--unroll-loops)"

    def llvm_args(self, ctx: LinkContext) -> list[str]:
        return list(UNROLL_ARGS)

    def run(self, module, ctx: LinkContext) -> None:
        pipeline = f"function(loop-unroll<O3>,simplifycfg,{instcombine(ctx.library.major)})"
        run_passes(module, pipeline, ctx.target_machine)


PASSES = [UnrollLoops]
