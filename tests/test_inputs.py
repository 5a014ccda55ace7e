"""Tests for bpf_linker.inputs: content detection, ar/ELF unpacking, producer strings."""

from __future__ import annotations

import logging
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bpf_linker import inputs
from bpf_linker.errors import InputError
from bpf_linker.bitcode import bitcode_producer
from bpf_linker.inputs import InputObject, classify, has_bpf_objects, read_inputs

LOG = logging.getLogger("test_inputs")

HELPER_C = "int helper(int x) { return x * 3; }\n"
PROG_C = """\
#include <linux/bpf.h>
extern int helper(int x);
__attribute__((section("xdp"), used)) int prog(struct xdp_md *ctx)
{
    return helper(ctx->ingress_ifindex) & 3;
}
"""
LONG_NAME = "a_member_name_longer_than_fifteen.bc"


def need_tools(*tools: str) -> None:
    """Skip when a tool is missing, or fail when BPF_LINKER_REQUIRE_ALL=1 (CI)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"missing tools: {', '.join(missing)}"
    if os.environ.get("BPF_LINKER_REQUIRE_ALL") == "1":
        pytest.fail(f"{message} (BPF_LINKER_REQUIRE_ALL=1)")
    pytest.skip(message)


def run(*argv: str | Path, cwd: Path) -> None:
    subprocess.run([str(a) for a in argv], cwd=cwd, check=True, capture_output=True)


def clang16(*args: str | Path, cwd: Path) -> None:
    run("clang-16", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", *args, cwd=cwd)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of clang-16 / llvm-ar-16 made inputs, shared by this module's tests."""
    need_tools("clang-16", "llvm-ar-16")
    d = tmp_path_factory.mktemp("inputs")
    (d / "helper.c").write_text(HELPER_C)
    (d / "prog.c").write_text(PROG_C)
    (d / "empty.c").write_text("")
    clang16("-emit-llvm", "-c", "helper.c", "-o", "helper.bc", cwd=d)
    clang16("-S", "-emit-llvm", "helper.c", "-o", "helper.ll", cwd=d)
    clang16("-fembed-bitcode", "-c", "prog.c", "-o", "prog.o", cwd=d)
    clang16("-c", "helper.c", "-o", "plain.o", cwd=d)
    clang16("-fembed-bitcode=marker", "-c", "helper.c", "-o", "marker.o", cwd=d)
    (d / "symbols.o").write_bytes(symbols_only_elf())
    shutil.copy(d / "helper.bc", d / LONG_NAME)
    shutil.copy(d / "plain.o", d / "lib.rmeta")
    (d / "notes.txt").write_text("not bitcode\n")
    run("llvm-ar-16", "rcs", "gnu.a", "helper.bc", LONG_NAME, "prog.o", cwd=d)
    run("llvm-ar-16", "--format=bsd", "rcs", "bsd.a", "helper.bc", LONG_NAME, "prog.o", cwd=d)
    run("llvm-ar-16", "rcs", "inner_archive_long_name.a", "helper.ll", LONG_NAME, cwd=d)
    run("llvm-ar-16", "rcs", "outer.a", "gnu.a", "inner_archive_long_name.a", "helper.bc", cwd=d)
    run("llvm-ar-16", "rcs", "libdep.rlib", "lib.rmeta", "helper.bc", "notes.txt", cwd=d)
    run("llvm-ar-16", "rcs", "nothing.a", "lib.rmeta", "notes.txt", cwd=d)
    return d


SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB = 1, 2, 3
SHF_ALLOC, SHF_EXECINSTR = 0x2, 0x4


