"""Plain BPF objects (ELF without bitcode) among the inputs: linked by libbpf's static linker after codegen."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

HEADER = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
LICENSE = 'char LICENSE[] SEC("license") = "GPL";\n'
PACKET = bpfkit.packet(size=64)  # skb->len == 64

MAP_DEF = """struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, int);
    __type(value, int);
}"""


@pytest.fixture(params=["llvm16", "llvm22"])
def llvm(request) -> str:
    """libLLVM 16 and 22 (the oldest and newest the linker supports)."""
    path = bpfkit.LLVM_LIBS[request.param]()
    bpfkit.require(path is not None, f"{request.param}: no libLLVM found")
    return path


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """TMPDIR for the linker: a directory that must be empty after every link."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def source(tmp_path: Path, name: str, body: str) -> Path:
    src = tmp_path / f"{name}.c"
    src.write_text(HEADER + textwrap.dedent(body))
    return src


def bitcode(tmp_path: Path, name: str, body: str, extra=()) -> Path:
    return bpfkit.compile_c(source(tmp_path, name, body), tmp_path / f"{name}.bc", extra=extra)


def plain(tmp_path: Path, name: str, body: str, extra=()) -> Path:
    """clang -g -O2 -c: a BPF ELF object without .llvmbc."""
    return bpfkit.compile_c(source(tmp_path, name, body), tmp_path / f"{name}.o", form="obj", extra=extra)


def link(out: Path, *inputs, llvm: str, check: bool = True, extra=()):
    return bpfkit.run_linker("-o", out, *inputs, *extra, llvm=llvm, check=check)


def one_error(r, out: Path, *fragments) -> str:
    """Exit 1, one `bpf-linker: error:` line holding the fragments, no traceback, no output."""
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpf-linker: error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temporary output left"
    return lines[0]


def program_offsets(obj: Path, section: str) -> dict[str, int]:
    """Function symbol -> offset in `section` of the object."""
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        elf = ELFFile(f)
        index = next(i for i, s in enumerate(elf.iter_sections()) if s.name == section)
        return {sym.name: sym["st_value"] for sym in elf.get_section_by_name(".symtab").iter_symbols()
                if sym["st_info"]["type"] == "STT_FUNC" and sym["st_shndx"] == index}


# -- links that work ------------------------------------------------------------------------------------

