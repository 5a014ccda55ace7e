"""Programs and maps keep their order: a single file's as clang's own object, several files' as libbpf's linker."""

from __future__ import annotations

import textwrap

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

HEADER = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
MAP = ("struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); "
       "__type(value, int); }} {name} SEC(\".maps\");\n")
# Names deliberately out of alphabetical order: clang lists them sorted in llvm.compiler.used.
FIRST = HEADER + MAP.format(name="zz_map") + MAP.format(name="aa_map") + textwrap.dedent("""\
    char LICENSE[] SEC("license") = "GPL";
    SEC("xdp") int zz_prog(struct xdp_md *x) { int k = 0; int *v = bpf_map_lookup_elem(&zz_map, &k); return v ? *v : 1; }
    SEC("tc") int mm_prog(struct __sk_buff *s) { int k = 0; int *v = bpf_map_lookup_elem(&aa_map, &k); return v ? *v : 2; }
    SEC("socket") int aa_prog(struct __sk_buff *s) { return 3; }
""")
SECOND = HEADER + MAP.format(name="yy_map") + MAP.format(name="bb_map") + textwrap.dedent("""\
    SEC("tc/ingress") int yy_prog(struct __sk_buff *s) { int k = 0; int *v = bpf_map_lookup_elem(&yy_map, &k); return v ? *v : 4; }
    SEC("xdp/frags") int bb_prog(struct xdp_md *x) { int k = 0; int *v = bpf_map_lookup_elem(&bb_map, &k); return v ? *v : 5; }
""")


def layout(path):
    """(program functions in section order, maps in .maps offset order, STT_FILE names)."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        progs, maps, files = [], [], []
        for sym in symtab.iter_symbols():
            kind, shndx = sym["st_info"]["type"], sym["st_shndx"]
            if kind == "STT_FILE":
                files.append(sym.name)
            elif isinstance(shndx, int) and sym["st_info"]["bind"] == "STB_GLOBAL":
                section = elf.get_section(shndx).name
                if kind == "STT_FUNC":
                    progs.append((shndx, sym["st_value"], sym.name))
                elif section == ".maps":
                    maps.append((sym["st_value"], sym.name))
        return [p[2] for p in sorted(progs)], [m[1] for m in sorted(maps)], files


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("layout")
    (d / "first.c").write_text(FIRST)
    (d / "second.c").write_text(SECOND)
    return d


def test_single_file_keeps_clangs_order(llvm_lib, sources, tmp_path):
    bc = bpfkit.compile_c(sources / "first.c", tmp_path / "first.bc")
    ref = bpfkit.compile_c(sources / "first.c", tmp_path / "first.o", form="obj")
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, bc, llvm=llvm_lib)
    ours, clangs = layout(out), layout(ref)
    assert ours[0] == clangs[0] == ["zz_prog", "mm_prog", "aa_prog"]
    assert ours[1] == clangs[1]
    assert ours[2] == clangs[2]  # the source file's name, as clang's object has it


def test_two_files_keep_libbpfs_order(llvm_lib, sources, tmp_path):
    bcs = [bpfkit.compile_c(sources / f"{n}.c", tmp_path / f"{n}.bc") for n in ("first", "second")]
    objs = [bpfkit.compile_c(sources / f"{n}.c", tmp_path / f"{n}.o", form="obj") for n in ("first", "second")]
    ref = bpfkit.libbpf_link(tmp_path / "ref.o", objs)
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, *bcs, llvm=llvm_lib)
    assert layout(out)[0] == layout(ref)[0] == ["zz_prog", "mm_prog", "aa_prog", "yy_prog", "bb_prog"]
    assert layout(out)[1] == layout(ref)[1]
