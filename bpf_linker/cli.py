"""The `bpf-linker` command line: upstream's flags, quirks included, plus the pipeline ones.

`build_parser()` is pure (argparse-manpage builds the man page from it);
`parse_command()`/`parse_options()` turn argv into LinkOptions without running
anything; `main()` parses, sets up logging, runs, and maps errors to exit statuses:
0 success, 1 a link error (`bpf-linker: error: ...`), 2 a command-line error,
130 interrupted.

Upstream quirks kept on purpose (REFERENCE.md section 2): inputs may be interleaved
with flags; the first `--emit` wins but the last `-O` wins; `--export` and
`--llvm-args` are comma-split and repeatable; `--fatal-errors` takes a value; `-L`
(also `-LDIR`) and `--debug` are accepted for rustc and otherwise ignored. Like
clap, a value that starts with `-` must be attached: `--llvm-args=-foo`.

Additions: `@FILE` arguments are response files (GNU ld syntax, which is what rustc
writes when the command line is too long; a missing file stays a literal argument),
and without `--log-level`, a plain level in RUST_LOG (`debug`, or
`bpf_linker=debug`) is honoured as upstream's tracing EnvFilter does.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BpfLinkerError, UsageError
from .logsetup import LogConfig, configure_logging
from .options import EMIT_KINDS, LOG_LEVELS, OPT_LEVELS, LinkOptions
from .reading import TooLarge, read_bounded_text

MAX_RESPONSE_FILE = 16 << 20

PROG = "bpf-linker"
_PRINT_CHANGED_MODE = "--print-changed-mode"

logger = logging.getLogger("bpf_linker")


class CommandLineError(UsageError):
    """The arguments do not parse; main() says so in one line and exits with 1."""

    exit_status = 1

    def __init__(self, message: str, usage: str = ""):
        super().__init__(message)
        self.usage = usage


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, without breaking lines inside words like --no-btf (help and the man page)."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises CommandLineError instead of printing and exiting."""

    def error(self, message: str):
        raise CommandLineError(message, self.format_usage())


# --- value parsers (messages follow upstream's) ------------------------------------


def _emit_kind(value: str) -> str:
    if value not in EMIT_KINDS:
        raise argparse.ArgumentTypeError(
            f"unknown emission type: `{value}` - expected one of: `llvm-bc`, `asm`, `llvm-ir`, `obj`"
        )
    return value


def _opt_level(value: str) -> str:
    if value not in OPT_LEVELS:
        raise argparse.ArgumentTypeError(
            f"optimization level needs to be between 0-3, s or z (instead was `{value}`)"
        )
    return value


def _bool_value(value: str) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise argparse.ArgumentTypeError(f"invalid value '{value}' (expected true or false)")


_NUMERIC_LEVELS = {"1": "error", "2": "warn", "3": "info", "4": "debug", "5": "trace"}


def _log_level(value: str) -> str:
    # tracing's Level::from_str: case-insensitive names, or 1 (error) to 5 (trace).
    lowered = value.lower()
    if lowered in LOG_LEVELS:
        return lowered
    if lowered in _NUMERIC_LEVELS:
        return _NUMERIC_LEVELS[lowered]
    raise argparse.ArgumentTypeError(f"invalid log level '{value}' (expected one of {', '.join(LOG_LEVELS)})")


