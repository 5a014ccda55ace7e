"""Link-time errors: one line naming the file, symbol or source location; status 1; no output written."""

import os
import textwrap

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

HEADER = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"


def bc(tmp_path, name, body):
    src = tmp_path / f"{name}.c"
    src.write_text(HEADER + textwrap.dedent(body))
    return bpfkit.compile_c(src, tmp_path / f"{name}.bc")


def assert_clean_failure(r, out, *fragments):
    """Exit status 1, exactly one `bpf-linker: error:` line, the fragments in it, no traceback."""
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("bpf-linker: error: ")]
    assert len(errors) == 1, r.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in r.stderr
    assert not out.exists() or out.read_bytes() == b"previous"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")], "temporary file left"


def test_undefined_function_names_symbol_and_input(llvm_lib, tmp_path):
    main = bc(tmp_path, "main", """
        int not_defined_anywhere(int);
        SEC("tc") int prog(struct __sk_buff *skb) { return not_defined_anywhere(skb->len); }
        char LICENSE[] SEC("license") = "GPL";
    """)
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, main, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, "undefined function 'not_defined_anywhere'", f"referenced by {main}")


def test_memcpy_diagnostic_names_source_location(llvm_lib, tmp_path):
    # 4 KiB between byte arrays: too big for the backend to expand, so LLVM wants a memcpy call.
    main = bc(tmp_path, "big", """
        char a[4096], b[4096];
        SEC("tc") int prog(struct __sk_buff *skb) { __builtin_memcpy(a, b, sizeof a); return a[skb->len & 7]; }
        char LICENSE[] SEC("license") = "GPL";
    """)
    out = tmp_path / "out.o"
    out.write_bytes(b"previous")
    r = bpfkit.run_linker("-o", out, main, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, "big.c:", "A call to built-in function 'memcpy' is not supported")


def test_duplicate_strong_definitions_name_both_inputs(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", """
        int shared(int x) { return x + 1; }
        SEC("tc") int prog(struct __sk_buff *skb) { return shared(skb->len); }
    """)
    b = bc(tmp_path, "b", "int shared(int x) { return x + 2; }\n")
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, a, b, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, "duplicate symbol 'shared'", str(a), str(b))


def test_different_license_contents_name_both_inputs(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", """
        SEC("tc") int prog(struct __sk_buff *skb) { return 0; }
        char LICENSE[] SEC("license") = "GPL";
    """)
    b = bc(tmp_path, "b", 'char LICENSE[] SEC("license") = "Dual MIT/GPL";\n')
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, a, b, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, "'LICENSE'", "different contents", str(a), str(b))


def test_identical_license_in_every_file_is_merged(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", """
        int helper(int);
        SEC("tc") int prog(struct __sk_buff *skb) { return helper(skb->len); }
        char LICENSE[] SEC("license") = "GPL";
    """)
    b = bc(tmp_path, "b", 'int helper(int x) { return x * 2; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    out = tmp_path / "out.o"
    bpfkit.run_linker("-o", out, a, b, llvm=llvm_lib)
    assert bpfkit.elf_section_data(out, "license") == b"GPL\0"


def test_elf_without_bitcode_only(llvm_lib, tmp_path):
    src = tmp_path / "plain.c"
    src.write_text(HEADER + 'SEC("tc") int prog(struct __sk_buff *skb) { return 0; }\n')
    obj = bpfkit.compile_c(src, tmp_path / "plain.o", form="obj")
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, obj, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, "no bitcode in the inputs", str(obj), "plain BPF objects are linked only together")


@pytest.mark.parametrize("content, fragment", [
    (None, "no such file"),
    (b"", "empty file"),
    (b"\x00\x01garbage\xff" * 10, "unrecognized input"),
    (b"define i32 @f( {\n", "invalid IR"),
    (b"BC\xc0\xde\x35\x14\x00\x00\x05", "invalid bitcode"),
])
def test_bad_input_files(llvm_lib, tmp_path, content, fragment):
    bad = tmp_path / "bad.input"
    if content is not None:
        bad.write_bytes(content)
    out = tmp_path / "out.o"
    out.write_bytes(b"previous")
    r = bpfkit.run_linker("-o", out, bad, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, str(bad), fragment)


def test_output_equal_to_input_is_refused(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", 'SEC("tc") int prog(struct __sk_buff *skb) { return 0; }\n')
    before = a.read_bytes()
    r = bpfkit.run_linker("-o", a, a, llvm=llvm_lib, check=False)
    assert r.returncode == 1 and "is also an input" in r.stderr
    assert a.read_bytes() == before


def test_output_in_missing_directory(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", 'SEC("tc") int prog(struct __sk_buff *skb) { return 0; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    out = tmp_path / "nodir" / "out.o"
    r = bpfkit.run_linker("-o", out, a, llvm=llvm_lib, check=False)
    assert r.returncode == 1
    assert f"bpf-linker: error: {out}: cannot write output" in r.stderr
    assert not out.parent.exists()


def test_successful_link_replaces_existing_output(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", 'SEC("tc") int prog(struct __sk_buff *skb) { return 3; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    out = tmp_path / "out.o"
    out.write_bytes(b"previous")
    os.chmod(out, 0o600)
    bpfkit.run_linker("-o", out, a, llvm=llvm_lib)
    assert out.read_bytes()[:4] == b"\x7fELF"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.o.")] == []


def test_bpfel_and_bpfeb_inputs_are_refused(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", 'int helper(int);\nSEC("tc") int prog(struct __sk_buff *skb) { return helper(1); }\n')
    src = tmp_path / "b.c"
    src.write_text(HEADER + "int helper(int x) { return x + 1; }\n")
    b = bpfkit.compile_c(src, tmp_path / "b_eb.bc", extra=("--target=bpfeb",))
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, a, b, llvm=llvm_lib, check=False)
    assert_clean_failure(r, out, f"{b} is big-endian (bpfeb)", f"{a} is little-endian",
                         "cannot be linked together")


def test_non_bpf_input_is_linked_with_a_warning(llvm_lib, tmp_path):
    a = bc(tmp_path, "a", 'int helper(int);\nSEC("tc") int prog(struct __sk_buff *skb) { return helper(1); }\n'
                          'char LICENSE[] SEC("license") = "GPL";\n')
    src = tmp_path / "b.c"
    src.write_text("int helper(int x) { return x + 1; }\n")
    b = tmp_path / "b_host.bc"
    bpfkit.run_tool(["clang-16", "-O2", "-emit-llvm", "-c", src, "-o", b])
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, a, b, llvm=llvm_lib)
    assert f"bpf-linker: warning: {b}: target triple 'x86_64" in r.stderr
    assert "is not BPF" in r.stderr
    assert bpfkit.prog_run(out, "prog") == 2
