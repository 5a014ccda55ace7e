"""insn-budget: fail the link when a program needs more instructions than a budget allows.

Load it with `bpf-linker --load-pass-plugin examples/passes/insn_budget.py ...`: it places
itself after `codegen` (it counts the emitted object) and allows 4096 instructions, the
kernel's limit for unprivileged programs; `-p '...,codegen,insn-budget{limit=1000}'` sets
another. A program's count is what the kernel loads for it: its own instructions and those
of every subprogram it calls (8-byte slots, as the kernel counts them).
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker import LinkContext, Pass, PassError
from bpf_linker.objinfo import read_object


@dataclass(frozen=True)
class InstructionBudget(Pass):
    name = "insn-budget"
    summary = "fail when a program (with its subprograms) has more than LIMIT instructions"
    after = "codegen"
    limit: int = 4096

    def run(self, module, ctx: LinkContext) -> None:
        obj = ctx.outputs.get("obj")
        if obj is None:
            ctx.logger(self.name).warning("no object emitted (--emit obj): nothing to count")
            return
        over = []
        for program in read_object(obj).programs:
            ctx.logger(self.name).info("%s: %d instructions", program.name, program.instructions)
            if program.instructions > self.limit:
                rest = f", the rest in {', '.join(program.subprograms)}" if program.subprograms else ""
                over.append(f"program '{program.name}' (section {program.section}) has {program.instructions} "
                            f"instructions ({program.own} its own{rest})")
        if over:
            raise PassError(self.name, f"{'; '.join(over)}, over the budget of {self.limit}")


PASSES = [InstructionBudget]
