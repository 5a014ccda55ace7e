"""cffi (ABI mode) bindings to libLLVM's C API: the only code that touches cffi's `lib`."""

from ._ffi import ENV_VAR, Library, load_llvm
from ._owned import UseAfterConsumeError
from .builder import Builder
from .context import Context, Diagnostic
from .module import Module
from .passes import run_passes, set_command_line
from .target import TargetMachine
from .values import GlobalValue, Linkage, Value

__all__ = [
    "Builder", "Context", "Diagnostic", "GlobalValue", "Library", "Linkage", "Module", "TargetMachine",
    "ENV_VAR", "UseAfterConsumeError", "Value", "load_llvm", "run_passes",
    "set_command_line",
]
