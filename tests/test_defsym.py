"""--defsym NAME=VALUE: a const volatile knob becomes a constant before optimization (tests/c/defsym/knob.c)."""

from __future__ import annotations

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

PACKET = bytes(64)  # skb->len = 64


def knob_model(debug: int, level: int, length: int = len(PACKET)) -> int:
    """What knob_prog returns for the knob values."""
    x = length
    if debug:
        for i in range(24):
            x = ((x * 31 + (x >> 3)) ^ ((i * 0x9E3779B9) & 0xFFFFFFFF)) & 0xFFFFFFFF
        x += ord("k")
    return (x + level) & 0xFF


@pytest.fixture(scope="module")
def knob(cbuild):
    return cbuild.build("defsym/knob.c")


def instructions(path) -> int:
    return len(bpfkit.insn_opcodes(path)["tc"])


@pytest.mark.requires_kernel_bpf
def test_defsym_folds_the_guarded_code_away(tmp_path, knob, llvm_lib):
    plain, off, on = tmp_path / "plain.o", tmp_path / "off.o", tmp_path / "on.o"
    bpfkit.run_linker("-o", plain, knob, llvm=llvm_lib)
    bpfkit.run_linker("-o", off, "--defsym", "debug=0", knob, llvm=llvm_lib)
    bpfkit.run_linker("-o", on, "--defsym", "debug=1", "--defsym", "level=0x10", knob, llvm=llvm_lib)
    # The knob is a constant now: the slow path is gone from the program.
    assert instructions(off) < instructions(plain) // 4, (instructions(off), instructions(plain))
    assert instructions(on) > instructions(off)
    # Same result as the knob left at its default, and the values given fold in when set.
    assert bpfkit.prog_run(plain, "knob_prog", PACKET) == knob_model(0, 3)
    assert bpfkit.prog_run(off, "knob_prog", PACKET) == knob_model(0, 3)
    assert bpfkit.prog_run(on, "knob_prog", PACKET) == knob_model(1, 16)
    # The globals stay (skeletons still have them) and hold the value given.
    for path in (off, on):
        symbols = bpfkit.elf_symbols(path)
        assert symbols["debug"] == symbols["level"] == ("STB_GLOBAL", "STT_OBJECT", ".rodata")


def test_defsym_in_the_pipeline_and_from_python(tmp_path, knob):
    r = bpfkit.run_linker("--print-pipeline", "--defsym", "debug=1", "--defsym", "level=-1")
    assert r.stdout.strip().startswith("unpack-archives,link,defsym{values=debug=1,level=-1},internalize,")
    import bpf_linker

    ir = bpf_linker.link([knob], None, defsym=["debug=true"], emit="llvm-ir").outputs["llvm-ir"].decode()
    assert "@debug = dso_local constant i32 1" in ir or "@debug = dso_local local_unnamed_addr constant i32 1" in ir
    assert "load volatile i32, ptr @debug" not in ir


@pytest.mark.parametrize("value, message", [
    ("debugg=1", "--defsym debugg=1: no input defines a global variable 'debugg' (did you mean debug?)"),
    ("knob_prog=1", "--defsym knob_prog=1: 'knob_prog' is a function, not a global variable"),
    ("tag=1", "--defsym tag=1: 'tag' is not an integer (its type is [8 x i8]); only integer globals can be "
              "given a value"),
    ("level=256", "--defsym level=256: 256 does not fit in 'level', an integer of 8 bits (-128 to 255)"),
    ("level=-129", "--defsym level=-129: -129 does not fit in 'level', an integer of 8 bits (-128 to 255)"),
    ("written=1", "--defsym written=1: the program writes 'written' in function 'knob_prog'; only a global it "
                  "never writes can become a constant"),
])
def test_defsym_errors_name_the_symbol(tmp_path, knob, value, message):
    out = tmp_path / "x.o"
    r = bpfkit.run_linker("--defsym", value, "-o", out, knob, check=False)
    assert r.returncode != 0 and not out.exists()
    assert r.stderr.strip().splitlines() == [f"bpf-linker: error: {message}"]


@pytest.mark.parametrize("value, message", [
    ("debug", "--defsym 'debug': expected NAME=VALUE (e.g. --defsym debug=1)"),
    ("=1", "--defsym '=1': expected NAME=VALUE (e.g. --defsym debug=1)"),
    ("debug=one", "--defsym debug=one: 'one' is not an integer"),
])
def test_defsym_syntax_errors_before_linking(tmp_path, knob, value, message):
    r = bpfkit.run_linker("--defsym", value, "-o", tmp_path / "x.o", knob, check=False)
    assert r.returncode != 0
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"bpf-linker: error: {message}")
