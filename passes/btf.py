"""btf: keep debug info (so the backend emits .BTF/.BTF.ext) in a form the kernel accepts, or strip it.

Modes:
- `strip` (`--no-btf`): strip all debug info; no BTF.
- `keep` (`--btf`): keep debug info and sanitize it.
- `auto` (no flag): keep and sanitize it when a C-family compile unit is present
  (DW_LANG_C*, C++, ObjC: clang users expect BTF by default, and BTF maps need it);
  strip it when every compile unit is Rust or another language (upstream strips debug
  info unless --btf, so Rust users opt in).

Sanitizing does two things, both by a textual IR round trip (print, edit, re-parse into
the same context), which works the same on LLVM 16 (whose C API cannot edit metadata)
as on 19 and 22:
- The backend takes a function's BTF linkage from its DISubprogram, not from IR
  linkage: an internalized helper would stay `global` in BTF and the verifier would
  check it without its caller's context. Subprograms of local functions get
  DISPFlagLocalToUnit.
- Rust debug info is made C-shaped (names, pointer names, data-carrying enums, member
  order): see bpf_linker.btf_sanitize. On clang's debug info this changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import Module
from bpf_linker.btf_sanitize import compile_units, is_c_family, local_function_subprograms, sanitize_ir
from bpf_linker.errors import LLVMError, PipelineError
from bpf_linker.pipeline import LinkContext, Pass

MODES = ("auto", "keep", "strip")


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
        ir = module.to_ir()
        if self.mode == "auto":
            units = compile_units(ir)
            if units and not any(is_c_family(lang, producer) for lang, producer in units):
                module.strip_debug_info()
                langs = ", ".join(sorted({lang or "unknown language" for lang, _ in units}))
                log.info("stripped debug info (compile units: %s); pass --btf to emit BTF from it", langs)
                return
        ir, report = sanitize_ir(ir, local_to_unit=local_function_subprograms(ir))
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


PASSES = [Btf]
