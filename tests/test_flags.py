"""Every flag of REFERENCE.md section 2, through the CLI in a subprocess, judged by its effect.

Each test runs `python -m bpf_linker` (LLVM options are process-global, so one link per
process) on the C programs of tests/c/flags and asserts on what the flag changes: ELF
header, sections and symbols, instruction classes, BTF, files written, messages, exit
status, and, where the kernel can load the result, the value the program returns.
Tests whose outcome depends on the LLVM version run on llvm16 and llvm22 (`llvm_lib`);
the others use one LLVM (`one_llvm`: 22 if present, else 16).

`--ignore-inline-never` and `--unroll-loops` are covered by tests/test_e2e_c.py.

Byte-for-byte comparisons link with `--no-btf`: with BTF, the numbering of forward-declared
struct types (`bpf_flow_keys`, `bpf_sock` of `__sk_buff`) changes from one run of the same
command to the next, on LLVM 16 and 22 alike, so whole-file equality would be flaky.
"""

from __future__ import annotations

import collections
import os
import re
import struct
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

# The flags of REFERENCE.md section 2, as `--help` must list them.
SECTION_2_FLAGS = (
    "--output", "--emit", "-O", "--target", "--cpu", "--cpu-features", "--export",
    "--export-symbols", "-L", "--unroll-loops", "--ignore-inline-never",
    "--disable-expand-memcpy-in-order", "--disable-memory-builtins", "--btf", "--allow-bpf-trap",
    "--llvm-args", "--dump-module", "--log-file", "--log-level", "--fatal-errors", "--help", "--version",
)

# A tc packet for flags_prog: mix() inputs, and a negative signed byte at offset 4.
FLAGS_PACKET = bytes([200, 17, 99, 250, 0xF0]) + bytes(range(5, 64))

BPF_CLASS_ALU = 0x04     # 32-bit ALU (BPF_END byte swaps share the class; excluded below)
BPF_CLASS_JMP32 = 0x06
BPF_LDX_MEMSX_B = 0x91   # cpu v4: sign-extending byte load


# --------------------------------------------------------------------------- helpers

def llvm_major(path) -> int:
    """16 for libLLVM-16.so.1, 22 for libLLVM.so.22.1 or libLLVM.so.22.1-rust-1.95.0-stable."""
    m = re.search(r"libLLVM[-.](?:so\.)?(\d+)", os.path.basename(str(path)))
    assert m, path
    return int(m.group(1))


def flags_model(data: bytes) -> int:
    """What flags_prog (tests/c/flags/prog.c) returns for a packet: skb->len is len(data)."""
    if len(data) < 8:
        return 1

    def mix(a, b):
        return ((a * 31 + b) ^ (a >> 3)) & 0xFFFFFFFF

    r = mix(data[0], data[1]) ^ mix(data[2], data[3])
    if r > 1000:
        r -= 1000
    if len(data) < r:
        r = (r + len(data)) & 0xFFFFFFFF
    r = (r + struct.unpack("b", data[4:5])[0]) & 0xFFFFFFFF
    return r & 0xFFFF


def insns(path):
    """(section, offset, opcode, off, imm) of every instruction in the executable sections."""
    from elftools.elf.elffile import ELFFile

    out = []
    with open(path, "rb") as f:
        elf = ELFFile(f)
        fmt = "<BBhi" if elf.little_endian else ">BBhi"
        for sec in elf.iter_sections():
            if sec["sh_type"] != "SHT_PROGBITS" or not sec["sh_flags"] & bpfkit.SHF_EXECINSTR:
                continue
            data, i = sec.data(), 0
            while i + 8 <= len(data):
                code, _regs, off, imm = struct.unpack_from(fmt, data, i)
                out.append((sec.name, i, code, off, imm))
                i += 16 if code == 0x18 else 8
    return out


def insn_classes(path) -> collections.Counter:
    """Instruction count per BPF class (opcode & 7); byte swaps (BPF_END) are not counted as ALU32."""
    counts = collections.Counter()
    for _sec, _i, code, _off, _imm in insns(path):
        cls = code & 0x07
        if cls == BPF_CLASS_ALU and code & 0xF0 == 0xD0:
            cls = "end"
        counts[cls] += 1
    return counts


