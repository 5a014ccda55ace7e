"""Static BTF linkage by patching the emitted object's .BTF (bpf_linker.btf_object) instead of an IR round trip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import bpfkit
from bpf_linker.btf_object import NotPatchable, make_local_functions_static

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

SPLIT = ["main.c", "helpers.c"]
# The default pipeline without the btf pass: debug info kept as it is, so helpers stay `global`.
NO_BTF_PASS = "unpack-archives,link,internalize,optimize,expand-memcpy,check-undefined,codegen"

_TEXT_PATH = """
import sys
import bpf_linker.passes.btf as btf_pass
btf_pass.is_plain_c = lambda language: False
from bpf_linker.cli import main
sys.exit(main(sys.argv[1:]))
"""


def link_by_text(*args, llvm):
    """The CLI in a subprocess with the btf pass forced onto its textual IR round trip."""
    env = dict(os.environ, BPF_LINKER_LLVM=str(llvm), PYTHONSAFEPATH="1")
    return bpfkit.run_tool([sys.executable, "-c", _TEXT_PATH, *map(str, args)], env=env, what="bpf-linker")


def btf_funcs(path) -> list[tuple[str, str]]:
    """Sorted (FUNC name, linkage) pairs of `bpftool btf dump file` (names may repeat)."""
    found = re.findall(r"\] FUNC '([^']*)' type_id=\d+ linkage=(\w+)", bpfkit.btf_dump(path))
    return sorted(found)


def local_functions(path) -> set[str]:
    return {name for name, (bind, kind, _) in bpfkit.elf_symbols(path).items()
            if bind == "STB_LOCAL" and kind == "STT_FUNC"}


def test_object_patch_gives_the_linkage_of_the_ir_path(llvm_lib, cbuild, tmp_path):
    """Same FUNC linkages and the same code as the textual round trip; helpers static, the program global."""
    inputs = cbuild.inputs("split", SPLIT)
    patched, text = tmp_path / "patched.o", tmp_path / "text.o"
    bpfkit.run_linker("-o", patched, *inputs, llvm=llvm_lib)
    link_by_text("-o", text, *inputs, llvm=llvm_lib)
    funcs = btf_funcs(patched)
    assert funcs == btf_funcs(text)
    assert ("split_prog", "global") in funcs
    assert ("bpf_dynptr_from_skb", "extern") in funcs
    # Both static mix() (one per file, same name) and the internalized global helpers.
    assert [f for f in funcs if f[0] == "mix"] == [("mix", "static"), ("mix", "static")]
    assert ("checksum_bytes", "static") in funcs
    assert [f for f in funcs if f[1] == "global"] == [("split_prog", "global")]
    for section in ("tc", ".text", ".BTF.ext", ".maps"):
        assert bpfkit.elf_section_data(patched, section) == bpfkit.elf_section_data(text, section), section


def test_patch_changes_only_func_linkage_words(llvm_lib, cbuild, tmp_path):
    """Without the btf pass the helpers are global; the patch flips exactly their info words."""
    raw = tmp_path / "raw.o"
    bpfkit.run_linker("-p", NO_BTF_PASS, "-o", raw, *cbuild.inputs("split", SPLIT), llvm=llvm_lib)
    before = raw.read_bytes()
    assert ("checksum_bytes", "global") in btf_funcs(raw)
    after, names = make_local_functions_static(before)
    assert set(names) == local_functions(raw) & {n for n, linkage in btf_funcs(raw) if linkage == "global"}
    assert "checksum_bytes" in names and "split_prog" not in names
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(after) == len(before) and 0 < len(changed) <= 4 * len(names)
    out = tmp_path / "patched.o"
    out.write_bytes(after)
    funcs = btf_funcs(out)
    assert [f for f in funcs if f[1] == "global"] == [("split_prog", "global")]
    assert bpfkit.elf_section_data(out, ".BTF.ext") == bpfkit.elf_section_data(raw, ".BTF.ext")
    again, more = make_local_functions_static(after)
    assert again == after and more == []


def test_big_endian_objects_are_patched(llvm_lib, cbuild, tmp_path):
    inputs = [cbuild.build(f"split/{f}", "bc", extra=("-target", "bpfeb")) for f in SPLIT]
    out = tmp_path / "eb.o"
    bpfkit.run_linker("-o", out, *inputs, llvm=llvm_lib)
    assert open(out, "rb").read(6)[5] == 2  # ELFDATA2MSB
    funcs = btf_funcs(out)
    assert ("checksum_bytes", "static") in funcs
    assert [f for f in funcs if f[1] == "global"] == [("split_prog", "global")]


def test_text_outputs_carry_the_flag(llvm_lib, cbuild, tmp_path):
    """--emit llvm-ir cannot be patched afterwards: its subprograms get DISPFlagLocalToUnit."""
    out = tmp_path / "out.ll"
    bpfkit.run_linker("--emit", "llvm-ir", "-o", out, *cbuild.inputs("split", SPLIT), llvm=llvm_lib)
    subprograms = {m.group(1): m.group(0) for m in re.finditer(r'DISubprogram\(name: "(\w+)".*', out.read_text())}
    assert "DISPFlagLocalToUnit" in subprograms["checksum_bytes"]
    assert "DISPFlagLocalToUnit" not in subprograms["split_prog"]


def test_what_cannot_be_patched(llvm_lib, cbuild, tmp_path):
    with pytest.raises(NotPatchable):
        make_local_functions_static(b"not an object")
    plain = tmp_path / "plain.o"
    bpfkit.run_linker("--no-btf", "-o", plain, *cbuild.inputs("split", SPLIT), llvm=llvm_lib)
    data = plain.read_bytes()
    assert make_local_functions_static(data) == (data, [])  # no .BTF: nothing to do
    raw = tmp_path / "raw.o"
    bpfkit.run_linker("-p", NO_BTF_PASS, "-o", raw, *cbuild.inputs("split", SPLIT), llvm=llvm_lib)
    broken = bytearray(raw.read_bytes())
    btf_at = broken.find(b"\x9f\xeb\x01\x00")  # the .BTF header (little endian)
    hdr_len = int.from_bytes(broken[btf_at + 4:btf_at + 8], "little")
    broken[btf_at + hdr_len + 7] = 0x1F  # kind 31 in the first type's info word
    with pytest.raises(NotPatchable, match="unknown BTF kind"):
        make_local_functions_static(bytes(broken))


# --------------------------------------------------------------------------- a vmlinux.h program

TRACER = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} seen SEC(".maps");

__noinline int count_task(struct task_struct *t)
{
	u32 pid = BPF_CORE_READ(t, pid);
	u64 one = 1, *n = bpf_map_lookup_elem(&seen, &pid);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&seen, &pid, &one, 0);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return count_task(next);
}

char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture(scope="module")
def tracer_bc(tmp_path_factory):
    vmlinux = Path("/sys/kernel/btf/vmlinux")
    bpfkit.require(vmlinux.exists() and os.path.exists(bpfkit.BPFTOOL), "bpftool and /sys/kernel/btf/vmlinux")
    root = tmp_path_factory.mktemp("tracer")
    header = bpfkit.run_tool([bpfkit.BPFTOOL, "btf", "dump", "file", vmlinux, "format", "c"]).stdout
    (root / "vmlinux.h").write_text(header)
    (root / "tracer.bpf.c").write_text(TRACER)
    out = root / "tracer.bc"
    bpfkit.run_tool([bpfkit.CLANG, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", f"-I{root}",
                     "-emit-llvm", "-c", root / "tracer.bpf.c", "-o", out])
    return out


def test_btf_rules_change_nothing_on_vmlinux_h(tracer_bc, tmp_path):
    """What lets C skip the sanitizer: on a vmlinux.h program's debug info (thousands of
    kernel structs and unions) the BTF rules leave every node as it is."""
    from bpf_linker.btf_sanitize import sanitize_ir

    ll = tmp_path / "tracer.ll"
    bpfkit.run_tool([bpfkit.CLANG, "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86",
                     f"-I{tracer_bc.parent}", "-S", "-emit-llvm", tracer_bc.parent / "tracer.bpf.c", "-o", ll])
    ir = ll.read_text()
    assert ir.count("DW_TAG_structure_type") > 1000
    out, report = sanitize_ir(ir)
    assert out is ir and not report.changed, report


def test_vmlinux_program_is_patched_not_printed(llvm_lib, tracer_bc, tmp_path):
    """The helper is static in BTF, done on the object: no textual round trip of the module."""
    out = tmp_path / "tracer.o"
    r = bpfkit.run_linker("--log-level", "debug", "-o", out, tracer_bc, llvm=llvm_lib)
    assert "set in the object's .BTF" in r.stderr
    assert "static BTF linkage for 1 local functions: count_task" in r.stderr
    assert btf_funcs(out) == [("count_task", "static"), ("on_switch", "global")]


@pytest.mark.requires_kernel_bpf
def test_vmlinux_program_loads(llvm_lib, tracer_bc, tmp_path):
    """The kernel verifies it, count_task in its caller's context; with count_task global in
    BTF (the btf pass left out) the verifier rejects the same code."""
    out, raw = tmp_path / "tracer.o", tmp_path / "raw.o"
    bpfkit.run_linker("-o", out, tracer_bc, llvm=llvm_lib)
    bpfkit.run_linker("-p", NO_BTF_PASS, "-o", raw, tracer_bc, llvm=llvm_lib)
    assert load(out).returncode == 0, load(out).stderr
    rejected = load(raw)
    assert rejected.returncode != 0 and "Caller passes invalid args into func#1 ('count_task')" in rejected.stderr


def load(obj) -> subprocess.CompletedProcess:
    pin = bpfkit.BPFFS / f"btf_patch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run([bpfkit.BPFTOOL, "prog", "loadall", obj, pin], capture_output=True, text=True)
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def test_forward_declarations_come_out_in_name_order(cbuild, tmp_path):
    """The backend appends FWD types (and their names) in heap-address order; the object is
    compiled in the link's own heap, so codegen sorts them: the same bytes from any heap."""
    from bpf_linker.btf_object import canonical_forward_types

    llvm = bpfkit.llvm16_path() or bpfkit.llvm22_path()
    inputs = [cbuild.build("split/main.c", "bc"), cbuild.build("split/helpers.c", "bc")]
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, *inputs, llvm=llvm)
    dump = bpfkit.btf_dump(out)
    fwd = [line.split("'")[1] for line in dump.splitlines() if " FWD '" in line]
    assert len(fwd) >= 2 and fwd == sorted(fwd), fwd
    data = out.read_bytes()
    assert canonical_forward_types(data) == data  # already canonical: unchanged
    assert bpfkit.prog_run(out, "split_prog", bpfkit.PACKETS["split"]["counting"]) == \
        bpfkit.prog_run(cbuild.ref("split"), "split_prog", bpfkit.PACKETS["split"]["counting"])
