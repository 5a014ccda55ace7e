"""link: parse each input and link it into the pipeline's module, with libbpf's symbol rules."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from bpf_linker import input_cpu
from bpf_linker.bindings import Linkage, Module
from bpf_linker.errors import InputError, LinkError, PipelineError
from bpf_linker.options import MEMORY_BUILTINS
from bpf_linker.pipeline import LinkContext, Pass

# Sections whose identical definitions in several files are merged (libbpf's linker does the same).
MERGEABLE_SECTIONS = ("license", "version")


def byte_order(triple: str) -> str | None:
    """"little" or "big" for a BPF triple (plain `bpf` is the host's order), None for any other."""
    arch = triple.split("-", 1)[0]
    return {"bpfel": "little", "bpfeb": "big", "bpf": sys.byteorder}.get(arch)


def check_target(obj, triple: str, ctx: LinkContext, log) -> None:
    """bpfel and bpfeb inputs cannot be linked together; a non-BPF input gets a warning."""
    if not triple:
        return
    order = byte_order(triple)
    if order is None:
        log.warning("%s: target triple '%s' is not BPF; linking it for BPF anyway", obj.name, triple)
        return
    first_order, first_name = ctx.facts.setdefault("byte_order", (order, obj.name))
    if order != first_order:
        raise LinkError(f"{obj.name} is {order}-endian ({triple}) but {first_name} is {first_order}-endian: "
                        "bpfel and bpfeb inputs cannot be linked together")
    wanted = byte_order(ctx.options.target or "")
    if wanted and wanted != order and "target_warned" not in ctx.facts:
        ctx.facts["target_warned"] = True
        log.warning("%s is %s-endian (%s) but --target %s is %s-endian", obj.name, order, triple,
                    ctx.options.target, wanted)


def parse_input(ctx: LinkContext, obj) -> Module:
    """Parse one input and verify it: LLVM's optimizer turns invalid IR into anything at all."""
    if obj.kind == "ir":
        module = Module.parse_ir(ctx.context, obj.data, obj.name)
    else:
        module = Module.parse_bitcode(ctx.context, obj.data, obj.name)
    problem = module.verify()
    if problem:
        module.close()
        what = "IR" if obj.kind == "ir" else "bitcode"
        raise InputError(f"{obj.name}: invalid {what} (LLVM's verifier): {' '.join(problem.split())[:500]}")
    return module


def has_promotable_alloca(function) -> bool:
    """A scalar (or byte-array) alloca used only by plain loads and stores: SROA has not run on this code."""
    return any(inst.is_promotable_alloca() for inst in function.entry_instructions())


def looks_unoptimized(module: Module, optnone_kind: int) -> bool:
    return any(not f.is_declaration and not f.has_function_attribute(optnone_kind) and has_promotable_alloca(f)
               for f in module.functions())


def is_rust(module: Module) -> bool:
    """rustc names itself in `!llvm.ident`; clang and hand-written IR do not."""
    return any(ident.startswith("rustc") for ident in module.named_metadata_strings("llvm.ident"))


def global_variable_definitions(module: Module):
    """Global variables this module defines with external (or weak) linkage."""
    for gv in module.global_variables():
        if not gv.is_declaration and not gv.linkage.is_local and not gv.is_intrinsic and gv.name:
            yield gv


def compiled_for(module: Module) -> tuple[str, str] | None:
    """(target-cpu, target-features) of the module's first function that records a CPU."""
    for f in module.functions():
        if not f.is_declaration:
            cpu = f.string_attribute("target-cpu")
            if cpu:
                return cpu, f.string_attribute("target-features") or ""
    return None


def retarget_functions(module: Module, cpu: str, features: str) -> None:
    """Give every function the chosen CPU: LLVM inlines only between functions that agree."""
    for f in module.functions():
        if f.is_declaration:
            continue
        if f.string_attribute("target-cpu") is not None:
            f.set_string_attribute("target-cpu", cpu)
        if features:
            f.set_string_attribute("target-features", features)
        elif f.string_attribute("target-features") is not None:
            f.remove_string_attribute("target-features")


def merge_single_value_sections(module: Module, ctx: LinkContext) -> None:
    """One `license` and one `version` per object, whatever the files named their symbols.

    libbpf reads each section as one value (`version` must be exactly 4 bytes): definitions
    under different names with the same contents become one; different contents are an error.
    """
    for section in MERGEABLE_SECTIONS:
        found = [gv for gv in module.global_variables() if gv.section == section and not gv.is_declaration]
        if len(found) < 2:
            continue
        keep = found[0]
        for other in found[1:]:
            if not same_contents(keep, other):
                first = ctx.definitions.get(keep.name, "an earlier input")
                second = ctx.definitions.get(other.name, "a later input")
                raise LinkError(f"conflicting section \"{section}\": {first} defines '{keep.name}' and {second} "
                                f"defines '{other.name}' with different contents")
            other.replace_all_uses_with(keep)
            name = other.name
            other.delete()
            ctx.logger("link").info("section \"%s\": '%s' has the same contents as '%s'; merged", section,
                                    name, keep.name)


def same_contents(a, b) -> bool:
    ia, ib = a.initializer, b.initializer
    return ia is not None and ib is not None and str(ia) == str(ib)


# --- identical definitions (duplicate memory builtins) ----------------------------------------
#
# Two definitions are "identical" when their printed IR is the same after removing what
# does not change behaviour: comments, debug records and debug intrinsics, metadata
# attachments and metadata numbering, the symbol's own linkage/visibility/name, local value
# and block names (renumbered by first use), attribute-group numbers (replaced by the group's
# contents, so `nounwind` vs `noinline` still differ), and the names of the module-local
# (internal/private) globals they use -- which must in turn be identical in the same sense,
# recursively. References to non-local symbols must name the same symbol.

_NAME = r'(?:[-a-zA-Z$._][-a-zA-Z$._0-9]*|"[^"]*"|\d+)'
_TOKENS = re.compile(r"""
    (?P<string>c?"[^"]*")                                  # LLVM escapes '"' as \22
  | (?P<comment>;[^\n]*)
  | (?P<attach>,?[ \t]*![A-Za-z_.][-\w.$]*[ \t]+!\d+)       # , !dbg !12   !tbaa !3
  | (?P<label>^[-a-zA-Z$._0-9]+:|^"[^"]*":)                # block label definitions
  | (?P<global>@""" + _NAME + r""")
  | (?P<local>%""" + _NAME + r""")
  | (?P<attr>\#\d+\b)
  | (?P<meta>!\d+)
""", re.X | re.M)
# Words of a definition's header that say how the symbol links, not what it does.
_HEADER_WORDS = re.compile(
    r"\b(?:private|internal|available_externally|linkonce_odr|linkonce|weak_odr|weak|common|appending|"
    r"extern_weak|external|default|hidden|protected|dllimport|dllexport|dso_local|dso_preemptable|"
    r"local_unnamed_addr|unnamed_addr|comdat(?:\(\$[^)]*\))?)\b ?")
_DEBUG_LINE = re.compile(r"^\s*(?:#dbg_\w+\(|(?:tail |notail |musttail )?call void @llvm\.dbg\.).*$\n?", re.M)
_ATTR_GROUP = re.compile(r"^attributes #(\d+) = \{ (.*) \}$", re.M)
_TYPE_DEF = re.compile(r"^(%" + _NAME + r") = type (.*)$", re.M)
_TYPE_NUMBER = re.compile(r"\.\d+$")


def _unquote_name(token: str) -> str:
    body = token[1:]
    if body.startswith('"'):
        return re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), body[1:-1])
    return body


