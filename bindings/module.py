"""LLVMModule: parse, link, inspect, print and serialize a module."""

from __future__ import annotations

from bpf_linker.errors import LLVMError

import logging

from ._errors import decode, llvm_stderr_to_log, take_message, take_out_message
from ._ffi import ffi
from .context import Context
from .memory_buffer import MemoryBuffer
from ._owned import Owned
from .values import GlobalValue

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
            raise LLVMError(f"{name}: invalid bitcode: {'; '.join(errors) or 'unknown error'}", errors)
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