def tiny_elf(*sections: tuple[str, int, int, bytes]) -> bytes:
    """A little-endian ELF64 BPF relocatable with the given (name, type, flags, data) sections."""
    sections = (".shstrtab", SHT_STRTAB, 0, b""), *sections
    names = b"\0" + b"".join(name.encode() + b"\0" for name, *_ in sections)
    shoff = 64
    data_offset = shoff + 64 * (len(sections) + 1)
    headers, blobs, name_offset = [bytes(64)], [], 1
    for name, sh_type, flags, data in sections:
        data = names if name == ".shstrtab" else data
        # A symbol table names its symbols through .shstrtab (section 1) here.
        link, entsize = (1, 24) if sh_type == SHT_SYMTAB else (0, 0)
        headers.append(
            struct.pack(
                "<IIQQQQIIQQ", name_offset, sh_type, flags, 0, data_offset, len(data), link, 0, 1, entsize
            )
        )
        blobs.append(data)
        data_offset += len(data)
        name_offset += len(name) + 1
    header = struct.pack(
        "<16sHHIQQQIHHHHHH",
        b"\x7fELF\x02\x01\x01" + bytes(9), 1, 247, 1, 0, 0, shoff, 0, 64, 0, 0, 64, len(headers), 1,
    )
    return header + b"".join(headers) + b"".join(blobs)


def symbols_only_elf() -> bytes:
    """Like rustc's symbols.o: a symbol table and nothing else."""
    return tiny_elf((".symtab", SHT_SYMTAB, 0, bytes(24)), (".text", SHT_PROGBITS, 0, b""))


def summary(objects: list[InputObject]) -> list[tuple[str, str]]:
    return [(o.name, o.kind) for o in objects]


def read_in(directory: Path, *names: str) -> list[InputObject]:
    """read_inputs with paths relative to `directory` (display names stay short)."""
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        return read_inputs(list(names), LOG)
    finally:
        os.chdir(cwd)


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and r.name == LOG.name]


# --- classify ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"!<arch>\n", "archive"),
        (b"!<thin>\n", "archive"),
        (b"BC\xc0\xde\x35\x14", "bitcode"),
        (b"BC\xc0\xde", "bitcode"),  # truncated: LLVM reports it
        (b"\xde\xc0\x17\x0b\0\0\0\0", "bitcode"),
        (b"\x7fELF\x02\x01", "elf"),
        (b"; ModuleID = 'x.c'\nsource_filename = \"x.c\"\n", "ir"),
        (b"\xef\xbb\xbf\n  ; comment\n\ntarget triple = \"bpf\"\n", "ir"),
        (b"target datalayout = \"e-m:e-p:64:64-i64:64-i128:128-n32:64-S128\"\n", "ir"),
        (b"define i32 @f() {\n  ret i32 0\n}\n", "ir"),
        (b"declare i32 @g()\n", "ir"),
        (b"@x = global i32 0\n", "ir"),
        (b"%struct.s = type { i32 }\n", "ir"),
        (b"!llvm.module.flags = !{!0}\n", "ir"),
        (b"attributes #0 = { nounwind }\n", "ir"),
        (b"; only a comment\n", "ir"),
        (b"", "unknown"),
        (b"   \n\t\n", "unknown"),
        (b"int main(void) { return 0; }\n", "unknown"),
        (b"// C comment\n#include <stdio.h>\n", "unknown"),
        (b"#!/bin/sh\necho hi\n", "unknown"),
        (b"% LaTeX comment\n", "unknown"),
        (b"; comment\nhello world\n", "unknown"),
        (b";\x00\x01\x02binary\n", "unknown"),
        (b"\x89PNG\r\n\x1a\n", "unknown"),
        (b"!<arch", "unknown"),
        (b"\x7fEL", "unknown"),
    ],
)
def test_classify(data: bytes, kind: str) -> None:
    assert classify(data) == kind


def test_classify_random_binary_is_unknown() -> None:
    rng = random.Random(1234)
    for _ in range(2000):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
        if data.startswith((b"!<", b"BC", b"\xde\xc0", b"\x7fE")):
            continue
        assert classify(data) == "unknown", data


def test_classify_comment_header_longer_than_scan_window() -> None:
    data = b"; x\n" * 40000 + b"define void @f() {\n  ret void\n}\n"
    assert classify(data) == "ir"


# --- top-level errors ------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.bc: no such file$"):
        read_inputs([str(tmp_path / "nope.bc")], LOG)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r": is a directory$"):
        read_inputs([str(tmp_path)], LOG)


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.bc"
    path.write_bytes(b"BC\xc0\xde")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs, "open", refuse, raising=False)
    with pytest.raises(InputError, match=r"secret\.bc: cannot read: Permission denied$"):
        read_inputs([str(path)], LOG)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.bc"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.bc: empty file$"):
        read_inputs([str(path)], LOG)


