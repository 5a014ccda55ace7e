"""The BPF target machine: CPU, features, data layout, code emission."""

from __future__ import annotations

from bpf_linker.errors import LLVMError

from ._errors import take_message, take_out_message
from ._ffi import Library, ffi
from ._owned import Owned
from .memory_buffer import MemoryBuffer

CODEGEN_AGGRESSIVE = 3
RELOC_DEFAULT = 0
CODE_MODEL_DEFAULT = 0
FILE_TYPES = {"asm": 0, "obj": 1}


class TargetMachine(Owned):
    _dispose = "LLVMDisposeTargetMachine"
    triple: str
    cpu: str
    features: str

    @classmethod
    def create(cls, library: Library, triple: str, cpu: str, features: str) -> "TargetMachine":
        lib = library.lib
        target = ffi.new("LLVMTargetRef *")
        err = ffi.new("char **")
        if lib.LLVMGetTargetFromTriple(triple.encode(), target, err):
            raise LLVMError(f"target '{triple}': {take_out_message(lib, err)}")
        take_out_message(lib, err)
        handle = lib.LLVMCreateTargetMachine(target[0], triple.encode(), cpu.encode(), features.encode(),
                                             CODEGEN_AGGRESSIVE, RELOC_DEFAULT, CODE_MODEL_DEFAULT)
        if handle == ffi.NULL:
            raise LLVMError(f"cannot create a target machine for '{triple}' (cpu {cpu})")
        tm = cls(library, handle)
        tm.triple = triple
        tm.cpu = cpu
        tm.features = features
        return tm

    def data_layout(self) -> str:
        td = self.lib.LLVMCreateTargetDataLayout(self.handle)
        try:
            return take_message(self.lib, self.lib.LLVMCopyStringRepOfTargetData(td))
        finally:
            self.lib.LLVMDisposeTargetData(td)

    def emit(self, module, kind: str) -> bytes:
        """Object code or assembly for `module`; raises LLVMError if LLVM fails."""
        err = ffi.new("char **")
        out = ffi.new("LLVMMemoryBufferRef *")
        if self.lib.LLVMTargetMachineEmitToMemoryBuffer(self.handle, module.handle, FILE_TYPES[kind], err, out):
            raise LLVMError(f"code generation failed: {take_out_message(self.lib, err)}")
        take_out_message(self.lib, err)
        buf = MemoryBuffer(self.library, out[0])
        try:
            return buf.to_bytes()
        finally:
            buf.close()