class _CanonicalIR:
    """Canonical text of one module's definitions (see the comment above)."""

    def __init__(self, module: Module):
        self.module = module
        text = module.to_ir()
        self.attr_groups = {f"#{n}": body for n, body in _ATTR_GROUP.findall(text)}
        types = dict(_TYPE_DEF.findall(text))
        # Modules parsed into one context get numbers appended to clashing type names (%struct.s.1).
        self.types = {name: re.sub(r"%" + _NAME, lambda m: _strip_type_number(m.group()), body)
                      for name, body in types.items()}

    def lookup(self, token: str):
        name = _unquote_name(token)
        for gv in (self.module.get_function(name), self.module.get_global(name)):
            if gv is not None:
                return gv
        return None

    def canonical(self, gv) -> tuple[str, list]:
        """(text, the local globals it references, in order of first reference)."""
        text = _DEBUG_LINE.sub("", str(gv))
        own = gv.name
        locals_: dict[str, str] = {}
        values: dict[str, str] = {}
        referenced: list = []

        def replace(m: re.Match) -> str:
            kind, tok = m.lastgroup, m.group()
            if kind == "string":
                return tok
            if kind in ("comment", "attach"):
                return ""
            if kind == "meta":
                return "!?"
            if kind == "attr":
                return "{" + self.attr_groups.get(tok, tok) + "}"
            if kind == "label":
                return values.setdefault("%" + tok[:-1], f"%v{len(values)}") + ":"
            if kind == "local":
                if tok in self.types:
                    return "%type{" + self.types[tok] + "}"
                return values.setdefault(tok, f"%v{len(values)}")
            # a global
            if _unquote_name(tok) == own:
                return "@SELF"
            if tok in locals_:
                return locals_[tok]
            target = self.lookup(tok)
            if target is None or not target.linkage.is_local:
                return tok
            locals_[tok] = f"@local{len(locals_)}"
            referenced.append(target)
            return locals_[tok]

        text = _TOKENS.sub(replace, text)
        lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
        if lines:
            lines[0] = _HEADER_WORDS.sub("", lines[0])
        return "\n".join(lines), referenced


def _strip_type_number(token: str) -> str:
    return _TYPE_NUMBER.sub("", token) if not token.endswith('"') else token


