"""codegen: verify the module and produce the output (obj, asm, llvm-ir or llvm-bc) in memory."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.errors import LLVMError, PipelineError
from bpf_linker.options import EMIT_KINDS
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
        # Codegen of IR that fails the verifier can crash the process: check first.
        problem = module.verify()
        if problem:
            raise LLVMError(f"the linked module is invalid: {' '.join(problem.split())[:2000]}", (problem,))
        mark = len(ctx.context.diagnostics)
        if self.emit == "llvm-ir":
            data = module.to_ir().encode()
        elif self.emit == "llvm-bc":
            data = module.to_bitcode()
        else:
            data = tm.emit(module, self.emit)
        errors = ctx.context.take_errors(mark)
        if errors and options.fatal_errors:
            raise LLVMError("; ".join(" ".join(e.split()) for e in errors), tuple(errors))
        ctx.outputs[self.emit] = data


PASSES = [Codegen]
