"""LinkOptions: everything that decides a link, built from flags or by API users."""

from __future__ import annotations

from dataclasses import dataclass

EMIT_KINDS = ("obj", "asm", "llvm-ir", "llvm-bc")
OPT_LEVELS = ("0", "1", "2", "3", "s", "z")
LOG_LEVELS = ("error", "warn", "info", "debug", "trace")
MEMORY_BUILTINS = ("memcpy", "memmove", "memset", "memcmp", "bcmp")


@dataclass(frozen=True)
class LinkOptions:
    """One link. Field names follow the upstream flags (REFERENCE.md section 2)."""

    inputs: tuple[str, ...]
    output: str
    emit: str = "obj"
    opt_level: str = "2"
    target: str | None = None
    # None: what the inputs were compiled for (clang's -mcpu), else generic; see LinkContext.cpu.
    cpu: str | None = None
    cpu_features: str | None = None
    export: tuple[str, ...] = ()
    # Paths of --export-symbols files; their lines join `export` at link time.
    export_symbols: tuple[str, ...] = ()
    library_paths: tuple[str, ...] = ()
    unroll_loops: bool = False
    ignore_inline_never: bool = False
    disable_expand_memcpy_in_order: bool = False
    disable_memory_builtins: bool = False
    # None: keep BTF from C-family debug info, strip Rust-only debug info; True: --btf; False: --no-btf.
    btf: bool | None = None
    allow_bpf_trap: bool = False
    llvm_args: tuple[str, ...] = ()
    dump_module: str | None = None
    fatal_errors: bool = True
    # Explicit libLLVM path (--llvm); None means discovery (BPF_LINKER_LLVM, rustc, system).
    llvm: str | None = None
    # A pipeline string (-p/--passes) replacing the one built from the flags.
    passes: str | None = None
    pass_plugins: tuple[str, ...] = ()
    print_after: tuple[str, ...] = ()
    print_before: tuple[str, ...] = ()
    # --print-changed[=MODE]: False, True (full IR), or "quiet", "diff", "diff-quiet" (bpf_linker.instrument).
    print_changed: bool | str = False
    time_passes: bool = False
    # --target-kernel X.Y: that kernel's CPU, inlining and unrolling as needed, and check-object.
    target_kernel: str | None = None
    # --verify: load every program of the output into the running kernel (kernel-verify pass).
    verify: bool = False
    # --report: per-program instruction counts, stack, calls, loops and each input's share.
    report: bool = False

    # --dump-dir DIR: the module after every pass (NN-pass.ll) and each input as parsed.
    dump_dir: str | None = None
    # -M (`-`: standard output) / --print-map FILE: the link map; -y/--trace-symbol SYM.
    print_map: str | None = None
    trace_symbols: tuple[str, ...] = ()
    # --defsym NAME=VALUE: integer globals made constants before optimization (passes/defsym.py).
    defsym: tuple[str, ...] = ()

    def __post_init__(self):
        from .errors import UsageError

        if self.emit not in EMIT_KINDS:
            raise UsageError(f"invalid --emit '{self.emit}' (expected one of {', '.join(EMIT_KINDS)})")
        if self.opt_level not in OPT_LEVELS:
            raise UsageError(f"invalid -O level '{self.opt_level}' (expected one of {', '.join(OPT_LEVELS)})")
        if self.target is not None and self.target not in ("bpf", "bpfel", "bpfeb") and not self.target.startswith(("bpfel-", "bpfeb-", "bpf-")):
            raise UsageError(f"invalid --target '{self.target}' (expected bpf, bpfel or bpfeb)")
        if self.target_kernel is not None:
            from .target_kernel import parse
            parse(self.target_kernel)
        if self.print_changed:
            from .instrument import print_changed_mode
            print_changed_mode(self.print_changed)
        if self.passes is not None and not self.passes.strip():
            raise UsageError("-p/--passes: empty pipeline (write pass names, e.g. what --print-pipeline prints)")
        if self.defsym:
            from .passes.defsym import parse_assignment
            for item in (self.defsym,) if isinstance(self.defsym, str) else self.defsym:
                parse_assignment(item)
        for name in ("inputs", "export", "export_symbols", "library_paths", "llvm_args",
                     "pass_plugins", "print_after", "print_before", "trace_symbols", "defsym"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, tuple):
                object.__setattr__(self, name, tuple([value] if isinstance(value, str) else value))
