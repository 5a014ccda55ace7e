"""BTF from debug info: the Rust sanitizer (bpf_linker.btf_sanitize) and the `btf` pass's modes.

- Name escaping and the 128-byte rule against upstream's own test vectors and, for the
  hash, against Rust's `DefaultHasher` built by the local rustc.
- The metadata rules on hand-written IR and on rustc's debug info (tests/rust/btf/prog.rs).
- End to end on LLVM 16, 19 and 22: rustc 1.95 bitcode needs LLVM 22, so LLVM 16 and 19
  link rustc's textual IR with the few LLVM-22-only spellings rewritten (`downgrade_ir`);
  the BTF dump must follow every rule and the kernel must load the object, its BTF, and
  run the program.
- `auto` mode: Rust-only debug info is stripped unless --btf; a C compile unit keeps it.
- On clang's C debug info the sanitizer changes nothing: the IR text and the linked
  objects are identical with and without it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import bpfkit
from bpf_linker.btf_sanitize import (compile_units, ir_string_bytes, ir_string_literal, is_c_family,
                                     local_function_subprograms, sanitize_ir, sanitize_name, siphash13)

RUST_DIR = bpfkit.TESTS_DIR / "rust"
PROG_RS = RUST_DIR / "btf" / "prog.rs"
RUSTC_FLAGS = ("--target", "bpfel-unknown-none", "-C", "panic=abort", "-C", "overflow-checks=off",
               "-C", "opt-level=2", "-C", "debuginfo=2")
EXPORTS = "btf_prog,COUNTERS,SHAPE,REORDERED"
ENUM_WARNING = "debug info was not emitted for the following types"


# =========================================================================== names

# Upstream's vectors: aya-rs/bpf-linker, src/llvm/di.rs, `mod test { fn test_strip_generics }`
# (commit 0563e6333863c202f43543df8e5e29c865d6b1ce). Expected values copied from there.
UPSTREAM_VECTORS = [
    ("MyStruct<u64>", "MyStruct_3C_u64_3E_"),
    ("MyStruct<u64, u64>", "MyStruct_3C_u64_2C__20_u64_3E_"),
    ("my_function<aya_bpf::BpfContext>", "my_function_3C_aya_bpf_3A__3A_BpfContext_3E_"),
    ("my_function<aya_bpf::BpfContext, aya_log_ebpf::WriteToBuf>",
     "my_function_3C_aya_bpf_3A__3A_BpfContext_2C__20_aya_log_ebpf_3A__3A_WriteToBuf_3E_"),
    ("PerfEventArray<[u8; 32]>", "PerfEventArray_3C__5B_u8_3B__20_32_5D__3E_"),
    ("my_function<aya_bpf::this::is::a::very::long::namespace::BpfContext, "
     "aya_log_ebpf::this::is::a::very::long::namespace::WriteToBuf>",
     "my_function_3C_aya_bpf_3A__3A_this_3A__3A_is_3A__3A_a_3A__3A_very_3A__3A_long_3A__3A_"
     "namespace_3A__3A_BpfContex_94e4085604b3142f"),
    ("MaybeUninit<u8>", "MaybeUninit_3C_u8_3E_"),
]


@pytest.mark.parametrize("name,expected", UPSTREAM_VECTORS, ids=[v[0][:40] for v in UPSTREAM_VECTORS])
def test_sanitize_name_upstream_vectors(name, expected):
    assert sanitize_name(name) == expected.encode()
    assert sanitize_name(name.encode()) == expected.encode()


def test_sanitize_name_long_rule():
    """Over 128 bytes (after escaping): the first 111 bytes, `_`, the unpadded lowercase hex
    of SipHash-1-3 (zero keys) of the whole escaped name. 128 bytes exactly stay as they are.
    The hashes below are checked against Rust's DefaultHasher in the next-but-one test."""
    assert sanitize_name("a" * 128) == b"a" * 128
    escaped = b"a" * 127 + b"_3C_"  # 131 bytes once `<` is escaped: hashed
    assert sanitize_name("a" * 127 + "<") == b"a" * 111 + b"_d9cbde04dc8b4bf7"
    assert siphash13(escaped) == 0xD9CBDE04DC8B4BF7
    # The cut is always at 111 (upstream's current rule): a hash with a leading zero
    # nibble prints 15 digits and the name is 127 bytes long, not padded back to 128.
    short = sanitize_name("x" * 120 + "<14>")
    assert short == b"x" * 111 + b"_4fa0547eff1a43a" and len(short) == 127
    assert siphash13(b"x" * 120 + b"_3C_14_3E_") == 0x4FA0547EFF1A43A


