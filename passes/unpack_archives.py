"""unpack-archives: read every input path, unpack ar archives and ELF .llvmbc into linkable objects."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.inputs import read_inputs
from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class UnpackArchives(Pass):
    name = "unpack-archives"
    summary = "detect inputs by content; unpack archives (nested too) and ELF .llvmbc sections"

    def run(self, module, ctx: LinkContext) -> None:
        # link() reads the inputs before loading LLVM (their producers pick the library).
        if not ctx.inputs:
            ctx.inputs = read_inputs(ctx.options.inputs, ctx.logger(self.name))


PASSES = [UnpackArchives]