def identical_definitions(a, b, cache: dict | None = None) -> bool:
    """Whether definitions `a` and `b` (in different modules) behave the same (see above).

    `cache` keeps what is read from each module's printed IR (attribute groups, named types)
    between calls, while no attributes or types are added to the modules.
    """
    cache = {} if cache is None else cache
    for module in (a.module, b.module):
        if id(module) not in cache:
            cache[id(module)] = _CanonicalIR(module)
    ca, cb = cache[id(a.module)], cache[id(b.module)]
    paired = {a.name: b.name}
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if x.kind != y.kind or x.is_declaration != y.is_declaration:
            return False
        tx, rx = ca.canonical(x)
        ty, ry = cb.canonical(y)
        if tx != ty or len(rx) != len(ry):
            return False
        for gx, gy in zip(rx, ry):
            if gx.name in paired:
                if paired[gx.name] != gy.name:
                    return False
                continue
            paired[gx.name] = gy.name
            pending.append((gx, gy))
    return True


@dataclass(frozen=True)
class Link(Pass):
    name = "link"
    summary = "link all inputs into one module (weak loses to strong, identical license/version merge)"

    def run(self, module: Module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        optnone = ctx.context.attribute_kind("optnone")
        unoptimized = ctx.facts.setdefault("unoptimized_inputs", [])
        cpus: dict[str, tuple[str, str]] = {}
        if not ctx.inputs and ctx.read_inputs:
            raise PipelineError("pass 'link': the pipeline gave it no inputs (unpack-archives, which reads them, "
                                "must come first)")
        for obj in ctx.inputs:
            if obj.kind == "bpf-object":  # no bitcode: libbpf links it after codegen (passes/link_objects.py)
                from bpf_linker.passes.link_objects import note_plain_object

                note_plain_object(ctx, obj, log)
                continue
            ctx.progress(f"parsing {obj.name}")
            src = parse_input(ctx, obj)
            ctx.input_parsed(obj, src)  # --dump-dir, -M and -y see each input as parsed
            if ctx.first_triple is None:
                ctx.first_triple = src.triple
            check_target(obj, src.triple, ctx, log)
            if looks_unoptimized(src, optnone):
                unoptimized.append(obj.name)
            target = compiled_for(src)
            if target is not None:
                cpus[obj.name] = target
            if not is_rust(src):
                # libbpf's model: C globals are read and written by user space (skeletons).
                ctx.user_space_globals.update(gv.name for gv in global_variable_definitions(src))
            self._resolve_conflicts(module, src, obj.name, ctx)
            ctx.progress(f"linking {obj.name}")
            if module.is_empty():
                # The first input becomes the module as it is: linking into an empty module
                # would reorder its functions and globals (by llvm.used, alphabetically), and
                # with them the programs and maps of the object, unlike clang's own object.
                name = module.name
                module.replace_with(src)
                module.name = name
                continue
            src.sort_used_lists()
            errors = module.link_in(src)
            if errors:
                raise LinkError(f"{obj.name}: cannot link: {'; '.join(errors)}")
            log.debug("linked %s", obj.name)
        merge_single_value_sections(module, ctx)
        self._choose_cpu(module, cpus, ctx, log)
        # The passes after linking optimize for BPF: give the module the target's triple and layout now.
        module.triple = ctx.triple
        module.data_layout = ctx.target_machine.data_layout()

    @staticmethod
    def _choose_cpu(module: Module, found: dict[str, tuple[str, str]], ctx: LinkContext, log) -> None:
        """Without --cpu, generate code for the CPU the inputs were compiled for (bpf_linker.input_cpu)."""
        chosen, warning = input_cpu.choose(found)
        if ctx.options.cpu is None:
            ctx.input_cpu = chosen
            if warning:
                log.warning("%s", warning)
            if chosen:
                log.info("CPU %s%s, from the inputs", chosen[0], f" ({chosen[1]})" if chosen[1] else "")
        if warning:
            retarget_functions(module, ctx.cpu, ctx.cpu_features)

    def _resolve_conflicts(self, dest: Module, src: Module, src_name: str, ctx: LinkContext) -> None:
        # Attribute groups and named types of both modules, gathered at most once per input
        # (the linkage and initializer changes below do not alter them).
        printed: dict = {}
        for gv in list(src.global_values()):
            name = gv.name
            if gv.linkage.is_local or not name or gv.is_intrinsic:
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
                if name in MEMORY_BUILTINS and gv.kind == existing.kind == "function":
                    # Rust crates (compiler_builtins and others) each define these; two copies
                    # of the same code are one memcpy, not a conflict.
                    if identical_definitions(existing, gv, printed):
                        ctx.logger(self.name).info("%s: defined by %s and %s with identical bodies; using %s's",
                                                   name, first, src_name, first)
                        # linkonce_odr: LLVMLinkModules2 keeps the definition already linked.
                        gv.linkage = Linkage.LINKONCE_ODR
                        continue
                    raise LinkError(f"duplicate symbol '{name}': defined in {first} and in {src_name} "
                                    "with different bodies")
                raise LinkError(f"duplicate symbol '{name}': defined in {first} and in {src_name}")
            if strong or name not in ctx.definitions:
                ctx.definitions[name] = src_name


PASSES = [Link]