def test_unrecognized_content(tmp_path: Path) -> None:
    path = tmp_path / "x.bc"
    path.write_bytes(b"int main(void) { return 0; }\n")
    with pytest.raises(
        InputError, match=r"x\.bc: unrecognized input \(not LLVM bitcode, IR text, ELF or ar archive\)$"
    ):
        read_inputs([str(path)], LOG)


def test_no_inputs() -> None:
    with pytest.raises(InputError, match="no input files"):
        read_inputs([], LOG)


def test_thin_archive(tmp_path: Path) -> None:
    path = tmp_path / "thin.a"
    path.write_bytes(b"!<thin>\n")
    with pytest.raises(InputError, match=r"thin\.a: thin archives are not supported$"):
        read_inputs([str(path)], LOG)


def test_malformed_elf(tmp_path: Path) -> None:
    path = tmp_path / "bad.o"
    path.write_bytes(b"\x7fELF" + b"\xff" * 60)
    with pytest.raises(InputError, match=r"bad\.o: malformed ELF: ."):
        read_inputs([str(path)], LOG)


def test_ir_and_bitcode_need_no_clang(tmp_path: Path) -> None:
    (tmp_path / "a.ll").write_bytes(b"define void @f() {\n  ret void\n}\n")
    (tmp_path / "b.data").write_bytes(b"BC\xc0\xde\x35\x14\0\0")
    objects = read_in(tmp_path, "a.ll", "b.data")
    assert summary(objects) == [("a.ll", "ir"), ("b.data", "bitcode")]
    assert objects[1].data == b"BC\xc0\xde\x35\x14\0\0"


# --- hand-made archives ------------------------------------------------------------


def ar_member(name: bytes, data: bytes, size: bytes | None = None, end: bytes = b"`\n") -> bytes:
    size_field = str(len(data)).encode() if size is None else size
    header = name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8)
    header += size_field.ljust(10) + end
    assert len(header) == 60
    return header + data + (b"\n" if len(data) % 2 else b"")


BC = b"BC\xc0\xde\x35\x14\0\0\x05"  # odd length: exercises the padding byte
IR = b"define void @g() {\n  ret void\n}\n"


def write_archive(tmp_path: Path, body: bytes, name: str = "bad.a") -> str:
    path = tmp_path / name
    path.write_bytes(b"!<arch>\n" + body)
    return str(path)


def test_handmade_gnu_archive(tmp_path: Path) -> None:
    long_name = b"a_long_member_name.bc"
    table = b"other_long_member_name.ll/\n" + long_name + b"/\n"
    body = (
        ar_member(b"/", b"\0\0\0\0")
        + ar_member(b"//", table)
        + ar_member(b"/27", BC)
        + ar_member(b"short.o/", BC)
        + ar_member(b"/0", IR)
    )
    objects = read_in(tmp_path, Path(write_archive(tmp_path, body, "lib.a")).name)
    assert summary(objects) == [
        ("lib.a(a_long_member_name.bc)", "bitcode"),
        ("lib.a(short.o)", "bitcode"),
        ("lib.a(other_long_member_name.ll)", "ir"),
    ]
    assert objects[0].data == BC


def test_handmade_bsd_archive(tmp_path: Path) -> None:
    body = (
        ar_member(b"#1/12", b"__.SYMDEF\0\0\0" + b"\0" * 8)
        + ar_member(b"#1/20", b"a_long_bsd_name.bc\0\0" + BC)
        + ar_member(b"plain.bc", BC)
    )
    objects = read_in(tmp_path, Path(write_archive(tmp_path, body, "lib.a")).name)
    assert summary(objects) == [("lib.a(a_long_bsd_name.bc)", "bitcode"), ("lib.a(plain.bc)", "bitcode")]
    assert objects[0].data == BC