def exec_bytes(path) -> dict[str, bytes]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        return {s.name: s.data() for s in elf.iter_sections()
                if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & bpfkit.SHF_EXECINSTR}


def local_calls(path):
    return [c for c in bpfkit.bpf_calls(path) if c["kind"] == "local"]


def undefined(path) -> list[str]:
    return sorted(n for n, (_b, _t, shndx) in bpfkit.elf_symbols(path).items() if shndx == "SHN_UNDEF")


def func_size(path, name) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            if sym.name == name:
                return sym["st_size"]
    raise AssertionError(f"{path}: no symbol {name}")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def one_llvm() -> str:
    """One libLLVM for flags whose effect does not depend on the LLVM version."""
    path = bpfkit.llvm22_path() or bpfkit.llvm16_path()
    bpfkit.require(path is not None, "a libLLVM (16 or 22) with the BPF target")
    return path


@pytest.fixture(scope="session")
def src(cbuild):
    """src(name, **kw) -> tests/c/flags/<name>.c compiled to bitcode (clang-16 -g -O2 unless extra)."""
    def build(name, form="bc", extra=()):
        return cbuild.build(f"flags/{name}.c", form, extra=tuple(extra))
    return build


@pytest.fixture(scope="session")
def link(tmp_path_factory):
    """link(llvm, inputs, *flags, check=True, ext=".o") -> (CompletedProcess, output path).

    Memoized per (llvm, inputs, flags): tests asking for the same link share one run.
    """
    root = tmp_path_factory.mktemp("flags")
    memo: dict[tuple, tuple] = {}

    def run(llvm, inputs, *flags, check=True, ext=".o"):
        key = (str(llvm), tuple(map(str, inputs)), tuple(map(str, flags)), check, ext)
        if key not in memo:
            out = root / f"out{len(memo)}{ext}"
            r = bpfkit.run_linker("-o", out, *flags, *inputs, llvm=llvm, check=check)
            if check:
                assert out.is_file(), f"exit 0 but no {out}"
            memo[key] = (r, out)
        return memo[key]

    return run


@pytest.fixture(scope="session")
def prog_inputs(src):
    return [src("prog"), src("helper")]


# --------------------------------------------------------------------------- -o, INPUTS, --help

def test_output_long_and_short_form(one_llvm, link, prog_inputs, tmp_path):
    """-o and --output both name the output; the inputs (two files) are linked into one program."""
    _, short = link(one_llvm, prog_inputs)
    out = tmp_path / "long.o"
    bpfkit.run_linker("--output", out, *prog_inputs, llvm=one_llvm)
    for path in (short, out):
        syms = bpfkit.elf_symbols(path)
        assert syms["flags_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
        assert "mix" not in syms  # helper.c's function was linked in, then inlined
        assert undefined(path) == []


def test_inputs_are_required(one_llvm, tmp_path):
    r = bpfkit.run_linker("-o", tmp_path / "x.o", llvm=one_llvm, check=False)
    assert r.returncode == 1
    assert "INPUTS" in r.stderr and "required" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "x.o").exists()


def test_help_lists_every_flag():
    r = bpfkit.run_linker("--help")
    assert r.returncode == 0
    assert "usage: bpf-linker" in r.stdout
    for flag in SECTION_2_FLAGS:
        assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", r.stdout, re.M), flag


# --------------------------------------------------------------------------- --emit

@pytest.mark.parametrize("kind", ["asm", "llvm-ir", "llvm-bc"])
def test_emit_kinds(one_llvm, link, prog_inputs, kind):
    _, out = link(one_llvm, prog_inputs, "--emit", kind, ext=f".{kind}")
    data = out.read_bytes()
    assert not data.startswith(b"\x7fELF")
    if kind == "asm":
        text = data.decode()
        assert re.search(r"^flags_prog:", text, re.M), text[:2000]
        assert re.search(r"^\s+exit\b", text, re.M)
        assert re.search(r"^\s+\.section\s+tc,", text, re.M)
    elif kind == "llvm-ir":
        text = data.decode()
        assert re.search(r'^target triple = "bpf', text, re.M)
        assert re.search(r"^define .*@flags_prog\(", text, re.M)
        assert "@foo" not in text  # linked and optimized like an object: unused code is gone
    else:
        assert data[:4] == b"BC\xc0\xde"


