"""check-object: prove on the emitted object that no call, loop or instruction its target kernel lacks is left."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from bpf_linker import target_kernel
from bpf_linker.bpf_insn import ATOMIC_ADD, MODE_ATOMIC, STX, Insn, allowed, cpu_level, needs
from bpf_linker.errors import LinkError, PipelineError
from bpf_linker.object_code import Function, ObjectCode
from bpf_linker.passes.report import text_outputs
from bpf_linker.passes.unroll_loops import UNROLL_DISABLED
from bpf_linker.pipeline import LinkContext, Pass

# ctx.facts key: the object compiled for check-object and report when the output is not one.
READ_OBJECT = "object_for_reading"


class ObjectCheckError(LinkError):
    """The object keeps what its target lacks; `problems` holds one line per offender."""

    outputs: dict = {}  # --report's text, printed even though the link failed

    def __init__(self, message: str, problems: tuple[str, ...] = ()):
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Rules:
    no_calls: bool
    no_loops: bool
    level: int            # highest CPU level allowed (bpf_insn.cpu_level)
    features: str         # target features that allow more (only +alu32 counts for a kernel)
    isa_name: str         # "cpu v1", "kernel 4.14 (cpu v2)"
    kernel: tuple[int, int] | None


@dataclass(frozen=True)
class CheckObject(Pass):
    """Runs after codegen on ctx.outputs["obj"] (an object is compiled for the check when the
    output is asm or IR), decoding the BPF instructions with pyelftools (bpf_linker/object_code.py):
    - `no-calls` (--ignore-inline-never): no BPF-to-BPF call;
    - `no-loops` (--unroll-loops): no backward jump;
    - the instruction set of `cpu` (default: the link's CPU, ctx.cpu): v1 has no JMP32 class
      and no 32-bit ALU code, v2 adds jlt/jle/jslt/jsle, v3 JMP32 and ALU32, v4 sign-extending
      loads and moves, bswap, sdiv/smod and gotol; `--cpu-features +alu32` allows ALU32 code;
    - `kernel` (--target-kernel X.Y): that kernel's limits too (calls before 4.16, loops
      before 5.3, 4096 instructions and no global data before 5.2, atomics beyond add before
      5.12, kfuncs and callbacks before 5.13; bpf_linker/target_kernel.py).
    Each offender is one line naming the function it came from, the program and, with debug
    info, the source file and line ("loop at helpers.c:42 in parse_opts (inlined into
    xdp_prog) was not unrolled: trip count unknown"). They fail the link, or are warnings
    with --fatal-errors=false.
    """

    name = "check-object"
    summary = "fail when the emitted object keeps calls, loops or instructions its target lacks"
    no_calls: bool = False
    no_loops: bool = False
    # Instruction set to stay within; "" is the link's CPU (--cpu, the inputs', --target-kernel's).
    cpu: str = ""
    # X.Y: also that kernel's limits (program size, global data, atomics, kfuncs, callbacks).
    kernel: str = ""

    def __post_init__(self):
        if self.kernel:
            try:
                target_kernel.parse(self.kernel)
            except Exception as e:
                raise PipelineError(f"pass 'check-object': {e}") from None

    def rules(self, ctx: LinkContext) -> Rules:
        version = target_kernel.parse(self.kernel) if self.kernel else None
        cpu = self.cpu or ctx.cpu
        level = cpu_level(cpu)
        features = "" if self.cpu else ctx.cpu_features
        isa_name = f"cpu {cpu}" + (f" {features}" if features else "")
        if version is not None:
            if target_kernel.cpu_level(version) < level:
                level = target_kernel.cpu_level(version)
                isa_name = f"kernel {self.kernel} (cpu v{level})"
            # JMP32 is a kernel feature (5.1); ALU32 code asked for with +alu32 runs everywhere.
            features = ",".join(f for f in features.split(",") if f == "+alu32")
        return Rules(
            no_calls=self.no_calls or (version is not None and not target_kernel.has(version, "calls")),
            no_loops=self.no_loops or (version is not None and not target_kernel.has(version, "loops")),
            level=level, features=features, isa_name=isa_name, kernel=version)

    def run(self, module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        data = ctx.outputs.get("obj")
        if data is None:
            data = compile_object(module, ctx)
        obj = ObjectCode(data)
        rules = self.rules(ctx)
        problems = find_problems(obj, rules, ctx)
        if not problems:
            log.info("%d program(s) checked: %s", len(obj.programs), describe(rules))
            return
        fatal = ctx.options.fatal_errors
        for line in problems:
            log.log(logging.ERROR if fatal else logging.WARNING, "%s", line)
        what = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        if fatal:
            error = ObjectCheckError(f"the linked object does not meet {describe(rules)}: {what}, listed above "
                                     "(--fatal-errors=false writes it anyway)", tuple(problems))
            error.outputs = text_outputs(ctx)  # --report's text, printed even though the link failed
            raise error
        log.warning("the linked object does not meet %s: %s, written anyway (--fatal-errors=false)",
                    describe(rules), what)


def describe(rules: Rules) -> str:
    """What the object was to meet: "no calls, no loops, only cpu v1 instructions"."""
    parts = []
    if rules.no_calls:
        parts.append("no calls")
    if rules.no_loops:
        parts.append("no loops")
    parts.append(f"only {rules.isa_name} instructions")
    if rules.kernel:
        parts.append(f"kernel {rules.kernel[0]}.{rules.kernel[1]}'s limits")
    return ", ".join(parts)


def compile_object(module, ctx: LinkContext) -> bytes:
    """An object for reading, when the link emits asm or IR; codegen reported its diagnostics already."""
    from bpf_linker.passes.codegen import emit_in_fresh_heap

    if READ_OBJECT not in ctx.facts:
        mark = len(ctx.context.diagnostics)
        try:
            ctx.facts[READ_OBJECT] = emit_in_fresh_heap(ctx, module.to_bitcode(), "obj")
        finally:
            del ctx.context.diagnostics[mark:]
    return ctx.facts[READ_OBJECT]


# --- the checks -----------------------------------------------------------------------------

def _in(obj: ObjectCode, f: Function, insn: Insn) -> str:
    """`hash_bytes (inlined into oldk_prog)`, `hash_bytes (called by oldk_prog)` or `oldk_prog`."""
    origin = obj.source_function(f, insn.offset)
    if f.is_program:
        return origin if origin == f.name else f"{origin} (inlined into {f.name})"
    callers = obj.programs_reaching(f)
    shown = origin if origin == f.name else f"{origin} (inlined into {f.name})"
    return f"{shown} (called by {', '.join(callers)})" if callers else shown


def find_problems(obj: ObjectCode, rules: Rules, ctx: LinkContext) -> list[str]:
    """One line per offender, in object order: calls, loops, instructions, kernel limits."""
    problems: list[str] = []
    options = ctx.options
    if rules.no_calls:
        for call in obj.local_calls():
            target = obj.function(str(call.target))
            if target is not None and obj.is_recursive(target):
                why = ": it is recursive"
            elif not options.ignore_inline_never:
                why = " (--ignore-inline-never inlines noinline functions)"
            else:
                why = ""
            problems.append(f"call to {call.target} at {obj.where(call.caller, call.insn)} in "
                            f"{_in(obj, call.caller, call.insn)} was not inlined{why}")
    if rules.no_loops:
        kept = {(file, line) for file, line, _ in ctx.facts.get(UNROLL_DISABLED, ())}
        seen = set()
        for f, insn in obj.backward_jumps():
            where = obj.where(f, insn)
            loc = obj.location(f.section, insn.offset)
            key = (f.name, where, obj.source_function(f, insn.offset))
            if key in seen:  # runtime unrolling leaves two back edges for one loop
                continue
            seen.add(key)
            if loc is not None and (os.path.basename(loc.file), loc.line) in kept:
                why = "it is marked '#pragma clang loop unroll(disable)'"
            elif not options.unroll_loops and not rules.kernel:
                why = "--unroll-loops was not given"
            else:
                why = "trip count unknown"
            problems.append(f"loop at {where} in {_in(obj, f, insn)} was not unrolled: {why}")
    problems += _isa_problems(obj, rules)
    if rules.kernel:
        problems += _kernel_problems(obj, rules.kernel)
    return _counted(problems)


def _counted(lines: list[str]) -> list[str]:
    """Identical lines once, in order, with how many there were (three calls on one line)."""
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [line if n == 1 else f"{line} ({n} times)" for line, n in counts.items()]


def _isa_problems(obj: ObjectCode, rules: Rules) -> list[str]:
    groups: dict[tuple[str, str], list] = {}
    for f in obj.functions:
        for insn in f.insns:
            need = needs(insn)
            if need is not None and not allowed(need, rules.level, rules.features):
                groups.setdefault((f.name, need.what), []).append((f, insn, need))
    out = []
    for (_, what), hits in groups.items():
        f, insn, need = hits[0]
        more = f" ({len(hits)} such instructions)" if len(hits) > 1 else ""
        kernel = target_kernel.BY_KEY[target_kernel.CPU_FEATURE[need.level]].since
        out.append(f"instruction '{what}' at {obj.where(f, insn)} in {_in(obj, f, insn)} needs cpu v{need.level} "
                   f"(kernel {kernel[0]}.{kernel[1]}), beyond {rules.isa_name}{more}")
    return out


def _kernel_problems(obj: ObjectCode, version: tuple[int, int]) -> list[str]:
    out = []
    name = f"{version[0]}.{version[1]}"

    def since(key: str) -> str:
        v = target_kernel.BY_KEY[key].since
        return f"{v[0]}.{v[1]}"

    if not target_kernel.has(version, "large-programs"):
        for p in obj.programs:
            slots = sum(i.size // 8 for f in obj.reachable(p) for i in f.insns)
            if slots > target_kernel.MAX_INSNS_BEFORE_5_2:
                out.append(f"program {p.name} has {slots} instructions; kernel {name} loads at most "
                           f"{target_kernel.MAX_INSNS_BEFORE_5_2} (kernel {since('large-programs')} lifts the limit)")
    seen = set()
    for ref in obj.references:
        if ref.kind == "data" and not target_kernel.has(version, "global-data"):
            key = ("data", ref.symbol, ref.function.name)
            what = f"global variable '{ref.symbol}' ({ref.section})"
            need = "global-data"
        elif ref.kind == "function" and not target_kernel.has(version, "callbacks"):
            key = ("callback", ref.symbol, ref.function.name)
            what = f"callback '{ref.symbol}'"
            need = "callbacks"
        else:
            continue
        if key not in seen:
            seen.add(key)
            out.append(f"{what} used at {obj.where(ref.function, ref.insn)} in {_in(obj, ref.function, ref.insn)} "
                       f"needs kernel {since(need)}")
    if not target_kernel.has(version, "kfuncs"):
        for call in obj.calls:
            if call.kind == "kfunc":
                out.append(f"kfunc call to {call.target} at {obj.where(call.caller, call.insn)} in "
                           f"{_in(obj, call.caller, call.insn)} needs kernel {since('kfuncs')}")
    if not target_kernel.has(version, "atomics"):
        for f in obj.functions:
            hits = [i for i in f.insns if i.cls == STX and i.mode == MODE_ATOMIC and i.imm != ATOMIC_ADD]
            if hits:
                out.append(f"instruction '{hits[0].mnemonic()}' at {obj.where(f, hits[0])} in {_in(obj, f, hits[0])} "
                           f"needs kernel {since('atomics')}")
    return out


PASSES = [CheckObject]
