"""cffi (ABI mode) bindings to libLLVM's C API: the only code that touches cffi's `lib`."""

from ._ffi import Library, load_llvm, loaded_library
from ._owned import UseAfterConsumeError
from .context import Context, Diagnostic
from .module import Module
from .passes import run_passes, set_command_line
from .target import TargetMachine, bpf_cpus
from .values import GlobalValue, Linkage, Value

__all__ = [
    "Context", "Diagnostic", "GlobalValue", "Library", "Linkage", "Module", "TargetMachine",
    "UseAfterConsumeError", "Value", "bpf_cpus", "load_llvm", "loaded_library", "run_passes",
    "set_command_line",
]