def test_member_names_are_display_only(tmp_path: Path) -> None:
    body = ar_member(b"../../evil\x1b/", BC)
    objects = read_in(tmp_path, Path(write_archive(tmp_path, body, "lib.a")).name)
    assert summary(objects) == [("lib.a(../../evil\\x1b)", "bitcode")]
    assert not (tmp_path.parent.parent / "evil").exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (ar_member(b"x.bc/", BC, end=b"``"), "bad member header at offset 8"),
        (ar_member(b"x.bc/", BC, size=b"12a"), "member at offset 8 has a bad size field"),
        (ar_member(b"x.bc/", BC, size=b""), "member at offset 8 has a bad size field"),
        (ar_member(b"x.bc/", BC, size=b"-5"), "member at offset 8 has a bad size field"),
        (ar_member(b"x.bc/", BC, size=b"9999"), "truncated member 'x.bc/' at offset 8"),
        (ar_member(b"x.bc/", BC) + b"!<arch>\nshort", "truncated member header at offset 78"),
        (ar_member(b"/5", BC), "refers to long name /5 but there is no name table"),
        (ar_member(b"//", b"abc/\n") + ar_member(b"/99", BC), "long name reference /99 is outside the name table"),
        (ar_member(b"/x", BC), "member at offset 8 has a bad name '/x'"),
        (ar_member(b"#1/50", BC), "BSD name length 50 exceeds the member size 9"),
        (ar_member(b"#1/zz", BC), "bad BSD name length"),
    ],
)
def test_malformed_archive(tmp_path: Path, body: bytes, fragment: str) -> None:
    path = write_archive(tmp_path, body)
    with pytest.raises(InputError) as error:
        read_inputs([path], LOG)
    message = str(error.value)
    assert message.startswith(f"{path}: malformed archive: ")
    assert fragment in message


def test_malformed_nested_archive_names_the_member(tmp_path: Path) -> None:
    inner = b"!<arch>\n" + ar_member(b"x.bc/", BC, size=b"99")
    path = write_archive(tmp_path, ar_member(b"inner.a/", inner), "outer.a")
    with pytest.raises(InputError, match=r"outer\.a\(inner\.a\): malformed archive: truncated member 'x\.bc/'"):
        read_inputs([path], LOG)


def test_nested_thin_archive(tmp_path: Path) -> None:
    path = write_archive(tmp_path, ar_member(b"t.a/", b"!<thin>\n"), "outer.a")
    with pytest.raises(InputError, match=r"outer\.a\(t\.a\): thin archives are not supported"):
        read_inputs([path], LOG)


def test_deeply_nested_archive(tmp_path: Path) -> None:
    data = b"!<arch>\n" + ar_member(b"x.bc/", BC)
    for _ in range(40):
        data = b"!<arch>\n" + ar_member(b"n.a/", data)
    path = tmp_path / "deep.a"
    path.write_bytes(data)
    with pytest.raises(InputError, match="archives nested more than"):
        read_inputs([str(path)], LOG)


def test_empty_archive_has_no_bitcode(tmp_path: Path) -> None:
    path = write_archive(tmp_path, b"", "empty.a")
    with pytest.raises(InputError, match=r"no bitcode in the inputs: .*empty\.a \(compile with"):
        read_inputs([path], LOG)


def test_handmade_nonbitcode_member_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = ar_member(b"readme.txt/", b"hello\n") + ar_member(b"empty/", b"") + ar_member(b"x.bc/", BC)
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(tmp_path, Path(write_archive(tmp_path, body, "lib.a")).name)
    assert summary(objects) == [("lib.a(x.bc)", "bitcode")]
    assert messages(caplog, logging.WARNING) == [
        "lib.a(readme.txt): skipped non-bitcode archive member",
        "lib.a(empty): skipped non-bitcode archive member",
    ]


# --- hand-made ELF objects ----------------------------------------------------------


