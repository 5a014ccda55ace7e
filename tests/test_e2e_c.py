"""End to end on C: link the tests/c fixtures with the CLI on LLVM 16 and 22, inspect, load and run them.

The value a linked program returns must equal what the same code returns when clang
compiles it as one file (tests/c/<scenario>/ref.c), or, for libbpf's symbol rules,
what libbpf's own static linker (`bpftool gen object`) makes of the clang objects.
tests/test_fixtures.py proves the fixtures and references themselves.
"""

from __future__ import annotations

import pytest

import bpfkit
from bpfkit import PACKETS, SCENARIOS

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

INPUT_FORMS = ["bc", "ll", "obj-embed", "archive", "archive-embed", "mixed"]


@pytest.fixture(scope="session")
def linked(cbuild, tmp_path_factory):
    """linked(llvm, scenario, *flags, form="bc") -> path of the linked object, one link per key.

    form: every file as bc / ll / obj-embed; "archive": the first file as .bc plus an ar
    archive of the others' .bc; "archive-embed": the same with -fembed-bitcode objects;
    "mixed": the first file as .ll and the others as embedded-bitcode objects in an archive.
    """
    root = tmp_path_factory.mktemp("linked")
    memo: dict[tuple, object] = {}

    def link(llvm, scenario, *flags, form="bc"):
        key = (llvm, scenario, flags, form)
        if key not in memo:
            files = SCENARIOS[scenario]["files"]
            first, rest = f"{scenario}/{files[0]}", [f"{scenario}/{f}" for f in files[1:]]
            if form in ("bc", "ll", "obj-embed"):
                inputs = cbuild.inputs(scenario, files, form)
            elif form == "archive":
                inputs = [cbuild.build(first, "bc"), cbuild.archive(f"{scenario}/librest.a", rest, "bc")]
            elif form == "archive-embed":
                inputs = [cbuild.build(first, "obj-embed"),
                          cbuild.archive(f"{scenario}/librest-embed.a", rest, "obj-embed")]
            elif form == "mixed":
                inputs = [cbuild.build(first, "ll"),
                          cbuild.archive(f"{scenario}/librest-embed.a", rest, "obj-embed")]
            else:
                raise ValueError(form)
            out = root / f"{scenario}-{len(memo)}.o"
            bpfkit.run_linker("-o", out, *flags, *inputs, llvm=llvm)
            assert out.is_file(), f"the linker exited 0 but wrote no {out}"
            memo[key] = out
        return memo[key]

    return link


def assert_runs_like(out, ref, scenario, ref_run, progs=None):
    for prog in progs or SCENARIOS[scenario]["progs"]:
        for name, data in PACKETS[scenario].items():
            expected = ref_run(ref, prog, data)
            got = bpfkit.prog_run(out, prog, data)
            assert got == expected, f"{prog} on packet {name!r}: linked {got}, clang alone {expected}"


def btf_funcs(path) -> dict[str, str]:
    """FUNC name -> linkage from `bpftool btf dump file`."""
    out = {}
    for line in bpfkit.btf_dump(path).splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "FUNC":
            out[parts[2].strip("'")] = next(p for p in parts if p.startswith("linkage=")).split("=", 1)[1]
    return out


# --------------------------------------------------------------------------- split program (a)

