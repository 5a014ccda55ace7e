"""The command line: upstream's grammar and quirks, error reporting, the man page."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    import bpf_linker  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO_ROOT))

from bpf_linker import cli  # noqa: E402
from bpf_linker.cli import CommandLineError, main, parse_command, parse_options  # noqa: E402
from bpf_linker.errors import LinkError, LLVMNotFoundError, UsageError  # noqa: E402
from bpf_linker.logsetup import TRACE, LogConfig, configure_logging  # noqa: E402
from bpf_linker.options import LinkOptions  # noqa: E402

NO_ENV: dict[str, str] = {}


def parse(*argv: str) -> LinkOptions:
    return parse_options(list(argv), NO_ENV)[0]


def base(*argv: str) -> LinkOptions:
    """Parse argv plus a minimal valid link (one input, an output)."""
    return parse("in.bc", "-o", "out.o", *argv)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("RUST_LOG", None)
    return env


# --- defaults -------------------------------------------------------------------------


def test_defaults():
    options, log = parse_options(["in.bc", "-o", "out.o"], NO_ENV)
    assert options == LinkOptions(inputs=("in.bc",), output="out.o")
    assert options.emit == "obj"
    assert options.opt_level == "2"
    assert options.cpu is None  # the CPU the inputs were compiled for
    assert options.cpu_features is None
    assert options.btf is None
    assert options.fatal_errors is True
    assert log == LogConfig(level="warn", file=None)


# --- --emit: the first wins -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["obj", "asm", "llvm-ir", "llvm-bc"])
def test_emit_kinds(kind):
    assert base("--emit", kind).emit == kind
    assert base(f"--emit={kind}").emit == kind


def test_first_emit_wins():
    assert base("--emit", "asm", "--emit", "llvm-ir", "--emit=obj").emit == "asm"
    assert base("--emit=llvm-bc", "--emit", "asm").emit == "llvm-bc"


def test_bad_emit_is_a_command_line_error():
    with pytest.raises(CommandLineError, match="unknown emission type: `exe`"):
        base("--emit", "exe")


# --- -O: the last wins, attached or not ---------------------------------------------------


@pytest.mark.parametrize(
    "argv, level",
    [
        (["-O0"], "0"),
        (["-O", "1"], "1"),
        (["-O3"], "3"),
        (["-Os"], "s"),
        (["-Oz"], "z"),
        (["-O=s"], "s"),
        (["-O0", "-O3"], "3"),
        (["-O3", "-O0"], "0"),
        (["-Os", "-O", "1", "-O2"], "2"),
        (["-O", "z", "-Os"], "s"),
    ],
)
def test_last_opt_level_wins(argv, level):
    assert base(*argv).opt_level == level


@pytest.mark.parametrize("bad", ["-O4", "-Ofast", "-O", "-Og"])
def test_bad_opt_level(bad):
    with pytest.raises(CommandLineError):
        base(bad)


def test_bad_opt_level_message_follows_upstream():
    with pytest.raises(CommandLineError, match=r"between 0-3, s or z \(instead was `4`\)"):
        base("-O4")


# --- comma-split lists --------------------------------------------------------------------


def test_export_is_comma_split_and_repeatable():
    options = base("--export", "foo,bar", "--export=ayy,lmao", "--export=lol", "--export", "rotfl")
    assert options.export == ("foo", "bar", "ayy", "lmao", "lol", "rotfl")


def test_export_drops_empty_items():
    assert base("--export", ",a,,b,", "--export=").export == ("a", "b")


def test_export_followed_by_inputs():
    # upstream issue #27: inputs after --export VALUE are inputs, not exports.
    options = parse(
        "--export", "foo", "--export", "bar", "symbols.o", "rcgu.o",
        "-L", "target/debug/deps", "-L", "target/debug", "-o", "/tmp/bin.s",
        "--target=bpf", "--emit=asm",
    )
    assert options.export == ("foo", "bar")
    assert options.inputs == ("symbols.o", "rcgu.o")
    assert options.target == "bpf"
    assert options.emit == "asm"


def test_llvm_args_comma_split_and_attached_dash_values():
    options = base("--llvm-args=-unroll-threshold=100,-bpf-stack-size=1024", "--llvm-args", "x,y")
    assert options.llvm_args == ("-unroll-threshold=100", "-bpf-stack-size=1024", "x", "y")


def test_llvm_args_value_starting_with_dash_must_be_attached():
    # clap (upstream) refuses `--llvm-args -foo` too.
    with pytest.raises(CommandLineError):
        base("--llvm-args", "-foo")


def test_print_before_after_comma_split():
    options = base("--print-after", "link,internalize", "--print-after=codegen",
                   "--print-before=optimize,")
    assert options.print_after == ("link", "internalize", "codegen")
    assert options.print_before == ("optimize",)


def test_export_symbols_paths_are_stored_not_read():
    options = base("--export-symbols", "/nonexistent/a", "--export-symbols=/nonexistent/b")
    assert options.export_symbols == ("/nonexistent/a", "/nonexistent/b")


# --- --fatal-errors takes a value -------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, value",
    [
        (["--fatal-errors=false"], False),
        (["--fatal-errors", "false"], False),
        (["--fatal-errors", "true"], True),
        (["--fatal-errors=TRUE"], True),
        (["--fatal-errors=False"], False),
        (["--fatal-errors=false", "--fatal-errors=true"], True),
        ([], True),
    ],
)
def test_fatal_errors_values(argv, value):
    assert base(*argv).fatal_errors is value


@pytest.mark.parametrize("argv", [["--fatal-errors=yes"], ["--fatal-errors", "1"], ["--fatal-errors"]])
def test_fatal_errors_bad_value(argv):
    with pytest.raises(CommandLineError, match="fatal-errors"):
        base(*argv)


def test_fatal_errors_flag_does_not_swallow_an_input():
    # `--fatal-errors` needs a value, so `--fatal-errors in.bc` is an error, not an input.
    with pytest.raises(CommandLineError):
        parse("-o", "out.o", "--fatal-errors", "in.bc")


# --- -L, --debug, --btf ---------------------------------------------------------------------------


def test_library_paths_both_forms():
    options = base("-L", "/x", "-L/y", "-L=/z", "-L", "rel/dir")
    assert options.library_paths == ("/x", "/y", "/z", "rel/dir")
    assert options.inputs == ("in.bc",)


def test_debug_is_accepted_and_ignored():
    assert base("--debug") == base()
    assert parse("--debug", "in.bc", "--debug", "-o", "out.o", "--debug") == base()


@pytest.mark.parametrize(
    "argv, value",
    [([], None), (["--btf"], True), (["--no-btf"], False),
     (["--btf", "--no-btf"], False), (["--no-btf", "--btf"], True)],
)
def test_btf(argv, value):
    assert base(*argv).btf is value


# --- inputs and outputs -----------------------------------------------------------------------------


def test_inputs_intermixed_with_flags():
    options = parse("a.bc", "--cpu", "v3", "b.o", "-o", "out.o", "c.a", "-O1", "d.rlib", "--btf", "e.ll")
    assert options.inputs == ("a.bc", "b.o", "c.a", "d.rlib", "e.ll")
    assert options.cpu == "v3"
    assert options.output == "out.o"
    assert options.opt_level == "1"


def test_double_dash_ends_options():
    assert parse("-o", "out.o", "--", "-weird.bc").inputs == ("-weird.bc",)
    assert parse("a.bc", "-o", "out.o", "--", "-b.bc", "-O3").inputs == ("a.bc", "-b.bc", "-O3")


def test_rustc_invocation():
    argv = ("--export-symbols /tmp/x/symbols /tmp/x/symbols.o foo.rcgu.o libdep.rlib "
            "-L /x -L /y --cpu generic --cpu-features +alu32 -o out -O0 --debug --btf").split()
    options, log = parse_options(argv, NO_ENV)
    assert options.export_symbols == ("/tmp/x/symbols",)
    assert options.inputs == ("/tmp/x/symbols.o", "foo.rcgu.o", "libdep.rlib")
    assert options.library_paths == ("/x", "/y")
    assert options.cpu == "generic"
    assert options.cpu_features == "+alu32"
    assert options.output == "out"
    assert options.opt_level == "0"
    assert options.btf is True
    assert options.emit == "obj"
    assert options.export == ()
    assert log.level == "warn"


def test_rustc_invocation_with_user_link_args_last():
    argv = ["--export-symbols", "/t/symbols", "/t/symbols.o", "k.rcgu.o", "-L", "/d", "--cpu", "generic",
            "-o", "k", "-Oz", "--debug", "--log-level=info", "--unroll-loops", "--export=extra", "-O2"]
    options, log = parse_options(argv, NO_ENV)
    assert options.inputs == ("/t/symbols.o", "k.rcgu.o")
    assert options.opt_level == "2"
    assert options.unroll_loops is True
    assert options.export == ("extra",)
    assert log.level == "info"


def test_missing_output_is_an_error():
    with pytest.raises(CommandLineError, match="required: -o/--output"):
        parse("in.bc")


def test_missing_inputs_is_an_error():
    with pytest.raises(CommandLineError, match="required: INPUTS"):
        parse("-o", "out.o")
    with pytest.raises(CommandLineError, match="-o/--output, INPUTS"):
        parse()


def test_unknown_flag_is_an_error():
    with pytest.raises(CommandLineError, match="unrecognized arguments: --bogus"):
        base("--bogus")


def test_long_flags_are_not_abbreviated():
    with pytest.raises(CommandLineError):
        base("--unroll")


def test_version_and_print_pipeline_need_no_inputs():
    assert parse_command(["--version"], NO_ENV).action == "version"
    assert parse_command(["-V"], NO_ENV).action == "version"
    command = parse_command(["--print-pipeline", "--unroll-loops", "-O3"], NO_ENV)
    assert command.action == "print-pipeline"
    assert command.options.unroll_loops and command.options.opt_level == "3"
    assert parse_command(["in.bc", "-o", "x"], NO_ENV).action == "link"


def test_invalid_target_is_a_usage_error_not_a_parse_error():
    with pytest.raises(UsageError) as info:
        base("--target", "x86_64-unknown-linux-gnu")
    assert not isinstance(info.value, CommandLineError)


def test_flags_map_to_options():
    options = base(
        "--target", "bpfeb", "--cpu", "v4", "--cpu-features=+alu32,-dwarfris",
        "--unroll-loops", "--ignore-inline-never", "--disable-expand-memcpy-in-order",
        "--disable-memory-builtins", "--allow-bpf-trap", "--dump-module", "dumps",
        "--llvm", "/usr/lib/libLLVM.so.19", "-p", "link,codegen", "--load-pass-plugin", "a.py",
        "--load-pass-plugin=b.py", "--print-changed", "--time-passes",
    )
    assert options.target == "bpfeb"
    assert options.cpu == "v4"
    assert options.cpu_features == "+alu32,-dwarfris"
    assert options.unroll_loops and options.ignore_inline_never
    assert options.disable_expand_memcpy_in_order and options.disable_memory_builtins
    assert options.allow_bpf_trap
    assert options.dump_module == "dumps"
    assert options.llvm == "/usr/lib/libLLVM.so.19"
    assert options.passes == "link,codegen"
    assert options.pass_plugins == ("a.py", "b.py")
    assert options.print_changed and options.time_passes
    assert base("--passes=optimize").passes == "optimize"


# --- logging options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, level",
    [("error", "error"), ("warn", "warn"), ("INFO", "info"), ("Debug", "debug"),
     ("trace", "trace"), ("1", "error"), ("5", "trace")],
)
def test_log_levels(value, level):
    assert parse_options(["in.bc", "-o", "o", "--log-level", value], NO_ENV)[1].level == level


def test_bad_log_level():
    with pytest.raises(CommandLineError, match="log level"):
        base("--log-level", "loud")


def test_log_file():
    assert parse_options(["in.bc", "-o", "o", "--log-file", "l.txt"], NO_ENV)[1] == LogConfig("warn", "l.txt")


@pytest.mark.parametrize(
    "rust_log, level",
    [("debug", "debug"), ("bpf_linker=trace", "trace"), ("info,bpf_linker=error", "error"),
     ("other_crate=debug", "warn"), ("nonsense", "warn"), ("", "warn")],
)
def test_rust_log_is_used_without_log_level(rust_log, level):
    assert parse_options(["in.bc", "-o", "o"], {"RUST_LOG": rust_log})[1].level == level


def test_log_level_beats_rust_log():
    assert parse_options(["in.bc", "-o", "o", "--log-level=warn"], {"RUST_LOG": "trace"})[1].level == "warn"


def test_log_format_and_trace_level():
    stream = io.StringIO()
    undo = configure_logging(LogConfig(level="trace"), stream=stream)
    try:
        log = logging.getLogger("bpf_linker.passes.example")
        log.warning("careful")
        log.info("fyi")
        log.debug("details")
        log.log(TRACE, "everything")
        log.error("broken")
    finally:
        undo()
    assert stream.getvalue().splitlines() == [
        "bpf-linker: warning: careful",
        "bpf-linker: info: fyi",
        "bpf-linker: debug: details",
        "bpf-linker: trace: everything",
        "bpf-linker: error: broken",
    ]
    assert not logging.getLogger("bpf_linker").handlers


def test_default_log_level_hides_info():
    stream = io.StringIO()
    undo = configure_logging(LogConfig(), stream=stream)
    try:
        logging.getLogger("bpf_linker").info("hidden")
        logging.getLogger("bpf_linker").warning("shown")
    finally:
        undo()
    assert stream.getvalue() == "bpf-linker: warning: shown\n"


# --- response files -----------------------------------------------------------------------------------


def test_response_file_as_rustc_writes_it(tmp_path):
    # rustc (non-MSVC) writes one argument per line, escaping '\' and ' ' with '\'.
    args = ["--export-symbols", str(tmp_path / "symbols"), "my dir/a b.rcgu.o", "back\\slash.o",
            "-o", "out", "-O3", "--debug"]
    escaped = [a.replace("\\", "\\\\").replace(" ", "\\ ") for a in args]
    (tmp_path / "linker-arguments").write_text("\n".join(escaped) + "\n")
    options = parse(f"@{tmp_path / 'linker-arguments'}")
    assert options.inputs == ("my dir/a b.rcgu.o", "back\\slash.o")
    assert options.export_symbols == (str(tmp_path / "symbols"),)
    assert options.opt_level == "3"


def test_response_file_quotes_and_nesting(tmp_path):
    (tmp_path / "inner").write_text("'single q.o' \"double q.o\" -O1\n")
    (tmp_path / "outer").write_text(f"a.o @{tmp_path / 'inner'}\n-o out\n")
    options = parse(f"@{tmp_path / 'outer'}", "-Os")
    assert options.inputs == ("a.o", "single q.o", "double q.o")
    assert options.opt_level == "s"


def test_missing_response_file_is_a_literal_argument(tmp_path):
    missing = f"@{tmp_path / 'nope'}"
    assert parse(missing, "-o", "out").inputs == (missing,)


# --- main(): exit statuses and messages ---------------------------------------------------------------


@pytest.fixture
def fake_driver(monkeypatch):
    """Install a stand-in for bpf_linker.driver whose link() records or raises."""
    calls: list[LinkOptions] = []
    module = types.ModuleType("bpf_linker.driver")
    module.error = None  # type: ignore[attr-defined]

    def link(options):
        calls.append(options)
        if module.error is not None:  # type: ignore[attr-defined]
            raise module.error  # type: ignore[attr-defined]

    module.link = link  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bpf_linker.driver", module)
    monkeypatch.delenv("RUST_LOG", raising=False)
    module.calls = calls  # type: ignore[attr-defined]
    return module


def test_main_links(fake_driver, capsys):
    assert main(["in.bc", "-o", "out.o", "-O3"]) == 0
    assert fake_driver.calls == [LinkOptions(inputs=("in.bc",), output="out.o", opt_level="3")]
    assert capsys.readouterr().err == ""


def test_main_reports_errors_in_one_line(fake_driver, capsys):
    fake_driver.error = LinkError("in.bc: undefined symbol 'foo'")
    assert main(["in.bc", "-o", "out.o"]) == 1
    err = capsys.readouterr().err
    assert err == "bpf-linker: error: in.bc: undefined symbol 'foo'\n"


def test_main_traceback_only_with_debug(fake_driver, capsys):
    fake_driver.error = LinkError("boom")
    assert main(["in.bc", "-o", "out.o", "--log-level", "debug"]) == 1
    err = capsys.readouterr().err
    assert "bpf-linker: error: boom\n" in err
    assert "Traceback" in err


def test_main_internal_error_no_traceback(fake_driver, capsys):
    fake_driver.error = ZeroDivisionError("division by zero")
    assert main(["in.bc", "-o", "out.o"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bpf-linker: error: internal error: ZeroDivisionError: division by zero")
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_main_os_error(fake_driver, capsys):
    fake_driver.error = FileNotFoundError(2, "No such file or directory", "in.bc")
    assert main(["in.bc", "-o", "out.o"]) == 1
    assert capsys.readouterr().err == "bpf-linker: error: in.bc: No such file or directory\n"


def test_main_keyboard_interrupt(fake_driver, capsys):
    fake_driver.error = KeyboardInterrupt()
    assert main(["in.bc", "-o", "out.o"]) == 130
    assert capsys.readouterr().err == "bpf-linker: error: interrupted\n"


def test_main_log_file_gets_the_same_lines_with_the_pid(fake_driver, tmp_path, capsys):
    fake_driver.error = LinkError("nope")
    log_file = tmp_path / "link.log"
    assert main(["in.bc", "-o", "out.o", "--log-file", str(log_file), "--log-level=info"]) == 1
    err = capsys.readouterr().err
    text = log_file.read_text()
    # Many links (one per rustc invocation) may share a log file: its lines name the process.
    assert text == err.replace("bpf-linker: ", f"bpf-linker[{os.getpid()}]: ")
    assert text.splitlines()[0].startswith(f"bpf-linker[{os.getpid()}]: info: command line: bpf-linker in.bc")
    assert text.splitlines()[-1] == f"bpf-linker[{os.getpid()}]: error: nope"


def test_log_file_lines_name_the_pass():
    import logging

    from bpf_linker.logsetup import FileLineFormatter

    record = logging.LogRecord("bpf_linker.passes.link", logging.INFO, __file__, 1, "merged %s", ("x",), None)
    assert FileLineFormatter().format(record) == f"bpf-linker[{os.getpid()}]: info: link: merged x"


@pytest.mark.parametrize("env, argv, expected", [
    ({"BPF_LINKER_LOG": "debug"}, [], ("debug", None)),
    ({"BPF_LINKER_LOG": "info:/tmp/x.log"}, [], ("info", "/tmp/x.log")),
    ({"BPF_LINKER_LOG": ":/tmp/x.log"}, [], ("warn", "/tmp/x.log")),
    ({"BPF_LINKER_LOG": "debug:/tmp/x.log"}, ["--log-level", "error", "--log-file", "/y"], ("error", "/y")),
    ({"BPF_LINKER_LOG": "info", "RUST_LOG": "trace"}, [], ("info", None)),
])
def test_bpf_linker_log_environment_variable(env, argv, expected):
    _, log = parse_options(["in.bc", "-o", "out.o", *argv], env)
    assert (log.level, log.file) == expected


def test_bpf_linker_log_invalid_level():
    with pytest.raises(UsageError, match="BPF_LINKER_LOG: invalid log level 'loud'"):
        parse_options(["in.bc", "-o", "out.o"], {"BPF_LINKER_LOG": "loud"})


def test_main_log_file_cannot_be_opened(fake_driver, tmp_path, capsys):
    # A log that cannot be written costs one warning; the link still runs.
    assert main(["in.bc", "-o", "o", "--log-file", str(tmp_path / "no" / "dir" / "log")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("bpf-linker: warning: cannot open log file ")
    assert "No such file or directory; logging to stderr only" in err
    assert len(fake_driver.calls) == 1


def test_main_usage_error_is_one_line_exit_1(capsys):
    assert main(["in.bc"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "bpf-linker: error: the following arguments are required: -o/--output (see bpf-linker --help)",
    ]


def test_main_invalid_option_value_exit_1(capsys):
    assert main(["in.bc", "-o", "o", "--target", "x86_64"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bpf-linker: error: invalid --target 'x86_64'")
    assert len(err.splitlines()) == 1


def test_main_empty_output_path(capsys):
    assert main(["in.bc", "-o", ""]) == 1
    assert capsys.readouterr().err.startswith("bpf-linker: error: -o/--output: empty path")


def test_main_help(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--export" in out and "--print-pipeline" in out
    assert "--debug" not in out  # hidden, as upstream


def test_main_version(monkeypatch, capsys):
    seen = []

    def load_llvm(path):
        seen.append(path)
        return types.SimpleNamespace(version=(19, 1, 7), path="/usr/lib/llvm-19/lib/libLLVM.so.19.1")

    module = types.ModuleType("bpf_linker.bindings")
    module.load_llvm = load_llvm  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bpf_linker.bindings", module)
    assert main(["--version", "--llvm", "/x/libLLVM.so"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"bpf-linker {cli.package_version()}", "LLVM 19.1.7 (/usr/lib/llvm-19/lib/libLLVM.so.19.1)"]
    assert seen == ["/x/libLLVM.so"]


def test_main_version_without_llvm(monkeypatch, capsys):
    def load_llvm(path):
        raise LLVMNotFoundError("no libLLVM with the BPF target found (tried: ...)")

    module = types.ModuleType("bpf_linker.bindings")
    module.load_llvm = load_llvm  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bpf_linker.bindings", module)
    assert main(["-V"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("bpf-linker ")
    assert captured.err == "bpf-linker: error: no libLLVM with the BPF target found (tried: ...)\n"


def test_main_print_pipeline(monkeypatch, capsys):
    seen = []

    class FakePipeline:
        def __init__(self, options):
            seen.append(options)

        def spec(self):
            return "link,internalize,optimize,codegen"

    module = types.ModuleType("bpf_linker.driver")
    module.build_pipeline = FakePipeline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bpf_linker.driver", module)
    assert main(["--print-pipeline", "-O1", "--unroll-loops"]) == 0
    assert capsys.readouterr().out == "link,internalize,optimize,codegen\n"
    assert seen[0].opt_level == "1" and seen[0].unroll_loops


# --- as a program ---------------------------------------------------------------------------------------


def run_module(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bpf_linker", *argv],
        capture_output=True, text=True, env=subprocess_env(), cwd=REPO_ROOT, timeout=60,
    )


def test_python_m_help():
    result = run_module("--help")
    assert result.returncode == 0, result.stderr
    assert "--export" in result.stdout
    assert result.stdout.startswith("usage: bpf-linker ")


def test_python_m_argument_error():
    result = run_module("in.bc", "-O", "9", "-o", "out.o")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("bpf-linker: error:")
    assert len(result.stderr.splitlines()) == 1


def test_man_page(tmp_path):
    pytest.importorskip("argparse_manpage")
    out = tmp_path / "man" / "bpf-linker.1"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "build_manpage.py"), str(out)],
        capture_output=True, text=True, env=subprocess_env(), timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith(".TH ")
    assert "\\-\\-export" in text
    assert "\\-\\-fatal\\-errors" in text
    assert "\\-\\-print\\-pipeline" in text
