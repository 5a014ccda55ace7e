"""unpack-archives: read every input path, unpack ar archives and ELF .llvmbc into linkable objects.

The step that gives the pipeline its inputs (`ctx.inputs`): passes before it see none,
passes after it may look at them or change the list. bpf_linker.link() reads the files
before loading LLVM (the inputs' producers choose the library) and leaves what it read in
`ctx.read_inputs`, which this pass takes; run from Python on a LinkContext without them,
it reads the files itself. A pipeline without it links nothing (the link pass says so).
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
        log = ctx.logger(self.name)
        if ctx.inputs:  # given by a Pipeline.run caller
            return
        if ctx.read_inputs is not None:
            ctx.inputs = list(ctx.read_inputs)
            log.debug("%d inputs, read before LLVM was loaded", len(ctx.inputs))
        else:
            ctx.inputs = read_inputs(ctx.options.inputs, log)


PASSES = [UnpackArchives]