def test_split_elf(llvm_lib, linked):
    """No flags but -o: programs, maps and license kept; unused code gone; the kfunc left undefined."""
    out = linked(llvm_lib, "split")
    syms = bpfkit.elf_symbols(out)
    assert syms["split_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert syms["stats_map"][2] == ".maps"
    assert syms["LICENSE"][2] == "license"
    assert "unused_helper" not in syms
    assert syms["bpf_dynptr_from_skb"] == ("STB_GLOBAL", "STT_NOTYPE", "SHN_UNDEF")
    # Nothing else undefined: in particular memset/memcpy of the structs were expanded.
    undefined = sorted(n for n, (_, _, shndx) in syms.items() if shndx == "SHN_UNDEF")
    assert undefined == ["bpf_dynptr_from_skb"]
    sections = bpfkit.elf_sections(out)
    assert ".BTF" in sections, "BTF-defined maps need .BTF"
    assert {".bss", ".rodata"} <= set(sections)  # .data: `seed` is never written, may fold


def test_split_btf_linkage(llvm_lib, linked):
    """Only programs are global in BTF; internalized helpers are static (else the verifier
    checks them without their caller's packet pointers); the kfunc stays extern."""
    funcs = btf_funcs(linked(llvm_lib, "split"))
    assert funcs.pop("split_prog") == "global"
    assert funcs.pop("bpf_dynptr_from_skb") == "extern"
    assert "unused_helper" not in funcs
    assert all(linkage == "static" for linkage in funcs.values()), funcs


@pytest.mark.requires_kernel_bpf
def test_split_runs_like_clang_alone(llvm_lib, linked, cbuild, ref_run):
    assert_runs_like(linked(llvm_lib, "split"), cbuild.ref("split"), "split", ref_run)


# --------------------------------------------------------------------------- input forms (c)

@pytest.mark.parametrize("form", INPUT_FORMS)
def test_split_input_forms_elf(llvm_lib, linked, form):
    syms = bpfkit.elf_symbols(linked(llvm_lib, "split", form=form))
    assert syms["split_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert "unused_helper" not in syms
    assert syms["bpf_dynptr_from_skb"] == ("STB_GLOBAL", "STT_NOTYPE", "SHN_UNDEF")


@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("form", INPUT_FORMS)
def test_split_input_forms_run(llvm_lib, linked, cbuild, ref_run, form):
    assert_runs_like(linked(llvm_lib, "split", form=form), cbuild.ref("split"), "split", ref_run)


# --------------------------------------------------------------------------- libbpf rules (b)

def test_libbpf_rules_elf(llvm_lib, linked):
    """Three identical licenses, weak/strong pairs and an extern map link into one of each."""
    out = linked(llvm_lib, "libbpf_rules")
    syms = bpfkit.elf_symbols(out)
    assert syms["rules_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert syms["shared_map"][2] == ".maps"
    assert bpfkit.elf_section_data(out, "license").rstrip(b"\0") == b"GPL"
    assert not [n for n, (_, _, shndx) in syms.items() if shndx == "SHN_UNDEF"]


@pytest.mark.requires_kernel_bpf
def test_libbpf_rules_value(llvm_lib, linked, cbuild, ref_run, tmp_path):
    """Strong beats weak, the first weak wins, the extern map is the defined one: as libbpf links it."""
    objs = cbuild.inputs("libbpf_rules", SCENARIOS["libbpf_rules"]["files"], "obj")
    libbpf_out = bpfkit.libbpf_link(tmp_path / "libbpf.o", objs)
    data = PACKETS["libbpf_rules"]["zeros"]
    expected = bpfkit.prog_run(libbpf_out, "rules_prog", data)
    assert expected == ref_run(cbuild.ref("libbpf_rules"), "rules_prog", data)
    got = bpfkit.prog_run(linked(llvm_lib, "libbpf_rules"), "rules_prog", data)
    assert got == expected


# --------------------------------------------------------------------------- kfunc, ksym, kconfig externs

def test_externs_stay_undefined(llvm_lib, linked, cbuild):
    """kfuncs, ksyms and kconfig variables keep the binding clang gave them, undefined."""
    syms = bpfkit.elf_symbols(linked(llvm_lib, "kfunc"))
    ref = bpfkit.elf_symbols(cbuild.ref("kfunc"))
    for name in ("bpf_dynptr_from_skb", "bpf_linker_test_no_such_kfunc", "_stext", "LINUX_KERNEL_VERSION"):
        assert syms.get(name) == ref[name], name
    btf = bpfkit.btf_dump(linked(llvm_lib, "kfunc"))
    assert "DATASEC '.ksyms'" in btf and "DATASEC '.kconfig'" in btf


@pytest.mark.requires_kernel_bpf
def test_externs_run_like_clang_alone(llvm_lib, linked, cbuild, ref_run):
    assert_runs_like(linked(llvm_lib, "kfunc"), cbuild.ref("kfunc"), "kfunc", ref_run)


# --------------------------------------------------------------------------- loops, inlining, unrolling (d, e)

def _local_calls(path):
    return [c for c in bpfkit.bpf_calls(path) if c["kind"] == "local"]


def test_noinline_is_kept_by_default(llvm_lib, linked):
    out = linked(llvm_lib, "loops")
    assert _local_calls(out), "noinline helpers must stay BPF-to-BPF calls without --ignore-inline-never"


def test_ignore_inline_never_leaves_no_local_call(llvm_lib, linked):
    out = linked(llvm_lib, "loops", "--ignore-inline-never")
    assert _local_calls(out) == [], bpfkit.disasm(out)


def test_fixed_count_loop_stays_a_loop_by_default(llvm_lib, linked):
    back = {j["function"] for j in bpfkit.backward_jumps(linked(llvm_lib, "loops"))}
    assert back & {"fold_hash", "unroll_prog"}


@pytest.mark.parametrize("flags", [("--unroll-loops",), ("--unroll-loops", "--ignore-inline-never")],
                         ids=["unroll", "unroll+inline"])
def test_unroll_loops_leaves_no_backward_jump(llvm_lib, linked, flags):
    """unroll_prog runs only fold_hash's 48-round loop: after --unroll-loops no backward jump remains."""
    out = linked(llvm_lib, "loops", *flags)
    back = [j for j in bpfkit.backward_jumps(out) if j["function"] in ("fold_hash", "unroll_prog")]
    assert back == [], bpfkit.disasm(out)


@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("flags", [(), ("--ignore-inline-never",), ("--unroll-loops",),
                                   ("--unroll-loops", "--ignore-inline-never")],
                         ids=["default", "inline", "unroll", "unroll+inline"])
def test_loops_run_like_clang_alone(llvm_lib, linked, cbuild, ref_run, flags):
    assert_runs_like(linked(llvm_lib, "loops", *flags), cbuild.ref("loops"), "loops", ref_run)
