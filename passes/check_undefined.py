"""check-undefined: a call or reference to a symbol no input defines is an error now, not at load time."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.errors import LinkError
from bpf_linker.pipeline import LinkContext, Pass

# Externs libbpf resolves at load time: kfuncs and kernel variables, Kconfig values.
EXTERN_SECTIONS = (".ksyms", ".kconfig")


@dataclass(frozen=True)
class CheckUndefined(Pass):
    name = "check-undefined"
    summary = "fail on declarations still referenced after optimization (outside .ksyms/.kconfig)"

    def run(self, module, ctx: LinkContext) -> None:
        missing = []
        for gv in module.global_values():
            if not gv.is_declaration or gv.is_intrinsic or not gv.has_uses():
                continue
            if gv.section in EXTERN_SECTIONS:
                continue
            if gv.name in ctx.facts.get("plain_object_definitions", ()):  # libbpf links it in (link-objects)
                continue
            users = ctx.references.get(gv.name) or ["the linked program"]
            what = "function" if gv.kind == "function" else "variable"
            missing.append(f"undefined {what} '{gv.name}' referenced by {', '.join(sorted(set(users)))}")
        if missing:
            raise LinkError("; ".join(missing))


PASSES = [CheckUndefined]
