"""Check --llvm-args, --cpu and --cpu-features against what the loaded LLVM knows."""

from __future__ import annotations


def validate(library, options) -> None:
    """Raise UsageError for an option, CPU or feature the loaded LLVM would ignore or reject."""