# --- the parser -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with nothing run or read (argparse-manpage uses it)."""
    parser = _ArgumentParser(
        prog=PROG,
        usage="%(prog)s [OPTIONS] -o OUTPUT INPUTS...",
        description=(
            "Link LLVM bitcode (from C or Rust) into one BPF object file. "
            "Works as rustc's linker: -C linker=bpf-linker."
        ),
        epilog=(
            "Arguments of the form @FILE are read from FILE (one or more per line, "
            "GNU ld quoting). The pass pipeline the flags select is shown by "
            "--print-pipeline and can be replaced with -p. "
            "Environment: BPF_LINKER_LLVM (the libLLVM), BPF_LINKER_LOG=LEVEL[:FILE] (logging when the "
            "flags cannot be changed), BPF_LINKER_IN_PROCESS=1 (no worker process, for debuggers). "
            "Exit status: 0 success, 1 error (one line), 128+N stopped by signal N."
        ),
        allow_abbrev=False,
        add_help=False,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUTS",
        help="input files: bitcode, LLVM IR, objects with embedded bitcode, "
             "static libraries (.a, .rlib)",
    )

    io = parser.add_argument_group("inputs and outputs")
    io.add_argument("-h", "--help", action="help", help="show this help and exit")
    io.add_argument(
        "-V", "--version", action="store_true",
        help="print the version of bpf-linker and of the libLLVM it loads, and exit",
    )
    io.add_argument("-o", "--output", metavar="OUTPUT", help="write the output to OUTPUT (- for standard output)")
    io.add_argument(
        "--emit", action="append", type=_emit_kind, metavar="KIND",
        help="output kind: obj (default), asm, llvm-ir or llvm-bc; if repeated, the first wins",
    )
    io.add_argument(
        "--target", metavar="TRIPLE",
        help="target triple: bpf, bpfel or bpfeb (default: the first input's if it is BPF, else bpf)",
    )

    cg = parser.add_argument_group("code generation")
    cg.add_argument(
        "-O", dest="opt_level", action="append", type=_opt_level, metavar="LEVEL",
        help="optimization level: 0, 1, 2 (default), 3, s or z; 0 is treated as 1; "
             "if repeated, the last wins",
    )
    cg.add_argument(
        "--cpu", default=None, metavar="CPU",
        help="target BPF processor: generic, probe, v1, v2, v3, or any other the loaded LLVM knows "
             "(v4 from LLVM 18); default: the CPU the inputs were compiled for (clang -mcpu), "
             "the oldest if they differ, else generic",
    )
    cg.add_argument(
        "--cpu-features", default=None, metavar="FEATURES",
        help="enable (+f) or disable (-f) CPU features, comma separated, "
             "e.g. --cpu-features=+alu32,-dwarfris",
    )
    cg.add_argument(
        "--btf", action=argparse.BooleanOptionalAction, default=None,
        help="keep debug info and emit kernel-compatible BTF (--no-btf: strip debug info; "
             "default: BTF from C debug info, Rust-only debug info stripped as upstream does)",
    )
    cg.add_argument(
        "--disable-expand-memcpy-in-order", action="store_true",
        help="do not pass --bpf-expand-memcpy-in-order to LLVM",
    )
    cg.add_argument(
        "--allow-bpf-trap", action="store_true",
        help="let LLVM turn unreachable into __bpf_trap calls "
             "(do not pass --bpf-disable-trap-unreachable)",
    )
    cg.add_argument(
        "--fatal-errors", type=_bool_value, default=True, metavar="BOOL",
        help="fail when LLVM reports an error diagnostic: true (default) or false",
    )

    ex = parser.add_argument_group("exports")
    ex.add_argument(
        "--export", action="append", default=[], metavar="SYMBOLS",
        help="keep these symbols (comma separated) external; repeatable",
    )
    ex.add_argument(
        "--export-symbols", action="append", default=[], metavar="FILE",
        help="keep the symbols listed in FILE (one per line) external; repeatable",
    )
    ex.add_argument(
        "--disable-memory-builtins", action="store_true",
        help="do not export memcpy, memmove, memset, memcmp and bcmp",
    )

    old = parser.add_argument_group("old kernels")
    old.add_argument(
        "--target-kernel", metavar="X.Y",
        help="link for Linux X.Y: its CPU (unless --cpu is given), --ignore-inline-never before 4.16, "
             "--unroll-loops before 5.3, and fail if the object keeps what that kernel lacks",
    )
    old.add_argument(
        "--unroll-loops", action="store_true",
        help="try hard to unroll loops (for kernels that do not support loops)",
    )
    old.add_argument(
        "--ignore-inline-never", action="store_true",
        help="ignore noinline/#[inline(never)] (for kernels that do not support function calls)",
    )
    old.add_argument(
        "--verify", action="store_true",
        help="load every program of the output into the running kernel (libbpf), unload it and print "
             "a table; exit 1 if the verifier rejects one, 77 if nothing can be loaded here",
    )
    old.add_argument(
        "--report", action="store_true",
        help="print per program its instructions, stack depth, calls and loops left, and each input's share",
    )

    dbg = parser.add_argument_group("debugging and passes")
    dbg.add_argument(
        "--print-pipeline", action="store_true",
        help="print the pass pipeline the other flags select, and exit",
    )
    dbg.add_argument(
        "-p", "--passes", metavar="PIPELINE",
        help="run PIPELINE (written as --print-pipeline prints it) instead of the one the flags build",
    )
    dbg.add_argument(
        "--load-pass-plugin", dest="pass_plugins", action="append", default=[], metavar="FILE.py",
        help="load the passes a Python file lists in PASSES (or an installed plugin, by its entry-point "
             "name) and run each where its class says (after = / before = a pass); repeatable",
    )
    dbg.add_argument(
        "--list-passes", action="store_true",
        help="list every pass (built-in, installed, --load-pass-plugin) with its options, default "
             "position and provider, and exit",
    )
    dbg.add_argument(
        "--print-before", action="append", default=[], metavar="PASSES",
        help="print the module before these passes (comma separated); repeatable",
    )
    dbg.add_argument(
        "--print-after", action="append", default=[], metavar="PASSES",
        help="print the module after these passes (comma separated); repeatable",
    )
    dbg.add_argument(
        "--print-changed", action="store_true",
        help="print the module after every pass that changed it; --print-changed=diff prints a unified "
             "diff instead, =quiet and =diff-quiet leave out the passes that changed nothing",
    )
    dbg.add_argument(_PRINT_CHANGED_MODE, dest="print_changed_mode", help=argparse.SUPPRESS)
    dbg.add_argument(
        "--time-passes", action="store_true",
        help="report the time each pass takes, and LLVM's own timing of the passes inside optimize and codegen",
    )
    dbg.add_argument(
        "--dump-dir", metavar="DIR",
        help="write the module after every pass to DIR/NN-PASS.ll (numbered in pipeline order) and each "
             "input as parsed to DIR/00-inputK-NAME.ll",
    )
    dbg.add_argument(
        "--dump-module", metavar="DIR",
        help="write the module after linking (pre-opt.ll) and after optimizing (post-opt.ll) to DIR",
    )
    dbg.add_argument(
        "-M", dest="print_map_stdout", action="store_true",
        help="print a link map on standard output (as GNU ld -M): symbols with section, size, binding "
             "and defining input; internalized and removed symbols; instructions per program",
    )
    dbg.add_argument("--print-map", metavar="FILE", help="write the link map to FILE (- for standard output)")
    dbg.add_argument(
        "-y", "--trace-symbol", dest="trace_symbols", action="append", default=[], metavar="SYM",
        help="print every input that defines or references SYM; repeatable",
    )
    dbg.add_argument(
        "--defsym", action="append", default=[], metavar="NAME=VALUE",
        help="give the integer global NAME (a const volatile knob) the value VALUE and fold its loads "
             "before optimizing; repeatable",
    )
    dbg.add_argument(
        "--log-level", type=_log_level, metavar="LEVEL",
        help="log level: error, warn (default), info, debug (adds tracebacks) or trace",
    )
    dbg.add_argument("--log-file", metavar="PATH", help="also append log messages to PATH")

    llvm = parser.add_argument_group("LLVM")
    llvm.add_argument(
        "--llvm", metavar="PATH",
        help="libLLVM shared library to load (default: $BPF_LINKER_LLVM, else the library found (the "
             "rustc on PATH's, the system's) closest to the LLVM that produced the inputs)",
    )
    llvm.add_argument(
        "--llvm-args", action="append", default=[], metavar="ARGS",
        help="extra LLVM command-line options, comma separated, after the linker's own; "
             "repeatable; attach options that start with '-': --llvm-args=-foo",
    )

    rs = parser.add_argument_group("accepted for rustc and upstream compatibility")
    rs.add_argument(
        "-L", dest="library_paths", action="append", default=[], metavar="DIR",
        help="library search directory (rustc passes it; not used)",
    )
    rs.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)  # rustc passes it

    return parser


