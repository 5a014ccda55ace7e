"""Crash containment: LLVM aborts and segfaults end as one-line errors (CLI) or exceptions (API)."""

import ctypes
import textwrap
from dataclasses import dataclass

import pytest

import bpfkit
from bpf_linker import LinkOptions, LLVMError, Pass, link, pipeline_for

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

VLA = textwrap.dedent("""
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("tc") int prog(struct __sk_buff *skb) {
        char buf[skb->len & 63];
        buf[0] = 1;
        return ((volatile char *)buf)[skb->len & 7];
    }
    char LICENSE[] SEC("license") = "GPL";
""")

SIMPLE = textwrap.dedent("""
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("tc") int prog(struct __sk_buff *skb) { return skb->len + 1; }
    char LICENSE[] SEC("license") = "GPL";
""")


def build(tmp_path, source, name="prog"):
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    return bpfkit.compile_c(src, tmp_path / f"{name}.bc")


def test_llvm16_fatal_error_on_vla_is_one_line(tmp_path):
    llvm16 = bpfkit.LLVM_LIBS["llvm16"]()
    bpfkit.require(llvm16 is not None, "libLLVM 16")
    bc = build(tmp_path, VLA, "vla")
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, bc, llvm=llvm16, check=False)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "bpf-linker: error: LLVM crashed while running pass 'codegen': Unsupported dynamic stack allocation"]
    assert not out.exists()


@dataclass(frozen=True)
class Segfault(Pass):
    name = "segfault"

    def run(self, module, ctx):
        ctypes.string_at(0)  # SIGSEGV inside the worker


@dataclass(frozen=True)
class BreakModule(Pass):
    name = "break-module"

    def run(self, module, ctx):
        f = module.get_function("prog")
        *_, last = f.instructions()
        last.erase()  # no terminator: codegen would crash


def pipeline_with(extra, options):
    pipeline = pipeline_for(options)
    at = [p.name for p in pipeline.passes].index("codegen")
    pipeline.passes.insert(at, extra)
    return pipeline


def test_segfault_in_a_pass_is_an_exception_for_api_users(tmp_path):
    bc = build(tmp_path, SIMPLE)
    out = tmp_path / "out.o"
    options = LinkOptions(inputs=(str(bc),), output=str(out))
    with pytest.raises(LLVMError, match=r"^LLVM crashed while running pass 'segfault': SIGSEGV"):
        link(options, pipeline_with(Segfault(), options))
    assert not out.exists()
    # The interpreter survived and links again.
    link(options)
    assert out.read_bytes()[:4] == b"\x7fELF"


def test_invalid_module_is_caught_before_codegen(tmp_path):
    bc = build(tmp_path, SIMPLE)
    out = tmp_path / "out.o"
    options = LinkOptions(inputs=(str(bc),), output=str(out))
    with pytest.raises(LLVMError, match="the linked module is invalid: .*terminator"):
        link(options, pipeline_with(BreakModule(), options))
    assert not out.exists()


def test_links_in_one_process_do_not_share_llvm_options(tmp_path):
    """--unroll-loops sets process-global LLVM options; a later link without it must not inherit them."""
    src = tmp_path / "loop.c"
    src.write_text(textwrap.dedent("""
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        SEC("tc") int prog(struct __sk_buff *skb) {
            unsigned h = skb->len;
            for (int i = 0; i < 48; i++) h = (h ^ (h >> 7)) * 2654435761u + i;
            return h;
        }
        char LICENSE[] SEC("license") = "GPL";
    """))
    bc = bpfkit.compile_c(src, tmp_path / "loop.bc")
    runs = {}
    for name, unroll in (("plain1", False), ("unrolled", True), ("plain2", False)):
        out = tmp_path / f"{name}.o"
        # btf=False: the code is what matters here (BTF type order is compared in test_determinism).
        link(LinkOptions(inputs=(str(bc),), output=str(out), unroll_loops=unroll, btf=False))
        runs[name] = out.read_bytes()
    assert runs["plain1"] == runs["plain2"]
    assert runs["unrolled"] != runs["plain1"]
    assert bpfkit.backward_jumps(tmp_path / "plain2.o") and not bpfkit.backward_jumps(tmp_path / "unrolled.o")
