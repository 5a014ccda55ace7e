"""Borrowed LLVMTypeRef handles: kind, width, element, printed form, size in the module's data layout."""

from __future__ import annotations

from ._errors import decode, take_message
from ._owned import Borrowed

# LLVMTypeKind values (llvm-c/Core.h; the same numbers from LLVM 16 to 22).
TYPE_KINDS = {
    0: "void", 1: "half", 2: "float", 3: "double", 4: "x86_fp80", 5: "fp128", 6: "ppc_fp128",
    7: "label", 8: "integer", 9: "function", 10: "struct", 11: "array", 12: "pointer", 13: "vector",
    14: "metadata", 15: "x86_mmx", 16: "token", 17: "scalable-vector", 18: "bfloat", 19: "x86_amx",
    20: "target-extension",
}


class Type(Borrowed):
    """An LLVM type (types are owned by the context; this one keeps its module alive).

    `kind` is a word ("integer", "pointer", "array", "struct", ...); `str(t)` is the IR
    spelling (`i32`, `ptr`, `[16 x i8]`). Types are unique per context, so `==` compares them.
    """

    __slots__ = ()

    def __str__(self) -> str:
        return take_message(self.lib, self.lib.LLVMPrintTypeToString(self.handle))

    def __repr__(self) -> str:
        return f"<Type {self}>"

    @property
    def kind(self) -> str:
        """"integer", "pointer", "array", "struct", "function", "void", "vector", ..."""
        value = self.lib.LLVMGetTypeKind(self.handle)
        return TYPE_KINDS.get(value, f"kind {value}")

    @property
    def is_integer(self) -> bool:
        return self.kind == "integer"

    @property
    def width(self) -> int | None:
        """Bits of an integer type (`i32` -> 32); None for other types."""
        return self.lib.LLVMGetIntTypeWidth(self.handle) if self.is_integer else None

    @property
    def length(self) -> int | None:
        """Elements of an array type; None for other types."""
        return self.lib.LLVMGetArrayLength(self.handle) if self.kind == "array" else None

    @property
    def element(self) -> "Type | None":
        """The element type of an array or vector; None for other types."""
        if self.kind not in ("array", "vector", "scalable-vector"):
            return None
        return Type(self.module, self.lib.LLVMGetElementType(self.handle))

    @property
    def fields(self) -> "list[Type]":
        """The member types of a struct, in order; [] for other types."""
        if self.kind != "struct":
            return []
        return [Type(self.module, self.lib.LLVMStructGetTypeAtIndex(self.handle, i))
                for i in range(self.lib.LLVMCountStructElementTypes(self.handle))]

    @property
    def struct_name(self) -> str:
        """`struct.foo` for `%struct.foo`; "" for literal structs and other types."""
        return decode(self.lib.LLVMGetStructName(self.handle)) if self.kind == "struct" else ""

    @property
    def size(self) -> int:
        """Allocation size in bytes in the module's data layout (`[16 x i8]` -> 16)."""
        layout = self.lib.LLVMGetModuleDataLayout(self.module.handle)
        return self.lib.LLVMABISizeOfType(layout, self.handle)
