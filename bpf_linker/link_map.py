"""The link map (-M, --print-map FILE, after GNU ld's -Map) and -y/--trace-symbol, as pipeline hooks.

The map says, for the object codegen produced: every output symbol with its ELF section,
size, binding and type and the input (archive member included, `lib.a(x.bc)`) that
defined it; the symbols `internalize` made local; the definitions gone from the output
(inlined everywhere or unused, removed by `optimize`: lld's --print-gc-sections); and
each program's instruction count, its subprograms' included. `-y SYM` prints, as GNU ld
does, `INPUT: definition of SYM` / `INPUT: reference to SYM` for every input as it is read.
"""

from __future__ import annotations

import logging
import re
import sys

log = logging.getLogger("bpf_linker")


def _defined(module) -> dict[str, tuple[str, bool]]:
    """name -> (kind, local) of the module's definitions (intrinsics and unnamed values left out)."""
    return {gv.name: (gv.kind, gv.linkage.is_local) for gv in module.global_values()
            if gv.name and not gv.is_declaration and not gv.is_intrinsic}


def _is_label(symbol) -> bool:
    """A code generator's local label (`LBB3_2`: a branch target LLVM 16 leaves in .symtab)."""
    return symbol.binding == "local" and symbol.type == "notype" and bool(re.match(r"^\.?L(BB|tmp)\d", symbol.name))


def _table(rows: list[tuple], header: tuple | None = None, indent: str = "  ") -> list[str]:
    """Aligned columns; numbers right-aligned; `(none)` for no rows."""
    body = [tuple(str(c) for c in row) for row in rows]
    if not body:
        return [f"{indent}(none)"]
    every = ([header] if header else []) + body
    widths = [max(len(row[i]) for row in every) for i in range(len(every[0]))]
    numeric = [all(row[i].isdigit() for row in body) for i in range(len(widths))]

    def line(row, is_header=False):
        cells = [c.rjust(w) if numeric[i] and not is_header else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        return (indent + "  ".join(cells)).rstrip()

    return ([line(header, True)] if header else []) + [line(row) for row in body]


class LinkMap:
    """Records what the link did and writes the map after codegen (`path` "-": standard output)."""

    def __init__(self, path: str | None, trace: tuple[str, ...] = ()):
        self.path = path
        self.trace = tuple(trace)
        self.inputs: list[str] = []
        self.origins: dict[str, list[str]] = {}   # name -> inputs that define it (locals too)
        self.traced: dict[str, int] = {name: 0 for name in self.trace}
        self.linked: dict[str, tuple[str, bool]] | None = None
        self.internalized: list[str] | None = None

    # -- hooks -------------------------------------------------------------------------
    def input_parsed(self, obj, module, ctx) -> None:
        self.inputs.append(obj.name)
        if self.path:
            for gv in module.global_values():
                if gv.name and not gv.is_intrinsic and not gv.is_declaration:
                    self.origins.setdefault(gv.name, []).append(obj.name)
        for name in self.trace:  # as GNU ld: per input, in the order of the -y flags
            gv = module.get_global_value(name)
            if gv is None or (gv.is_declaration and not gv.has_uses()):
                continue
            self.traced[name] += 1
            what = "definition of" if not gv.is_declaration else "reference to"
            sys.stderr.write(f"{obj.name}: {what} {name}\n")

    def before(self, p, module, ctx) -> None:
        pass

    def after(self, p, module, ctx) -> None:
        if p.name == "link":
            self.linked = _defined(module)
            for name, seen in self.traced.items():
                if not seen:
                    log.warning("-y %s: no input defines or references '%s'", name, name)
        elif p.name == "internalize" and self.linked is not None:
            now = _defined(module)
            self.internalized = sorted(n for n, (_k, local) in self.linked.items()
                                       if not local and now.get(n, ("", False))[1])
        elif p.name == "codegen" and self.path:
            self.write(self.render(module, ctx))

    # -- the map -----------------------------------------------------------------------
    def origin(self, name: str, ctx) -> str:
        """The input that defined `name` (strong definitions win; LLVM's `x.1` renames of clashing
        local names are traced back to `x`)."""
        if name in ctx.definitions:
            return ctx.definitions[name]
        found = self.origins.get(name)
        if found is None:
            base = re.sub(r"\.\d+$", "", name)
            found = self.origins.get(base)
        if not found:
            return "(linker)"
        unique = list(dict.fromkeys(found))
        return unique[0] if len(unique) == 1 else " or ".join(unique) + " (a local symbol of each)"

    def render(self, module, ctx) -> str:
        from . import __version__
        from .objinfo import read_object

        final = _defined(module)
        obj = ctx.outputs.get("obj")
        info = read_object(obj) if obj else None
        version = ".".join(map(str, ctx.library.version)) if getattr(ctx, "library", None) else "?"
        lines = [f"Link map of {ctx.options.output or '(memory)'} (bpf-linker {__version__}, LLVM {version})", ""]
        lines += ["Inputs:"] + [f"  {name}" for name in self.inputs] + [""]
        lines.append("Output symbols:")
        if info is not None:
            rows: list[tuple] = [(s.name, s.section, s.size, s.binding, s.type,
                     self.origin(s.name, ctx) if s.section != "UND" else "(undefined: resolved at load)")
                    for s in info.symbols if not _is_label(s)]
        else:  # --emit asm|llvm-ir|llvm-bc: no ELF, the module's view
            rows = []
            for gv in module.global_values():
                if not gv.name or gv.is_intrinsic:
                    continue
                size = gv.value_type.size if gv.kind == "variable" else "-"
                binding = "local" if gv.linkage.is_local else ("weak" if gv.linkage.is_weak else "global")
                section = "UND" if gv.is_declaration else (gv.section or (".text" if gv.kind == "function" else "-"))
                rows.append((gv.name, section, size, binding, gv.kind, self.origin(gv.name, ctx)))
        lines += _table(rows, ("symbol", "section", "size", "binding", "type", "defined in")) + [""]
        linked = self.linked or {}
        internalized = self.internalized
        if internalized is None:  # no internalize pass: compare the module as linked with the end
            internalized = sorted(n for n, (_k, local) in linked.items() if not local and final.get(n, ("", 0))[1])
        lines.append("Internalized (made local, so the optimizer could inline or drop them):")
        lines += _table([(n, self.origin(n, ctx)) for n in internalized]) + [""]
        removed = sorted(n for n in linked if n not in final)
        lines.append("Removed (inlined everywhere or unused):")
        lines += _table([(n, linked[n][0], self.origin(n, ctx)) for n in removed]) + [""]
        lines.append("Programs (instructions the kernel loads: its own and its subprograms'):")
        if info is not None:
            rows = [(p.name, p.section, p.instructions, p.own, ", ".join(p.subprograms) or "-")
                    for p in info.programs]
            lines += _table(rows, ("program", "section", "instructions", "own", "subprograms"))
        else:
            lines.append("  (no object emitted: instruction counts need --emit obj)")
        return "\n".join(lines) + "\n"

    def write(self, text: str) -> None:
        if self.path == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        from .output import write_output

        write_output(self.path, text.encode())
