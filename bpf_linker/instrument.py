"""Hooks that run between passes: module dumps, --print-before/after/changed, --time-passes."""

from __future__ import annotations

import logging
import os
import sys
import time

from .errors import BpfLinkerError
from .pipeline import Pipeline

log = logging.getLogger("bpf_linker")


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise BpfLinkerError(f"{path}: cannot write module dump: {e.strerror}") from None


class ModuleDumper:
    """--dump-module DIR: `pre-opt.ll` right before optimizing, `post-opt.ll` right before codegen."""

    def __init__(self, directory: str, pipeline: Pipeline):
        self.directory = directory
        names = [p.name for p in pipeline.passes]
        # Without an optimize pass, "pre-opt" is the module as linked.
        self.pre_point = ("before", "optimize") if "optimize" in names else ("after", "link")

    def _dump(self, name: str, module) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as e:
            raise BpfLinkerError(f"{self.directory}: cannot create dump directory: {e.strerror}") from None
        _write_text(os.path.join(self.directory, name), module.to_ir())

    def before(self, p, module, ctx) -> None:
        if self.pre_point == ("before", p.name):
            self._dump("pre-opt.ll", module)
        if p.name == "codegen":
            self._dump("post-opt.ll", module)

    def after(self, p, module, ctx) -> None:
        if self.pre_point == ("after", p.name):
            self._dump("pre-opt.ll", module)


class Printer:
    """--print-before/--print-after PASS (or `all`), --print-changed: IR to stderr, LLVM style."""

    def __init__(self, before=(), after=(), changed=False, stream=None):
        self.before_names, self.after_names, self.changed = set(before), set(after), changed
        self.stream = stream or sys.stderr
        self._last = None

    def _wanted(self, names, p) -> bool:
        return "all" in names or p.name in names

    def _print(self, banner: str, text: str) -> None:
        self.stream.write(f"; *** IR Dump {banner} ***\n{text}\n")

    def before(self, p, module, ctx) -> None:
        if self._wanted(self.before_names, p):
            self._print(f"Before {p.spec()}", module.to_ir())
        if self.changed and p.name != "unpack-archives":
            self._last = module.to_ir()

    def after(self, p, module, ctx) -> None:
        if self._wanted(self.after_names, p):
            self._print(f"After {p.spec()}", module.to_ir())
        elif self.changed and self._last is not None:
            text = module.to_ir()
            if text != self._last:
                self._print(f"After {p.spec()} (changed)", text)
            else:
                self.stream.write(f"; *** IR Dump After {p.spec()} omitted because no change ***\n")


class Timer:
    """--time-passes: wall time per pass, reported on stderr at the end."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.times: list[tuple[str, float]] = []
        self._start = 0.0

    def before(self, p, module, ctx) -> None:
        self._start = time.perf_counter()

    def after(self, p, module, ctx) -> None:
        self.times.append((p.spec(), time.perf_counter() - self._start))

    def report(self) -> None:
        total = sum(t for _, t in self.times) or 1e-9
        self.stream.write("===-- bpf-linker pass execution timing report --===\n")
        for name, t in self.times:
            self.stream.write(f"{t:10.4f}s {100 * t / total:5.1f}%  {name}\n")
        self.stream.write(f"{total:10.4f}s 100.0%  total\n")


def instrument_hooks(pipeline: Pipeline, options) -> list:
    """The hooks the options ask for, for Pipeline.run (a Timer reports at the end)."""
    hooks = []
    if options.dump_module:
        hooks.append(ModuleDumper(options.dump_module, pipeline))
    if options.print_before or options.print_after or options.print_changed:
        hooks.append(Printer(options.print_before, options.print_after, options.print_changed))
    if options.time_passes:
        hooks.append(Timer())  # last: innermost, so it times the pass and not the other hooks
    return hooks
