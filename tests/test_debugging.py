"""Debugging a link between passes: --dump-dir, --print-changed=diff, --print-before/after names, LLVM's instrumentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

PASSES = ["unpack-archives", "link", "internalize", "optimize", "expand-memcpy", "btf", "check-undefined",
          "codegen"]


@pytest.fixture(scope="module")
def prog(cbuild) -> list[Path]:
    return [cbuild.build("linkmap/main.c"), cbuild.build("linkmap/util.c"),
            cbuild.archive("linkmap/liblm.a", ["linkmap/lib_a.c", "linkmap/lib_b.c"])]


def changed_passes(stderr: str) -> list[str]:
    """The passes --print-changed=diff printed a diff for, in order."""
    return re.findall(r"^; \*\*\* IR Dump After (\S+?)(?:\{.*\})? \(diff\) \*\*\*$", stderr, re.M)


def test_dump_dir_writes_every_step_in_order(tmp_path, prog, llvm_lib):
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "07-stale-from-an-earlier-run.ll").write_text("old")
    (dump / "notes.txt").write_text("kept")
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("--dump-dir", dump, "--print-changed=diff-quiet", "-o", out, *prog, llvm=llvm_lib)
    names = sorted(p.name for p in dump.iterdir())
    inputs = ["00-input1-linkmap__main.bc.ll", "00-input2-linkmap__util.bc.ll",
              "00-input3-linkmap__liblm.a_linkmap__lib_a.bc_.ll", "00-input4-linkmap__liblm.a_linkmap__lib_b.bc_.ll"]
    steps = [f"{i:02d}-{name}.ll" for i, name in enumerate(PASSES, 1)]
    assert names == sorted(inputs + steps + ["notes.txt"])
    # Inputs as parsed: each has its own definitions only.
    main_ll = (dump / inputs[0]).read_text()
    assert re.search(r"^define .*@map_prog\(", main_ll, re.M) and re.search(r"^declare .*@util_mix\(", main_ll, re.M)
    assert re.search(r"^define dso_local i32 @lib_add\(", (dump / inputs[2]).read_text(), re.M)
    # The files differ exactly where a pass changed the module (what --print-changed reports).
    # (unpack-archives leaves the pipeline's module empty: its dump is the module as it starts.)
    texts = [(dump / s).read_text() for s in steps]
    assert texts[0].startswith("; ModuleID = 'linked_module'") and "define" not in texts[0]
    differs = [PASSES[i] for i in range(1, len(PASSES)) if texts[i] != texts[i - 1]]
    assert differs == changed_passes(r.stderr)
    assert {"link", "internalize", "optimize"} <= set(differs) and "check-undefined" not in differs
    assert re.search(r"^define internal .*@lib_add\(", (dump / "03-internalize.ll").read_text(), re.M)
    assert "@lib_add(" not in (dump / "04-optimize.ll").read_text()
    # Each dump is IR the linker reads back.
    again = tmp_path / "again.o"
    bpfkit.run_linker("-o", again, dump / "04-optimize.ll", llvm=llvm_lib)
    assert bpfkit.elf_symbols(again)["map_prog"][2] == "tc"


def test_print_changed_diff(tmp_path, prog):
    r = bpfkit.run_linker("--print-changed=diff", "-o", tmp_path / "o.o", *prog)
    err = r.stderr
    internalize = err[err.index("; *** IR Dump After internalize (diff) ***"):]
    internalize = internalize[:internalize.index("; *** IR Dump", 5)]
    assert "--- before internalize\n+++ after internalize\n" in internalize
    assert re.search(r"^-define dso_local i32 @lib_add\(", internalize, re.M)
    assert re.search(r"^\+define internal i32 @lib_add\(", internalize, re.M)
    assert "; *** IR Dump After check-undefined omitted because no change ***" in err
    unchanged = re.findall(r"^; \*\*\* IR Dump After (\S+) omitted because no change \*\*\*$", err, re.M)
    assert set(unchanged).isdisjoint(changed_passes(err)) and len(unchanged) + len(changed_passes(err)) == 8
    quiet = bpfkit.run_linker("--print-changed=diff-quiet", "-o", tmp_path / "q.o", *prog).stderr
    assert "omitted because no change" not in quiet and changed_passes(quiet) == changed_passes(err)
    # Without =MODE, --print-changed keeps its meaning (whole modules) and never takes an input as its value.
    full = bpfkit.run_linker("-o", tmp_path / "f.o", "--print-changed", *prog).stderr
    assert "; *** IR Dump After internalize (changed) ***\n; ModuleID" in full
    r = bpfkit.run_linker("--print-changed=colour", "-o", tmp_path / "x.o", *prog, check=False)
    assert r.returncode != 0 and not (tmp_path / "x.o").exists()
    assert "--print-changed: unknown mode 'colour' (expected full, quiet, diff, diff-quiet)" in r.stderr


@pytest.mark.parametrize("flag, name, hint", [
    ("--print-after", "optimise", "did you mean optimize? "),
    ("--print-before", "codegne", "did you mean codegen? "),
    ("--print-after", "frobnicate", ""),
])
def test_print_before_after_unknown_pass(tmp_path, prog, flag, name, hint):
    out = tmp_path / "x.o"
    r = bpfkit.run_linker(f"{flag}={name}", "-o", out, *prog, check=False)
    assert r.returncode != 0 and not out.exists()
    assert r.stderr.strip().splitlines() == [
        f"bpf-linker: error: {flag}: no pass '{name}' in the pipeline ({hint}passes: {','.join(PASSES)}, or all)"]
    r = bpfkit.run_linker(f"{flag}={name}", "--print-pipeline", check=False)
    assert r.returncode != 0 and f"no pass '{name}' in the pipeline" in r.stderr


def test_empty_pipeline_is_an_error(tmp_path, prog):
    out = tmp_path / "x.o"
    for value in ("", "  "):
        r = bpfkit.run_linker("-p", value, "-o", out, *prog, check=False)
        assert r.returncode != 0 and not out.exists()
        (line,) = r.stderr.strip().splitlines()
        assert line.startswith("bpf-linker: error: -p/--passes: empty pipeline (write pass names, e.g. what "
                               "--print-pipeline prints)")


# --------------------------------------------------------------------------- LLVM's own instrumentation

CODEGEN_TIMERS = ("Instruction Selection and Scheduling", "BPF DAG->DAG Pattern Instruction Selection")


def test_llvm_time_passes_reaches_stderr(tmp_path, prog, llvm_lib):
    r = bpfkit.run_linker("--llvm-args=-time-passes", "-o", tmp_path / "o.o", *prog, llvm=llvm_lib)
    assert "Pass execution timing report" in r.stderr
    assert any(name in r.stderr for name in CODEGEN_TIMERS), r.stderr[-2000:]  # the code generator's, at exit
    assert re.search(r"InstCombinePass|IPSCCPPass", r.stderr)                     # optimize's passes


def test_llvm_print_after_and_debug_pass_manager(tmp_path, prog, llvm_lib):
    r = bpfkit.run_linker("--llvm-args=-print-after=instcombine", "-o", tmp_path / "a.o", *prog, llvm=llvm_lib)
    assert re.search(r"^\*\*\* IR Dump After InstCombinePass on \w+ \*\*\*$", r.stderr, re.M) or \
        re.search(r"^; \*\*\* IR Dump After InstCombinePass on \w+ \*\*\*$", r.stderr, re.M), r.stderr[:2000]
    r = bpfkit.run_linker("--llvm-args=-debug-pass-manager", "-o", tmp_path / "b.o", *prog, llvm=llvm_lib)
    assert re.search(r"^Running pass: InstCombinePass on \w+", r.stderr, re.M), r.stderr[:2000]
    assert "Unknown command line argument" not in r.stderr


def test_llvm_stats_say_something(tmp_path, prog, llvm_lib):
    r = bpfkit.run_linker("--llvm-args=-stats", "-o", tmp_path / "o.o", *prog, llvm=llvm_lib)
    assert "Statistics Collected" in r.stderr or re.search(
        r"^bpf-linker: warning: --llvm-args -stats: LLVM [\d.]+ collected no statistics \(this libLLVM was "
        r"built without LLVM_ENABLE_STATS, as release builds are\)$", r.stderr, re.M), r.stderr


def test_time_passes_shows_llvms_breakdown_under_our_table(tmp_path, prog, llvm_lib):
    r = bpfkit.run_linker("--time-passes", "-o", tmp_path / "o.o", *prog, llvm=llvm_lib)
    err = r.stderr
    ours = err.index("===-- bpf-linker pass execution timing report --===")
    rows = err[ours:].splitlines()[1:len(PASSES) + 2]
    assert [row.split()[-1] for row in rows] == PASSES + ["total"]
    llvm = err.index("===-- LLVM's own timing of the passes inside optimize and codegen --===")
    assert ours < llvm
    below = err[llvm:]
    assert "Pass execution timing report" in below and any(name in below for name in CODEGEN_TIMERS)
    assert "Pass execution timing report" not in err[:ours]
