"""Ownership and error behaviour of the cffi layer (in process, with the discovered libLLVM)."""

import gc

import pytest

from bpf_linker import LLVMError
from bpf_linker.bindings import Context, Module, UseAfterConsumeError, load_llvm

IR = b"""
target triple = "bpfel"
define i32 @f(i32 %x) {
  %y = add i32 %x, 1
  ret i32 %y
}
"""


@pytest.fixture(scope="module")
def library():
    return load_llvm()


def test_linked_source_is_consumed(library):
    ctx = Context(library)
    dest = Module.create(ctx, "dest")
    src = Module.parse_ir(ctx, IR, "src.ll")
    assert dest.link_in(src) == []
    with pytest.raises(UseAfterConsumeError):
        src.triple
    assert [f.name for f in dest.functions()] == ["f"]


def test_close_twice_is_harmless(library):
    ctx = Context(library)
    m = Module.parse_ir(ctx, IR, "m.ll")
    m.close()
    m.close()
    with pytest.raises(UseAfterConsumeError):
        m.to_ir()
    ctx.close()
    ctx.close()


def test_ir_syntax_error_carries_line_and_column(library):
    ctx = Context(library)
    with pytest.raises(LLVMError, match=r"bad\.ll: invalid IR: .*bad\.ll:3:1: error: expected type$"):
        Module.parse_ir(ctx, b"target triple = \"bpfel\"\ndefine i32 @f( {\n", "bad.ll")


def test_truncated_bitcode_is_an_error_not_a_crash(library):
    ctx = Context(library)
    bitcode = Module.parse_ir(ctx, IR, "m.ll").to_bitcode()
    with pytest.raises(LLVMError, match="cut.bc: invalid bitcode"):
        Module.parse_bitcode(ctx, bitcode[: len(bitcode) // 2], "cut.bc")


def test_bitcode_round_trip(library):
    ctx = Context(library)
    bitcode = Module.parse_ir(ctx, IR, "m.ll").to_bitcode()
    assert bitcode[:4] == b"BC\xc0\xde"
    again = Module.parse_bitcode(ctx, bitcode, "m.bc")
    assert "add i32 %x, 1" in again.to_ir()


def test_modules_keep_context_alive(library):
    m = Module.parse_ir(Context(library), IR, "m.ll")
    gc.collect()
    assert m.get_function("f").name == "f"
    assert m.verify() is None


def test_verify_reports_broken_module(library):
    ctx = Context(library)
    m = Module.parse_ir(ctx, IR, "m.ll")
    # Deleting a function still called elsewhere is not possible here; remove a terminator instead.
    f = m.get_function("f")
    insts = list(f.instructions())
    library.lib.LLVMInstructionEraseFromParent(insts[-1])
    assert "terminator" in (m.verify() or "")