@pytest.mark.requires_kernel_bpf
def test_program_of_a_plain_object_is_linked(llvm, tmp_path, private_tmp):
    main = bitcode(tmp_path, "main", 'SEC("tc") int main_prog(struct __sk_buff *skb) { return skb->len + 1; }\n'
                   + LICENSE)
    obj = plain(tmp_path, "vendor", 'SEC("tc") int vendor_prog(struct __sk_buff *skb) { return 42; }\n')
    out = tmp_path / "out.o"
    r = link(out, main, obj, llvm=llvm)
    assert r.stderr == ""
    assert bpfkit.elf_symbols(out)["vendor_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert bpfkit.prog_run(out, "main_prog", PACKET) == 65
    assert bpfkit.prog_run(out, "vendor_prog", PACKET) == 42
    # Command-line order: the bitcode's object where the first bitcode input was.
    offsets = program_offsets(out, "tc")
    assert offsets["main_prog"] == 0 < offsets["vendor_prog"]
    first = tmp_path / "first.o"
    link(first, obj, main, llvm=llvm)
    offsets = program_offsets(first, "tc")
    assert offsets["vendor_prog"] == 0 < offsets["main_prog"]
    assert bpfkit.prog_run(first, "main_prog", PACKET) == 65
    assert list(private_tmp.iterdir()) == []


@pytest.mark.requires_kernel_bpf
def test_calls_both_ways(llvm, tmp_path, private_tmp):
    main = bitcode(tmp_path, "main", """
        int plain_helper(int x);
        int bc_helper(int x) { return x * 5; }
        SEC("tc") int call_prog(struct __sk_buff *skb) { return plain_helper(skb->len); }
    """ + LICENSE)
    obj = plain(tmp_path, "helpers", """
        int bc_helper(int x);
        __attribute__((noinline)) int plain_helper(int x) { return x * 3 + 1; }
        SEC("tc") int plain_calls(struct __sk_buff *skb) { return bc_helper(skb->len) + 1; }
    """)
    out = tmp_path / "out.o"
    link(out, main, obj, llvm=llvm)
    symbols = bpfkit.elf_symbols(out)
    # bc_helper is referenced by the plain object, so internalize kept it global for libbpf.
    assert symbols["bc_helper"] == ("STB_GLOBAL", "STT_FUNC", ".text")
    assert symbols["plain_helper"] == ("STB_GLOBAL", "STT_FUNC", ".text")
    assert bpfkit.prog_run(out, "call_prog", PACKET) == 64 * 3 + 1
    assert bpfkit.prog_run(out, "plain_calls", PACKET) == 64 * 5 + 1
    assert list(private_tmp.iterdir()) == []


@pytest.mark.requires_kernel_bpf
def test_bss_variables_shared_by_extern(llvm, tmp_path, private_tmp):
    main = bitcode(tmp_path, "main", """
        extern int plain_counter;       /* defined in the plain object */
        int bc_total;                   /* C global: stays global, the plain object reads it */
        int plain_read(void);
        int plain_twice(void);
        SEC("tc") int bump(struct __sk_buff *skb) {
            plain_counter += 5;
            bc_total = 7;
            return plain_read() * 100 + plain_twice() * 10 + plain_counter;
        }
    """ + LICENSE)
    obj = plain(tmp_path, "state", """
        int plain_counter;
        extern int bc_total;
        __attribute__((noinline)) int plain_read(void) { return plain_counter + 1; }
        __attribute__((noinline)) int plain_twice(void) { return bc_total * 2; }
    """)
    out = tmp_path / "out.o"
    link(out, main, obj, llvm=llvm)
    symbols = bpfkit.elf_symbols(out)
    assert symbols["plain_counter"] == ("STB_GLOBAL", "STT_OBJECT", ".bss")
    assert symbols["bc_total"] == ("STB_GLOBAL", "STT_OBJECT", ".bss")
    # One .bss: the write in the bitcode's program is what the plain object's function reads.
    assert bpfkit.prog_run(out, "bump", PACKET) == (5 + 1) * 100 + 14 * 10 + 5
    assert list(private_tmp.iterdir()) == []


@pytest.mark.requires_kernel_bpf
def test_plain_object_in_an_archive_and_extern_map_defined_first(tmp_path, private_tmp):
    llvm = bpfkit.llvm16_path()
    bpfkit.require(llvm is not None, "libLLVM 16")
    maps = plain(tmp_path, "maps", f"""
        {MAP_DEF} other_map SEC(".maps");
        {MAP_DEF} shared_map SEC(".maps");
        __attribute__((noinline)) int seed(void) {{
            int k = 0, v = 30;
            bpf_map_update_elem(&shared_map, &k, &v, 0);
            return 0;
        }}
    """)
    main = bitcode(tmp_path, "main", f"""
        extern {MAP_DEF} shared_map SEC(".maps");
        int seed(void);
        SEC("tc") int read_map(struct __sk_buff *skb) {{
            int k = 0;
            seed();
            int *v = bpf_map_lookup_elem(&shared_map, &k);
            return v ? *v + 1 : -1;
        }}
    """ + LICENSE, extra=("-Wno-ignored-attributes",))
    archive = bpfkit.make_archive(tmp_path / "libmaps.a", [maps])
    out = tmp_path / "out.o"
    r = link(out, archive, main, llvm=llvm)  # the definition comes first: libbpf 1.1 resolves it
    assert r.stderr == ""
    assert bpfkit.prog_run(out, "read_map", PACKET) == 31
    assert list(private_tmp.iterdir()) == []


def test_print_pipeline_and_determinism(tmp_path, private_tmp):
    from bpf_linker.bindings import _ffi

    # In-process links share one libLLVM per process: use the one an earlier test loaded, if any.
    llvm = _ffi._loaded.path if _ffi._loaded is not None else bpfkit.llvm16_path()
    bpfkit.require(llvm is not None, "libLLVM 16")
    main = bitcode(tmp_path, "main", 'SEC("tc") int main_prog(struct __sk_buff *skb) { return 1; }\n' + LICENSE)
    obj = plain(tmp_path, "vendor", 'SEC("tc") int vendor_prog(struct __sk_buff *skb) { return 2; }\n')
    r = bpfkit.run_linker("--print-pipeline", "-o", tmp_path / "x.o", main, obj, llvm=llvm)
    assert r.stdout.strip().endswith(",codegen,link-objects")
    r = bpfkit.run_linker("--print-pipeline", "-o", tmp_path / "x.o", main, llvm=llvm)
    assert "link-objects" not in r.stdout
    one, two = tmp_path / "one.o", tmp_path / "sub" / "two.o"
    two.parent.mkdir()
    link(one, main, obj, llvm=llvm)
    bpfkit.run_linker("-o", "two.o", os.path.relpath(main, two.parent), os.path.relpath(obj, two.parent),
                      llvm=llvm, cwd=two.parent)
    assert one.read_bytes() == two.read_bytes()
    assert list(private_tmp.iterdir()) == []


def test_without_memfd_a_private_directory_is_used_and_removed(tmp_path, monkeypatch):
    """Where memfd_create is missing, libbpf works on files in a private directory, removed after."""
    import tempfile

    import bpf_linker

    from bpf_linker.bindings import _ffi

    # In-process links share one libLLVM per process: use the one an earlier test loaded, if any.
    llvm = _ffi._loaded.path if _ffi._loaded is not None else bpfkit.llvm16_path()
    bpfkit.require(llvm is not None, "libLLVM 16")
    main = bitcode(tmp_path, "main", 'SEC("tc") int main_prog(struct __sk_buff *skb) { return 1; }\n' + LICENSE)
    obj = plain(tmp_path, "vendor", 'SEC("tc") int vendor_prog(struct __sk_buff *skb) { return 2; }\n')
    nobtf = plain(tmp_path, "nobtf", 'SEC("tc") int nobtf_prog(struct __sk_buff *skb) { return 3; }\n',
                  extra=("-g0",))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = bpf_linker.link([str(main), str(obj)], None, llvm=llvm)  # the forked worker inherits both
    assert b"vendor_prog" in result.outputs["obj"]
    assert list(scratch.iterdir()) == []
    with pytest.raises(bpf_linker.LinkError, match="nobtf.o: a plain BPF object without BTF"):
        bpf_linker.link([str(main), str(nobtf)], None, llvm=llvm, passes=(
            "unpack-archives,link,internalize,optimize,btf,check-undefined,codegen,link-objects"))
    assert list(scratch.iterdir()) == []


# -- what cannot be linked: one error line -------------------------------------------------------------

@pytest.fixture
def pair(tmp_path):
    """(bitcode with -g, plain object with -g) that link fine together."""
    main = bitcode(tmp_path, "main", """
        int vendor_helper(int x);
        SEC("tc") int main_prog(struct __sk_buff *skb) { return vendor_helper(skb->len); }
    """ + LICENSE)
    obj = plain(tmp_path, "vendor", "int vendor_helper(int x) { return x + 1; }\n")
    return main, obj


def llvm16() -> str:
    path = bpfkit.llvm16_path()
    bpfkit.require(path is not None, "libLLVM 16")
    return path


@pytest.mark.parametrize("emit", ["llvm-ir", "llvm-bc", "asm"])
def test_emit_other_than_obj(emit, pair, tmp_path, private_tmp):
    out = tmp_path / "out.x"
    r = link(out, *pair, llvm=llvm16(), check=False, extra=("--emit", emit))
    one_error(r, out, "vendor.o: a plain BPF object (no bitcode) can only be linked into an object (--emit obj)",
              f"not {emit}")
    assert list(private_tmp.iterdir()) == []


def test_plain_object_without_btf(tmp_path, private_tmp):
    main = bitcode(tmp_path, "main", 'SEC("tc") int main_prog(struct __sk_buff *skb) { return 1; }\n' + LICENSE)
    obj = plain(tmp_path, "nobtf", "int vendor_helper(int x) { return x + 1; }\n", extra=("-g0",))
    out = tmp_path / "out.o"
    r = link(out, main, obj, llvm=llvm16(), check=False)
    one_error(r, out, "nobtf.o: a plain BPF object without BTF", "compile it with clang -g")
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("how", ["no -g", "--no-btf"])
def test_bitcode_without_btf(how, pair, tmp_path, private_tmp):
    main, obj = pair
    extra = ()
    if how == "no -g":
        main = bitcode(tmp_path, "main_nog", """
            int vendor_helper(int x);
            SEC("tc") int main_prog(struct __sk_buff *skb) { return vendor_helper(skb->len); }
        """ + LICENSE, extra=("-g0",))
    else:
        extra = ("--no-btf",)
    out = tmp_path / "out.o"
    r = link(out, main, obj, llvm=llvm16(), check=False, extra=extra)
    line = one_error(r, out, "vendor.o: ", "needs BTF on both sides")
    assert ("drop --no-btf" if how == "--no-btf" else "compile the bitcode with -g") in line
    assert list(private_tmp.iterdir()) == []


def test_extern_map_defined_in_a_later_object(tmp_path, private_tmp):
    """libbpf 1.1 leaves such a map at the wrong .BTF offset (loading fails later): an error at link time."""
    main = bitcode(tmp_path, "main", f"""
        extern {MAP_DEF} shared_map SEC(".maps");
        SEC("tc") int read_map(struct __sk_buff *skb) {{
            int k = 0;
            int *v = bpf_map_lookup_elem(&shared_map, &k);
            return v ? *v : -1;
        }}
    """ + LICENSE, extra=("-Wno-ignored-attributes",))
    maps = plain(tmp_path, "maps", f"""
        {MAP_DEF} other_map SEC(".maps");
        {MAP_DEF} shared_map SEC(".maps");
    """)
    out = tmp_path / "out.o"
    r = link(out, main, maps, llvm=llvm16(), check=False)
    one_error(r, out, "main.bc: extern map 'shared_map' (.maps) is defined in", "maps.o, a later input",
              "list", "before the bitcode inputs")
    assert list(private_tmp.iterdir()) == []


def test_conflicting_definitions(pair, tmp_path, private_tmp):
    main, obj = pair
    other = plain(tmp_path, "other", "int vendor_helper(int x) { return x + 2; }\n")
    out = tmp_path / "out.o"
    r = link(out, main, obj, other, llvm=llvm16(), check=False)
    one_error(r, out, "other.o: libbpf", "conflicting non-weak symbol", "vendor_helper")
    assert list(private_tmp.iterdir()) == []


def test_libbpf_missing(pair, tmp_path, private_tmp, monkeypatch):
    monkeypatch.setenv("BPF_LINKER_LIBBPF", str(tmp_path / "libbpf.so.404"))
    out = tmp_path / "out.o"
    r = link(out, *pair, llvm=llvm16(), check=False)
    one_error(r, out, "vendor.o: plain BPF objects are linked with libbpf's static linker, but no libbpf",
              "libbpf.so.404")


def test_pipeline_without_link_objects(pair, tmp_path, private_tmp):
    out = tmp_path / "out.o"
    r = link(out, *pair, llvm=llvm16(), check=False,
             extra=("-p", "unpack-archives,link,internalize,optimize,btf,codegen"))
    one_error(r, out, "vendor.o: a plain BPF object (no bitcode), but the pipeline has no link-objects pass")


def test_only_plain_objects(pair, tmp_path, private_tmp):
    out = tmp_path / "out.o"
    r = link(out, pair[1], llvm=llvm16(), check=False)
    one_error(r, out, "no bitcode in the inputs", "vendor.o", "`bpftool gen object` links them alone")


def test_symbols_only_elf_stays_skipped_silently(tmp_path, private_tmp):
    """An object with no code or data (only externs and BTF, like rustc's symbols.o) is skipped without a word."""
    main = bitcode(tmp_path, "main", 'SEC("tc") int main_prog(struct __sk_buff *skb) { return 1; }\n' + LICENSE)
    symbols = plain(tmp_path, "symbols", "extern int nothing;\n")
    assert bpfkit.elf_sections(symbols).get(".text", {"size": 0})["size"] == 0
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("--print-pipeline", "-o", out, main, symbols, llvm=llvm16())
    assert "link-objects" not in r.stdout
    r = link(out, main, symbols, llvm=llvm16())
    assert r.stderr == ""


# -- Rust bitcode next to a C object -------------------------------------------------------------------

RUST_ROOT = """\
#![feature(no_core, lang_items, rustc_attrs, intrinsics, auto_traits)]
#![allow(internal_features)]
#![no_core]
#![crate_type = "cdylib"]
mod lang_items;
#[repr(C)]
pub struct SkBuff { len: u32 }
"""


def rust_cdylib(tmp_path: Path, body: str, plain_object: Path) -> subprocess.CompletedProcess:
    """rustc links a no_core cdylib (lang items from tests/rust/minicore.rs) with bpf-linker, the object last."""
    minicore = Path(__file__).resolve().parent / "rust" / "minicore.rs"
    lines = [line for line in minicore.read_text().splitlines() if not line.startswith("#![")]
    (tmp_path / "lang_items.rs").write_text("#![allow(dead_code)]\n" + "\n".join(lines) + "\n")
    (tmp_path / "prog.rs").write_text(RUST_ROOT + textwrap.dedent(body))
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    env.pop("BPF_LINKER_LLVM", None)
    cmd = ["rustc", "--edition", "2021", "--target", "bpfel-unknown-none", "-C", "opt-level=2", "-C", "panic=abort",
           "-C", "overflow-checks=off", "-C", "debuginfo=2", "-C", "linker=bpf-linker", "-C", "link-arg=--btf",
           "-C", f"link-arg={plain_object}", "prog.rs", "-o", "prog.o"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)


@pytest.mark.requires_rustc
@pytest.mark.requires_kernel_bpf
def test_rust_program_next_to_a_c_object_calling_rust(tmp_path, private_tmp):
    obj = plain(tmp_path, "vendor", """
        unsigned int rust_helper(unsigned int x);
        SEC("tc") int c_prog(struct __sk_buff *skb) { return rust_helper(skb->len) + 2; }
    """ + LICENSE)
    r = rust_cdylib(tmp_path, """
        #[no_mangle]
        pub extern "C" fn rust_helper(x: u32) -> u32 { x * 3 }
        #[no_mangle]
        #[link_section = "classifier"]
        pub extern "C" fn rust_prog(skb: *const SkBuff) -> u32 { unsafe { (*skb).len + 1 } }
    """, obj)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "prog.o"
    assert bpfkit.prog_run(out, "rust_prog", PACKET) == 65
    assert bpfkit.prog_run(out, "c_prog", PACKET) == 64 * 3 + 2
    assert list(private_tmp.iterdir()) == []


@pytest.mark.requires_rustc
def test_rust_calling_a_c_object_is_one_error(tmp_path, private_tmp):
    """rustc writes no debug info for `extern "C"` declarations, and libbpf needs BTF for each extern."""
    obj = plain(tmp_path, "vendor", "unsigned int c_helper(unsigned int x) { return x * 7; }\n")
    r = rust_cdylib(tmp_path, """
        extern "C" { fn c_helper(x: u32) -> u32; }
        #[no_mangle]
        #[link_section = "classifier"]
        pub extern "C" fn rust_prog(skb: *const SkBuff) -> u32 { unsafe { c_helper((*skb).len) } }
    """, obj)
    assert r.returncode != 0
    errors = [line.strip().removeprefix("= note: ") for line in r.stderr.splitlines() if "bpf-linker: error:" in line]
    assert len(errors) == 1, r.stderr
    assert "'c_helper' is declared without debug info" in errors[0]
    assert "compile the file that defines 'c_helper' to bitcode instead" in errors[0]
    assert not (tmp_path / "prog.o").exists()
    assert list(private_tmp.iterdir()) == []
