"""bpf-linker: link LLVM bitcode of BPF programs (C and Rust) into one BPF object; public API."""

from .driver import LinkResult, link
from .errors import (BpfLinkerError, InputError, LinkError, LLVMError, LLVMNotFoundError, PassError,
                     PipelineError, UsageError)
from .options import LinkOptions
from .pipeline import LinkContext, Pass, Pipeline, parse_pipeline, pipeline_for

__version__ = "0.1.0"

__all__ = [
    "BpfLinkerError", "InputError", "LLVMError", "LLVMNotFoundError", "LinkContext", "LinkError",
    "LinkOptions", "LinkResult", "Pass", "PassError", "Pipeline", "PipelineError", "UsageError",
    "link", "parse_pipeline", "pipeline_for",
]
