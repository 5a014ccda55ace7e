"""User space of real libbpf C programs: skeletons, .rodata knobs, .bss/.data results, version sections, input CPU.

What libbpf users run: `bpftool gen skeleton` of the linked object, a C loader built
with gcc against libbpf (tests/userspace/skel_loader.c) that sets `skel->rodata->...` knobs
before load, runs the programs with BPF_PROG_TEST_RUN and prints `skel->bss->...`,
`skel->data->...`. Expected values come from a Python model of the fixture's C code
(tests/c/skel/*.c) and the packet, never from our linker's output; the clang
single-file object (tests/c/skel/ref.c) run through the same loader proves the
harness and is the reference the linked object's skeleton and results must equal.
"""

from __future__ import annotations

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang]

M32 = 0xFFFFFFFF
PKT = bytes(range(1, 65))                   # data_in: bytes 1..64, so pkt[0] == 1
XDP_DROP, XDP_PASS = 1, 2

# (knobs set on skel->rodata before load, programs run in this order after load)
RUNS = {
    "defaults": ({}, ["skel_tc", "skel_tc", "skel_xdp"]),
    "tuned": ({"mult": 3, "mode": 1, "rot": 5, "limit": 40, "drop_tag": 1}, ["skel_tc", "skel_xdp", "skel_tc"]),
}

# The skeleton members tests/c/skel declares for user space (static `hits` is not one).
SKEL_DATASECS = {
    "rodata": {"mult": "__u32", "mode": "__u8", "drop_tag": "__u8", "limit": "__u32", "rot": "__u32",
               "weights": "__u32[4]"},
    "data": {"runs": "__u32", "bias": "__u32", "scale": "__u32", "shared_total": "__u32"},
    "bss": {"out_sum": "__u32", "xdp_seen": "__u32", "out_hash": "__u64", "calc_calls": "__u32"},
    "data_custom": {"custom_val": "__u32"},
}
SKEL_PROGS = {"skel_tc", "skel_xdp"}
SKEL_MAPS = {"totals", "rodata", "data", "bss", "data_custom"}
SKEL_FUNCS = ("calc_fold", "calc_finish")   # global functions without a section in calc.c


def skel_model(pkt: bytes, knobs: dict, runs: list[str]) -> dict:
    """What tests/c/skel (prog.c + calc.c, strong definitions winning) computes, in Python.

    Returns the loader's view: {'runs': [(prog, retval)], 'vars': {'bss.out_sum': ...}}.
    """
    k = {"mult": 1, "mode": 0, "drop_tag": 0xFF, "limit": 16, "rot": 0, **knobs}
    weights = [3, 5, 7, 11]
    v = {"bss.out_sum": 0, "bss.xdp_seen": 0, "bss.out_hash": 0, "bss.calc_calls": 0,
         "data.runs": 100, "data.bias": 2, "data.scale": 5, "data.shared_total": 1000,
         "data_custom.custom_val": 11, "map.totals": 0}
    prog_hits = calc_hits = 0
    rets = []
    for prog in runs:
        if prog == "skel_tc":
            acc = n = 0
            for i in range(64):
                if i >= k["limit"] or i >= len(pkt):
                    break
                b, r = pkt[i], k["rot"] & 31
                x = (b * weights[b & 3] * v["data.scale"] + v["data.bias"]) & M32
                x = ((x << r) | (x >> ((32 - r) & 31))) & M32
                v["bss.calc_calls"] += 1
                calc_hits += 1
                acc = acc ^ x if k["mode"] else (acc + x) & M32
                n += 1
            out = (acc * k["mult"] + v["data.scale"]) & M32
            v["bss.out_sum"] = out
            v["data.runs"] += 1
            prog_hits += 1
            v["data.shared_total"] += n
            v["bss.out_hash"] = ((out << 32) | n) ^ (calc_hits << 8)
            v["data_custom.custom_val"] += n
            v["data.scale"] = (v["data.scale"] + 2) & M32
            v["map.totals"] += len(pkt)
            rets.append((prog, (out & 0xFFFF) | ((prog_hits << 16) & M32)))
        elif prog == "skel_xdp":
            v["bss.xdp_seen"] = (v["bss.xdp_seen"] + (pkt[12] << 8 | pkt[13])) & M32
            rets.append((prog, XDP_DROP if pkt[0] == k["drop_tag"] else XDP_PASS))
        else:
            raise ValueError(prog)
    v.update({f"rodata.{name}": value for name, value in k.items()})
    v.update({f"rodata.weights[{i}]": w for i, w in enumerate(weights)})
    return {"runs": rets, "vars": v}


