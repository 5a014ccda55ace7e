"""link(): load LLVM, build the pipeline, run it on a fresh context and write the output."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from .bindings import Context, Module, load_llvm, set_command_line
from . import versions
from .inputs import read_inputs
from .errors import PipelineError
from .instrument import Session
from .options import LinkOptions
from .output import check_output_path, refuse_input_as_output, write_output
from .pipeline import LinkContext, Pipeline
from .worker import run_isolated

log = logging.getLogger("bpf_linker")


@dataclass
class LinkResult:
    outputs: dict[str, bytes]
    pipeline: str
    llvm_args: list[str]
    diagnostics: list

    def __repr__(self) -> str:
        outputs = ", ".join(f"{kind} {len(data)} bytes" for kind, data in self.outputs.items()) or "no output"
        errors = sum(1 for d in self.diagnostics if getattr(d, "severity", "") == "error")
        warnings = sum(1 for d in self.diagnostics if getattr(d, "severity", "") == "warning")
        return (f"<LinkResult {outputs}; {len(self.pipeline.split(',')) if self.pipeline else 0} passes; "
                f"{errors} errors, {warnings} warnings>")


def base_llvm_args(library, options: LinkOptions) -> list[str]:
    # LLVM 17+ otherwise refuses to inline always_inline helpers at cold call sites.
    args = ["--cold-callsite-rel-freq=0"]
    if not options.allow_bpf_trap and library.major >= 21:
        args.append("--bpf-disable-trap-unreachable")
    if library.major >= 22:
        # codegen compiles a bitcode copy of the module (passes/codegen.py); clang's bitcode
        # carries use-list order and ours must too, or the register allocator's choices drift
        # from clang's object (a program came out 3 instructions longer). LLVM 22 made this
        # writer option a library one; older libraries have it only in their tools.
        args.append("--preserve-bc-uselistorder")
    return args


def validate_llvm_options(library, options: LinkOptions) -> None:
    """llvm_options.validate, imported only when there is something to check: for the
    defaults it returns at once, and its imports (subprocess, hashlib, difflib) cost ~10 ms."""
    if options.cpu in (None, "generic") and not options.cpu_features and not options.llvm_args:
        return
    from . import llvm_options

    llvm_options.validate(library, options)


def build_pipeline(options: LinkOptions, inputs=None) -> Pipeline:
    """-p/--passes parsed with the plugins loaded, else the pipeline the flags build with the
    plugins' passes placed in it (entry points are scanned only for -p and plugins)."""
    from .pipeline import build_pipeline as build

    return build(options, inputs=inputs)


def _in_process(options: LinkOptions, pipeline: Pipeline, inputs, progress, isolated: bool = False) -> LinkResult:
    found = versions.producers(inputs)
    library = load_llvm(options.llvm, min_major=versions.newest_major(found))
    log.debug("LLVM %s from %s (%s)", ".".join(map(str, library.version)), library.path, library.source)
    versions.report_mixed(found)
    versions.check_readable(found, library)
    session = Session(pipeline, options, isolated=isolated)  # hooks; LLVM's own instrumentation
    validate_llvm_options(library, session.options)
    hooks = session.hooks
    context = Context(library)
    ctx = LinkContext(options=options, library=library, context=context, read_inputs=inputs, progress=progress)
    llvm_args = base_llvm_args(library, options) + pipeline.llvm_args(ctx) + session.llvm_args
    log.debug("LLVM options: %s", " ".join(llvm_args))
    set_command_line(library, llvm_args)
    log.info("pipeline: %s", pipeline.spec())
    module = Module.create(context, "linked_module")
    session.start()
    try:
        pipeline.run(module, ctx, hooks)
    finally:
        session.finish(library)
    result = LinkResult(outputs=dict(ctx.outputs), pipeline=pipeline.spec(), llvm_args=llvm_args,
                        diagnostics=list(context.diagnostics))
    module.close()
    context.close()
    return result


def link(options: LinkOptions, pipeline: Pipeline | None = None, *, isolate: bool | None = None) -> LinkResult:
    """Run one link. Writes `options.output` (atomically) when it is set; returns the outputs too.

    By default the LLVM work runs in a forked child (`isolate`): an LLVM crash becomes an
    LLVMError, and LLVM's process-global options never leak from one link into the next.
    BPF_LINKER_IN_PROCESS=1 (or isolate=False) runs it here, for debuggers and profilers.
    """
    if options.output:
        refuse_input_as_output(options.output, options.inputs)
        check_output_path(options.output)
    # Inputs are read here, in Python, before any LLVM: their producers decide which libLLVM to load,
    # and plain BPF objects among them add the link-objects pass.
    inputs = read_inputs(options.inputs, logging.getLogger("bpf_linker.passes.unpack-archives"))
    pipeline = pipeline or build_pipeline(options, inputs)
    if isolate is None:
        isolate = os.environ.get("BPF_LINKER_IN_PROCESS", "") in ("", "0")
    if isolate:
        result = run_isolated(lambda progress: _in_process(options, pipeline, inputs, progress, isolated=True), log)
    else:
        result = _in_process(options, pipeline, inputs, lambda step: None)
    if options.output:
        if not result.outputs:
            raise PipelineError(f"{options.output}: the pipeline produced no output (it has no codegen pass)")
        data = result.outputs.get(options.emit) or next(iter(result.outputs.values()))
        write_output(options.output, data)
    return result
