"""LLVMRunPasses (new pass manager) and LLVM's process-global command-line options."""

from __future__ import annotations

from bpf_linker.errors import LLVMError

from ._errors import take_error
from ._ffi import Library, ffi


# Like LLVM's command-line options, process-wide: opt's -debug-pass-manager is not a libLLVM
# option, LLVMRunPasses takes it as a pass-builder option (see bpf_linker.instrument).
debug_pass_manager = False


def run_passes(module, pipeline: str, target_machine=None) -> None:
    """Run an LLVM pass pipeline string on `module` with the target's IR passes."""
    lib = module.lib
    options = lib.LLVMCreatePassBuilderOptions()
    try:
        if debug_pass_manager:
            lib.LLVMPassBuilderOptionsSetDebugLogging(options, 1)
        tm = target_machine.handle if target_machine is not None else ffi.NULL
        message = take_error(lib, lib.LLVMRunPasses(module.handle, pipeline.encode(), tm, options))
    finally:
        lib.LLVMDisposePassBuilderOptions(options)
    if message is not None:
        raise LLVMError(f"LLVM pass pipeline '{pipeline}': {message}", (message,))


def set_command_line(library: Library, args: list[str]) -> None:
    """Set LLVM's global options. They are process-wide and persist; never pass --help/--version."""
    argv_strings = [ffi.new("char[]", a.encode()) for a in ["bpf-linker", *args]]
    argv = ffi.new("const char *[]", argv_strings)
    library.lib.LLVMParseCommandLineOptions(len(argv_strings), argv, ffi.NULL)


def shutdown(library: Library) -> None:
    """LLVMShutdown: destroy LLVM's static state, which prints the reports LLVM keeps for process
    exit (the code generator's -time-passes, -stats). Only in a process about to end (the link's
    worker): LLVM's global options and registries cannot be used afterwards."""
    library.lib.LLVMShutdown()