# --- parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """What a command line asks for: `action` is "link", "version" or "print-pipeline"."""

    action: str
    options: LinkOptions
    log: LogConfig


def _split_commas(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(item for value in values for item in value.split(",") if item)


LOG_ENV_VAR = "BPF_LINKER_LOG"


def _env_log(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """BPF_LINKER_LOG=LEVEL[:FILE], for builds whose linker flags cannot be changed (rustc calls us)."""
    spec = environ.get(LOG_ENV_VAR, "").strip()
    if not spec:
        return None, None
    level, _, path = spec.partition(":")
    level = level.strip().lower() or None
    if level is not None and level not in LOG_LEVELS:
        raise UsageError(f"{LOG_ENV_VAR}: invalid log level '{level}' (expected one of {', '.join(LOG_LEVELS)}, "
                         "optionally followed by :FILE)")
    return level, path or None


def _rust_log_level(environ: Mapping[str, str]) -> str | None:
    """The level RUST_LOG gives the linker, if it is a plain one ("debug", "bpf_linker=info")."""
    spec = environ.get("RUST_LOG", "").strip()
    default = specific = None
    for directive in spec.split(","):
        directive = directive.strip()
        target, sep, level = directive.rpartition("=")
        level = level.lower()
        if level == "off":
            level = "error"
        if level not in LOG_LEVELS:
            continue
        if not sep:
            default = level
        elif target in ("bpf_linker", "bpf-linker"):
            specific = level
    return specific or default


def _parse_response_file(text: str) -> list[str]:
    """Split a response file like libiberty's buildargv (GNU ld's @FILE)."""
    args: list[str] = []
    current: list[str] = []
    in_arg = squote = dquote = escape = False
    for ch in text:
        if escape:
            current.append(ch)
            escape = False
        elif ch == "\\":
            escape = in_arg = True
        elif squote:
            if ch == "'":
                squote = False
            else:
                current.append(ch)
        elif dquote:
            if ch == '"':
                dquote = False
            else:
                current.append(ch)
        elif ch.isspace():
            if in_arg:
                args.append("".join(current))
                current, in_arg = [], False
        elif ch == "'":
            squote = in_arg = True
        elif ch == '"':
            dquote = in_arg = True
        else:
            current.append(ch)
            in_arg = True
    if in_arg:
        args.append("".join(current))
    return args


def expand_response_files(argv: Sequence[str], _depth: int = 0) -> list[str]:
    """Replace each `@FILE` argument naming a readable file with the arguments in it."""
    out: list[str] = []
    for arg in argv:
        if arg.startswith("@") and len(arg) > 1:
            try:
                data = read_bounded_text(arg[1:], MAX_RESPONSE_FILE, "response file")
            except OSError as e:
                if e.errno:  # as GNU ld: an unreadable @FILE is a literal argument
                    out.append(arg)
                    continue
                raise CommandLineError(f"response file {arg[1:]}: {e.strerror}") from None
            except TooLarge as e:
                raise CommandLineError(f"response file {arg[1:]}: {e}") from None
            except ValueError as e:
                raise CommandLineError(str(e)) from None
            if _depth >= 32:
                raise CommandLineError(f"response file '{arg[1:]}': too deeply nested")
            out.extend(expand_response_files(_parse_response_file(data), _depth + 1))
        else:
            out.append(arg)
    return out


def parse_command(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Command:
    """Parse argv (without the program name). Runs nothing and reads no input files.

    Raises CommandLineError for arguments that do not parse (exit status 2), UsageError
    for values LinkOptions rejects, and SystemExit(0) after printing --help.
    """
    environ = os.environ if environ is None else environ
    parser = build_parser()
    argv = expand_response_files(argv)
    # Everything after `--` is an input. Split it off by hand: argparse's intermixed
    # parsing loses track of `--`.
    trailing: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, trailing = argv[:cut], argv[cut + 1:]
    # --print-changed takes an optional value only attached (=diff): never the next input.
    argv = [_PRINT_CHANGED_MODE + arg[len("--print-changed"):] if arg.startswith("--print-changed=") else arg
            for arg in argv]
    args = parser.parse_intermixed_args(argv)
    args.inputs = [*args.inputs, *trailing]

    if args.version:
        action = "version"
    elif args.print_pipeline:
        action = "print-pipeline"
    elif args.list_passes:
        action = "list-passes"
    else:
        action = "link"
        missing = []
        if args.output is None:
            missing.append("-o/--output")
        elif args.output == "":
            parser.error("-o/--output: empty path (use - for standard output)")
        if not args.inputs:
            missing.append("INPUTS")
        if args.output == "-" and (args.print_map_stdout or args.print_map == "-"):
            parser.error("-M (or --print-map -) and -o - both write to standard output; "
                         "write the map to a file with --print-map FILE")
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)}")

    options = LinkOptions(
        inputs=tuple(args.inputs),
        output=args.output if args.output is not None else "",
        emit=args.emit[0] if args.emit else "obj",  # upstream: the first --emit wins
        opt_level=args.opt_level[-1] if args.opt_level else "2",  # ... and the last -O
        target=args.target,
        cpu=args.cpu,
        cpu_features=args.cpu_features,
        export=_split_commas(args.export),
        export_symbols=tuple(args.export_symbols),
        library_paths=tuple(args.library_paths),
        unroll_loops=args.unroll_loops,
        ignore_inline_never=args.ignore_inline_never,
        disable_expand_memcpy_in_order=args.disable_expand_memcpy_in_order,
        disable_memory_builtins=args.disable_memory_builtins,
        btf=args.btf,
        allow_bpf_trap=args.allow_bpf_trap,
        llvm_args=_split_commas(args.llvm_args),
        dump_module=args.dump_module,
        fatal_errors=args.fatal_errors,
        llvm=args.llvm,
        passes=args.passes,
        pass_plugins=tuple(args.pass_plugins),
        print_after=_split_commas(args.print_after),
        print_before=_split_commas(args.print_before),
        print_changed=args.print_changed_mode or args.print_changed,
        time_passes=args.time_passes,
        dump_dir=args.dump_dir,
        print_map="-" if args.print_map_stdout else args.print_map,
        trace_symbols=tuple(args.trace_symbols),
        defsym=tuple(args.defsym),
        target_kernel=args.target_kernel,
        verify=args.verify,
        report=args.report,
    )
    env_level, env_file = _env_log(environ)
    level = args.log_level or env_level or _rust_log_level(environ) or "warn"
    return Command(action, options, LogConfig(level=level, file=args.log_file or env_file))


def parse_options(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[LinkOptions, LogConfig]:
    """The LinkOptions and LogConfig a command line gives; see parse_command()."""
    command = parse_command(argv, environ)
    return command.options, command.log


# --- running ----------------------------------------------------------------------------


def package_version() -> str:
    """This package's version: installed metadata, else the checkout's pyproject.toml."""
    from importlib import metadata

    try:
        return metadata.version("bpf-linker")
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else "unknown"


def _print_version(options: LinkOptions) -> None:
    print(f"{PROG} {package_version()}", flush=True)
    from .bindings import load_llvm

    llvm = load_llvm(options.llvm)
    source = getattr(llvm, "source", "")
    found = f", found via {source}" if source else ""
    print(f"LLVM {'.'.join(str(part) for part in llvm.version)} ({llvm.path}{found})")


def _run(command: Command) -> None:
    if command.action == "version":
        _print_version(command.options)
    elif command.action == "list-passes":
        from .registry import describe_passes

        print(describe_passes(command.options), end="")
    elif command.action == "print-pipeline":
        from .driver import build_pipeline

        print(build_pipeline(command.options).spec())
    else:
        from .driver import link
        from .passes.report import write_reports

        stream = sys.stderr if command.options.output == "-" else sys.stdout  # -o -: the object is on stdout
        try:
            result = link(command.options)
        except BpfLinkerError as error:  # --report/--verify tables of a failed link still print
            write_reports(getattr(error, "outputs", None) or {}, stream)
            raise
        write_reports(getattr(result, "outputs", None) or {}, stream)


def _describe_os_error(error: OSError) -> str:
    if error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return str(error)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (stop the worker, remove temporary files)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


EXIT_ERROR = 1
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def one_line(text: object) -> str:
    """Control characters (a newline in a file name) escaped, so an error stays one line."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def _catch_stop_signals():
    """Turn SIGTERM/SIGHUP into Terminated while a command runs; returns the undo function."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    saved = {}
    for sig in _STOP_SIGNALS:
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            saved[sig] = signal.signal(sig, _raise_terminated)

    def undo():
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    return undo


def main(argv: Sequence[str] | None = None) -> int:
    """Run `bpf-linker` with argv (default sys.argv[1:]); returns the exit status.

    0: success; 1: any error (command line, inputs, symbols, LLVM), reported in one line, as
    GNU ld does; 128 + N: stopped by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    undo_signals = _catch_stop_signals()
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: error: interrupted\n")
        return 128 + signal.SIGINT
    except Terminated as stop:
        sys.stderr.write(f"{PROG}: error: stopped by {signal.Signals(stop.signum).name}\n")
        return 128 + stop.signum
    finally:
        undo_signals()


def _main(argv: list[str]) -> int:
    try:
        command = parse_command(argv)
    except CommandLineError as error:
        sys.stderr.write(f"{PROG}: error: {one_line(error)} (see {PROG} --help)\n")
        return EXIT_ERROR
    except BpfLinkerError as error:
        sys.stderr.write(f"{PROG}: error: {one_line(error)}\n")
        return EXIT_ERROR
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else EXIT_ERROR)

    undo_logging = configure_logging(command.log)
    try:
        logger.info("command line: %s", one_line(shlex.join([PROG, *argv])))
        try:
            _run(command)
        except BpfLinkerError as error:
            logger.error("%s", one_line(error))
            logger.debug("traceback:", exc_info=True)
            return getattr(error, "exit_status", EXIT_ERROR)  # 77: --verify cannot load programs here
        except OSError as error:
            logger.error("%s", one_line(_describe_os_error(error)))
            logger.debug("traceback:", exc_info=True)
            return EXIT_ERROR
        except MemoryError:
            logger.error("out of memory (an input too large for this machine's memory limit?)")
            return EXIT_ERROR
        except (KeyboardInterrupt, Terminated):
            raise
        except Exception as error:  # a bug: one line, the traceback with --log-level debug
            hint = "" if command.log.show_tracebacks else " (run with --log-level=debug for a traceback)"
            logger.error("internal error: %s: %s%s", type(error).__name__, one_line(error), hint)
            logger.debug("traceback:", exc_info=True)
            if getattr(error, "trace", ""):  # raised in the link's worker process
                logger.debug("worker traceback:\n%s", getattr(error, "trace"))
            return EXIT_ERROR
        return 0
    finally:
        undo_logging()
