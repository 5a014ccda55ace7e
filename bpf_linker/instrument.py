"""Hooks between passes (dumps, --print-*, --time-passes, link map) and LLVM's own instrumentation.

LLVM's reports from `--llvm-args` reach the user's stderr, as they would from `opt`/`llc`:
- `-print-after=...`, `-print-before=...`, `-print-changed`: LLVM prints while its passes run;
- `-time-passes`, `-stats`: LLVM prints them when its timers and counters are destroyed,
  which for the code generator's (legacy pass manager) and, from LLVM 20, for every timer
  is at process exit. The link's worker process ends with `os._exit()` (no static
  destructors), so nothing came out. The worker now calls `LLVMShutdown()` before it
  exits, with LLVM's info output (`-info-output-file`) sent to a file of ours, and copies
  that file to stderr: `--time-passes` prints it under the linker's own table. A libLLVM
  built without statistics (Debian's, rustc's) collects none: `-stats` then says so.
- `-debug-pass-manager` is `opt`'s flag, not libLLVM's: it is taken out of the LLVM
  options and turns on LLVMRunPasses' debug logging instead.
Run in process (`BPF_LINKER_IN_PROCESS=1`), LLVM prints its exit-time reports when that
process exits.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sys
import time

from .errors import BpfLinkerError, UsageError
from .pipeline import Pipeline

log = logging.getLogger("bpf_linker")

PRINT_CHANGED_MODES = ("full", "quiet", "diff", "diff-quiet")
# LLVM options whose output LLVM prints at exit (when its static timers and counters go).
EXIT_REPORT_OPTIONS = ("time-passes", "time-passes-per-run", "stats", "stats-json", "track-memory")
DEBUG_PASS_MANAGER = "debug-pass-manager"
_DUMP_FILE = re.compile(r"^\d+-.*\.ll$")


def _write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise BpfLinkerError(f"{path}: cannot write module dump: {e.strerror}") from None


def _make_dir(directory: str, what: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise BpfLinkerError(f"{directory}: cannot create {what}: {e.strerror}") from None


def check_pass_names(pipeline: Pipeline, options) -> None:
    """--print-before/--print-after must name passes of the pipeline (or `all`)."""
    import difflib

    names = [p.name for p in pipeline.passes]
    for flag, wanted in (("--print-before", options.print_before), ("--print-after", options.print_after)):
        for name in wanted:
            if name == "all" or name in names:
                continue
            close = difflib.get_close_matches(name, list(dict.fromkeys(names)), n=3, cutoff=0.5)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise UsageError(f"{flag}: no pass '{name}' in the pipeline ({hint}passes: {','.join(names)}, or all)")


def print_changed_mode(value) -> str | None:
    """LinkOptions.print_changed as a mode: None (off), full, quiet, diff or diff-quiet."""
    if value in (False, None, ""):
        return None
    if value is True:
        return "full"
    if value not in PRINT_CHANGED_MODES:
        raise UsageError(f"--print-changed: unknown mode '{value}' (expected {', '.join(PRINT_CHANGED_MODES)})")
    return value


class ModuleDumper:
    """--dump-module DIR: `pre-opt.ll` right before optimizing, `post-opt.ll` right before codegen."""

    def __init__(self, directory: str, pipeline: Pipeline):
        self.directory = directory
        names = [p.name for p in pipeline.passes]
        # Without an optimize pass, "pre-opt" is the module as linked.
        self.pre_point = ("before", "optimize") if "optimize" in names else ("after", "link")

    def _dump(self, name: str, module) -> None:
        _make_dir(self.directory, "dump directory")
        _write_text(os.path.join(self.directory, name), module.to_ir())

    def before(self, p, module, ctx) -> None:
        if self.pre_point == ("before", p.name):
            self._dump("pre-opt.ll", module)
        if p.name == "codegen":
            self._dump("post-opt.ll", module)

    def after(self, p, module, ctx) -> None:
        if self.pre_point == ("after", p.name):
            self._dump("pre-opt.ll", module)


def _safe_name(name: str) -> str:
    """An input's name as a file name: `dir/libx.a(y.bc)` -> `libx.a_y.bc_`."""
    outer, paren, members = name.partition("(")
    text = os.path.basename(outer) + paren + members
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:120] or "input"