def test_emit_first_wins(one_llvm, link, prog_inputs):
    _, asm = link(one_llvm, prog_inputs, "--emit", "asm", "--emit", "llvm-ir", ext=".s")
    _, ir = link(one_llvm, prog_inputs, "--emit=llvm-ir", "--emit=asm", ext=".ll")
    assert re.search(r"^flags_prog:", asm.read_text(), re.M) and "define " not in asm.read_text()
    assert re.search(r"^define .*@flags_prog\(", ir.read_text(), re.M)


def test_emit_obj_is_the_default(one_llvm, link, prog_inputs):
    _, default = link(one_llvm, prog_inputs, "--no-btf")
    _, obj = link(one_llvm, prog_inputs, "--no-btf", "--emit", "obj")
    assert default.read_bytes()[:4] == b"\x7fELF"
    assert default.read_bytes() == obj.read_bytes()


# --------------------------------------------------------------------------- -O

@pytest.fixture(scope="session")
def opt_input(src):
    """opt.c without LLVM passes: the linker runs default<Ox> on it (no optnone, no noinline)."""
    return src("opt", extra=("-Xclang", "-disable-llvm-passes"))


def test_opt_levels_differ_on_unoptimized_input(llvm_lib, link, opt_input):
    outs = {lvl: link(llvm_lib, [opt_input], "--no-btf", f"-O{lvl}")[1] for lvl in ("0", "1", "3", "z")}
    sizes = {lvl: sum(insn_classes(p).values()) for lvl, p in outs.items()}
    loops = {lvl: len(bpfkit.backward_jumps(p)) for lvl, p in outs.items()}
    # -O3 fully unrolls the 16-round loop; -O1 and -Oz keep it.
    assert loops["3"] == 0 and loops["1"] >= 1 and loops["z"] >= 1, loops
    assert sizes["3"] > 2 * sizes["1"] and sizes["3"] > 2 * sizes["z"], sizes
    # -O0 is treated as -O1 (almost nothing compiled at O0 passes the verifier).
    assert outs["0"].read_bytes() == outs["1"].read_bytes()


def test_last_opt_level_wins(one_llvm, link, opt_input):
    o1 = link(one_llvm, [opt_input], "--no-btf", "-O1")[1].read_bytes()
    o3 = link(one_llvm, [opt_input], "--no-btf", "-O3")[1].read_bytes()
    assert o1 != o3
    assert link(one_llvm, [opt_input], "--no-btf", "-O3", "-O1")[1].read_bytes() == o1
    assert link(one_llvm, [opt_input], "--no-btf", "-O1", "-O", "3")[1].read_bytes() == o3


@pytest.mark.requires_kernel_bpf
def test_opt_levels_all_load_and_agree(llvm_lib, link, opt_input, src):
    ref = bpfkit.prog_run(src("opt", "obj"), "opt_prog", FLAGS_PACKET)
    for lvl in ("1", "3", "z"):
        out = link(llvm_lib, [opt_input], "--no-btf", f"-O{lvl}")[1]
        assert bpfkit.prog_run(out, "opt_prog", FLAGS_PACKET) == ref, f"-O{lvl}"


def test_opt_level_of_optimized_input_runs_post_link_pipeline(one_llvm, link, prog_inputs):
    """Inputs clang already optimized get the post-link pipeline whatever -O says (passes/optimize.py)."""
    r, _ = link(one_llvm, prog_inputs, "-O3", "--log-level", "info")
    assert "inputs already optimized" in r.stderr and "default<O3>" not in r.stderr


# --------------------------------------------------------------------------- --target

