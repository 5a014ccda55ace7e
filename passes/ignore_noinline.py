"""ignore-noinline: drop the `noinline` attribute so everything can be inlined (kernels without calls)."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class IgnoreNoinline(Pass):
    name = "ignore-noinline"
    summary = "remove noinline from every function (--ignore-inline-never)"

    def run(self, module, ctx: LinkContext) -> None:
        noinline = ctx.context.attribute_kind("noinline")
        optnone = ctx.context.attribute_kind("optnone")
        for f in module.functions():
            # optnone requires noinline; such functions keep it (LLVM's verifier insists).
            if f.has_function_attribute(noinline) and not f.has_function_attribute(optnone):
                f.remove_function_attribute(noinline)


PASSES = [IgnoreNoinline]