def test_sanitize_name_bytes():
    """Every byte that is not [0-9A-Za-z_] is escaped on its own, UTF-8 included, unpadded."""
    assert sanitize_name("é") == b"_C3__A9_"
    assert sanitize_name("a\tb") == b"a_9_b"
    assert sanitize_name("{impl#0}") == b"_7B_impl_23_0_7D_"
    assert sanitize_name("ok_Name9") == b"ok_Name9"
    assert sanitize_name("") == b""


def test_siphash13_known_values():
    # Rust: DefaultHasher::new(); write(b""); finish() == 0xd1fba762150c532c
    assert siphash13(b"") == 0xD1FBA762150C532C


_RUST_HASHER = r"""
use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
fn main() {
    for arg in std::env::args().skip(1) {
        let bytes: Vec<u8> = (0..arg.len() / 2).map(|i| u8::from_str_radix(&arg[2 * i..2 * i + 2], 16).unwrap()).collect();
        let mut h = DefaultHasher::new();
        h.write(&bytes);
        println!("{:x}", h.finish());
    }
}
"""


@pytest.mark.requires_rustc
def test_siphash13_matches_rust_default_hasher(tmp_path):
    """The hash is Rust's DefaultHasher (SipHash-1-3, zero keys) fed with `write(bytes)`,
    checked for every tail length and for escaped names, with the local rustc's std."""
    src = tmp_path / "hasher.rs"
    src.write_text(_RUST_HASHER)
    exe = tmp_path / "hasher"
    r = subprocess.run(["rustc", "-O", str(src), "-o", str(exe)], capture_output=True, text=True)
    bpfkit.require(r.returncode == 0, f"rustc cannot build a host program: {r.stderr.strip()[:200]}")
    samples = [bytes((i * 37 + 11) & 0xFF for i in range(n)) for n in range(0, 41)]
    samples += [sanitize_name(n)[:200] for n, _ in UPSTREAM_VECTORS]
    samples += [b"a" * 127 + b"_3C_", b"x" * 120 + b"_3C_14_3E_"]
    out = subprocess.run([str(exe), *(s.hex() for s in samples)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [format(siphash13(s), "x") for s in samples]


def test_ir_strings():
    """IR string literals: `\\XX` escapes decode to bytes; the printer's escaping is reproduced."""
    assert ir_string_bytes(r"a\22b\5Cc") == b'a"b\\c'
    assert ir_string_bytes(r"\C3\A9") == "é".encode()
    assert ir_string_literal(b'a"b\\c\n') == r'"a\22b\5Cc\0A"'
    assert sanitize_name(ir_string_bytes(r"Foo\22")) == b"Foo_22_"


# =========================================================================== rules on IR text

def _ir(*metadata: str, functions: str = "") -> str:
    head = 'source_filename = "t"\ntarget triple = "bpfel"\n\n' + functions + "\n!llvm.dbg.cu = !{!0}\n\n"
    return head + "\n".join(metadata) + "\n"


CU = '!0 = distinct !DICompileUnit(language: DW_LANG_Rust, file: !1, producer: "clang LLVM (rustc version 1.95.0)", emissionKind: FullDebug)'
FILE = '!1 = !DIFile(filename: "x.rs", directory: "")'
U8 = '!2 = !DIBasicType(name: "u8", size: 8, encoding: DW_ATE_unsigned)'
U64 = '!3 = !DIBasicType(name: "u64", size: 64, encoding: DW_ATE_unsigned)'


def _line(ir: str, node: int) -> str:
    return next(line for line in ir.splitlines() if line.startswith(f"!{node} = "))


def _tuple(ir: str, node_line: str) -> str:
    ref = re.search(r"elements: !(\d+)", node_line).group(1)
    return _line(ir, int(ref))


def test_struct_renamed_and_members_sorted():
    ir = _ir(CU, FILE, U8, U64,
             '!4 = !DICompositeType(tag: DW_TAG_structure_type, name: "Pair<u64, u8>", file: !1, size: 128, '
             'align: 64, elements: !5, identifier: "abc")',
             '!5 = !{!6, !7}',
             '!6 = !DIDerivedType(tag: DW_TAG_member, name: "small", scope: !4, baseType: !2, size: 8, offset: 64)',
             '!7 = !DIDerivedType(tag: DW_TAG_member, name: "big", scope: !4, baseType: !3, size: 64)')
    out, report = sanitize_ir(ir)
    line = _line(out, 4)
    assert 'name: "Pair_3C_u64_2C__20_u8_3E_"' in line and 'identifier: "abc"' in line
    assert _tuple(out, line).endswith("= !{!7, !6}")
    assert report.renamed == 1 and report.members_sorted == 1
    # Untouched lines stay byte for byte; a second run changes nothing.
    assert _line(out, 6) == _line(ir, 6)
    again, report2 = sanitize_ir(out)
    assert again is out and not report2.changed


def test_union_renamed_and_sorted_stably():
    ir = _ir(CU, FILE, U8, U64,
             '!4 = !DICompositeType(tag: DW_TAG_union_type, name: "MaybeUninit<u8>", size: 64, elements: !5)',
             '!5 = !{!6, !7}',
             '!6 = !DIDerivedType(tag: DW_TAG_member, name: "uninit", scope: !4, baseType: !2, size: 8)',
             '!7 = !DIDerivedType(tag: DW_TAG_member, name: "value", scope: !4, baseType: !3, size: 64)')
    out, report = sanitize_ir(ir)
    assert 'name: "MaybeUninit_3C_u8_3E_"' in _line(out, 4)
    assert "elements: !5" in _line(out, 4)  # all offsets 0: stable sort keeps the order
    assert report.members_sorted == 0


def test_data_carrying_enum_emptied():
    ir = _ir(CU, FILE, U8, U64,
             '!4 = !DICompositeType(tag: DW_TAG_structure_type, name: "Shape<u8>", size: 128, elements: !5, '
             'templateParams: !12, identifier: "e")',
             '!5 = !{!6}',
             '!6 = !DICompositeType(tag: DW_TAG_variant_part, scope: !4, size: 128, elements: !7, discriminator: !11)',
             '!7 = !{!8}',
             '!8 = !DIDerivedType(tag: DW_TAG_member, name: "Line", scope: !6, baseType: !9, size: 128, extraData: i32 1)',
             '!9 = !DICompositeType(tag: DW_TAG_structure_type, name: "Line", scope: !4, size: 128, elements: !10)',
             '!10 = !{!11}',
             '!11 = !DIDerivedType(tag: DW_TAG_member, scope: !4, baseType: !2, size: 8, flags: DIFlagArtificial)',
             '!12 = !{}')
    out, report = sanitize_ir(ir)
    line = _line(out, 4)
    assert "elements: !12" in line  # the module's existing empty tuple is reused
    assert 'name: "Shape_3C_u8_3E_"' in line and "size: 128" in line
    assert report.data_carrying_enums == ["Shape<u8>"]


def test_pointer_names_removed_other_derived_types_kept():
    ir = _ir(CU, FILE, U8,
             '!3 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "*const u8", baseType: !2, size: 64, align: 64, '
             'dwarfAddressSpace: 0)',
             '!4 = !DIDerivedType(tag: DW_TAG_typedef, name: "Alias<u8>", baseType: !2)',
             '!5 = !DIDerivedType(tag: DW_TAG_pointer_type, name: "&u8", baseType: !2, size: 64)',
             '!6 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !2, size: 64)',
             '!7 = !DICompositeType(tag: DW_TAG_enumeration_type, name: "E<u8>", baseType: !2, size: 8, elements: !8)',
             '!8 = !{}')
    out, report = sanitize_ir(ir)
    assert _line(out, 3) == ("!3 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !2, size: 64, align: 64, "
                             "dwarfAddressSpace: 0)")
    assert _line(out, 5) == "!5 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !2, size: 64)"
    # Upstream renames only structs, unions and subprograms.
    assert _line(out, 4) == _line(ir, 4) and _line(out, 7) == _line(ir, 7) and _line(out, 6) == _line(ir, 6)
    assert report.pointers_unnamed == 2


def test_forward_declaration_untouched():
    ir = _ir(CU, FILE, '!2 = !DICompositeType(tag: DW_TAG_structure_type, name: "Fwd<u8>", flags: DIFlagFwdDecl)')
    out, report = sanitize_ir(ir)
    assert out is ir and not report.changed


def test_aya_btf_map_marker_anonymizes():
    ir = _ir(CU, FILE, U8,
             '!3 = !DICompositeType(tag: DW_TAG_structure_type, name: "Foo", size: 64, elements: !4)',
             '!4 = !{!5, !6, !8}',
             '!5 = !DIDerivedType(tag: DW_TAG_member, name: "_anon", scope: !3, baseType: !7)',
             '!6 = !DIDerivedType(tag: DW_TAG_member, name: "ayy", scope: !3, baseType: !2, size: 8)',
             '!7 = !DICompositeType(tag: DW_TAG_structure_type, name: "AyaBtfMapMarker", elements: !9)',
             '!8 = !DIDerivedType(tag: DW_TAG_member, name: "lmao", scope: !3, baseType: !2, size: 8, offset: 32)',
             '!9 = !{}')
    out, report = sanitize_ir(ir)
    line = _line(out, 3)
    assert "name:" not in line and report.anonymized == 1
    assert _tuple(out, line).endswith("= !{!6, !8}")


def test_subprograms_renamed_and_local_to_unit():
    fns = ("define internal i32 @helper() !dbg !4 {\n  ret i32 0\n}\n"
           "define i32 @prog() section \"tc\" !dbg !5 {\n  ret i32 0\n}\n")
    ir = _ir(CU, FILE, '!2 = !DISubroutineType(types: !3)', '!3 = !{}',
             '!4 = distinct !DISubprogram(name: "helper<u64>", linkageName: "_RNv", scope: !1, file: !1, type: !2, '
             'spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0)',
             '!5 = distinct !DISubprogram(name: "prog", scope: !1, file: !1, type: !2, '
             'spFlags: DISPFlagDefinition, unit: !0)',
             functions=fns)
    assert local_function_subprograms(ir) == {4}
    out, report = sanitize_ir(ir, local_to_unit={4})
    assert _line(out, 4) == ('!4 = distinct !DISubprogram(name: "helper_3C_u64_3E_", linkageName: "_RNv", '
                             'scope: !1, file: !1, type: !2, spFlags: DISPFlagLocalToUnit | DISPFlagDefinition | '
                             'DISPFlagOptimized, unit: !0)')
    assert _line(out, 5) == _line(ir, 5)
    assert report.local_to_unit == 1 and report.renamed == 1


def test_escaped_and_tricky_strings():
    """Names with `\\XX` escapes, commas, colons and parentheses inside strings parse as one field."""
    ir = _ir(CU, FILE, U8,
             r'!3 = distinct !DICompositeType(tag: DW_TAG_structure_type, name: "A<\22x, y: (z)\22>", size: 8, '
             r'elements: !4, identifier: "id, offset: 9")',
             '!4 = !{!5}',
             '!5 = !DIDerivedType(tag: DW_TAG_member, name: "m, offset: 99", scope: !3, baseType: !2, size: 8)')
    out, _ = sanitize_ir(ir)
    assert _line(out, 3) == ('!3 = distinct !DICompositeType(tag: DW_TAG_structure_type, '
                             'name: "A_3C__22_x_2C__20_y_3A__20__28_z_29__22__3E_", size: 8, elements: !4, '
                             'identifier: "id, offset: 9")')


def test_compile_unit_languages():
    assert compile_units(_ir(CU, FILE)) == [("DW_LANG_Rust", "clang LLVM (rustc version 1.95.0)")]
    assert not is_c_family("DW_LANG_Rust", "clang LLVM (rustc version 1.95.0)")
    for lang in ("DW_LANG_C", "DW_LANG_C99", "DW_LANG_C11", "DW_LANG_C17", "DW_LANG_C_plus_plus_14", "DW_LANG_ObjC"):
        assert is_c_family(lang, "")
    assert not is_c_family("DW_LANG_Cobol74", "")
    assert is_c_family("", "Debian clang version 16.0.6") and not is_c_family("", "rustc")


# =========================================================================== C: a no-op

def _c_sources():
    return sorted(str(p.relative_to(bpfkit.C_DIR)) for p in bpfkit.C_DIR.glob("*/*.c"))


@pytest.mark.requires_clang
@pytest.mark.parametrize("clang", ["clang-16", "clang-19"])
def test_c_debug_info_unchanged(cbuild, clang):
    """On clang's debug info of every C fixture the BTF rules change nothing at all."""
    bpfkit.require(shutil.which(clang) is not None, clang)
    for rel in _c_sources():
        ir = cbuild.build(rel, "ll", clang=clang).read_text()
        out, report = sanitize_ir(ir)
        assert out is ir and not report.changed, f"{rel} ({clang}): {report}"


_RULES_OFF = """
import functools, sys
import bpf_linker.btf_sanitize as sanitize
import bpf_linker.passes.btf as btf_pass
btf_pass.sanitize_ir = functools.partial(sanitize.sanitize_ir, btf_rules=False)
from bpf_linker.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _link_rules_off(*args, llvm):
    """The CLI in a subprocess, with the btf pass fixing linkage only (no BTF rules)."""
    env = dict(os.environ, BPF_LINKER_LLVM=str(llvm), PYTHONSAFEPATH="1")
    return bpfkit.run_tool([sys.executable, "-c", _RULES_OFF, *map(str, args)], env=env, what="bpf-linker")


@pytest.mark.requires_clang
@pytest.mark.requires_llvm
@pytest.mark.parametrize("flags", [(), ("--btf",)], ids=["auto", "btf"])
def test_c_link_identical_with_and_without_rules(cbuild, llvm_lib, tmp_path, flags):
    """A C program linked with the sanitizer is byte-identical (so is its BTF dump) to the
    same link where the btf pass only fixes linkage, in auto mode and with --btf."""
    inputs = cbuild.inputs("split", ["main.c", "helpers.c"])
    with_rules, without = tmp_path / "rules.o", tmp_path / "plain.o"
    bpfkit.run_linker(*inputs, *flags, "-o", with_rules, llvm=llvm_lib)
    _link_rules_off(*inputs, *flags, "-o", without, llvm=llvm_lib)
    assert ".BTF" in bpfkit.elf_sections(with_rules)
    if os.path.exists(bpfkit.BPFTOOL):
        assert bpfkit.btf_dump(with_rules) == bpfkit.btf_dump(without)
    assert with_rules.read_bytes() == without.read_bytes()


# =========================================================================== Rust builds

def _rustc(*args, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    return bpfkit.run_tool(["rustc", *args], cwd=cwd, env=env, what="rustc")


class RustBuild:
    """tests/rust/btf/prog.rs built once: minicore rlib, textual IR, bitcode."""

    def __init__(self, root: Path):
        self.root = root
        self.minicore = root / "libminicore.rlib"
        _rustc(*RUSTC_FLAGS, "--crate-type=rlib", "--crate-name=minicore", RUST_DIR / "minicore.rs",
               "-o", self.minicore)
        common = (*RUSTC_FLAGS, "--crate-type=lib", "--extern", f"minicore={self.minicore}", "-L", root)
        self.ll = root / "prog.ll"
        _rustc(*common, "--emit=llvm-ir", PROG_RS, "-o", self.ll)
        self.bc = root / "prog.bc"
        _rustc(*common, "--emit=llvm-bc", PROG_RS, "-o", self.bc)
        self.ll_old = root / "prog.old.ll"
        self.ll_old.write_text(downgrade_ir(self.ll.read_text()))
        self.linker = root / "bpf-linker"  # what `-C linker=` runs: this checkout's package
        self.linker.write_text(f'#!/bin/sh\nPYTHONSAFEPATH=1 exec "{sys.executable}" -m bpf_linker "$@"\n')
        self.linker.chmod(0o755)

    def cdylib(self, out: Path, *link_args: str) -> subprocess.CompletedProcess:
        """rustc drives the linker, as aya users do; `-W linker-messages` shows its stderr."""
        args = [f"-Clink-arg={a}" for a in link_args]
        return _rustc(*RUSTC_FLAGS, "--crate-type=cdylib", "--extern", f"minicore={self.minicore}",
                      "-L", self.root, "-C", f"linker={self.linker}", "-W", "linker-messages", *args,
                      PROG_RS, "-o", out)

    def shape_size(self) -> int:
        """Shape's size in bytes, from rustc's own debug info."""
        m = re.search(r'DW_TAG_structure_type, name: "Shape", .*?size: (\d+)', self.ll.read_text())
        return int(m.group(1)) // 8


_DBG_RECORD = re.compile(r"#dbg_(value|declare)\((.*), (![0-9]+), (!DIExpression\([^)]*\)), (![0-9]+)\)$")


def downgrade_ir(ir: str) -> str:
    """rustc 1.95's IR in the spelling LLVM 16 and 19 read: debug records back to intrinsic
    calls, no `captures(...)`, no `nuw` on GEPs, lifetime markers (LLVM 22 dropped their
    size operand) removed. Only the function bodies change; the metadata is rustc's."""
    out = []
    for line in ir.splitlines():
        m = _DBG_RECORD.match(line.strip())
        if m:
            kind, value, var, expr, loc = m.groups()
            line = f"  call void @llvm.dbg.{kind}(metadata {value}, metadata {var}, metadata {expr}), !dbg {loc}"
        elif "@llvm.lifetime." in line:
            continue
        line = re.sub(r" captures\([^)]*\)", "", line).replace("getelementptr inbounds nuw", "getelementptr inbounds")
        out.append(line)
    out += ["declare void @llvm.dbg.value(metadata, metadata, metadata)",
            "declare void @llvm.dbg.declare(metadata, metadata, metadata)"]
    return "\n".join(out) + "\n"


@pytest.fixture(scope="session")
def rust(tmp_path_factory) -> RustBuild:
    bpfkit.require(bpfkit.have_rustc(), "rustc with the bpfel-unknown-none target")
    return RustBuild(tmp_path_factory.mktemp("rust_btf"))


def _llvm19_path() -> str | None:
    for p in ("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1", "/usr/lib/llvm-19/lib/libLLVM.so.1"):
        if os.path.exists(p):
            return p
    return None


LLVMS = {"llvm16": bpfkit.llvm16_path, "llvm19": _llvm19_path, "llvm22": bpfkit.llvm22_path}


@pytest.fixture(params=sorted(LLVMS))
def llvm_any(request) -> tuple[str, str]:
    path = LLVMS[request.param]()
    bpfkit.require(path is not None, f"{request.param}: no libLLVM found")
    return request.param, path


# =========================================================================== BTF dump checks

_TYPE = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")


def btf_types(path) -> list[dict]:
    """`bpftool btf dump file` as [{id, kind, name, rest, members: [(name, rest)]}]."""
    types = []
    for line in bpfkit.btf_dump(path).splitlines():
        m = _TYPE.match(line)
        if m:
            types.append({"id": int(m.group(1)), "kind": m.group(2), "name": m.group(3),
                          "rest": m.group(4), "members": []})
        elif line.startswith("\t") and types:
            mm = re.match(r"\t'([^']*)' (.*)$", line)
            types[-1]["members"].append((mm.group(1), mm.group(2)) if mm else ("", line.strip()))
    return types


def _attr(rest: str, key: str) -> str:
    return re.search(rf"\b{key}=(\S+)", rest).group(1).rstrip(",")


def assert_sanitized_btf(path, shape_size: int):
    """Every rule of the issue, on the object's BTF."""
    types = btf_types(path)
    assert types, f"{path}: no BTF"
    by_name = {(t["kind"], t["name"]): t for t in types}
    c_name = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*|\(anon\))$")
    for t in types:
        if t["kind"] != "DATASEC":
            assert c_name.match(t["name"]), f"not a C name: {t}"
        for member, _ in t["members"]:
            assert not member or c_name.match(member), f"member {member!r} of {t['name']}"
        if t["kind"] == "PTR":
            assert t["name"] == "(anon)", f"named pointer: {t}"
        if t["kind"] in ("STRUCT", "UNION"):
            offsets = [int(_attr(rest, "bits_offset")) for _, rest in t["members"]]
            assert offsets == sorted(offsets), f"members out of offset order: {t}"
    # Generic names, escaped by upstream's rule.
    assert ("STRUCT", "MyStruct_3C_u64_3E_") in by_name
    two = by_name[("STRUCT", "MyStruct_3C_u64_2C__20_u64_3E_")]
    assert [m for m, _ in two["members"]] == ["a", "b", "small"]
    assert ("STRUCT", "ArrayMap_3C_u32_2C__20_u64_2C__20_4_3E_") in by_name
    # Declared tiny, big, mid; laid out big, mid, tiny.
    reordered = by_name[("STRUCT", "Reordered")]
    assert [(m, int(_attr(r, "bits_offset"))) for m, r in reordered["members"]] == [
        ("big", 0), ("mid", 64), ("tiny", 80)]
    # The data-carrying enum: a member-less struct of the enum's size.
    shape = by_name[("STRUCT", "Shape")]
    assert _attr(shape["rest"], "size") == str(shape_size) and _attr(shape["rest"], "vlen") == "0"
    assert not any(t["kind"] == "UNION" for t in types)
    # Linkage: the exported program global, the helper static.
    assert _attr(by_name[("FUNC", "btf_prog")]["rest"], "linkage") == "global"
    assert _attr(by_name[("FUNC", "helper")]["rest"], "linkage") == "static"
    text = bpfkit.btf_dump(path)
    assert "<" not in text and ">" not in text and "::" not in text


def assert_one_enum_warning(stderr: str):
    lines = [line for line in stderr.splitlines() if ENUM_WARNING in line]
    assert len(lines) == 1, stderr
    assert re.search(rf"{ENUM_WARNING}: Shape\b", lines[0]), lines[0]


# =========================================================================== kernel

def load_and_run(obj, prog: str, data: bytes) -> int:
    """Load every program and map (pinned under a unique /sys/fs/bpf directory, removed
    after); require that libbpf loaded the BTF into the kernel (no "BTF is optional,
    ignoring"), that the program and the BTF-defined map carry it; run once, return r0."""
    tag = f"btf_rust_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    progs, maps = bpfkit.BPFFS / tag, bpfkit.BPFFS / f"{tag}_maps"
    data_file = Path(str(obj) + ".data_in")
    data_file.write_bytes(data)
    try:
        r = subprocess.run([bpfkit.BPFTOOL, "prog", "loadall", str(obj), str(progs), "pinmaps", str(maps)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"load failed:\n{r.stderr}\n{r.stdout}"
        assert "BTF" not in r.stderr, f"libbpf did not load the BTF:\n{r.stderr}"
        info = json.loads(bpfkit.run_tool([bpfkit.BPFTOOL, "-j", "prog", "show", "pinned", progs / prog]).stdout)
        assert info.get("btf_id"), info
        counters = json.loads(bpfkit.run_tool([bpfkit.BPFTOOL, "-j", "map", "show", "pinned",
                                               maps / "COUNTERS"]).stdout)
        assert counters["type"] == "array" and counters["max_entries"] == 4 and counters.get("btf_id"), counters
        run = bpfkit.run_tool([bpfkit.BPFTOOL, "prog", "run", "pinned", progs / prog, "data_in", data_file,
                               "repeat", "1"])
        return int(re.search(r"Return value:\s*(-?\d+)", run.stdout + run.stderr).group(1))
    finally:
        for d in (progs, maps):
            shutil.rmtree(d, ignore_errors=True)
        data_file.unlink(missing_ok=True)


def expected_r0(data: bytes) -> int:
    # btf_prog: skb->len + the fields helper() adds (prog.rs): 5+7 + 11+13+17 + 19+23+29.
    return len(data) + 124


# =========================================================================== Rust: end to end

@pytest.mark.requires_rustc
def test_rustc_ir_sanitized(rust):
    """The rules on rustc's own IR text: every struct/union/subprogram name C-safe, every
    pointer unnamed, the enum emptied, members sorted; a second pass changes nothing."""
    ir = rust.ll.read_text()
    out, report = sanitize_ir(ir, local_to_unit=local_function_subprograms(ir))
    assert report.data_carrying_enums == ["Shape"]
    assert report.pointers_unnamed >= 5 and report.renamed >= 3 and report.members_sorted >= 2
    for line in out.splitlines():
        if re.match(r"!\d+ = (distinct )?!(DICompositeType\(tag: DW_TAG_(structure|union)_type|DISubprogram)", line):
            name = re.search(r'name: "([^"]*)"', line)
            assert name is None or re.fullmatch(r"[A-Za-z0-9_]+", name.group(1)), line
        if "DW_TAG_pointer_type" in line:
            assert "name:" not in line, line
    again, report2 = sanitize_ir(out)
    assert again is out and not report2.changed


@pytest.mark.requires_rustc
@pytest.mark.requires_llvm
def test_rust_btf(rust, llvm_any, tmp_path):
    """--btf on each LLVM: the BTF follows every rule, one warning names the enum, and the
    kernel loads the program, its BTF and the BTF-defined map, and runs it."""
    version, lib = llvm_any
    src = rust.bc if version == "llvm22" else rust.ll_old
    out = tmp_path / "prog.o"
    r = bpfkit.run_linker(src, "--export", EXPORTS, "--btf", "-o", out, llvm=lib)
    assert_one_enum_warning(r.stderr)
    assert {".BTF", ".BTF.ext"} <= set(bpfkit.elf_sections(out))
    assert_sanitized_btf(out, rust.shape_size())
    if bpfkit.have_kernel_bpf():
        data = bpfkit.packet(bytes(range(40)), 64)
        assert load_and_run(out, "btf_prog", data) == expected_r0(data)


@pytest.mark.requires_rustc
@pytest.mark.requires_kernel_bpf
def test_rustc_cdylib_btf(rust, tmp_path):
    """rustc drives the linker (`-C linker=bpf-linker -C link-arg=--btf`) as aya users do."""
    out = tmp_path / "prog.o"
    r = rust.cdylib(out, "--btf")
    assert_one_enum_warning(r.stderr)
    assert_sanitized_btf(out, rust.shape_size())
    for size in (14, 64, 200):
        data = bpfkit.packet(b"", size)
        assert load_and_run(out, "btf_prog", data) == expected_r0(data)


# =========================================================================== auto mode

@pytest.mark.requires_rustc
@pytest.mark.requires_llvm
def test_rust_auto_strips(rust, tmp_path):
    """Without --btf, Rust-only debug info is stripped (upstream's default): no BTF, no warning."""
    out = tmp_path / "auto.o"
    r = bpfkit.run_linker(rust.bc, "--export", EXPORTS, "-o", out, "--log-level", "info",
                          llvm=bpfkit.llvm22_path())
    assert ".BTF" not in bpfkit.elf_sections(out)
    assert ENUM_WARNING not in r.stderr
    assert "stripped debug info (compile units: DW_LANG_Rust); pass --btf" in r.stderr
    cdylib = tmp_path / "cdylib.o"
    rust.cdylib(cdylib)
    assert ".BTF" not in bpfkit.elf_sections(cdylib)


@pytest.mark.requires_rustc
@pytest.mark.requires_clang
@pytest.mark.requires_llvm
def test_mixed_c_and_rust_auto_keeps_and_sanitizes(rust, tmp_path):
    """A C compile unit next to Rust ones: auto keeps the debug info, sanitized."""
    c = tmp_path / "side.c"
    c.write_text("struct side { int a; char b; };\n"
                 "__attribute__((noinline)) int c_side(struct side *s) { return s->a + s->b; }\n")
    cbc = bpfkit.compile_c(c, tmp_path / "side.bc")
    out = tmp_path / "mixed.o"
    r = bpfkit.run_linker(rust.bc, cbc, "--export", EXPORTS, "-o", out, llvm=bpfkit.llvm22_path())
    assert_one_enum_warning(r.stderr)
    assert_sanitized_btf(out, rust.shape_size())