class DumpDir:
    """--dump-dir DIR: `NN-PASS.ll` after every pass, numbered in pipeline order, and
    `00-inputK-NAME.ll` for each input as parsed, so `diff DIR/03-internalize.ll DIR/04-optimize.ll`
    shows what a pass did. Dumps of an earlier run (`NN-*.ll`) are removed first."""

    def __init__(self, directory: str, pipeline: Pipeline):
        self.directory = directory
        self.width = max(2, len(str(len(pipeline.passes))))
        self.index = 0
        self.inputs = 0
        self.started = False

    def _start(self) -> None:
        if self.started:
            return
        self.started = True
        _make_dir(self.directory, "dump directory")
        for entry in os.listdir(self.directory):
            if _DUMP_FILE.match(entry):
                try:
                    os.unlink(os.path.join(self.directory, entry))
                except OSError:
                    pass

    def _write(self, name: str, module) -> None:
        self._start()
        _write_text(os.path.join(self.directory, name), module.to_ir())

    def input_parsed(self, obj, module, ctx) -> None:
        self.inputs += 1
        self._write(f"{0:0{self.width}d}-input{self.inputs}-{_safe_name(obj.name)}.ll", module)

    def before(self, p, module, ctx) -> None:
        self._start()

    def after(self, p, module, ctx) -> None:
        self.index += 1
        self._write(f"{self.index:0{self.width}d}-{p.name}.ll", module)


class Printer:
    """--print-before/--print-after PASS (or `all`), --print-changed[=quiet|diff|diff-quiet]:
    IR on stderr between passes, in LLVM's words. `diff` prints a unified diff against the
    module before the pass; the quiet modes say nothing about passes that changed nothing."""

    def __init__(self, before=(), after=(), changed=False, stream=None):
        self.before_names, self.after_names = set(before), set(after)
        self.changed = print_changed_mode(changed)
        self.stream = stream or sys.stderr
        self._last = None

    def _wanted(self, names, p) -> bool:
        return "all" in names or p.name in names

    def _print(self, banner: str, text: str) -> None:
        self.stream.write(f"; *** IR Dump {banner} ***\n{text}\n")

    def before(self, p, module, ctx) -> None:
        if self._wanted(self.before_names, p):
            self._print(f"Before {p.spec()}", module.to_ir())
        if self.changed:
            self._last = module.to_ir()

    def after(self, p, module, ctx) -> None:
        if self._wanted(self.after_names, p):
            self._print(f"After {p.spec()}", module.to_ir())
        if not self.changed or self._last is None:
            return
        text = module.to_ir()
        if text == self._last:
            if not self.changed.endswith("quiet"):
                self.stream.write(f"; *** IR Dump After {p.spec()} omitted because no change ***\n")
        elif self.changed.startswith("diff"):
            import difflib

            diff = difflib.unified_diff(self._last.splitlines(), text.splitlines(), f"before {p.name}",
                                        f"after {p.name}", lineterm="", n=2)
            self._print(f"After {p.spec()} (diff)", "\n".join(diff))
        elif not self._wanted(self.after_names, p):  # already printed whole
            self._print(f"After {p.spec()} (changed)", text)


