"""The test material itself: C fixtures build in every input form, references load and run, bpfkit works."""

from __future__ import annotations

import os

import pytest

import bpfkit
from bpfkit import PACKETS, SCENARIOS

pytestmark = pytest.mark.requires_clang


def test_require_skips_or_fails(monkeypatch):
    monkeypatch.delenv(bpfkit.REQUIRE_ALL_ENV, raising=False)
    bpfkit.require(True, "present")
    with pytest.raises(pytest.skip.Exception, match="thing"):
        bpfkit.require(False, "thing")
    monkeypatch.setenv(bpfkit.REQUIRE_ALL_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="requirement missing: thing"):
        bpfkit.require(False, "thing")


def test_llvm_lib_paths(llvm_lib):
    assert os.path.isfile(llvm_lib)
    assert "libLLVM" in os.path.basename(llvm_lib)
    # The rustc directory also holds libLLVM-22-rust-*.so, a linker script: never pick that.
    with open(llvm_lib, "rb") as f:
        assert f.read(4) == b"\x7fELF"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("form", ["bc", "ll", "obj-embed", "obj"])
def test_multi_file_sources_compile(cbuild, scenario, form):
    for path in cbuild.inputs(scenario, SCENARIOS[scenario]["files"], form):
        head = path.read_bytes()[:4]
        if form == "bc":
            assert head == b"BC\xc0\xde"
        elif form == "ll":
            assert b"target triple = \"bpf\"" in path.read_bytes()
        else:
            assert head == b"\x7fELF"
            assert (".llvmbc" in bpfkit.elf_sections(path)) == (form == "obj-embed")


