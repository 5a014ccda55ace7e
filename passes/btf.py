"""btf: keep debug info (so the backend emits .BTF/.BTF.ext) in a form the kernel accepts, or strip it.

Modes:
- `strip` (`--no-btf`): strip all debug info; no BTF.
- `keep` (`--btf`): keep debug info and sanitize it.
- `auto` (no flag): keep and sanitize it when a C-family compile unit is present
  (DW_LANG_C*, C++, ObjC: clang users expect BTF by default, and BTF maps need it);
  strip it when every compile unit is Rust or another language (upstream strips debug
  info unless --btf, so Rust users opt in).

Sanitizing does two things:
- The backend takes a function's BTF linkage from its DISubprogram, not from IR
  linkage: an internalized helper would stay `global` in BTF and the verifier would
  check it without its caller's context. Local functions must come out `static`.
- Rust debug info is made C-shaped (names, pointer names, data-carrying enums, member
  order): see bpf_linker.btf_sanitize. On clang's C debug info this changes nothing
  (tests/test_btf_rust.py proves it on every C fixture).

How, by cost. When every compile unit is C (DW_LANG_C*), only linkage needs fixing, and
that is done on the emitted object: the pass leaves a note (`PENDING_STATIC`) and
`codegen` patches the FUNC linkage in `.BTF` (bpf_linker.btf_object), a few bytes,
instead of printing, editing and re-parsing the whole module, whose `vmlinux.h` debug
info makes that round trip cost more than codegen. Outputs other than an object
(`--emit asm|llvm-ir|llvm-bc`), and an object the patcher does not understand, get
DISPFlagLocalToUnit by the textual round trip (`mark_by_text`), as does everything
else (Rust, C++, unknown languages): LLVM 16's C API cannot edit metadata, and the
textual form works the same on 16, 19 and 22. The object path leaves DWARF's
DW_AT_external on such functions (neither libbpf nor the kernel reads DWARF), and
`--print-after`/`--dump-module` show the module without the flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bpf_linker.bindings import Module
from bpf_linker.bindings.debug_info import compile_unit_texts
from bpf_linker.btf_object import NotPatchable, make_local_functions_static
from bpf_linker.btf_sanitize import compile_units, is_c_family, local_function_subprograms, sanitize_ir
from bpf_linker.errors import LLVMError, PipelineError
from bpf_linker.pipeline import LinkContext, Pass

MODES = ("auto", "keep", "strip")
#: ctx.facts key: local functions still need static BTF linkage (codegen applies it).
PENDING_STATIC = "btf.pending-static-linkage"
_PLAIN_C = re.compile(r"DW_LANG_C(\d+)?$")


def is_plain_c(language: str) -> bool:
    """DW_LANG_C, C89, C99, C11, C17: debug info the BTF rules leave unchanged (C++ names may not be C)."""
    return bool(_PLAIN_C.match(language or ""))


@dataclass(frozen=True)
class Btf(Pass):
    name = "btf"
    summary = ("keep debug info as kernel-safe BTF sources (keep; auto: C-family inputs) "
               "or strip it (strip; auto: Rust-only inputs)")
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
        units = compile_units("\n".join(compile_unit_texts(module)))
        if self.mode == "auto" and units and not any(is_c_family(lang, producer) for lang, producer in units):
            module.strip_debug_info()
            langs = ", ".join(sorted({lang or "unknown language" for lang, _ in units}))
            log.info("stripped debug info (compile units: %s); pass --btf to emit BTF from it", langs)
            return
        if units and all(is_plain_c(lang) for lang, _ in units):
            ctx.facts[PENDING_STATIC] = True
            log.debug("C debug info: static linkage of local functions is set in the object's .BTF")
            return
        mark_by_text(module, ctx, btf_rules=True)


def mark_by_text(module: Module, ctx: LinkContext, *, btf_rules: bool) -> None:
    """The textual round trip: print the module, give local functions' subprograms
    DISPFlagLocalToUnit (and with `btf_rules`, apply the Rust rules), parse it back in place.

    Costs about as much as codegen on a `vmlinux.h` program (its debug info is megabytes
    of text): used only where the object patch cannot do the job (see the module doc).
    """
    log = ctx.logger(Btf.name)
    ctx.facts.pop(PENDING_STATIC, None)
    ir = module.to_ir()
    ir, report = sanitize_ir(ir, local_to_unit=local_function_subprograms(ir), btf_rules=btf_rules)
    if report.data_carrying_enums:
        names = list(dict.fromkeys(report.data_carrying_enums))
        log.warning("debug info was not emitted for the following types: %s "
                    "(data-carrying enums have no BTF form; each became a member-less struct "
                    "of the same size)", ", ".join(names))
    if not report.changed:
        return
    try:
        fixed = Module.parse_ir(ctx.context, ir.encode(), module.name or "linked_module")
    except LLVMError as e:
        raise LLVMError(f"btf: re-reading the linked module failed: {e}", e.diagnostics) from None
    module.replace_with(fixed)
    log.debug("%s", report)


def patch_object(obj: bytes, ctx: LinkContext) -> bytes | None:
    """`obj` with static BTF linkage for its local functions, or None if it cannot be patched."""
    log = ctx.logger(Btf.name)
    try:
        patched, names = make_local_functions_static(obj)
    except NotPatchable as e:
        log.debug("cannot patch the object's .BTF (%s): using the textual IR round trip", e)
        return None
    ctx.facts.pop(PENDING_STATIC, None)
    if names:
        log.debug("static BTF linkage for %d local functions: %s", len(names), ", ".join(names))
    return patched


PASSES = [Btf]
