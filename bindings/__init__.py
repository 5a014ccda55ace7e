"""cffi (ABI mode) bindings to libLLVM's C API: the only code that touches cffi's `lib`."""

from ._ffi import ENV_VAR, Library, load_llvm
from ._owned import UseAfterConsumeError
from .builder import Builder
from .context import Context, Diagnostic
from .instructions import BasicBlock, DebugLocation, Instruction, Opcode, Use
from .module import Module
from .passes import run_passes, set_command_line
from .target import TargetMachine
from .types import Type
from .values import GlobalValue, Linkage, Value, Visibility

__all__ = [
    "BasicBlock", "Builder", "Context", "DebugLocation", "Diagnostic", "GlobalValue", "Instruction", "Library",
    "Linkage", "Module", "Opcode", "TargetMachine", "Type", "ENV_VAR", "Use", "UseAfterConsumeError", "Value",
    "Visibility", "load_llvm", "run_passes", "set_command_line",
]
