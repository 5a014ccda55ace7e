"""Ownership and error behaviour of the cffi layer (in process, with the discovered libLLVM)."""

import gc

import pytest

from bpf_linker import LLVMError
from bpf_linker.bindings import Builder, Context, Module, UseAfterConsumeError, load_llvm

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
    insts[-1].erase()
    assert "terminator" in (m.verify() or "")


MEMSET_IR = b"""
target triple = "bpfel"
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
define void @g(ptr %p, i8 %v) {
  call void @llvm.memset.p0.i64(ptr align 4 %p, i8 %v, i64 8, i1 false)
  ret void
}
"""


def _memset_call(m):
    intrinsic = m.get_function("llvm.memset.p0.i64")
    (call,) = list(intrinsic.uses())
    return call, intrinsic


def test_call_site_queries(library):
    ctx = Context(library)
    m = Module.parse_ir(ctx, MEMSET_IR, "m.ll")
    call, intrinsic = _memset_call(m)
    assert call.is_call and call.is_instruction
    assert call.called_value == intrinsic
    assert call.operand(2).constant_int == 8
    assert call.operand(3).constant_int == 0
    assert call.operand(1).constant_int is None  # %v is an argument
    assert call.operand(1).name == "v"
    assert call.param_attribute(0, ctx.attribute_kind("align")) == 4
    assert call.param_attribute(1, ctx.attribute_kind("align")) is None
    assert call.num_operands == 5  # four arguments and the callee


def test_builder_expands_a_memset_into_stores(library):
    ctx = Context(library)
    m = Module.parse_ir(ctx, MEMSET_IR, "m.ll")
    call, _ = _memset_call(m)
    with Builder(m) as b:
        b.position_before(call)
        dest, value = call.operand(0), call.operand(1)
        wide = b.mul(b.zext(value, 32), b.const_int(32, 0x01010101))
        b.store(wide, dest, 4)
        b.store(wide, b.gep_i8(dest, 4), 4, volatile=True)
        copy = b.load(32, dest, 4)
        b.store(copy, b.gep_i8(dest, 8), 4)
        b.erase(call)
    ir = m.to_ir()
    assert "llvm.memset" not in ir.split("define")[1]
    assert "zext i8 %v to i32" in ir
    assert "store volatile i32" in ir and "getelementptr i8, ptr %p, i64 4" in ir
    assert "load i32, ptr %p, align 4" in ir
    assert m.verify() is None


def test_builder_close_twice_and_use_after_close(library):
    ctx = Context(library)
    m = Module.parse_ir(ctx, MEMSET_IR, "m.ll")
    call, _ = _memset_call(m)
    b = Builder(m)
    b.close()
    b.close()
    assert b.closed
    with pytest.raises(UseAfterConsumeError):
        b.position_before(call)
    with pytest.raises(UseAfterConsumeError):
        b.const_int(8, 1)
    with pytest.raises(UseAfterConsumeError):
        b.erase(call)
    assert "llvm.memset" in m.to_ir().split("define")[1]  # nothing was erased


def test_builder_keeps_module_alive(library):
    b = Builder(Module.parse_ir(Context(library), MEMSET_IR, "m.ll"))
    gc.collect()
    assert b.module.get_function("g").name == "g"
    assert b.const_int(16, 0x0101).constant_int == 0x0101


def test_promotable_alloca_and_entry_instructions(library):
    ir = b"""
target triple = "bpfel"
declare void @use(ptr)
define i64 @f(i64 %x) {
  %a = alloca [8 x i8], align 8
  %b = alloca i64, align 8
  store i64 %x, ptr %a, align 8
  %y = load i64, ptr %a, align 8
  call void @use(ptr %b)
  ret i64 %y
}
declare void @d()
"""
    m = Module.parse_ir(Context(library), ir, "m.ll")
    insts = list(m.get_function("f").entry_instructions())
    assert [i.name for i in insts[:2]] == ["a", "b"]
    assert [i.is_promotable_alloca() for i in insts] == [True, False, False, False, False, False]
    assert list(m.get_function("d").entry_instructions()) == []


def test_used_names(library):
    ir = b"""
target triple = "bpfel"
@x = global i32 0
@llvm.used = appending global [2 x ptr] [ptr @x, ptr @f], section "llvm.metadata"
@llvm.compiler.used = appending global [1 x ptr] [ptr getelementptr (i8, ptr @y, i64 1)], section "llvm.metadata"
@y = global i32 0
define void @f() {
  ret void
}
"""
    m = Module.parse_ir(Context(library), ir, "m.ll")
    assert m.used_names() == {"x", "f", "y"}
    assert Module.parse_ir(Context(library), IR, "plain.ll").used_names() == set()
