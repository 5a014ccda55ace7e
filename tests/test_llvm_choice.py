"""Default discovery links bitcode with the LLVM closest to its producer (clang-16 bitcode: libLLVM 16)."""

from __future__ import annotations

import os
import re

import pytest

import bpfkit
from bpf_linker.bindings import _ffi

RUSTC_22 = ("rustc", "/sysroot/lib/libLLVM.so.22.1-rust-1.95.0-stable")
SYSTEM = [("system", "/usr/lib/libLLVM.so.22.1"), ("system", "/usr/lib/libLLVM.so.19.1"),
          ("system", "/usr/lib/libLLVM-16.so.1"), ("system", "/opt/libanonymous.so")]


@pytest.mark.parametrize("min_major, expected", [
    (16, ["/usr/lib/libLLVM-16.so.1", "/usr/lib/libLLVM.so.19.1", RUSTC_22[1], "/usr/lib/libLLVM.so.22.1",
          "/opt/libanonymous.so"]),
    (19, ["/usr/lib/libLLVM.so.19.1", RUSTC_22[1], "/usr/lib/libLLVM.so.22.1", "/opt/libanonymous.so",
          "/usr/lib/libLLVM-16.so.1"]),
    # rustc's own bitcode: rustc's library first, as before.
    (22, [RUSTC_22[1], "/usr/lib/libLLVM.so.22.1", "/opt/libanonymous.so", "/usr/lib/libLLVM.so.19.1",
          "/usr/lib/libLLVM-16.so.1"]),
    # No producer known (IR text): the discovery order.
    (None, [RUSTC_22[1], *(p for _, p in SYSTEM)]),
])
def test_closest_version_first(min_major, expected):
    got = [path for _, path in _ffi._closest_first(iter([RUSTC_22, *SYSTEM]), min_major)]
    assert got == expected


def test_explicit_choice_keeps_its_place():
    explicit = [("BPF_LINKER_LLVM", "/x/libLLVM.so.22.1")]
    assert list(_ffi._closest_first(iter(explicit), 16)) == explicit


@pytest.mark.requires_clang
@pytest.mark.requires_rustc
def test_clang16_bitcode_gets_libllvm16_by_default(tmp_path):
    bpfkit.require(bpfkit.llvm16_path() is not None and bpfkit.llvm22_path() is not None, "libLLVM 16 and 22")
    src = tmp_path / "p.c"
    src.write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n'
                   'SEC("tc") int prog(struct __sk_buff *s) { return 1; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    bc = bpfkit.compile_c(src, tmp_path / "p.bc")
    env_llvm = os.environ.pop("BPF_LINKER_LLVM", None)
    try:
        r = bpfkit.run_linker("-o", tmp_path / "p.o", bc, "--log-level", "debug")
    finally:
        if env_llvm is not None:
            os.environ["BPF_LINKER_LLVM"] = env_llvm
    chosen = re.search(r"^bpf-linker: debug: LLVM (\d+)\.\S+ from (\S+)", r.stderr, re.M)
    assert chosen and chosen.group(1) == "16", r.stderr
