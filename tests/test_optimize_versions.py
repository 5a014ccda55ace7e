"""optimize's LLVM pipeline per libLLVM version: instcombine without LLVM 18+'s fixpoint check."""

from __future__ import annotations

import os
import re

import pytest

import bpfkit
from bpf_linker.passes.optimize import instcombine, post_link_pipeline

pytestmark = pytest.mark.requires_llvm

IR_FIXTURE = bpfkit.TESTS_DIR / "ir" / "fixpoint.ll"
CRASH = re.compile(r"^bpf-linker: error: LLVM crashed while running pass 'optimize': "
                   r"Instruction Combining (on \w+ )?did not reach a fixpoint after 1 iterations")


def llvm_major(path) -> int:
    """16 for libLLVM-16.so.1, 22 for libLLVM.so.22.1 or libLLVM.so.22.1-rust-1.95.0-stable."""
    m = re.search(r"libLLVM[-.](?:so\.)?(\d+)", os.path.basename(str(path)))
    assert m, path
    return int(m.group(1))


@pytest.fixture(params=["c", "ll"])
def fixpoint(request):
    """(inputs, program, [(packet, r0)]): code whose post-link instcombine needs two iterations.

    c: tests/c/fixpoint, clang-16 -O2 bitcode of two files; the cross-file call is inlined.
    ll: tests/ir/fixpoint.ll, LLVM's own reduced reproducer (issue 92648) as a tc program.
    """
    if request.param == "c":
        cbuild = request.getfixturevalue("cbuild")
        inputs = cbuild.inputs("fixpoint", ["prog.c", "classify.c"])
        # r0 is the packet's first byte when below 128, else 0.
        return inputs, "fixpoint_prog", [(bpfkit.packet(b"\x40"), 0x40), (bpfkit.packet(b"\xc8"), 0)]
    # r0 is the low byte of skb->len when below 128, else 0.
    return [IR_FIXTURE], "prog", [(bpfkit.packet(size=64), 64), (bpfkit.packet(size=200), 0)]


def with_optimize_pipeline(inputs, llvm: str, pipeline: str) -> str:
    """The default pass pipeline, with optimize running the given LLVM pipeline string."""
    spec = bpfkit.run_linker(*inputs, "-o", os.devnull, "--print-pipeline", llvm=llvm).stdout.strip()
    assert re.search(r"\boptimize\b", spec), spec
    return re.sub(r"\boptimize(\{[^}]*\})?", lambda _: f'optimize{{pipeline="{pipeline}"}}', spec)


@pytest.mark.parametrize("major, name", [
    (16, "instcombine"), (17, "instcombine"),
    (18, "instcombine<no-verify-fixpoint>"), (19, "instcombine<no-verify-fixpoint>"),
    (22, "instcombine<no-verify-fixpoint>"),
])
def test_instcombine_spelling_per_version(major, name):
    assert instcombine(major) == name
    assert f"function(sroa,early-cse<memssa>,{name},simplifycfg)" in post_link_pipeline(major)


def test_post_link_pipeline_differs_only_in_instcombine():
    plain = post_link_pipeline(22).replace("instcombine<no-verify-fixpoint>", "instcombine")
    assert plain == post_link_pipeline(16)


def test_print_pipeline_is_the_same_on_every_llvm(tmp_path):
    specs = {}
    for name, find in sorted(bpfkit.LLVM_LIBS.items()):
        if find() is not None:
            specs[name] = bpfkit.run_linker(IR_FIXTURE, "-o", tmp_path / "out.o", "--print-pipeline",
                                            llvm=find()).stdout.strip()
    assert len(set(specs.values())) == 1, specs
    assert "instcombine" not in next(iter(specs.values()))


def test_fixpoint_code_links_on_every_llvm(llvm_lib, fixpoint, tmp_path):
    inputs, prog, _ = fixpoint
    out = tmp_path / "out.o"
    bpfkit.run_linker(*inputs, "-o", out, llvm=llvm_lib)
    assert out.read_bytes()[:4] == b"\x7fELF"
    assert bpfkit.elf_sections(out)["tc"]["size"] > 0
    assert bpfkit.elf_symbols(out)[prog] == ("STB_GLOBAL", "STT_FUNC", "tc")


def test_fixpoint_code_links_with_unroll_loops(llvm_lib, fixpoint, tmp_path):
    inputs, prog, _ = fixpoint
    out = tmp_path / "out.o"
    bpfkit.run_linker(*inputs, "--unroll-loops", "-o", out, llvm=llvm_lib)
    assert bpfkit.elf_symbols(out)[prog] == ("STB_GLOBAL", "STT_FUNC", "tc")


def test_plain_instcombine_crashes_from_llvm_18(llvm_lib, fixpoint, tmp_path):
    """The pipeline before the fix (plain `instcombine`) aborts on LLVM 18+, links on 16."""
    inputs, prog, _ = fixpoint
    out = tmp_path / "out.o"
    spec = with_optimize_pipeline(inputs, llvm_lib, post_link_pipeline(16))
    r = bpfkit.run_linker(*inputs, "-p", spec, "-o", out, llvm=llvm_lib, check=False)
    if llvm_major(llvm_lib) >= 18:
        assert r.returncode == 1, r.stderr
        assert CRASH.search(r.stderr), r.stderr
        assert "Traceback" not in r.stderr
        assert not out.exists()
    else:
        assert r.returncode == 0, r.stderr
        assert prog in bpfkit.elf_symbols(out)


@pytest.mark.requires_kernel_bpf
def test_fixpoint_code_runs(llvm_lib, fixpoint, tmp_path):
    inputs, prog, runs = fixpoint
    out = tmp_path / "out.o"
    bpfkit.run_linker(*inputs, "-o", out, llvm=llvm_lib)
    for packet, r0 in runs:
        assert bpfkit.prog_run(out, prog, packet) == r0, len(packet)