class Timer:
    """--time-passes: wall time per pass, reported on stderr at the end, LLVM's breakdown under it."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.times: list[tuple[str, float]] = []
        self._start = 0.0

    def before(self, p, module, ctx) -> None:
        self._start = time.perf_counter()

    def after(self, p, module, ctx) -> None:
        self.times.append((p.spec(), time.perf_counter() - self._start))

    def report(self, llvm_text: str = "") -> None:
        total = sum(t for _, t in self.times) or 1e-9
        self.stream.write("===-- bpf-linker pass execution timing report --===\n")
        for name, t in self.times:
            self.stream.write(f"{t:10.4f}s {100 * t / total:5.1f}%  {name}\n")
        self.stream.write(f"{total:10.4f}s 100.0%  total\n")
        if llvm_text.strip():
            self.stream.write("===-- LLVM's own timing of the passes inside optimize and codegen --===\n")
            self.stream.write(llvm_text if llvm_text.endswith("\n") else llvm_text + "\n")
        self.stream.flush()


def instrument_hooks(pipeline: Pipeline, options) -> list:
    """The hooks the options ask for, for Pipeline.run (a Timer reports at the end)."""
    hooks: list = []
    if options.dump_module:
        hooks.append(ModuleDumper(options.dump_module, pipeline))
    if getattr(options, "dump_dir", None):
        hooks.append(DumpDir(options.dump_dir, pipeline))
    if getattr(options, "print_map", None) or getattr(options, "trace_symbols", ()):
        from .link_map import LinkMap

        hooks.append(LinkMap(options.print_map, tuple(getattr(options, "trace_symbols", ()))))
    if options.print_before or options.print_after or options.print_changed:
        hooks.append(Printer(options.print_before, options.print_after, options.print_changed))
    if options.time_passes:
        hooks.append(Timer())  # last: innermost, so it times the pass and not the other hooks
    return hooks


# --- LLVM's own instrumentation ------------------------------------------------------


def _llvm_option_name(arg: str) -> str:
    return arg.lstrip("-").split("=", 1)[0]


def split_llvm_args(args) -> tuple[list[str], bool]:
    """(the LLVM options for LLVMParseCommandLineOptions, whether -debug-pass-manager was asked for)."""
    rest, debug = [], False
    for arg in args:
        if arg.startswith("-") and _llvm_option_name(arg) == DEBUG_PASS_MANAGER:
            value = arg.split("=", 1)[1].lower() if "=" in arg else "true"
            debug = value not in ("false", "0", "no")
        else:
            rest.append(arg)
    return rest, debug


class Session:
    """Instrumentation of one link: the hooks, and LLVM's own reports (see the module doc).

    `options` is the LinkOptions without the LLVM options the linker handles itself,
    `llvm_args` what to give LLVM after the linker's own options, `finish(library)` ends it.
    """

    def __init__(self, pipeline: Pipeline, options, *, isolated: bool = False):
        check_pass_names(pipeline, options)
        user_args, self.debug_pass_manager = split_llvm_args(options.llvm_args)
        self.options = dataclasses.replace(options, llvm_args=tuple(user_args)) \
            if len(user_args) != len(options.llvm_args) else options
        self.hooks = instrument_hooks(pipeline, options)
        names = {_llvm_option_name(a) for a in user_args if a.startswith("-")}
        self.wants_stats = bool(names & {"stats", "stats-json"})
        extra = []
        if options.time_passes and "time-passes" not in names:
            extra.append("-time-passes")
        self.exit_reports = isolated and bool(extra or names & set(EXIT_REPORT_OPTIONS))
        self.info_file = None
        if self.exit_reports and "info-output-file" not in names:
            import tempfile

            fd, self.info_file = tempfile.mkstemp(prefix="bpf-linker-llvm-info-", suffix=".txt")
            os.close(fd)
            extra.append(f"-info-output-file={self.info_file}")
        self.llvm_args = user_args + extra

    def start(self) -> None:
        from .bindings import passes

        passes.debug_pass_manager = self.debug_pass_manager

    def finish(self, library) -> None:
        """Flush LLVM's exit-time reports (in the worker), then print ours and LLVM's."""
        from .bindings import passes

        passes.debug_pass_manager = False
        if self.exit_reports:
            passes.shutdown(library)  # LLVM prints -time-passes/-stats reports now
        llvm_text = ""
        if self.info_file:
            try:
                with open(self.info_file, encoding="utf-8", errors="replace") as f:
                    llvm_text = f.read()
            except OSError:
                pass
            finally:
                try:
                    os.unlink(self.info_file)
                except OSError:
                    pass
        timer = next((h for h in self.hooks if isinstance(h, Timer)), None)
        if timer is not None:
            timer.report(llvm_text)
        elif llvm_text:
            sys.stderr.write(llvm_text if llvm_text.endswith("\n") else llvm_text + "\n")
            sys.stderr.flush()
        if self.wants_stats and self.info_file and "Statistics Collected" not in llvm_text:
            version = ".".join(map(str, library.version))
            log.warning("--llvm-args -stats: LLVM %s collected no statistics (this libLLVM was built without "
                        "LLVM_ENABLE_STATS, as release builds are)", version)
