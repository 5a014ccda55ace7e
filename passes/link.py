"""link: parse each input and link it into the pipeline's module, with libbpf's symbol rules."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import Module
from bpf_linker.errors import LinkError
from bpf_linker.pipeline import LinkContext, Pass

# Sections whose identical definitions in several files are merged (libbpf's linker does the same).
MERGEABLE_SECTIONS = ("license", "version")

ALLOCA, LOAD, STORE = 26, 27, 28
INTEGER_TYPE, POINTER_TYPE = 8, 12


def parse_input(ctx: LinkContext, obj) -> Module:
    if obj.kind == "ir":
        return Module.parse_ir(ctx.context, obj.data, obj.name)
    return Module.parse_bitcode(ctx.context, obj.data, obj.name)


def has_promotable_alloca(function) -> bool:
    """A scalar alloca used only by plain loads and stores: mem2reg/SROA has not run on this code."""
    lib = function.lib
    blocks = function.basic_blocks()
    entry = next(blocks, None)
    if entry is None:
        return False
    from bpf_linker.bindings._ffi import ffi

    inst = lib.LLVMGetFirstInstruction(entry)
    while inst != ffi.NULL:
        if lib.LLVMGetInstructionOpcode(inst) == ALLOCA and \
                lib.LLVMGetTypeKind(lib.LLVMGetAllocatedType(inst)) in (INTEGER_TYPE, POINTER_TYPE):
            use = lib.LLVMGetFirstUse(inst)
            promotable = use != ffi.NULL
            while use != ffi.NULL and promotable:
                user = lib.LLVMGetUser(use)
                op = lib.LLVMGetInstructionOpcode(user) if lib.LLVMIsAInstruction(user) != ffi.NULL else -1
                if op == STORE:
                    promotable = lib.LLVMGetOperand(user, 1) == inst and lib.LLVMGetOperand(user, 0) != inst
                elif op != LOAD:
                    promotable = False
                use = lib.LLVMGetNextUse(use)
            if promotable:
                return True
        inst = lib.LLVMGetNextInstruction(inst)
    return False


def looks_unoptimized(module: Module, optnone_kind: int) -> bool:
    return any(not f.is_declaration and not f.has_function_attribute(optnone_kind) and has_promotable_alloca(f)
               for f in module.functions())


def same_contents(a, b) -> bool:
    ia, ib = a.initializer, b.initializer
    return ia is not None and ib is not None and str(ia) == str(ib)


@dataclass(frozen=True)
class Link(Pass):
    name = "link"
    summary = "link all inputs into one module (weak loses to strong, identical license/version merge)"

    def run(self, module: Module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        optnone = ctx.context.attribute_kind("optnone")
        unoptimized = ctx.facts.setdefault("unoptimized_inputs", [])
        for obj in ctx.inputs:
            ctx.progress(f"parsing {obj.name}")
            src = parse_input(ctx, obj)
            if ctx.first_triple is None:
                ctx.first_triple = src.triple
            if looks_unoptimized(src, optnone):
                unoptimized.append(obj.name)
            self._resolve_conflicts(module, src, obj.name, ctx)
            ctx.progress(f"linking {obj.name}")
            errors = module.link_in(src)
            if errors:
                raise LinkError(f"{obj.name}: cannot link: {'; '.join(errors)}")
            log.debug("linked %s", obj.name)

    def _resolve_conflicts(self, dest: Module, src: Module, src_name: str, ctx: LinkContext) -> None:
        for gv in list(src.global_values()):
            name = gv.name
            if gv.linkage.is_local or not name or name.startswith("llvm."):
                continue
            if gv.is_declaration:
                if gv.has_uses():
                    ctx.references.setdefault(name, []).append(src_name)
                continue
            existing = dest.get_global(name) if gv.kind == "variable" else dest.get_function(name)
            if existing is None:
                existing = next((v for v in (dest.get_function(name), dest.get_global(name)) if v), None)
            strong = not gv.linkage.is_weak
            if existing is not None and not existing.is_declaration and strong and not existing.linkage.is_weak:
                first = ctx.definitions.get(name, "an earlier input")
                if gv.kind == "variable" and gv.section in MERGEABLE_SECTIONS and existing.section == gv.section:
                    if same_contents(gv, existing):
                        gv.make_declaration()
                        continue
                    raise LinkError(f"conflicting '{name}' (section \"{gv.section}\"): {first} and {src_name} "
                                    "define it with different contents")
                raise LinkError(f"duplicate symbol '{name}': defined in {first} and in {src_name}")
            if strong or name not in ctx.definitions:
                ctx.definitions[name] = src_name


PASSES = [Link]
