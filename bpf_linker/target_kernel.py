"""--target-kernel X.Y: the first kernel version of each BPF feature, and the CPU and modes a kernel needs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError

OLDEST = (3, 18)  # the first kernel with eBPF (bpf(2), socket filters); tc 4.1, XDP 4.8


@dataclass(frozen=True)
class Feature:
    """A BPF feature the object may use and the first mainline kernel that accepts it."""

    key: str
    since: tuple[int, int]
    what: str
    checked: bool = True  # check-object looks for it in the object


# First mainline kernel of each feature (README, "Old kernels").
FEATURES = (
    Feature("jmp-ext", (4, 14), "jlt/jle/jslt/jsle jumps (-mcpu=v2)"),
    Feature("calls", (4, 16), "BPF-to-BPF function calls"),
    Feature("btf", (4, 18), "BTF (.BTF); func and line info (.BTF.ext) from 5.0 — libbpf drops what the kernel lacks",
            checked=False),
    Feature("v3", (5, 1), "32-bit jumps (JMP32) and ALU32 code (-mcpu=v3)"),
    Feature("large-programs", (5, 2), "programs over 4096 instructions (the limit becomes 1M processed)"),
    Feature("global-data", (5, 2), "global variables (.data, .rodata, .bss)"),
    Feature("loops", (5, 3), "bounded loops"),
    Feature("atomics", (5, 12), "atomic fetch-and-op, xchg, cmpxchg, and/or/xor (-mcpu=v3)"),
    Feature("kfuncs", (5, 13), "kfunc calls (most kfuncs for tc and XDP came later)"),
    Feature("callbacks", (5, 13), "callback functions (bpf_for_each_map_elem; bpf_loop from 5.17)"),
    Feature("v4", (6, 6), "sign-extending loads and moves, bswap, sdiv/smod, gotol (-mcpu=v4)"),
)
BY_KEY = {f.key: f for f in FEATURES}
# cpu level (bpf_insn.cpu_level) -> the feature that brings it
CPU_FEATURE = {2: "jmp-ext", 3: "v3", 4: "v4"}
MAX_INSNS_BEFORE_5_2 = 4096
# LLVM learnt -mcpu=v4 in 18; older libraries get v3 for a 6.6+ kernel.
V4_SINCE_LLVM = 18


def parse(text: str) -> tuple[int, int]:
    """`4.14`, `5.2`, `6.6.30`, `5.15.0-91-generic` -> (major, minor)."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:[.-].*)?", text.strip())
    if not m:
        raise UsageError(f"invalid --target-kernel '{text}' (expected a version such as 4.14 or 5.10)")
    version = (int(m.group(1)), int(m.group(2)))
    if version < OLDEST:
        raise UsageError(f"--target-kernel {text}: kernels before {OLDEST[0]}.{OLDEST[1]} have no eBPF")
    return version


def has(version: tuple[int, int], key: str) -> bool:
    return version >= BY_KEY[key].since


def cpu_level(version: tuple[int, int]) -> int:
    """The newest BPF CPU (1 to 4) the kernel runs."""
    return 4 if has(version, "v4") else 3 if has(version, "v3") else 2 if has(version, "jmp-ext") else 1


def cpu_for(version: tuple[int, int], llvm_major: int | None = None) -> str:
    """The -mcpu to generate code for: the kernel's newest, v3 at most for libLLVM older than 18."""
    level = cpu_level(version)
    if level == 4 and llvm_major is not None and llvm_major < V4_SINCE_LLVM:
        level = 3
    return f"v{level}"


def check_cpu(version: tuple[int, int]) -> str:
    """The instruction set check-object enforces for the kernel (whatever LLVM generates)."""
    return f"v{cpu_level(version)}"


@dataclass(frozen=True)
class Plan:
    """What a target kernel asks of a link: inline everything, unroll everything, which checks."""

    version: tuple[int, int]

    @property
    def text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def no_calls(self) -> bool:
        return not has(self.version, "calls")

    @property
    def no_loops(self) -> bool:
        return not has(self.version, "loops")


def plan(options) -> Plan | None:
    """The plan for `options.target_kernel`, or None when it is not set."""
    text = getattr(options, "target_kernel", None)
    return Plan(parse(text)) if text else None


def table_rows() -> list[tuple[str, str, str]]:
    """(kernel, feature, checked) rows for documentation and --help."""
    return [(f"{f.since[0]}.{f.since[1]}", f.what, "yes" if f.checked else "no") for f in FEATURES]


# --- what the flags add to the pipeline (pipeline_for) ----------------------------------

def inline_all(options) -> bool:
    """--ignore-inline-never, or a kernel without BPF-to-BPF calls."""
    p = plan(options)
    return options.ignore_inline_never or (p is not None and p.no_calls)


def unroll_all(options) -> bool:
    """--unroll-loops, or a kernel without bounded loops."""
    p = plan(options)
    return options.unroll_loops or (p is not None and p.no_loops)


def after_codegen(options) -> list:
    """report, then check-object when a flag promises something about the object, then kernel-verify.

    `--cpu generic` alone (rustc passes it on every link) adds no check: it is LLVM's default
    CPU, not a promise about an old kernel; `--cpu v1`/`v2` do."""
    p = plan(options)
    passes = []
    if getattr(options, "report", False):  # first: it reports on an object check-object refuses too
        from .passes.report import Report
        passes.append(Report())
    if p is not None:
        from .passes.check_object import CheckObject

        passes.append(CheckObject(no_calls=inline_all(options), no_loops=unroll_all(options),
                                  cpu=check_cpu(p.version), kernel=p.text))
    elif options.ignore_inline_never or options.unroll_loops or options.cpu in ("v1", "v2"):
        from .passes.check_object import CheckObject

        passes.append(CheckObject(no_calls=options.ignore_inline_never, no_loops=options.unroll_loops))
    if getattr(options, "verify", False):
        from .passes.kernel_verify import KernelVerify
        passes.append(KernelVerify())
    return passes
