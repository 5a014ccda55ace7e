"""unpack-archives: read every input path, unpack ar archives and ELF .llvmbc into linkable objects.

bpf_linker.link() already does this before loading LLVM (the inputs' producers choose the
library) and hands the objects to the pipeline; the pass reads them itself only when a
pipeline is run on a LinkContext built without them (Pipeline.run from Python).
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.inputs import read_inputs
from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class UnpackArchives(Pass):
    name = "unpack-archives"
    summary = "detect inputs by content; unpack archives (nested too) and ELF .llvmbc sections"

    def run(self, module, ctx: LinkContext) -> None:
        if not ctx.inputs:
            ctx.inputs = read_inputs(ctx.options.inputs, ctx.logger(self.name))


PASSES = [UnpackArchives]