def test_handmade_elf_kinds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "embedded.o").write_bytes(tiny_elf((".llvmbc", SHT_PROGBITS, 0, BC)))
    (tmp_path / "data.o").write_bytes(tiny_elf((".data", SHT_PROGBITS, SHF_ALLOC, b"\1\2\3\4")))
    (tmp_path / "code.o").write_bytes(tiny_elf((".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, b"\x95" + bytes(7))))
    (tmp_path / "empty.o").write_bytes(tiny_elf((".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, b"")))
    (tmp_path / "symbols.o").write_bytes(symbols_only_elf())
    host = tiny_elf((".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, b"\x90"))
    (tmp_path / "host.o").write_bytes(host[:18] + struct.pack("<H", 62) + host[20:])  # EM_X86_64
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(tmp_path, "embedded.o", "data.o", "code.o", "empty.o", "symbols.o", "host.o")
    # BPF ELF objects with code or data but no bitcode are plain BPF objects, for libbpf's linker.
    assert summary(objects) == [("embedded.o", "bitcode"), ("data.o", "bpf-object"), ("code.o", "bpf-object")]
    assert objects[0] == InputObject("embedded.o", "bitcode", BC)
    assert objects[1].data == (tmp_path / "data.o").read_bytes()
    assert messages(caplog, logging.WARNING) == [
        "host.o: no embedded bitcode (.llvmbc section) and not a BPF object, skipped",
    ]
    assert "symbols.o: symbols-only ELF object without bitcode, skipped" in messages(caplog, logging.DEBUG)
    assert "empty.o: BPF ELF object without bitcode, code or data, skipped" in messages(caplog, logging.DEBUG)
    assert has_bpf_objects([str(tmp_path / "data.o")])
    names = ("embedded.o", "empty.o", "symbols.o", "host.o", "missing.o")
    assert not has_bpf_objects([str(tmp_path / n) for n in names])


def test_llvmbc_section_without_bitcode(tmp_path: Path) -> None:
    path = tmp_path / "odd.o"
    path.write_bytes(tiny_elf((".llvmbc", SHT_PROGBITS, 0, b"not bitcode")))
    with pytest.raises(InputError, match=r"odd\.o: \.llvmbc section does not hold LLVM bitcode$"):
        read_inputs([str(path)], LOG)


def test_elf_member_of_archive(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = (
        ar_member(b"embedded.o/", tiny_elf((".llvmbc", SHT_PROGBITS, 0, BC)))
        + ar_member(b"lib.rmeta/", tiny_elf((".rmeta", SHT_PROGBITS, 0, b"rust")))
        + ar_member(b"code.o/", tiny_elf((".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, b"\0" * 8)))
    )
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(tmp_path, Path(write_archive(tmp_path, body, "lib.rlib")).name)
    assert summary(objects) == [("lib.rlib(embedded.o)", "bitcode"), ("lib.rlib(code.o)", "bpf-object")]
    assert messages(caplog, logging.WARNING) == []
    assert "lib.rlib(lib.rmeta): Rust metadata, skipped" in messages(caplog, logging.DEBUG)
    assert has_bpf_objects([str(tmp_path / "lib.rlib")])


def test_malformed_elf_member(tmp_path: Path) -> None:
    path = write_archive(tmp_path, ar_member(b"bad.o/", b"\x7fELF" + b"\xff" * 60), "lib.a")
    with pytest.raises(InputError, match=r"lib\.a\(bad\.o\): malformed ELF: "):
        read_inputs([path], LOG)


# --- clang-made inputs ---------------------------------------------------------------


@pytest.mark.requires_clang
def test_plain_inputs(built: Path) -> None:
    objects = read_in(built, "helper.bc", "helper.ll", "prog.o")
    assert summary(objects) == [("helper.bc", "bitcode"), ("helper.ll", "ir"), ("prog.o", "bitcode")]
    assert objects[0].data == (built / "helper.bc").read_bytes()
    assert objects[2].data.startswith(b"BC\xc0\xde")
    assert b"source_filename" in objects[1].data


@pytest.mark.requires_clang
def test_detection_ignores_extensions(built: Path, tmp_path: Path) -> None:
    shutil.copy(built / "helper.bc", tmp_path / "really_bc.ll")
    shutil.copy(built / "helper.ll", tmp_path / "really_ir.o")
    shutil.copy(built / "prog.o", tmp_path / "really_elf.a")
    shutil.copy(built / "bsd.a", tmp_path / "really_archive.bc")
    objects = read_in(tmp_path, "really_bc.ll", "really_ir.o", "really_elf.a", "really_archive.bc")
    assert summary(objects) == [
        ("really_bc.ll", "bitcode"),
        ("really_ir.o", "ir"),
        ("really_elf.a", "bitcode"),
        ("really_archive.bc(helper.bc)", "bitcode"),
        (f"really_archive.bc({LONG_NAME})", "bitcode"),
        ("really_archive.bc(prog.o)", "bitcode"),
    ]


@pytest.mark.requires_clang
def test_gnu_archive(built: Path) -> None:
    assert b"//" + b" " * 14 in (built / "gnu.a").read_bytes()  # the long-name table is exercised
    assert summary(read_in(built, "gnu.a")) == [
        ("gnu.a(helper.bc)", "bitcode"),
        (f"gnu.a({LONG_NAME})", "bitcode"),
        ("gnu.a(prog.o)", "bitcode"),
    ]


@pytest.mark.requires_clang
def test_bsd_archive(built: Path) -> None:
    assert b"#1/" in (built / "bsd.a").read_bytes()
    objects = read_in(built, "bsd.a")
    assert summary(objects) == [
        ("bsd.a(helper.bc)", "bitcode"),
        (f"bsd.a({LONG_NAME})", "bitcode"),
        ("bsd.a(prog.o)", "bitcode"),
    ]
    assert objects[0].data == (built / "helper.bc").read_bytes()


@pytest.mark.requires_clang
def test_nested_archives(built: Path) -> None:
    assert summary(read_in(built, "outer.a")) == [
        ("outer.a(gnu.a)(helper.bc)", "bitcode"),
        (f"outer.a(gnu.a)({LONG_NAME})", "bitcode"),
        ("outer.a(gnu.a)(prog.o)", "bitcode"),
        ("outer.a(inner_archive_long_name.a)(helper.ll)", "ir"),
        (f"outer.a(inner_archive_long_name.a)({LONG_NAME})", "bitcode"),
        ("outer.a(helper.bc)", "bitcode"),
    ]


@pytest.mark.requires_clang
def test_rlib_like_archive(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(built, "libdep.rlib")
    assert summary(objects) == [("libdep.rlib(helper.bc)", "bitcode")]
    assert messages(caplog, logging.WARNING) == ["libdep.rlib(notes.txt): skipped non-bitcode archive member"]
    assert "libdep.rlib(lib.rmeta): Rust metadata, skipped" in messages(caplog, logging.DEBUG)


@pytest.mark.requires_clang
def test_elf_without_bitcode_is_a_plain_bpf_object(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(built, "plain.o", "marker.o", "helper.bc")
    # clang -c, and -fembed-bitcode=marker (code, an empty .llvmbc): linked by libbpf's linker.
    assert summary(objects) == [("plain.o", "bpf-object"), ("marker.o", "bpf-object"), ("helper.bc", "bitcode")]
    assert objects[0].data == (built / "plain.o").read_bytes()
    assert messages(caplog, logging.WARNING) == []


@pytest.mark.requires_clang
def test_symbols_only_elf_is_quiet(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOG.name):
        objects = read_in(built, "symbols.o", "helper.bc")
    assert summary(objects) == [("helper.bc", "bitcode")]
    assert messages(caplog, logging.WARNING) == []
    assert "symbols.o: symbols-only ELF object without bitcode, skipped" in messages(caplog, logging.DEBUG)


@pytest.mark.requires_clang
def test_no_bitcode_anywhere(built: Path) -> None:
    with pytest.raises(InputError) as error:
        read_in(built, "plain.o", "symbols.o", "nothing.a")
    assert str(error.value) == (
        "no bitcode in the inputs: plain.o, symbols.o, nothing.a(lib.rmeta), nothing.a(notes.txt)"
        " (compile with -emit-llvm or -fembed-bitcode); plain BPF objects are linked only together with"
        " bitcode (`bpftool gen object` links them alone)"
    )


@pytest.mark.requires_clang
def test_truncated_elf_is_malformed(built: Path, tmp_path: Path) -> None:
    data = (built / "prog.o").read_bytes()
    path = tmp_path / "cut.o"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.o: malformed ELF: "):
        read_inputs([str(path)], LOG)


@pytest.mark.requires_clang
def test_truncated_bitcode_is_left_to_llvm(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.bc"
    path.write_bytes((built / "helper.bc").read_bytes()[:100])
    assert summary(read_inputs([str(path)], LOG)) == [(str(path), "bitcode")]


# --- bitcode_producer ------------------------------------------------------------


@pytest.mark.requires_clang
def test_producer_clang16(built: Path) -> None:
    producer = bitcode_producer((built / "helper.bc").read_bytes())
    assert producer is not None and producer.startswith("LLVM16")
    embedded = read_in(built, "prog.o")[0].data
    assert bitcode_producer(embedded) == producer


@pytest.mark.requires_clang
def test_producer_clang19(tmp_path: Path) -> None:
    need_tools("clang-19")
    (tmp_path / "helper.c").write_text(HELPER_C)
    run("clang-19", "-O2", "-target", "bpf", "-emit-llvm", "-c", "helper.c", "-o", "h.bc", cwd=tmp_path)
    producer = bitcode_producer((tmp_path / "h.bc").read_bytes())
    assert producer is not None and producer.startswith("LLVM19")


@pytest.mark.requires_clang
def test_producer_of_wrapper_bitcode(built: Path, tmp_path: Path) -> None:
    # Darwin targets make clang write the 0x0B17C0DE wrapper header.
    run("clang-16", "-target", "x86_64-apple-darwin", "-emit-llvm", "-c", built / "helper.c", "-o", "w.bc",
        cwd=tmp_path)
    data = (tmp_path / "w.bc").read_bytes()
    assert data.startswith(b"\xde\xc0\x17\x0b")
    assert summary(read_in(tmp_path, "w.bc")) == [("w.bc", "bitcode")]
    assert read_in(tmp_path, "w.bc")[0].data == data
    producer = bitcode_producer(data)
    assert producer is not None and producer.startswith("LLVM16")


@pytest.mark.requires_clang
def test_producer_never_raises_on_damaged_bitcode(built: Path) -> None:
    data = (built / "helper.bc").read_bytes()
    for end in range(len(data[:80])):
        assert bitcode_producer(data[:end]) in (None, bitcode_producer(data))
    rng = random.Random(7)
    for _ in range(3000):
        damaged = bytearray(data[:64])
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(4, 64)] = rng.getrandbits(8)
        result = bitcode_producer(bytes(damaged))
        assert result is None or isinstance(result, str)


class BitWriter:
    """Writes an LLVM bitstream, little-endian bit order, for hand-made test bitcode."""

    def __init__(self) -> None:
        self.value = 0
        self.nbits = 0

    def fixed(self, value: int, width: int) -> None:
        self.value |= value << self.nbits
        self.nbits += width

    def vbr(self, value: int, width: int) -> None:
        high = 1 << (width - 1)
        while value >= high:
            self.fixed((value & (high - 1)) | high, width)
            value >>= width - 1
        self.fixed(value, width)

    def align32(self) -> None:
        self.nbits = (self.nbits + 31) // 32 * 32

    def data(self) -> bytes:
        return self.value.to_bytes(self.nbits // 8, "little")


WIDTH = 5  # abbreviation width inside the hand-made identification blocks


def identification_bitcode(write_body, block_id: int = 13) -> bytes:
    w = BitWriter()
    for byte in b"BC\xc0\xde":
        w.fixed(byte, 8)
    w.fixed(1, 2)  # ENTER_SUBBLOCK
    w.vbr(block_id, 8)
    w.vbr(WIDTH, 4)
    w.align32()
    length_at = w.nbits
    w.fixed(0, 32)
    start = w.nbits
    write_body(w)
    w.fixed(0, WIDTH)  # END_BLOCK
    w.align32()
    w.value |= ((w.nbits - start) // 32) << length_at
    return w.data()


def define_abbrev(w: BitWriter, *operands: tuple) -> None:
    w.fixed(2, WIDTH)
    w.vbr(len(operands), 5)
    for operand in operands:
        if operand[0] == "literal":
            w.fixed(1, 1)
            w.vbr(operand[1], 8)
        else:
            encoding = {"fixed": 1, "vbr": 2, "array": 3, "char6": 4, "blob": 5}[operand[0]]
            w.fixed(0, 1)
            w.fixed(encoding, 3)
            if operand[0] in ("fixed", "vbr"):
                w.vbr(operand[1], 5)


RUST_PRODUCER = "LLVM22.1.0-rust-1.95.0-stable"
CHAR6 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"


def body_fixed8_array(w: BitWriter) -> None:
    define_abbrev(w, ("literal", 1), ("array",), ("fixed", 8))
    define_abbrev(w, ("literal", 2), ("vbr", 6))
    w.fixed(4, WIDTH)
    w.vbr(len(RUST_PRODUCER), 6)
    for char in RUST_PRODUCER.encode():
        w.fixed(char, 8)
    w.fixed(5, WIDTH)  # EPOCH 0
    w.vbr(0, 6)


def body_char6_array(w: BitWriter) -> None:
    define_abbrev(w, ("literal", 1), ("array",), ("char6",))
    w.fixed(4, WIDTH)
    w.vbr(len("LLVM16.0.6"), 6)
    for char in "LLVM16.0.6":
        w.fixed(CHAR6.index(char), 6)


def body_unabbreviated(w: BitWriter) -> None:
    w.fixed(3, WIDTH)
    w.vbr(2, 6)  # EPOCH first: order does not matter
    w.vbr(1, 6)
    w.vbr(0, 6)
    w.fixed(3, WIDTH)
    w.vbr(1, 6)
    w.vbr(len(RUST_PRODUCER), 6)
    for char in RUST_PRODUCER.encode():
        w.vbr(char, 6)


def body_blob(w: BitWriter) -> None:
    define_abbrev(w, ("fixed", 3), ("blob",))
    w.fixed(4, WIDTH)
    w.fixed(1, 3)
    w.vbr(len(RUST_PRODUCER), 6)
    w.align32()
    for char in RUST_PRODUCER.encode():
        w.fixed(char, 8)
    w.align32()


def body_nested_block_then_string(w: BitWriter) -> None:
    w.fixed(1, WIDTH)  # a sub-block we do not know: skipped by its length
    w.vbr(99, 8)
    w.vbr(3, 4)
    w.align32()
    w.fixed(1, 32)
    w.fixed(0xFFFFFFFF, 32)
    body_char6_array(w)


def body_no_string(w: BitWriter) -> None:
    define_abbrev(w, ("literal", 2), ("vbr", 6))
    w.fixed(4, WIDTH)
    w.vbr(0, 6)


def body_undefined_abbrev(w: BitWriter) -> None:
    w.fixed(7, WIDTH)


@pytest.mark.parametrize(
    ("data", "producer"),
    [
        (identification_bitcode(body_fixed8_array), RUST_PRODUCER),
        (identification_bitcode(body_char6_array), "LLVM16.0.6"),
        (identification_bitcode(body_unabbreviated), RUST_PRODUCER),
        (identification_bitcode(body_blob), RUST_PRODUCER),
        (identification_bitcode(body_nested_block_then_string), "LLVM16.0.6"),
        (identification_bitcode(body_no_string), None),
        (identification_bitcode(body_undefined_abbrev), None),
        (identification_bitcode(body_char6_array, block_id=8), None),
        (identification_bitcode(body_char6_array)[:-4], None),  # block longer than the data
        (b"BC\xc0\xde", None),
        (b"", None),
        (b"\xde\xc0\x17\x0b", None),
        (b"\x7fELF" + bytes(60), None),
    ],
)
def test_producer_handmade(data: bytes, producer: str | None) -> None:
    assert bitcode_producer(data) == producer


def test_producer_handmade_wrapper() -> None:
    stream = identification_bitcode(body_fixed8_array)
    header = b"\xde\xc0\x17\x0b" + struct.pack("<IIII", 0, 20, len(stream), 7)
    assert bitcode_producer(header + stream) == RUST_PRODUCER
    bad_offset = b"\xde\xc0\x17\x0b" + struct.pack("<IIII", 0, 20, len(stream) + 1, 7)
    assert bitcode_producer(bad_offset + stream) is None