def cpu_model(pkt: bytes) -> int:
    """cpu_prog of tests/c/skel_cpu, in Python."""
    h = 2166136261
    for b in pkt[:32]:
        h = ((h ^ b) * 16777619) & M32
        if h < 0x10000000:
            h = (h + 0x07654321) & M32
    return h & 0x7FFFFFFF


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def link_inputs(tmp_path_factory):
    """link_inputs(llvm, inputs, *flags, check=True) -> (output path, CompletedProcess), one link per key."""
    root = tmp_path_factory.mktemp("userspace")
    memo: dict[tuple, tuple] = {}

    def link(llvm, inputs, *flags, check=True):
        key = (llvm, tuple(map(str, inputs)), flags, check)
        if key not in memo:
            out = root / f"linked-{len(memo)}.o"
            r = bpfkit.run_linker("-o", out, *flags, *inputs, llvm=llvm, check=check)
            if check:
                assert out.is_file(), f"the linker exited 0 but wrote no {out}"
            memo[key] = (out, r)
        return memo[key]

    return link


@pytest.fixture(scope="session")
def skel_ref(cbuild):
    """clang's single-file object of tests/c/skel."""
    return cbuild.ref("skel")


@pytest.fixture(scope="session")
def skel_linked(cbuild, link_inputs):
    """skel_linked(llvm) -> our link of prog.c + calc.c (bitcode), no flags but -o."""
    def get(llvm):
        return link_inputs(llvm, cbuild.inputs("skel", ["prog.c", "calc.c"]))[0]
    return get


@pytest.fixture(scope="session")
def user_space(tmp_path_factory):
    """user_space(obj) -> {'skeleton': skel.h, 'layout': skeleton_layout, 'loader': path or None}.

    The loader (tests/userspace/skel_loader.c against the object's skeleton) is built only when the
    skeleton declares every variable it uses; otherwise 'missing' lists what is absent.
    """
    bpfkit.require(bpfkit.have_libbpf_dev(), "gcc and libbpf-dev (to build skeleton loaders)")
    root = tmp_path_factory.mktemp("skeletons")
    memo: dict[str, dict] = {}

    def get(obj):
        key = str(obj)
        if key not in memo:
            d = root / f"obj{len(memo)}"
            d.mkdir()
            skel_h = bpfkit.gen_skeleton(obj, d / "skel.skel.h", name="skel")
            layout = bpfkit.skeleton_layout(skel_h, "skel")
            missing = sorted(f"{sec}.{var}" for sec, vars_ in SKEL_DATASECS.items() for var in vars_
                             if var not in layout["datasecs"].get(sec, {}))
            missing += sorted(f"progs.{p}" for p in SKEL_PROGS - set(layout["progs"]))
            missing += sorted(f"maps.{m}" for m in {"totals"} - set(layout["maps"]))
            loader = None
            if not missing:
                loader = bpfkit.build_loader(bpfkit.TESTS_DIR / "userspace" / "skel_loader.c", skel_h, d / "loader")
            memo[key] = {"skeleton": skel_h, "layout": layout, "loader": loader, "missing": missing}
        return memo[key]

    return get


@pytest.fixture(scope="session")
def skel_run(user_space):
    """skel_run(obj, case) -> the loader's output for RUNS[case] on PKT, memoized."""
    memo: dict[tuple, dict] = {}

    def run(obj, case):
        key = (str(obj), case)
        if key not in memo:
            us = user_space(obj)
            assert us["loader"] is not None, (
                f"the skeleton of {obj} lacks {us['missing']}: globals were internalized, folded or "
                f"deleted, so the loader (skel->rodata/bss/data members) does not compile")
            knobs, progs = RUNS[case]
            args = [f"{k}={v}" for k, v in knobs.items()] + [a for p in progs for a in ("--run", p)]
            memo[key] = bpfkit.run_loader(us["loader"], *args, data=PKT)
        return memo[key]

    return run


