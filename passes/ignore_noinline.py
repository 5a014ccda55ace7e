"""ignore-noinline: drop the `noinline` attribute so everything can be inlined (kernels without calls)."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.pipeline import LinkContext, Pass


@dataclass(frozen=True)
class IgnoreNoinline(Pass):
    """Removes `noinline` from every function, as upstream does, and (`always-inline`, the
    default) marks every function with a body `alwaysinline`: LLVM's inliner otherwise
    keeps a call to a helper too big for its cost model (measured: a 30-round helper called
    five times stayed five calls), and check-object then fails the link on a kernel
    without BPF-to-BPF calls. `-p 'ignore-noinline{always-inline=false}'` is upstream's
    behaviour. Functions with `optnone` keep `noinline` (LLVM's verifier requires it).
    """

    name = "ignore-noinline"
    summary = "remove noinline from every function and inline them all (--ignore-inline-never)"
    always_inline: bool = True

    def run(self, module, ctx: LinkContext) -> None:
        noinline = ctx.context.attribute_kind("noinline")
        optnone = ctx.context.attribute_kind("optnone")
        for f in module.functions():
            if f.has_function_attribute(optnone):
                continue
            if f.has_function_attribute(noinline):
                f.remove_function_attribute(noinline)
            if self.always_inline and not f.is_declaration:
                f.add_attribute("alwaysinline")


PASSES = [IgnoreNoinline]