def test_archive_of_helpers(cbuild):
    lib = cbuild.archive("split/libhelpers.a", ["split/helpers.c"])
    assert lib.read_bytes().startswith(b"!<arch>\n")
    listing = bpfkit.run_tool([bpfkit.LLVM_AR, "t", lib]).stdout.split()
    assert listing == ["split__helpers.bc"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_single_file_reference_compiles(cbuild, scenario):
    syms = bpfkit.elf_symbols(cbuild.ref(scenario))
    for prog in SCENARIOS[scenario]["progs"]:
        assert syms[prog][:2] == ("STB_GLOBAL", "STT_FUNC")
    assert "LICENSE" in syms


# --------------------------------------------------------------------------- references in the kernel

@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_reference_runs(cbuild, ref_run, scenario):
    ref = cbuild.ref(scenario)
    for prog in SCENARIOS[scenario]["progs"]:
        values = {name: ref_run(ref, prog, data) for name, data in PACKETS[scenario].items()}
        # Deterministic: a fresh load gives the same value again.
        first = next(iter(PACKETS[scenario]))
        assert bpfkit.prog_run(ref, prog, PACKETS[scenario][first]) == values[first]
        if scenario in ("split", "loops") and prog != "unroll_prog":
            assert len(set(values.values())) == len(values), f"packets must give different values: {values}"


@pytest.mark.requires_kernel_bpf
def test_split_kfunc_branch_is_taken(cbuild, ref_run):
    """Only the 0xAA packet goes through bpf_dynptr_from_skb, which reads the last 4 bytes."""
    ref = cbuild.ref("split")
    for name in ("kfunc-path", "options"):  # packets whose options end before the last 4 bytes
        data = PACKETS["split"][name]
        changed = data[:-4] + bytes(b ^ 0x5A for b in data[-4:])
        same = bpfkit.prog_run(ref, "split_prog", changed) == ref_run(ref, "split_prog", data)
        assert same == (data[0] != 0xAA), name


@pytest.mark.requires_kernel_bpf
def test_kfunc_reference_value(cbuild, ref_run):
    """kernel major * 1000, +10 for the resolved typeless weak ksym, +1 + packet[20] for the
    kfunc branch, and nothing from the missing weak kfunc."""
    ref = cbuild.ref("kfunc")
    major = int(os.uname().release.split(".")[0])
    assert ref_run(ref, "kfunc_prog", PACKETS["kfunc"]["counting"]) == major * 1000 + 10 + 1 + 20
    assert ref_run(ref, "kfunc_prog", PACKETS["kfunc"]["zeros"]) == major * 1000 + 10 + 1
    assert ref_run(ref, "kfunc_prog", PACKETS["kfunc"]["short"]) == major * 1000 + 10


def test_kfunc_externs_stay_undefined_in_reference(cbuild):
    syms = bpfkit.elf_symbols(cbuild.ref("kfunc"))
    assert syms["bpf_dynptr_from_skb"] == ("STB_GLOBAL", "STT_NOTYPE", "SHN_UNDEF")
    assert syms["bpf_linker_test_no_such_kfunc"] == ("STB_WEAK", "STT_NOTYPE", "SHN_UNDEF")
    assert syms["_stext"] == ("STB_WEAK", "STT_NOTYPE", "SHN_UNDEF")
    assert syms["LINUX_KERNEL_VERSION"] == ("STB_GLOBAL", "STT_NOTYPE", "SHN_UNDEF")
    btf = bpfkit.btf_dump(cbuild.ref("kfunc"))
    assert "FUNC 'bpf_dynptr_from_skb' type_id=" in btf and "linkage=extern" in btf
    assert "DATASEC '.ksyms'" in btf and "DATASEC '.kconfig'" in btf


@pytest.mark.requires_kernel_bpf
def test_libbpf_static_linker_gives_the_rules_reference(cbuild, ref_run, tmp_path):
    """bpftool gen object (libbpf's linker) on the clang objects agrees with the strong-only single file."""
    objs = cbuild.inputs("libbpf_rules", SCENARIOS["libbpf_rules"]["files"], "obj")
    linked = bpfkit.libbpf_link(tmp_path / "rules.o", objs)
    data = PACKETS["libbpf_rules"]["zeros"]
    value = bpfkit.prog_run(linked, "rules_prog", data)
    assert value == ref_run(cbuild.ref("libbpf_rules"), "rules_prog", data)
    # Digits: pick b.c(2), flavor a.c(3), config c.c(6), level a.c(7), tie first weak b.c(1),
    # then the map value 1 + 10 * 2 written by a.c and by b.c through the extern map.
    assert value == 2_367_121


def test_split_reference_shape(cbuild):
    """What the linked output is compared against: clang keeps unused_helper (it is global),
    calls the kfunc, and leaves memset/memcpy as llvm intrinsics in the bitcode."""
    ref = cbuild.ref("split")
    syms = bpfkit.elf_symbols(ref)
    assert syms["bpf_dynptr_from_skb"] == ("STB_GLOBAL", "STT_NOTYPE", "SHN_UNDEF")
    assert syms["stats_map"][2] == ".maps"
    kinds = {c["kind"] for c in bpfkit.bpf_calls(ref)}
    assert kinds == {"helper", "kfunc", "local"}
    ll = cbuild.build("split/main.c", "ll").read_text()
    assert "@llvm.memset" in ll and "@llvm.memcpy" in ll
    helpers = bpfkit.elf_symbols(cbuild.build("split/helpers.c", "obj"))
    assert helpers["unused_helper"][:2] == ("STB_GLOBAL", "STT_FUNC")
    for name in ("checksum_bytes", "parse_header", "table_mix"):
        assert helpers[name][0] == "STB_GLOBAL"


def test_loops_reference_has_calls_and_loops(cbuild):
    """clang -O2 keeps the noinline calls and fold_hash's loop: the linker flags must remove them."""
    ref = cbuild.ref("loops")
    local = [c for c in bpfkit.bpf_calls(ref) if c["kind"] == "local"]
    assert {c["function"] for c in local} == {"loops_prog", "unroll_prog"}
    back = {j["function"] for j in bpfkit.backward_jumps(ref)}
    assert {"fold_hash", "scan_words", "loops_prog"} <= back
    # The multi-file build too: fold_hash is its own (global) function with a loop.
    util = cbuild.build("loops/util.c", "obj")
    assert "fold_hash" in {j["function"] for j in bpfkit.backward_jumps(util)}
    assert "noinline" in cbuild.build("loops/util.c", "ll").read_text()


@pytest.mark.requires_kernel_bpf
def test_prog_run_reports_verifier_log_and_cleans_pins(cbuild):
    bad = cbuild.build("bad/oob.c", "obj")
    before = set(os.listdir(bpfkit.BPFFS))
    with pytest.raises(AssertionError, match="invalid access to packet"):
        bpfkit.prog_run(bad, "oob_prog", bytes(64))
    bpfkit.prog_run(cbuild.ref("split"), "split_prog", bytes(64))
    assert set(os.listdir(bpfkit.BPFFS)) == before
    with pytest.raises(ValueError):
        bpfkit.prog_run(cbuild.ref("split"), "split_prog", bytes(10))
