"""LLVMModule: parse, link, inspect, print and serialize a module."""

from __future__ import annotations

from bpf_linker.errors import LLVMError

import logging

from ._errors import decode, llvm_stderr_to_log, take_message, take_out_message
from ._ffi import ffi
from .context import Context
from .memory_buffer import MemoryBuffer
from ._owned import Owned
from .types import Type
from .values import GlobalValue, Linkage, Value

VERIFIER_RETURN_STATUS = 2  # LLVMReturnStatusAction
USED_LISTS = ("llvm.used", "llvm.compiler.used")
log = logging.getLogger("bpf_linker.llvm")


class Module(Owned):
    """Owns an LLVMModuleRef; keeps its Context alive.

    `replace_with` swaps the handle in place (the textual round trip of the btf pass):
    passes hold the same Module object for the whole link.
    """

    _dispose = "LLVMDisposeModule"

    def __init__(self, context: Context, handle):
        super().__init__(context.library, handle, parent=context)
        self.context = context

    def replace_with(self, other: "Module") -> None:
        """Take over `other`'s contents (consumes it); this object stays the pipeline's module."""
        if other.context is not self.context:
            raise ValueError("replace_with: modules must share a context")
        new = other.consume()
        self.close()
        self._handle = ffi.gc(new, self.lib.LLVMDisposeModule)

    # -- construction --------------------------------------------------------
    @classmethod
    def create(cls, context: Context, name: str) -> "Module":
        return cls(context, context.lib.LLVMModuleCreateWithNameInContext(name.encode(), context.handle))

    @classmethod
    def parse_bitcode(cls, context: Context, data: bytes, name: str) -> "Module":
        """Parse bitcode; raises LLVMError carrying LLVM's diagnostics."""
        lib = context.lib
        mark = len(context.diagnostics)
        buf = MemoryBuffer.from_bytes(context.library, data, name)
        out = ffi.new("LLVMModuleRef *")
        with llvm_stderr_to_log(log):
            failed = lib.LLVMParseBitcodeInContext2(context.handle, buf.handle, out)  # borrows buf
        buf.close()
        if failed:
            errors = context.take_errors(mark)
            raise LLVMError(f"{name}: invalid bitcode: {'; '.join(errors) or 'unknown error'}", tuple(errors))
        return cls(context, out[0])

    @classmethod
    def parse_ir(cls, context: Context, data: bytes, name: str) -> "Module":
        """Parse textual IR; LLVM's message carries line:column."""
        lib = context.lib
        buf = MemoryBuffer.from_bytes(context.library, data, name)
        out = ffi.new("LLVMModuleRef *")
        msg = ffi.new("char **")
        # LLVMParseIRInContext consumes the buffer, whatever the outcome.
        with llvm_stderr_to_log(log):
            failed = lib.LLVMParseIRInContext(context.handle, buf.consume(), out, msg)
        text = take_out_message(lib, msg)
        if failed:
            # LLVM adds the offending source line and a caret below the first line.
            first = text.strip().splitlines()[0] if text.strip() else "unknown error"
            raise LLVMError(f"{name}: invalid IR: {first}", (text,))
        return cls(context, out[0])

    # -- properties --------------------------------------------------------
    @property
    def name(self) -> str:
        size = ffi.new("size_t *")
        return decode(self.lib.LLVMGetModuleIdentifier(self.handle, size), size[0])

    @name.setter
    def name(self, value: str) -> None:
        data = value.encode()
        self.lib.LLVMSetModuleIdentifier(self.handle, data, len(data))

    def is_empty(self) -> bool:
        """No functions, global variables or aliases."""
        return next(self.global_values(), None) is None

    @property
    def triple(self) -> str:
        return decode(self.lib.LLVMGetTarget(self.handle))

    @triple.setter
    def triple(self, value: str) -> None:
        self.lib.LLVMSetTarget(self.handle, value.encode())

    @property
    def data_layout(self) -> str:
        return decode(self.lib.LLVMGetDataLayoutStr(self.handle))

    @data_layout.setter
    def data_layout(self, value: str) -> None:
        self.lib.LLVMSetDataLayout(self.handle, value.encode())

    def named_metadata_strings(self, name: str) -> list[str]:
        """The strings of a named metadata list whose operands are string tuples (`!llvm.ident`)."""
        lib, key = self.lib, name.encode()
        count = lib.LLVMGetNamedMetadataNumOperands(self.handle, key)
        if not count:
            return []
        nodes = ffi.new("LLVMValueRef[]", count)
        lib.LLVMGetNamedMetadataOperands(self.handle, key, nodes)
        out = []
        length = ffi.new("unsigned *")
        for node in nodes:
            n = lib.LLVMGetMDNodeNumOperands(node)
            ops = ffi.new("LLVMValueRef[]", n)
            lib.LLVMGetMDNodeOperands(node, ops)
            for op in ops:
                if op != ffi.NULL:
                    text = lib.LLVMGetMDString(op, length)
                    if text != ffi.NULL:
                        out.append(decode(text, length[0]))
        return out

    def has_debug_info(self) -> bool:
        return self.lib.LLVMGetModuleDebugMetadataVersion(self.handle) != 0 or any(
            f.has_debug_info() for f in self.functions())

    # -- iteration ---------------------------------------------------------
    def _walk(self, first, next_, kind):
        value = first(self.handle)
        while value != ffi.NULL:
            nxt = next_(value)
            yield GlobalValue(self, value, kind)
            value = nxt

    def functions(self):
        return self._walk(self.lib.LLVMGetFirstFunction, self.lib.LLVMGetNextFunction, "function")

    def global_variables(self):
        return self._walk(self.lib.LLVMGetFirstGlobal, self.lib.LLVMGetNextGlobal, "variable")

    def aliases(self):
        return self._walk(self.lib.LLVMGetFirstGlobalAlias, self.lib.LLVMGetNextGlobalAlias, "alias")

    def global_values(self):
        yield from self.functions()
        yield from self.global_variables()
        yield from self.aliases()

    def get_function(self, name: str) -> GlobalValue | None:
        h = self.lib.LLVMGetNamedFunction(self.handle, name.encode())
        return None if h == ffi.NULL else GlobalValue(self, h, "function")

    def get_global(self, name: str) -> GlobalValue | None:
        h = self.lib.LLVMGetNamedGlobal(self.handle, name.encode())
        return None if h == ffi.NULL else GlobalValue(self, h, "variable")

    def get_alias(self, name: str) -> GlobalValue | None:
        data = name.encode()
        h = self.lib.LLVMGetNamedGlobalAlias(self.handle, data, len(data))
        return None if h == ffi.NULL else GlobalValue(self, h, "alias")

    def get_global_value(self, name: str) -> GlobalValue | None:
        """The function, global variable or alias called `name`, whichever it is; None if none."""
        return self.get_function(name) or self.get_global(name) or self.get_alias(name)

    # -- building (the pass-author API; see README "Pass API reference") ----
    def int_type(self, bits: int) -> Type:
        """`iN` in this module's context."""
        if not 1 <= bits <= (1 << 23):
            raise ValueError(f"integer width must be 1 to 8388608 bits, not {bits}")
        return Type(self, self.lib.LLVMIntTypeInContext(self.lib.LLVMGetModuleContext(self.handle), bits))

    def pointer_type(self, address_space: int = 0) -> Type:
        return Type(self, self.lib.LLVMPointerTypeInContext(self.lib.LLVMGetModuleContext(self.handle),
                                                            address_space))

    def array_type(self, element: Type, length: int) -> Type:
        """`[length x element]`."""
        return Type(self, self.lib.LLVMArrayType(element.handle, length))

    def const_int(self, type_or_bits: "Type | int", value: int) -> Value:
        """An integer constant; `value` may be negative, and must fit the width signed or unsigned."""
        ty = self.int_type(type_or_bits) if isinstance(type_or_bits, int) else type_or_bits
        width = ty.width
        if width is None:
            raise ValueError(f"const_int needs an integer type, not {ty}")
        if not -(1 << (width - 1)) <= value < (1 << width):
            raise ValueError(f"{value} does not fit in i{width}")
        if width > 64:
            raise ValueError("const_int: widths over 64 bits are not supported")
        return Value(self, self.lib.LLVMConstInt(ty.handle, value & ((1 << 64) - 1), value < 0))

    def const_string(self, data: "bytes | str", null_terminate: bool = True) -> Value:
        """A `[N x i8]` constant array of the bytes (UTF-8 for str), with a final NUL by default."""
        raw = data.encode() if isinstance(data, str) else bytes(data)
        context = self.lib.LLVMGetModuleContext(self.handle)
        return Value(self, self.lib.LLVMConstStringInContext(context, raw, len(raw), not null_terminate))

    def const_null(self, ty: Type) -> Value:
        """The zero value of a type (`zeroinitializer`, `null`, `0`)."""
        return Value(self, self.lib.LLVMConstNull(ty.handle))

    def undef(self, ty: Type) -> Value:
        return Value(self, self.lib.LLVMGetUndef(ty.handle))

    def add_global(self, name: str, ty: "Type | None" = None, *, initializer: "Value | None" = None,
                   section: str = "", constant: bool = False, linkage: "Linkage | str" = "external",
                   alignment: int = 0) -> GlobalValue:
        """Add a global variable. Give its type, or an initializer (its type is used):
        `module.add_global("greeting", initializer=module.const_string("hi"), section=".rodata",
        constant=True)`. Without an initializer it is a declaration (an extern)."""
        if ty is None:
            if initializer is None:
                raise ValueError("add_global needs a type or an initializer")
            ty = initializer.type
        if self.get_global_value(name) is not None:
            raise ValueError(f"the module already has a global named '{name}'")
        gv = GlobalValue(self, self.lib.LLVMAddGlobal(self.handle, ty.handle, name.encode()), "variable")
        if initializer is not None:
            gv.initializer = initializer
        if section:
            gv.section = section
        gv.global_constant = constant
        gv.linkage = linkage
        if alignment:
            gv.alignment = alignment
        return gv

    def run_passes(self, pipeline: str, target_machine=None) -> None:
        """Run an LLVM new-pass-manager pipeline string (`"function(instcombine),globaldce"`);
        give `ctx.target_machine` so BPF's own IR passes take part. Raises LLVMError."""
        from .passes import run_passes
        run_passes(self, pipeline, target_machine)

    def used_names(self) -> set[str]:
        """Names listed in llvm.used / llvm.compiler.used."""
        names = set()
        for list_name in USED_LISTS:
            gv = self.get_global(list_name)
            init = gv.initializer if gv is not None else None
            if init is None:
                continue
            for op in init.operands():
                # Typed-pointer IR wraps entries in a bitcast constant expression.
                while op.name == "" and op.num_operands > 0:
                    op = op.operand(0)
                name = op.name
                if name:
                    names.add(name)
        return names

    def sort_used_lists(self) -> None:
        """Order llvm.used / llvm.compiler.used like the module's own lists (clang sorts them by name).

        LLVMLinkModules2 creates the linked copies of a module's functions and globals in the
        order they are first reached, starting from these lists: sorted this way, a linked
        file keeps its programs and maps in source order, as libbpf's linker does.
        """
        position = {}
        for kind, values in (("variable", self.global_variables()), ("function", self.functions()),
                             ("alias", self.aliases())):
            for index, gv in enumerate(values):
                position[gv.handle] = (kind, index)
        for list_name in USED_LISTS:
            gv = self.get_global(list_name)
            init = gv.initializer if gv is not None else None
            if init is None or init.num_operands < 2:
                continue
            entries = init.operands()

            def key(op):
                target = op
                while target.name == "" and target.num_operands > 0:
                    target = target.operand(0)
                return position.get(target.handle, ("~", 0))

            ordered = sorted(entries, key=key)
            if ordered == entries:
                continue
            values = ffi.new("LLVMValueRef[]", [op.handle for op in ordered])
            element = self.lib.LLVMTypeOf(ordered[0].handle)
            self.lib.LLVMSetInitializer(gv.handle, self.lib.LLVMConstArray(element, values, len(ordered)))

    # -- whole-module operations --------------------------------------------
    def link_in(self, other: "Module") -> list[str]:
        """Link `other` into this module (consumes it, even on failure). Returns error diagnostics."""
        mark = len(self.context.diagnostics)
        failed = self.lib.LLVMLinkModules2(self.handle, other.consume())
        errors = self.context.take_errors(mark)
        if failed and not errors:
            errors = ["LLVMLinkModules2 failed"]
        return errors

    def verify(self) -> str | None:
        """None if the module is valid, else the verifier's message."""
        msg = ffi.new("char **")
        broken = self.lib.LLVMVerifyModule(self.handle, VERIFIER_RETURN_STATUS, msg)
        text = take_out_message(self.lib, msg)
        return text.strip() or "module is broken" if broken else None

    def strip_debug_info(self) -> bool:
        return bool(self.lib.LLVMStripModuleDebugInfo(self.handle))

    def to_ir(self) -> str:
        return take_message(self.lib, self.lib.LLVMPrintModuleToString(self.handle))

    def to_bitcode(self) -> bytes:
        buf = MemoryBuffer(self.library, self.lib.LLVMWriteBitcodeToMemoryBuffer(self.handle))
        try:
            return buf.to_bytes()
        finally:
            buf.close()
