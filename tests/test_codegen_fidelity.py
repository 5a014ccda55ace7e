"""One clang-optimized file comes out as clang's own codegen would make it: no second optimization, same use-lists.

The object is compiled from the link's own module (passes/codegen.py); a bitcode copy
made by LLVM 16's or 19's writer would lose the use-list order clang's bitcode carries.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

# A loop over a .rodata array: the register allocator's choices there follow the order of
# the uses of its values, which a bitcode round trip without use-lists changes (58 -> 62).
SOURCE = textwrap.dedent("""\
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    const volatile int filter_ports[8];
    const volatile int filter_ports_len = 0;
    const volatile int filter_pid = 0;
    struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
    static __always_inline int filter_port(__u16 port) {
        int i;
        if (filter_ports_len == 0) return 0;
        for (i = 0; i < filter_ports_len && i < 8; i++) { if (port == filter_ports[i]) return 0; }
        return 1;
    }
    SEC("tc") int prog(struct __sk_buff *skb) {
        __u32 key = skb->len & 63; __u64 *v; __u64 zero = 0;
        if (filter_pid && filter_pid != skb->mark) return 0;
        if (filter_port(skb->protocol)) return 1;
        v = bpf_map_lookup_elem(&counts, &key);
        if (!v) { bpf_map_update_elem(&counts, &key, &zero, 0); v = bpf_map_lookup_elem(&counts, &key); if (!v) return 2; }
        __sync_fetch_and_add(v, 1);
        return 3;
    }
    char LICENSE[] SEC("license") = "GPL";
""")

# The reference: the input bitcode as read (with the use-lists clang wrote), compiled directly.
DIRECT = textwrap.dedent("""\
    import os, sys
    from bpf_linker.bindings import Context, Module, TargetMachine, load_llvm
    lib = load_llvm(sys.argv[1])
    module = Module.parse_bitcode(Context(lib), open(sys.argv[2], "rb").read(), "in.bc")
    data = TargetMachine.create(lib, "bpf", "generic", "").emit(module, "obj")
    open(sys.argv[3], "wb").write(data)
    sys.stdout.flush()
    os._exit(0)
""")


def code(path) -> bytes:
    return bpfkit.elf_section_data(path, "tc")


@pytest.fixture(scope="module")
def bitcode(tmp_path_factory):
    d = tmp_path_factory.mktemp("fidelity")
    (d / "p.c").write_text(SOURCE)
    return bpfkit.compile_c(d / "p.c", d / "p.bc")


def test_single_optimized_input_is_not_optimized_again(llvm_lib, bitcode, tmp_path):
    r = bpfkit.run_linker("-o", tmp_path / "out.o", bitcode, "--log-level", "info", llvm=llvm_lib)
    assert "running '' (one optimized input and no function made internal" in r.stderr, r.stderr


def test_code_equals_direct_codegen_of_the_input(llvm_lib, bitcode, tmp_path):
    llvm = llvm_lib
    ref = tmp_path / "direct.o"
    env = dict(os.environ, PYTHONSAFEPATH="1")
    r = subprocess.run([sys.executable, "-c", DIRECT, llvm, str(bitcode), str(ref)], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, bitcode, llvm=llvm)
    assert code(out) == code(ref)


@pytest.mark.requires_kernel_bpf
def test_links_and_runs(llvm_lib, bitcode, tmp_path):
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, bitcode, llvm=llvm_lib)
    assert bpfkit.prog_run(out, "prog") == 3  # no filter set: the packet is counted