def assert_loader_output(got: dict, expected: dict, what: str, keys=None) -> None:
    assert got["runs"] == expected["runs"], f"{what}: program return values"
    for name in keys or expected["vars"]:
        assert got["vars"].get(name) == expected["vars"][name], (
            f"{what}: {name} read back {got['vars'].get(name)}, expected {expected['vars'][name]}")


# --------------------------------------------------------------------------- the harness, on clang's object

def test_reference_skeleton_declares_the_interface(skel_ref, user_space):
    """bpftool's skeleton of clang's object: every non-static global per datasec, no static ones."""
    layout = user_space(skel_ref)["layout"]
    assert layout["datasecs"] == SKEL_DATASECS
    assert set(layout["progs"]) == SKEL_PROGS
    assert set(layout["maps"]) == SKEL_MAPS
    vars_ = bpfkit.btf_datasec_vars(skel_ref)
    assert vars_[".bss"]["prog_hits"] == vars_[".bss"]["calc_hits"] == "static"


@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("case", sorted(RUNS))
def test_reference_runs_like_the_model(skel_ref, skel_run, case):
    """The loader on clang's single-file object gives what the Python model computes."""
    knobs, progs = RUNS[case]
    assert_loader_output(skel_run(skel_ref, case), skel_model(PKT, knobs, progs), f"clang object, {case}")


def test_models_differ_by_knobs():
    """The knob values chosen change every output the tests look at (else a folded knob would pass)."""
    a, b = (skel_model(PKT, *RUNS[c]) for c in ("defaults", "tuned"))
    assert [r for _, r in a["runs"]] != [r for _, r in b["runs"]]
    for name in ("bss.out_sum", "bss.out_hash", "bss.calc_calls", "data.shared_total", "data_custom.custom_val"):
        assert a["vars"][name] != b["vars"][name], name


# --------------------------------------------------------------------------- 1. globals stay global

@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("case", sorted(RUNS))
def test_rodata_knobs_change_results(llvm_lib, skel_linked, skel_run, case):
    """skel->rodata knobs set before load (in both files, one read through extern) steer the programs."""
    knobs, progs = RUNS[case]
    expected = skel_model(PKT, knobs, progs)
    got = skel_run(skel_linked(llvm_lib), case)
    assert_loader_output(got, expected, f"linked, {case}",
                         keys=["bss.out_sum", *(f"rodata.{k}" for k in ("mult", "mode", "drop_tag", "limit", "rot"))])


@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("case", sorted(RUNS))
def test_globals_written_read_back(llvm_lib, skel_linked, skel_run, case):
    """.bss/.data/.data.custom values the programs of both files write read back right through the
    skeleton; `scale` (__weak in prog.c) starts from calc.c's strong 5, `bias` keeps prog.c's strong 2."""
    knobs, progs = RUNS[case]
    expected = skel_model(PKT, knobs, progs)
    got = skel_run(skel_linked(llvm_lib), case)
    tc_runs = progs.count("skel_tc")
    assert got["vars"].get("data.scale") == 5 + 2 * tc_runs, "the strong `scale = 5` of calc.c must win"
    assert got["vars"].get("data.bias") == 2, "the strong `bias = 2` of prog.c must win"
    assert_loader_output(got, expected, f"linked, {case}")


@pytest.mark.requires_llvm
def test_skeleton_matches_clang_skeleton(llvm_lib, skel_linked, skel_ref, user_space):
    """Our skeleton declares the same variables (name and type per datasec), programs and maps as clang's."""
    ours = user_space(skel_linked(llvm_lib))["layout"]
    ref = user_space(skel_ref)["layout"]
    assert ours["datasecs"] == ref["datasecs"]
    assert set(ours["progs"]) == set(ref["progs"])
    assert set(ours["maps"]) == set(ref["maps"])


