"""internalize: make every definition that is not exported internal, so dead code can go."""

from __future__ import annotations

from dataclasses import dataclass

from bpf_linker.bindings import Module
from bpf_linker.errors import InputError
from bpf_linker.options import MEMORY_BUILTINS
from bpf_linker.pipeline import LinkContext, Pass
from bpf_linker.reading import TooLarge, read_bounded


MAX_EXPORT_FILE = 64 << 20


def read_export_symbols(path: str) -> list[str]:
    """One symbol per line, no trimming (rustc's format); empty lines are ignored."""
    try:
        data = read_bounded(path, MAX_EXPORT_FILE)
    except OSError as e:
        raise InputError(f"{path}: cannot read export symbols file: {e.strerror}") from None
    except TooLarge as e:
        raise InputError(f"{path}: export symbols file is {e}") from None
    if b"\0" in data:
        raise InputError(f"{path}: export symbols file is not text (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: export symbols file is not UTF-8 text") from None
    return [line for line in text.split("\n") if line]


@dataclass(frozen=True)
class Internalize(Pass):
    name = "internalize"
    summary = ("internalize definitions that are not exported, have no section, are not in llvm.used "
               "and are not global variables of C inputs")
    export: tuple[str, ...] = ()
    export_symbols: tuple[str, ...] = ()
    memory_builtins: bool = True
    # C global variables are libbpf's interface with user space (skeleton members, .rodata
    # knobs, .bss results): internal ones would be folded, deleted and left out of skeletons.
    keep_c_globals: bool = True

    def export_set(self) -> set[str]:
        names = set(self.export)
        for path in self.export_symbols:
            names.update(read_export_symbols(path))
        if self.memory_builtins:
            names.update(MEMORY_BUILTINS)
        return names

    def run(self, module: Module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        keep = self.export_set() | module.used_names()
        keep |= ctx.facts.get("plain_object_symbols", set())  # libbpf resolves them (passes/link_objects.py)
        c_globals = ctx.user_space_globals if self.keep_c_globals else set()
        internalized = ctx.facts.setdefault("internalized", [])  # (kind, name), for optimize and the link map
        for gv in module.global_values():
            name = gv.name
            # Declarations stay: kfunc/ksym externs must survive.
            if gv.is_declaration or gv.linkage.is_local or gv.is_intrinsic:
                continue
            if name in keep or gv.section or (gv.kind == "variable" and name in c_globals):
                continue
            gv.make_internal()
            internalized.append((gv.kind, name))
            log.debug("internalized %s", name)


PASSES = [Internalize]