def elf_ident(path) -> tuple[int, int]:
    """(EI_DATA, e_machine): 1 little / 2 big endian; 247 is EM_BPF."""
    head = Path(path).read_bytes()[:20]
    assert head[:4] == b"\x7fELF"
    order = "<" if head[5] == 1 else ">"
    return head[5], struct.unpack(order + "H", head[18:20])[0]


@pytest.mark.parametrize("target, ei_data", [("bpfeb", 2), ("bpfel", 1), ("bpf", 1)])
def test_target_byte_order(one_llvm, link, prog_inputs, target, ei_data):
    _, out = link(one_llvm, prog_inputs, "--target", target)
    assert elf_ident(out) == (ei_data, 247)
    assert bpfkit.elf_symbols(out)["flags_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert insns(out), "no code"


def test_target_defaults_to_first_input_triple(one_llvm, link, src):
    """Without --target, an input compiled for bpfeb gives a big-endian object."""
    be = [src("prog", extra=("-target", "bpfeb")), src("helper", extra=("-target", "bpfeb"))]
    _, out = link(one_llvm, be)
    assert elf_ident(out) == (2, 247)


def test_target_invalid(one_llvm, link, prog_inputs):
    r, out = link(one_llvm, prog_inputs, "--target", "x86_64-unknown-linux-gnu", check=False)
    assert r.returncode != 0
    assert "--target" in r.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- --cpu, --cpu-features

def test_cpu_v1_has_no_32bit_instructions_v3_has(llvm_lib, link, prog_inputs):
    v1 = insn_classes(link(llvm_lib, prog_inputs, "--cpu", "v1")[1])
    v3 = insn_classes(link(llvm_lib, prog_inputs, "--cpu", "v3")[1])
    default = insn_classes(link(llvm_lib, prog_inputs)[1])
    assert v1[BPF_CLASS_ALU] == 0 and v1[BPF_CLASS_JMP32] == 0, v1
    assert v3[BPF_CLASS_ALU] > 0 and v3[BPF_CLASS_JMP32] > 0, v3
    assert default[BPF_CLASS_ALU] == 0 and default[BPF_CLASS_JMP32] == 0, "generic is v1"


def test_cpu_v4(llvm_lib, link, prog_inputs):
    """v4 works on LLVM 22 (sign-extending loads appear) and is rejected clearly on LLVM 16."""
    r, out = link(llvm_lib, prog_inputs, "--cpu", "v4", check=False)
    if llvm_major(llvm_lib) < 18:
        assert r.returncode == 1
        assert f"unknown --cpu 'v4' for LLVM {llvm_major(llvm_lib)}" in r.stderr, r.stderr
        assert not out.exists()
        return
    assert r.returncode == 0, r.stderr
    opcodes = {code for *_x, code, _off, _imm in insns(out)}
    assert BPF_LDX_MEMSX_B in opcodes
    v3 = link(llvm_lib, prog_inputs, "--cpu", "v3")[1]
    assert BPF_LDX_MEMSX_B not in {code for *_x, code, _off, _imm in insns(v3)}


@pytest.mark.requires_kernel_bpf
def test_cpu_variants_run_the_same(llvm_lib, link, prog_inputs):
    expected = flags_model(FLAGS_PACKET)
    cpus = ["v1", "v3"] + (["v4"] if llvm_major(llvm_lib) >= 18 else [])
    for cpu in cpus:
        out = link(llvm_lib, prog_inputs, "--cpu", cpu)[1]
        assert bpfkit.prog_run(out, "flags_prog", FLAGS_PACKET) == expected, cpu
    assert bpfkit.prog_run(link(llvm_lib, prog_inputs)[1], "flags_prog", FLAGS_PACKET) == expected


def test_unknown_cpu_is_an_error(one_llvm, link, prog_inputs):
    r, out = link(one_llvm, prog_inputs, "--cpu", "v9", check=False)
    assert r.returncode == 1
    assert "bpf-linker: error: unknown --cpu 'v9'" in r.stderr
    assert not out.exists()


def test_cpu_features_alu32(llvm_lib, link, prog_inputs):
    plain = link(llvm_lib, prog_inputs)[1]
    alu32 = link(llvm_lib, prog_inputs, "--cpu-features", "+alu32")[1]
    assert insn_classes(plain)[BPF_CLASS_ALU] == 0
    assert insn_classes(alu32)[BPF_CLASS_ALU] > 0
    assert exec_bytes(plain) != exec_bytes(alu32)


# --------------------------------------------------------------------------- --export, --export-symbols

def test_unexported_function_disappears(one_llvm, link, prog_inputs):
    syms = bpfkit.elf_symbols(link(one_llvm, prog_inputs)[1])
    assert "foo" not in syms and "bar" not in syms


@pytest.mark.parametrize("flags, kept", [
    (("--export", "foo"), {"foo"}),
    (("--export=foo,bar",), {"foo", "bar"}),
    (("--export", "foo", "--export", "bar"), {"foo", "bar"}),
], ids=["one", "comma-split", "repeated"])
def test_export(one_llvm, link, prog_inputs, flags, kept):
    out = link(one_llvm, prog_inputs, *flags)[1]
    syms = bpfkit.elf_symbols(out)
    for name in kept:
        assert syms.get(name) == ("STB_GLOBAL", "STT_FUNC", ".text"), (name, syms.get(name))
    for name in {"foo", "bar"} - kept:
        assert name not in syms
    assert syms["flags_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")


def test_export_symbols_file(one_llvm, link, prog_inputs, tmp_path):
    """One symbol per line, not trimmed: `foo ` (trailing space) does not name foo."""
    path = tmp_path / "symbols"
    path.write_text("foo \nbar\n")
    syms = bpfkit.elf_symbols(link(one_llvm, prog_inputs, "--export-symbols", path)[1])
    assert syms.get("bar") == ("STB_GLOBAL", "STT_FUNC", ".text")
    assert "foo" not in syms
    path2 = tmp_path / "symbols2"
    path2.write_text("foo\n")
    syms = bpfkit.elf_symbols(link(one_llvm, prog_inputs, "--export-symbols", path, "--export-symbols", path2)[1])
    assert {"foo", "bar"} <= set(syms)


def test_export_symbols_missing_file(one_llvm, link, prog_inputs, tmp_path):
    r, out = link(one_llvm, prog_inputs, "--export-symbols", tmp_path / "nope", check=False)
    assert r.returncode == 1 and "nope" in r.stderr and "export symbols" in r.stderr
    assert not out.exists()


# --------------------------------------------------------------------------- -L, --debug (accepted, no effect)

@pytest.mark.parametrize("flags", [("-L", "/tmp"), ("-L/no/such/dir",), ("--debug",)],
                         ids=["-L dir", "-Ldir", "--debug"])
def test_ignored_flags_do_not_change_the_output(one_llvm, link, prog_inputs, flags):
    base = link(one_llvm, prog_inputs, "--no-btf")[1].read_bytes()
    r, out = link(one_llvm, prog_inputs, "--no-btf", *flags)
    assert r.stderr == ""
    assert out.read_bytes() == base


# --------------------------------------------------------------------------- --disable-expand-memcpy-in-order, memset

def memcpy_in_order(path) -> bool:
    """The 48-byte struct copy as six load/store pairs at ascending offsets 0, 8, ... 40."""
    seq = [(code, off) for *_x, code, off, _imm in insns(path)]
    want = [x for k in range(6) for x in ((0x79, 8 * k), (0x7B, 8 * k))]  # ldxdw, stxdw
    return any(seq[i:i + len(want)] == want for i in range(len(seq)))


def test_expand_memcpy_in_order(llvm_lib, link, src):
    """Default: the backend copies the struct in order, each load followed by its store.
    With the flag LLVM's generic expansion copies it otherwise (descending, fused with later code)."""
    default = link(llvm_lib, [src("mem")])[1]
    generic = link(llvm_lib, [src("mem")], "--disable-expand-memcpy-in-order")[1]
    assert memcpy_in_order(default), bpfkit.disasm(default)
    assert not memcpy_in_order(generic), bpfkit.disasm(generic)
    # Neither leaves a call to memcpy or memset (the struct memset is expanded too).
    assert undefined(default) == [] and undefined(generic) == []
    assert not [c for c in bpfkit.bpf_calls(default) if c["kind"] != "helper"]


def test_expand_memcpy_in_order_llvm_option(one_llvm, link, src):
    """The flag drops --bpf-expand-memcpy-in-order from LLVM's options (test_print_pipeline:
    and turns the expand-memcpy pass into expand-memcpy{in-order=false})."""
    on, _ = link(one_llvm, [src("mem")], "--log-level", "debug")
    off, _ = link(one_llvm, [src("mem")], "--disable-expand-memcpy-in-order", "--log-level", "debug")
    options = [re.search(r"LLVM options: (.*)", r.stderr).group(1).split() for r in (on, off)]
    assert "--bpf-expand-memcpy-in-order" in options[0]
    assert "--bpf-expand-memcpy-in-order" not in options[1]


@pytest.mark.requires_kernel_bpf
def test_memcpy_and_memset_run_both_ways(llvm_lib, link, src):
    """Default (struct memset expanded, no extern memset) and generic expansion load and agree."""
    data = bytes(64)
    for flags in ((), ("--disable-expand-memcpy-in-order",)):
        out = link(llvm_lib, [src("mem")], *flags)[1]
        assert bpfkit.prog_run(out, "mem_prog", data) == 3 + 2 * len(data), flags


# --------------------------------------------------------------------------- --disable-memory-builtins

def test_memory_builtins_exported_by_default(one_llvm, link, prog_inputs, src):
    inputs = [*prog_inputs, src("membuiltins")]
    kept = bpfkit.elf_symbols(link(one_llvm, inputs)[1])
    gone = bpfkit.elf_symbols(link(one_llvm, inputs, "--disable-memory-builtins")[1])
    for name in ("memcpy", "memset"):
        assert kept.get(name) == ("STB_GLOBAL", "STT_FUNC", ".text"), (name, kept.get(name))
        assert name not in gone or gone[name][0] == "STB_LOCAL", (name, gone[name])
    assert gone["flags_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")


# --------------------------------------------------------------------------- --btf / --no-btf

def test_btf_flags(one_llvm, link, prog_inputs):
    default = link(one_llvm, prog_inputs)[1]
    keep = link(one_llvm, prog_inputs, "--btf")[1]
    strip = link(one_llvm, prog_inputs, "--no-btf")[1]
    for path in (default, keep):
        sections = bpfkit.elf_sections(path)
        assert {".BTF", ".BTF.ext"} <= set(sections), sorted(sections)
        assert "FUNC 'flags_prog'" in bpfkit.btf_dump(path)
    sections = bpfkit.elf_sections(strip)
    assert not {s for s in sections if s.startswith((".BTF", ".debug_", ".rel.BTF"))}, sorted(sections)
    assert exec_bytes(strip) == exec_bytes(default)  # same code, only the debug info differs


def test_btf_without_debug_info(one_llvm, link, src):
    """Inputs without -g: no BTF by default; --btf warns that there is nothing to keep."""
    nodebug = [src("prog", extra=("-g0",)), src("helper", extra=("-g0",))]
    r, out = link(one_llvm, nodebug)
    assert ".BTF" not in bpfkit.elf_sections(out) and r.stderr == ""
    r, out = link(one_llvm, nodebug, "--btf")
    assert ".BTF" not in bpfkit.elf_sections(out)
    assert "warning" in r.stderr and "no debug info" in r.stderr


# --------------------------------------------------------------------------- --allow-bpf-trap

def test_allow_bpf_trap(llvm_lib, link, src):
    """LLVM 21+ lowers a surviving `unreachable` to a __bpf_trap kfunc call only with --allow-bpf-trap."""
    default = link(llvm_lib, [src("unreachable")])[1]
    allowed = link(llvm_lib, [src("unreachable")], "--allow-bpf-trap")[1]
    assert "__bpf_trap" not in bpfkit.elf_symbols(default)
    assert not [c for c in bpfkit.bpf_calls(default) if c["function"] == "unreach_prog"]
    if llvm_major(llvm_lib) < 21:  # accepted; nothing to allow
        assert "__bpf_trap" not in bpfkit.elf_symbols(allowed)
        assert exec_bytes(allowed) == exec_bytes(default)
        return
    assert bpfkit.elf_symbols(allowed)["__bpf_trap"][2] == "SHN_UNDEF"
    calls = [c for c in bpfkit.bpf_calls(allowed) if c["function"] == "unreach_prog"]
    assert [(c["kind"], c["target"]) for c in calls] == [("kfunc", "__bpf_trap")]
    assert func_size(default, "unreach_prog") == 0 < func_size(allowed, "unreach_prog")


def test_explicit_trap_is_not_governed_by_the_flag(link, src):
    """For the record: LLVM 21+ turns an explicit __builtin_trap() (llvm.trap) into a
    __bpf_trap call even without --allow-bpf-trap; the flag governs `unreachable` only."""
    lib = bpfkit.llvm22_path()
    bpfkit.require(lib is not None, "libLLVM 22")
    out = link(lib, [src("trap")])[1]
    calls = [c for c in bpfkit.bpf_calls(out) if c["function"] == "trap_prog" and c["kind"] == "kfunc"]
    assert [c["target"] for c in calls] == ["__bpf_trap"]


# --------------------------------------------------------------------------- --llvm-args

def assert_mix_not_inlined(path):
    calls = local_calls(path)
    assert len(calls) == 2 and {c["function"] for c in calls} == {"flags_prog"}, calls
    assert "mix" in bpfkit.elf_symbols(path)


def test_llvm_args_reach_llvm(llvm_lib, link, prog_inputs):
    """mix() is inlined by default; an inline threshold of -1000 leaves two BPF-to-BPF calls."""
    assert local_calls(link(llvm_lib, prog_inputs)[1]) == []
    assert_mix_not_inlined(link(llvm_lib, prog_inputs, "--llvm-args=--inline-threshold=-1000")[1])


@pytest.mark.parametrize("flags", [
    ("--llvm-args=--bpf-expand-memcpy-in-order,--inline-threshold=-1000",),
    ("--llvm-args=--unroll-threshold=150", "--llvm-args=--inline-threshold=-1000"),
], ids=["comma-split", "repeated"])
def test_llvm_args_comma_split_and_repeatable(one_llvm, link, prog_inputs, flags):
    assert_mix_not_inlined(link(one_llvm, prog_inputs, *flags)[1])


def test_llvm_args_come_after_the_linkers_own(one_llvm, link, prog_inputs):
    r, _ = link(one_llvm, prog_inputs, "--llvm-args=--inline-threshold=-1000", "--log-level", "debug")
    options = re.search(r"LLVM options: (.*)", r.stderr).group(1).split()
    assert options[0] == "--cold-callsite-rel-freq=0" and options[-1] == "--inline-threshold=-1000"


# --------------------------------------------------------------------------- --dump-module

def test_dump_module(one_llvm, link, prog_inputs, tmp_path):
    dump = tmp_path / "dump"
    r, out = link(one_llvm, prog_inputs, "--dump-module", dump)
    assert sorted(p.name for p in dump.iterdir()) == ["post-opt.ll", "pre-opt.ll"]
    pre, post = (dump / "pre-opt.ll").read_text(), (dump / "post-opt.ll").read_text()
    for text in (pre, post):
        assert re.search(r"^define .*@flags_prog\(", text, re.M)
    # Before optimizing, the unused functions are still there (internalized); after, gone.
    assert re.search(r"^define internal .*@foo\(", pre, re.M)
    assert re.search(r"^define internal .*@mix\(", pre, re.M)
    assert "@foo(" not in post and "@mix(" not in post
    # Both are IR the same LLVM reads back: link each on its own.
    for name in ("pre-opt.ll", "post-opt.ll"):
        r2, again = link(one_llvm, [dump / name], "--emit", "llvm-bc", ext=".bc")
        assert again.read_bytes()[:4] == b"BC\xc0\xde"
    assert bpfkit.elf_symbols(out)["flags_prog"][2] == "tc"


# --------------------------------------------------------------------------- logging

def test_log_file_and_level(one_llvm, link, prog_inputs, tmp_path):
    log = tmp_path / "linker.log"
    log.write_text("earlier line\n")
    r, _ = link(one_llvm, prog_inputs, "--log-file", log, "--log-level", "info")
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier line", "the log file is appended to"
    assert any(re.search(r"info: command line: bpf-linker ", line) for line in lines), lines
    assert any(re.search(r"info: pipeline: unpack-archives,link,", line) for line in lines), lines
    assert not any("debug:" in line for line in lines)


def test_log_level_debug(one_llvm, link, prog_inputs):
    quiet, _ = link(one_llvm, prog_inputs)
    loud, _ = link(one_llvm, prog_inputs, "--log-level", "debug")
    assert quiet.stderr == ""
    assert re.search(r"^bpf-linker: debug: LLVM options: ", loud.stderr, re.M), loud.stderr
    assert re.search(r"^bpf-linker: debug: internalized foo$", loud.stderr, re.M), loud.stderr


def test_log_level_invalid(one_llvm, tmp_path, prog_inputs):
    r = bpfkit.run_linker("-o", tmp_path / "x.o", "--log-level", "loud", *prog_inputs, llvm=one_llvm, check=False)
    assert r.returncode == 1 and "invalid log level 'loud'" in r.stderr


# --------------------------------------------------------------------------- --fatal-errors

def test_fatal_errors(llvm_lib, link, src):
    """An LLVM error diagnostic (2 KiB memcpy, too big to expand): status 1 and no output by
    default; with --fatal-errors=false status 0 and the object (with its undefined memcpy)."""
    r, out = link(llvm_lib, [src("bigcopy")], check=False)
    assert r.returncode == 1
    assert "A call to built-in function 'memcpy' is not supported" in r.stderr, r.stderr
    assert not out.exists()
    r, out = link(llvm_lib, [src("bigcopy")], "--fatal-errors=false", check=False)
    assert r.returncode == 0, r.stderr
    syms = bpfkit.elf_symbols(out)
    assert syms["bigcopy_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert undefined(out) == ["memcpy"]


def test_fatal_errors_false_still_reports_the_diagnostic(one_llvm, link, src):
    r, _ = link(one_llvm, [src("bigcopy")], "--fatal-errors=false", check=False)
    assert r.returncode == 0
    assert "A call to built-in function 'memcpy' is not supported" in r.stderr


# --------------------------------------------------------------------------- --version, --print-pipeline

def test_version(llvm_lib):
    r = bpfkit.run_linker("--version", llvm=llvm_lib)
    assert r.returncode == 0
    first, second = r.stdout.splitlines()[:2]
    assert re.fullmatch(r"bpf-linker \S+", first), first
    assert second.startswith(f"LLVM {llvm_major(llvm_lib)}."), second
    assert str(llvm_lib) in second


def test_print_pipeline():
    r = bpfkit.run_linker("--print-pipeline")
    assert r.stdout.strip() == ("unpack-archives,link,internalize,optimize,expand-memcpy,btf,"
                                "check-undefined,codegen")
    r = bpfkit.run_linker("--print-pipeline", "--export=a,b", "-O3", "--emit", "asm", "--no-btf",
                          "--disable-memory-builtins", "--unroll-loops", "--ignore-inline-never",
                          "--disable-expand-memcpy-in-order")
    assert r.stdout.strip() == (
        "unpack-archives,link,internalize{export=a,b memory-builtins=false},ignore-noinline,"
        "optimize{level=3},unroll-loops,expand-memcpy{in-order=false},btf{mode=strip},check-undefined,"
        "codegen{emit=asm},check-object{no-calls=true no-loops=true}")