@pytest.mark.requires_llvm
def test_global_variables_keep_linkage(llvm_lib, skel_linked, skel_ref):
    """Every global variable is a global ELF symbol in the section clang puts it in, with global BTF
    linkage (libbpf needs both: a global VAR without its global symbol fails to open); statics stay static."""
    out = skel_linked(llvm_lib)
    ref_vars = bpfkit.btf_datasec_vars(skel_ref)
    our_vars = bpfkit.btf_datasec_vars(out)
    ref_syms, our_syms = bpfkit.elf_symbols(skel_ref), bpfkit.elf_symbols(out)
    for sec, vars_ in ref_vars.items():
        for name, linkage in vars_.items():
            if linkage != "global":
                continue
            assert our_vars.get(sec, {}).get(name) == "global", f"BTF VAR {name} in {sec}: {our_vars.get(sec)}"
            assert our_syms.get(name) == ref_syms[name] == ("STB_GLOBAL", "STT_OBJECT", sec), name
    statics = {n: lk for vars_ in our_vars.values() for n, lk in vars_.items() if n.startswith("hits")}
    assert statics and set(statics.values()) == {"static"}, statics


@pytest.mark.requires_llvm
def test_section_less_functions_are_internalized(llvm_lib, skel_linked):
    """calc.c's global functions without a section are not kept global (inlined or static), unlike
    clang's and libbpf's objects: our rule for functions stays while variables stay global."""
    out = skel_linked(llvm_lib)
    funcs, syms = bpfkit.btf_func_linkage(out), bpfkit.elf_symbols(out)
    assert funcs["skel_tc"] == funcs["skel_xdp"] == "global"
    for name in SKEL_FUNCS:
        assert funcs.get(name, "static") == "static", f"BTF FUNC {name}: {funcs.get(name)}"
        assert syms.get(name, ("STB_LOCAL",))[0] == "STB_LOCAL", f"{name}: {syms.get(name)}"


@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("case", sorted(RUNS))
def test_runs_like_clang_single_file(llvm_lib, skel_linked, skel_ref, skel_run, case):
    """The same loader gives the same return values, globals and map on our object and on clang's."""
    ref = skel_run(skel_ref, case)
    got = skel_run(skel_linked(llvm_lib), case)
    assert got == ref


# --------------------------------------------------------------------------- 2. version and license sections

VERSION_DIR = "skel_version"


@pytest.mark.requires_llvm
def test_version_sections_merge(llvm_lib, cbuild, link_inputs):
    """`VERSION` and `_version` (and `LICENSE`/`_license`) with equal values: one 4-byte section each."""
    out, _ = link_inputs(llvm_lib, cbuild.inputs(VERSION_DIR, ["main.c", "extra.c"]))
    sections = bpfkit.elf_sections(out)
    assert sections["version"]["size"] == 4, "libbpf refuses a version section that is not 4 bytes"
    assert bpfkit.elf_section_data(out, "version") == (0x060000).to_bytes(4, "little")
    assert bpfkit.elf_section_data(out, "license").rstrip(b"\0") == b"GPL"
    assert sections["license"]["size"] == 4


@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
def test_version_object_loads(llvm_lib, cbuild, link_inputs):
    """libbpf loads the merged object ("invalid kver section" otherwise) and the program runs."""
    out, _ = link_inputs(llvm_lib, cbuild.inputs(VERSION_DIR, ["main.c", "extra.c"]))
    assert bpfkit.prog_run(out, "ver_prog", PKT) == len(PKT) * 3 + 7


@pytest.mark.requires_llvm
@pytest.mark.parametrize("other, section", [("other_version.c", "version"), ("other_license.c", "license")])
def test_conflicting_section_values_fail(llvm_lib, cbuild, link_inputs, other, section):
    """Different values: exit 1, one error line naming both input files and the section, no output."""
    inputs = cbuild.inputs(VERSION_DIR, ["main.c", other])
    out, r = link_inputs(llvm_lib, inputs, check=False)
    assert r.returncode == 1, f"conflicting {section} values linked with exit {r.returncode}: {r.stderr!r}"
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("bpf-linker: error:"), lines[0]
    assert all(str(p) in lines[0] for p in inputs), lines[0]
    assert section in lines[0], lines[0]
    assert not out.exists()


# --------------------------------------------------------------------------- 3. the inputs' CPU

CPU_DIR = "skel_cpu"


def cpu_inputs(cbuild, prog_cpu: str, mix_cpu: str):
    return [cbuild.build(f"{CPU_DIR}/prog.c", "bc", extra=(f"-mcpu={prog_cpu}",)),
            cbuild.build(f"{CPU_DIR}/mix.c", "bc", extra=(f"-mcpu={mix_cpu}",))]


