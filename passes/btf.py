"""btf: keep debug info (so the backend emits .BTF/.BTF.ext) with kernel-correct linkage, or strip it.

The backend takes a function's BTF linkage from its DISubprogram, not from IR linkage:
an internalized helper would stay `global` in BTF and the verifier would check it
without its caller's context. Subprograms of local functions get DISPFlagLocalToUnit
through a textual IR round trip, which works the same on LLVM 16 (whose C API cannot
edit metadata) as on 19 and 22.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bpf_linker.bindings import Module
from bpf_linker.errors import LLVMError, PipelineError
from bpf_linker.pipeline import LinkContext, Pass

MODES = ("auto", "keep", "strip")

_DEFINE = re.compile(r"^define (?:internal|private) .*?!dbg (![0-9]+)", re.M)
_SUBPROGRAM = re.compile(r"^(![0-9]+) = distinct !DISubprogram\((.*)\)$", re.M)


def mark_local_to_unit(ir: str) -> tuple[str, int]:
    """Add DISPFlagLocalToUnit to the subprograms of internal/private function definitions."""
    targets = set(_DEFINE.findall(ir))
    changed = 0

    def fix(m: re.Match) -> str:
        nonlocal changed
        node, body = m.group(1), m.group(2)
        if node not in targets or "DISPFlagLocalToUnit" in body:
            return m.group(0)
        changed += 1
        if "spFlags: " in body:
            body = body.replace("spFlags: ", "spFlags: DISPFlagLocalToUnit | ", 1)
        else:
            body += ", spFlags: DISPFlagLocalToUnit"
        return f"{node} = distinct !DISubprogram({body})"

    return _SUBPROGRAM.sub(fix, ir), changed


@dataclass(frozen=True)
class Btf(Pass):
    name = "btf"
    summary = "keep debug info for BTF with static linkage for internal functions (auto/keep), or strip it"
    mode: str = "auto"

    def __post_init__(self):
        if self.mode not in MODES:
            raise PipelineError(f"pass 'btf': mode must be one of {', '.join(MODES)}, not '{self.mode}'")

    def run(self, module: Module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        if self.mode == "strip":
            module.strip_debug_info()
            return
        if not module.has_debug_info():
            if self.mode == "keep":
                log.warning("--btf: the inputs carry no debug info (compile with -g), so no BTF is emitted")
            return
        if not any(f.linkage.is_local and f.has_debug_info() for f in module.functions()):
            return
        ir, changed = mark_local_to_unit(module.to_ir())
        if not changed:
            return
        try:
            fixed = Module.parse_ir(ctx.context, ir.encode(), module.name or "linked_module")
        except LLVMError as e:
            raise LLVMError(f"btf: re-reading the linked module failed: {e}", e.diagnostics) from None
        module.replace_with(fixed)
        log.debug("gave %d internal functions static BTF linkage", changed)


PASSES = [Btf]
