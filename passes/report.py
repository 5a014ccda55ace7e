"""report: per program its instructions, stack depth, calls and loops left, and each input's share (--report)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bpf_linker.pipeline import LinkContext, Pass

if TYPE_CHECKING:  # the CLI imports write_reports on every link: no pyelftools until a report is made
    from bpf_linker.object_code import ObjectCode

# ctx.outputs keys holding text for standard output (not the output file).
TEXT_OUTPUTS = ("report", "verify")


def text_outputs(ctx: LinkContext) -> dict[str, bytes]:
    """The reports made so far, for an error to carry to the CLI."""
    return {k: v for k, v in ctx.outputs.items() if k in TEXT_OUTPUTS}


def write_reports(outputs: dict, stream=None) -> None:
    """Print the text outputs of a link (report, then verify) on `stream` (standard output)."""
    stream = stream or sys.stdout
    for key in TEXT_OUTPUTS:
        if key in outputs:
            stream.write(outputs[key].decode("utf-8", "replace"))
    stream.flush()


def object_for(module, ctx: LinkContext) -> ObjectCode:
    """The object codegen wrote, or one compiled for reading when the output is asm or IR."""
    data = ctx.outputs.get("obj")
    if data is None:
        from bpf_linker.passes.check_object import compile_object
        data = compile_object(module, ctx)
    from bpf_linker.object_code import ObjectCode

    return ObjectCode(data)


def table(header: list[str], rows: list[list], right: set[int]) -> list[str]:
    """Rows as aligned columns (indices in `right` right-aligned)."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in cells]


def inputs_with(file: str, inputs) -> list[str]:
    """The inputs a source file's code came from: those whose bitcode or IR names the file.

    A DIFile's path is stored as plain bytes (bitcode's metadata string table, or IR text);
    a header several inputs include is named by each of them.
    """
    full, base = file.encode(), os.path.basename(file).encode()
    hits = [i for i in inputs if full in i.data]
    return [os.path.basename(i.name) for i in (hits or [i for i in inputs if base and base in i.data])]


def render(obj: ObjectCode, inputs) -> str:
    """The report's text; `inputs` are the link's InputObjects (name, data)."""
    rows = []
    for p in obj.programs:
        funcs = obj.reachable(p)
        names = {f.name for f in funcs}
        calls = [c for c in obj.calls if c.caller.name in names]
        loops = [j for j in obj.backward_jumps() if j[0].name in names]
        rows.append([p.name, p.section, sum(i.size // 8 for f in funcs for i in f.insns), obj.stack_depth(p),
                     sum(c.kind == "local" for c in calls), len(loops),
                     sum(c.kind == "helper" for c in calls), sum(c.kind == "kfunc" for c in calls)])
    lines = ["programs:"]
    lines += ["  " + line for line in table(
        ["program", "section", "insns", "stack", "calls", "loops", "helpers", "kfuncs"], rows, {2, 3, 4, 5, 6, 7})]
    shares = obj.source_shares()
    total = sum(shares.values()) or 1
    lines.append("share of the code by source file (line info):" if obj.has_line_info
                 else "share of the code: no line info (link with --btf and compile with -g)")
    if obj.has_line_info:
        share_rows = []
        for file, count in sorted(shares.items(), key=lambda kv: (-kv[1], kv[0])):
            named = ", ".join(inputs_with(file, inputs)) if file != "?" else ""
            share_rows.append([os.path.basename(file) if file != "?" else "(no line)", count,
                               f"{100 * count / total:.1f}%", named])
        lines += ["  " + line for line in table(["source", "insns", "share", "input"], share_rows, {1, 2})]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Report(Pass):
    """Read from the emitted object (bpf_linker/object_code.py), after codegen: instruction
    slots of the program and every function it calls; stack depth as the deepest byte below
    r10 its code touches, its frame plus the deepest chain of callee frames (the backend
    does not record frame sizes in the object, so this is what the code shows); BPF-to-BPF
    calls and backward jumps left; helper and kfunc calls. Each input's share of the final
    code comes from the line info (`.BTF.ext`): instructions per source file, with the inputs
    whose debug info names that file. The text goes to
    ctx.outputs["report"]; the CLI prints it on standard output.
    """

    name = "report"
    summary = "per program: instructions, stack, calls and loops left, each input's share (--report)"

    def run(self, module, ctx: LinkContext) -> None:
        obj = object_for(module, ctx)
        ctx.outputs["report"] = render(obj, ctx.inputs).encode()


PASSES = [Report]
