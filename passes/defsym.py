"""defsym: give integer globals a value at link time and fold every load of them (GNU ld's --defsym).

The typical target is a libbpf configuration knob, `const volatile int debug = 0;` in
`.rodata`: loaders set it before load, so clang keeps every read of it (the loads are
volatile) and the code it guards. `--defsym debug=1` makes the value part of the
object: the global's initializer becomes VALUE, the global is constant, and every load
of it (volatile ones included) is replaced by the number before `optimize` runs, so
branches on it fold and the code they guard disappears. The global itself stays (a
skeleton still has the member, but setting it no longer changes anything).

Refused, naming the symbol: a name no input defines as a global variable, a global that
is not an integer, a value outside the integer's width (signed or unsigned), and a
global the program writes (its loads could not be folded).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from bpf_linker.bindings import Module, Opcode
from bpf_linker.errors import UsageError
from bpf_linker.pipeline import LinkContext, Pass


def parse_assignment(item: str) -> tuple[str, int]:
    """`NAME=VALUE` -> (name, value); VALUE in C syntax (`1`, `-3`, `0x10`, `0o17`) or true/false."""
    name, eq, raw = item.partition("=")
    name, raw = name.strip(), raw.strip()
    if not eq or not name or not raw:
        raise UsageError(f"--defsym '{item}': expected NAME=VALUE (e.g. --defsym debug=1)")
    if raw.lower() in ("true", "false"):
        return name, int(raw.lower() == "true")
    try:
        return name, int(raw, 0)
    except ValueError:
        raise UsageError(f"--defsym {item}: '{raw}' is not an integer") from None


@dataclass(frozen=True)
class Defsym(Pass):
    name = "defsym"
    summary = "set integer globals to NAME=VALUE and fold their loads, volatile ones too (--defsym)"
    after = "link"
    values: tuple[str, ...] = ()

    def __post_init__(self):
        for item in self.values:
            parse_assignment(item)

    def run(self, module: Module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        for item in self.values:
            name, value = parse_assignment(item)
            gv = self._integer_global(module, item, name)
            ty = gv.value_type
            width = ty.width
            if not -(1 << (width - 1)) <= value < (1 << width):
                raise UsageError(f"--defsym {item}: {value} does not fit in '{name}', an integer of {width} bits "
                                 f"({-(1 << (width - 1))} to {(1 << width) - 1})")
            constant = module.const_int(ty, value)
            loads, others = [], []
            for use in gv.use_sites():
                user = use.user
                opcode = getattr(user, "opcode", None)
                if opcode == Opcode.LOAD and user.type == ty:
                    loads.append(user)
                elif (opcode == Opcode.STORE and use.index == 1) or \
                        (opcode in (Opcode.ATOMICRMW, Opcode.CMPXCHG) and use.index == 0):
                    where = f" in function '{user.function.name}'"
                    raise UsageError(f"--defsym {item}: the program writes '{name}'{where}; only a global "
                                     "it never writes can become a constant")
                else:
                    others.append(user)
            for load in loads:
                load.replace_with(constant)
            gv.initializer = constant
            gv.global_constant = True
            log.info("%s = %d: %d load(s) replaced by the constant%s", name, value, len(loads),
                     f", {len(others)} other use(s) of its address left" if others else "")

    @staticmethod
    def _integer_global(module: Module, item: str, name: str):
        gv = module.get_global(name)
        if gv is None:
            other = module.get_function(name) or module.get_alias(name)
            if other is not None:
                raise UsageError(f"--defsym {item}: '{name}' is a {other.kind}, not a global variable")
            names = [g.name for g in module.global_variables() if g.name and not g.is_intrinsic]
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise UsageError(f"--defsym {item}: no input defines a global variable '{name}'{hint}")
        if gv.is_declaration:
            raise UsageError(f"--defsym {item}: '{name}' is only declared (extern); no input defines it")
        if not gv.value_type.is_integer:
            raise UsageError(f"--defsym {item}: '{name}' is not an integer (its type is {gv.value_type}); "
                             "only integer globals can be given a value")
        return gv


PASSES = [Defsym]
