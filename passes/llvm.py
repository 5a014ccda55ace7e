"""llvm: run any LLVM new-pass-manager pipeline string, with the BPF target machine."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import run_passes
from bpf_linker.errors import PipelineError
from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class Llvm(Pass):
    name = "llvm"
    summary = 'run an LLVM pass pipeline, e.g. llvm{pipeline="function(instcombine),globaldce"}'
    pipeline: str = ""

    def __post_init__(self):
        if not self.pipeline:
            raise PipelineError("pass 'llvm' needs pipeline=\"...\"")

    def run(self, module, ctx: LinkContext) -> None:
        run_passes(module, self.pipeline, ctx.target_machine)


PASSES = [Llvm]