def test_clang_v3_object_has_v3_code(cbuild):
    """The fixture's -mcpu=v3 code uses ALU32 and JMP32, its v2 code neither (else the CPU tests prove nothing)."""
    v3 = cbuild.build(f"{CPU_DIR}/prog.c", "obj", extra=("-mcpu=v3",))
    v2 = cbuild.build(f"{CPU_DIR}/prog.c", "obj", extra=("-mcpu=v2",))
    counts = bpfkit.cpu_v3_insns(v3)
    assert counts["alu32"] > 0 and counts["jmp32"] > 0, counts
    assert bpfkit.cpu_v3_insns(v2) == {"alu32": 0, "jmp32": 0}


@pytest.mark.requires_llvm
def test_v3_inputs_give_v3_code(llvm_lib, cbuild, link_inputs):
    """-mcpu=v3 inputs linked without --cpu: v3 code, the same instructions as with --cpu v3, no warning."""
    inputs = cpu_inputs(cbuild, "v3", "v3")
    out, r = link_inputs(llvm_lib, inputs)
    counts = bpfkit.cpu_v3_insns(out)
    assert counts["alu32"] > 0 and counts["jmp32"] > 0, f"{counts}\n{bpfkit.disasm(out)}"
    explicit, _ = link_inputs(llvm_lib, inputs, "--cpu", "v3")
    assert bpfkit.insn_opcodes(out) == bpfkit.insn_opcodes(explicit)
    assert "warning" not in r.stderr.lower(), r.stderr


@pytest.mark.requires_llvm
def test_cpu_flag_beats_the_inputs(llvm_lib, cbuild, link_inputs):
    """--cpu v1 on -mcpu=v3 inputs: no ALU32/JMP32 instruction, no warning."""
    out, r = link_inputs(llvm_lib, cpu_inputs(cbuild, "v3", "v3"), "--cpu", "v1")
    assert bpfkit.cpu_v3_insns(out) == {"alu32": 0, "jmp32": 0}, bpfkit.disasm(out)
    assert "warning" not in r.stderr.lower(), r.stderr


@pytest.mark.requires_llvm
def test_mixed_cpus_warn_and_use_the_oldest(llvm_lib, cbuild, link_inputs):
    """A v3 and a v2 input: a warning naming both files; the code is what --cpu v2 gives."""
    inputs = cpu_inputs(cbuild, "v3", "v2")
    out, r = link_inputs(llvm_lib, inputs)
    warnings = [line for line in r.stderr.splitlines() if "warning" in line.lower()]
    assert any(all(str(p) in line for p in inputs) for line in warnings), r.stderr
    assert bpfkit.cpu_v3_insns(out) == {"alu32": 0, "jmp32": 0}, bpfkit.disasm(out)
    v2, _ = link_inputs(llvm_lib, inputs, "--cpu", "v2")
    assert bpfkit.insn_opcodes(out) == bpfkit.insn_opcodes(v2)


@pytest.mark.requires_llvm
def test_cpu_flag_wins_over_mixed_inputs(llvm_lib, cbuild, link_inputs):
    """--cpu v3 with v3 and v2 inputs: v3 code for every function, no warning."""
    out, r = link_inputs(llvm_lib, cpu_inputs(cbuild, "v3", "v2"), "--cpu", "v3")
    counts = bpfkit.cpu_v3_insns(out)
    assert counts["alu32"] > 0 and counts["jmp32"] > 0, counts
    assert "warning" not in r.stderr.lower(), r.stderr


@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("cpus, flags", [(("v3", "v3"), ()), (("v3", "v3"), ("--cpu", "v1")), (("v3", "v2"), ())],
                         ids=["v3", "v3-cpu-v1", "v3+v2"])
def test_cpu_variants_run_right(llvm_lib, cbuild, link_inputs, cpus, flags):
    """Whatever CPU is chosen, the program computes the model's hash of the packet."""
    out, _ = link_inputs(llvm_lib, cpu_inputs(cbuild, *cpus), *flags)
    assert bpfkit.prog_run(out, "cpu_prog", PKT) == cpu_model(PKT)
