"""bpf-linker: link LLVM bitcode of BPF programs (C and Rust) into one BPF object; public API."""

from __future__ import annotations

import dataclasses
import os

from .driver import LinkResult
from .driver import link as _link
from .errors import (BpfLinkerError, InputError, LinkError, LLVMError, LLVMNotFoundError, PassError,
                     PipelineError, UsageError)
from .options import LinkOptions
from .pipeline import LinkContext, Pass, Pipeline, build_pipeline, parse_pipeline, pipeline_for

__version__ = "0.1.0"

__all__ = [
    "BpfLinkerError", "InputError", "LLVMError", "LLVMNotFoundError", "LinkContext", "LinkError",
    "LinkOptions", "LinkResult", "Pass", "PassError", "Pipeline", "PipelineError", "UsageError",
    "build_pipeline", "link", "parse_pipeline", "pipeline_for",
]

_FIELDS = tuple(f.name for f in dataclasses.fields(LinkOptions))


def link(options=None, output=None, *, pipeline: "Pipeline | str | None" = None, isolate: bool | None = None,
         **settings) -> LinkResult:
    """Run one link and return its LinkResult (`result.outputs["obj"]` holds the object).

    Either the full form, `link(LinkOptions(...), pipeline)`, or plain arguments:
    `link(["a.bc", "b.bc"], "out.o", unroll_loops=True, export=["prog"])` where the keywords
    are LinkOptions fields (`emit`, `opt_level`, `cpu`, `btf`, `defsym`, `passes`, ...). With
    no output (None) nothing is written and the result carries the bytes. `pipeline` is a
    Pipeline of pass instances or a pipeline string; `isolate` as for bpf_linker.driver.link:
    by default the LLVM work runs in a forked worker, so links with different options in one
    process give what separate command lines give.
    """
    if isinstance(output, Pipeline):  # link(options, pipeline)
        output, pipeline = None, output if pipeline is None else pipeline
    unknown = [key for key in settings if key not in _FIELDS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], _FIELDS, n=2)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise TypeError(f"link() got an unexpected keyword argument '{unknown[0]}'{hint}")
    if isinstance(pipeline, str):
        settings["passes"], pipeline = pipeline, None
    if isinstance(options, LinkOptions):
        if output is not None:
            settings["output"] = os.fspath(output)
        if settings:
            options = dataclasses.replace(options, **settings)
    else:
        if options is not None:
            if "inputs" in settings:
                raise TypeError("link() got the inputs twice (positionally and as inputs=)")
            settings["inputs"] = options
        inputs = settings.pop("inputs", None)
        if inputs is None:
            raise TypeError("link() needs inputs: link(['a.bc', 'b.bc'], 'out.o', ...) or link(LinkOptions(...))")
        inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        if output is not None:
            settings["output"] = output
        settings["output"] = os.fspath(settings.get("output") or "")
        options = LinkOptions(inputs=tuple(os.fspath(i) for i in inputs), **settings)
    return _link(options, pipeline, isolate=isolate)
