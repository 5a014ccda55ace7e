"""The exception hierarchy: every failure a user can cause is a BpfLinkerError."""

from __future__ import annotations


class BpfLinkerError(Exception):
    """Base of every error the linker reports as `bpf-linker: error: ...`."""


class InputError(BpfLinkerError):
    """An input file is missing, unreadable or not something we can link."""


class LinkError(BpfLinkerError):
    """Inputs cannot be linked together (undefined or conflicting symbols, ...)."""


class LLVMError(BpfLinkerError):
    """LLVM reported an error; `diagnostics` holds the messages it gave."""

    def __init__(self, message: str, diagnostics: tuple[str, ...] = ()):
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


class LLVMNotFoundError(BpfLinkerError):
    """No usable libLLVM (with the BPF target) was found."""


class PipelineError(BpfLinkerError):
    """A pipeline string or pass configuration is invalid."""


class PassError(BpfLinkerError):
    """A pass failed; the message names the pass."""

    def __init__(self, pass_name: str, message: str):
        super().__init__(f"pass '{pass_name}': {message}")
        self.pass_name = pass_name


class UsageError(BpfLinkerError):
    """The command line or LinkOptions are invalid."""
