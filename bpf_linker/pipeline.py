"""Pass, LinkContext and Pipeline: an ordered list of passes over one module, as a string or objects."""

from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from .errors import BpfLinkerError, PassError, PipelineError
from .options import LinkOptions


@dataclass(frozen=True)
class Pass:
    """Base of every pass: a frozen dataclass whose fields are its options.

    Subclasses set `name` (kebab-case, as written in pipeline strings) and `summary`,
    and implement `run`. A pass that needs LLVM command-line options returns them
    from `llvm_args`; the pipeline sets them all once, before the first pass runs.

    A plugin pass says where it belongs in the pipeline the flags build with `after`
    and/or `before` (a pass name: `after = "internalize"`, `before = "codegen"`), so
    `--load-pass-plugin FILE` alone runs it there; `-p` pipelines place passes by hand.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    after: ClassVar[str] = ""
    before: ClassVar[str] = ""

    def run(self, module, ctx: "LinkContext") -> None:
        raise NotImplementedError

    def llvm_args(self, ctx: "LinkContext") -> list[str]:
        return []

    def spec(self) -> str:
        """This pass as pipeline text: `name{key=value ...}` with non-default options only."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if value == default:
                continue
            parts.append(f"{f.name.replace('_', '-')}={_format_value(value)}")
        return f"{self.name}{{{' '.join(parts)}}}" if parts else self.name


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    if text == "" or any(c in text for c in ' {}"') or (not isinstance(value, (tuple, list)) and "," in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@dataclass
class LinkContext:
    """What a pass may use besides the module."""

    options: LinkOptions
    library: Any  # bindings.Library
    context: Any  # bindings.Context
    inputs: list = field(default_factory=list)  # InputObject list, filled by unpack-archives
    # What bpf_linker.link() read before loading LLVM (the inputs' producers choose the library);
    # the unpack-archives pass hands it to the pipeline, so passes before it see no inputs.
    read_inputs: list | None = None
    # symbol name -> input that defines it / inputs that reference it undefined (for errors)
    definitions: dict[str, str] = field(default_factory=dict)
    references: dict[str, list[str]] = field(default_factory=dict)
    first_triple: str | None = None
    # (cpu, features) the link pass read from the inputs' functions, used when --cpu is not given.
    input_cpu: tuple[str, str] | None = None
    # Global variables defined by C inputs: libbpf's interface with user space, kept global.
    user_space_globals: set[str] = field(default_factory=set)
    outputs: dict[str, bytes] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # free-form notes passes leave for later passes
    # progress(step): what the link is doing now, named in the message if LLVM crashes.
    progress: Callable[[str], None] = lambda step: None
    # Instrumentation hooks with an input_parsed(obj, module, ctx) method (--dump-dir, -M, -y),
    # set by Pipeline.run; the link pass calls input_parsed() for each input it parses.
    observers: list = field(default_factory=list)
    _target_machine: Any = None

    def input_parsed(self, obj, module) -> None:
        """Show an input, as parsed and before it is linked, to the instrumentation hooks."""
        for observer in self.observers:
            observer.input_parsed(obj, module, self)

    def logger(self, pass_name: str) -> logging.Logger:
        return logging.getLogger(f"bpf_linker.passes.{pass_name}")

    @property
    def triple(self) -> str:
        """--target, else the first input's triple if it is a BPF one, else `bpf` (host byte order)."""
        target = self.options.target
        if target:
            return target
        if self.first_triple and self.first_triple.startswith("bpf"):
            return self.first_triple
        return "bpf"

    @property
    def cpu(self) -> str:
        """--cpu, else the CPU the inputs were compiled for (see passes/link.py), else generic."""
        if self.options.cpu is not None:
            return self.options.cpu
        if self.options.target_kernel:  # that kernel's newest CPU the loaded LLVM knows
            from .target_kernel import cpu_for, parse
            return cpu_for(parse(self.options.target_kernel), self.library.major)
        return self.input_cpu[0] if self.input_cpu else "generic"

    @property
    def cpu_features(self) -> str:
        """--cpu-features, else the inputs' target-features when --cpu is not given either."""
        if self.options.cpu_features is not None:
            return self.options.cpu_features
        if self.options.target_kernel and self.options.cpu is None:
            return ""
        return self.input_cpu[1] if self.input_cpu and self.options.cpu is None else ""

    @property
    def target_machine(self):
        if self._target_machine is None:
            from .bindings import TargetMachine
            self._target_machine = TargetMachine.create(self.library, self.triple, self.cpu, self.cpu_features)
        return self._target_machine


@dataclass
class Pipeline:
    """An ordered list of passes."""

    passes: list[Pass]

    def spec(self) -> str:
        return ",".join(p.spec() for p in self.passes)

    def llvm_args(self, ctx: LinkContext) -> list[str]:
        args: list[str] = []
        for p in self.passes:
            for a in _named(p, p.llvm_args, ctx):
                if a not in args:
                    args.append(a)
        return args

    def run(self, module, ctx: LinkContext, hooks=()) -> None:
        """Run every pass; each hook's before(pass, module, ctx) and after(...) surround each
        pass, the `after`s in reverse order so the innermost hook sees the pass alone."""
        ctx.observers = [hook for hook in hooks if hasattr(hook, "input_parsed")]
        ctx.facts.setdefault("pipeline", tuple(p.name for p in self.passes))
        for p in self.passes:
            ctx.progress(f"running pass '{p.name}'")
            for hook in hooks:
                hook.before(p, module, ctx)
            _named(p, p.run, module, ctx)
            for hook in reversed(hooks):
                hook.after(p, module, ctx)


def _named(p: Pass, method, *args):
    """Call a pass method; a bug in a (possibly user) pass becomes a PassError naming it."""
    try:
        return method(*args)
    except BpfLinkerError:
        raise
    except Exception as e:
        raise PassError(p.name, f"{type(e).__name__}: {e}") from e


# -- pipeline text -------------------------------------------------------------

def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside braces and double quotes."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                raise PipelineError(f"unbalanced '}}' in pipeline '{text}'")
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted or depth:
        raise PipelineError(f"unterminated {'quote' if quoted else 'brace'} in pipeline '{text}'")
    parts.append(text[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        out, i = [], 1
        while i < len(value) - 1:
            if value[i] == "\\" and i + 1 < len(value) - 1:
                i += 1
            out.append(value[i])
            i += 1
        return "".join(out)
    return value


def _convert(pass_cls, key: str, raw: str, hint) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise PipelineError(f"pass '{pass_cls.name}': option '{key}' takes true or false, not '{raw}'")
    if hint is int:
        try:
            return int(raw, 0)
        except ValueError:
            raise PipelineError(f"pass '{pass_cls.name}': option '{key}' takes an integer, not '{raw}'") from None
    if origin is tuple or hint is tuple:
        return tuple(v for v in raw.split(",") if v) if raw else ()
    return raw


def parse_pipeline(text: str, registry=None) -> Pipeline:
    """Parse `name{key=value key2=a,b},next-pass` into a Pipeline of pass instances."""
    from .registry import default_registry

    registry = registry or default_registry()
    passes = []
    for element in _split_top(text.strip(), ","):
        element = element.strip()
        if not element:
            raise PipelineError(f"empty pass name in pipeline '{text}'")
        name, _, rest = element.partition("{")
        name = name.strip()
        pass_cls = registry.get(name)
        kwargs = {}
        if rest:
            if not rest.endswith("}"):
                raise PipelineError(f"pass '{name}': options must end with '}}'")
            hints = typing.get_type_hints(pass_cls)
            fields = {f.name for f in dataclasses.fields(pass_cls)}
            for item in _split_top(rest[:-1].strip(), " "):
                if not item:
                    continue
                key, eq, raw = item.partition("=")
                attr = key.strip().replace("-", "_")
                if not eq:
                    raise PipelineError(f"pass '{name}': option '{key}' needs a value (key=value)")
                if attr not in fields:
                    known = ", ".join(sorted(f.replace("_", "-") for f in fields)) or "none"
                    raise PipelineError(f"pass '{name}' has no option '{key}' (options: {known})")
                kwargs[attr] = _convert(pass_cls, key, _unquote(raw), hints[attr])
        try:
            passes.append(pass_cls(**kwargs))
        except (TypeError, ValueError) as e:
            raise PipelineError(f"pass '{name}': {e}") from None
    return Pipeline(passes)


def pipeline_for(options: LinkOptions, inputs=None) -> Pipeline:
    """The pipeline the flags ask for (driver.build_pipeline also honours -p/--passes).

    `inputs`, the objects read_inputs() made, tells whether plain BPF objects need the
    link-objects pass; without it (--print-pipeline) the input files are looked at."""
    from .passes.btf import Btf
    from .passes.check_undefined import CheckUndefined
    from .passes.codegen import Codegen
    from .passes.expand_memcpy import ExpandMemcpy
    from .passes.ignore_noinline import IgnoreNoinline
    from .passes.internalize import Internalize
    from .passes.link import Link
    from .passes.optimize import Optimize
    from .passes.unpack_archives import UnpackArchives
    from .passes.unroll_loops import UnrollLoops
    from . import target_kernel
    from .inputs import has_bpf_objects

    btf = {None: "auto", True: "keep", False: "strip"}[options.btf]
    passes: list[Pass] = [
        UnpackArchives(),
        Link(),
        Internalize(export=options.export, export_symbols=options.export_symbols,
                    memory_builtins=not options.disable_memory_builtins),
    ]
    if target_kernel.inline_all(options):
        passes.append(IgnoreNoinline())
    passes += [
        Optimize(level=options.opt_level),
    ]
    if target_kernel.unroll_all(options):  # after optimize: loops of helpers inlined across files too
        passes.append(UnrollLoops())
    passes += [
        # After optimize: MemCpyOpt and loop-idiom turn store sequences into memset calls.
        ExpandMemcpy(in_order=not options.disable_expand_memcpy_in_order),
        Btf(mode=btf),
        CheckUndefined(),
        Codegen(emit=options.emit),
    ]
    plain = (any(obj.kind == "bpf-object" for obj in inputs) if inputs is not None
             else has_bpf_objects(options.inputs))
    if plain:  # plain BPF objects: libbpf's linker adds them to the object
        from .passes.link_objects import LinkObjects
        passes.append(LinkObjects())
    passes += target_kernel.after_codegen(options)  # check-object, report, kernel-verify
    return Pipeline(passes)



# -- the pipeline a link runs: -p, or the flags' pipeline with --defsym and placed plugin passes ----

def build_pipeline(options: LinkOptions, registry=None, inputs=None) -> Pipeline:
    """-p/--passes parsed with the plugins loaded, else `pipeline_for(options)` with a `defsym`
    pass after `link` (--defsym) and every --load-pass-plugin pass where its class says
    (`after`/`before`). A plugin none of whose passes runs is an error, never ignored."""
    from .registry import default_registry

    if registry is None and (options.passes is not None or options.pass_plugins):
        registry = default_registry(options.pass_plugins)
    plugins = registry.plugins if registry is not None else []
    if options.passes is not None:
        pipeline = parse_pipeline(options.passes, registry)
        used = {type(p) for p in pipeline.passes}
        for plugin, classes in plugins:
            if not used.intersection(classes):
                names = ", ".join(cls.name for cls in classes)
                raise PipelineError(f"{plugin}: none of the plugin's passes ({names}) is in the -p pipeline; "
                                    "name one there, or drop -p to let them place themselves")
    else:
        pipeline = pipeline_for(options, inputs)
        if getattr(options, "defsym", ()):
            from .passes.defsym import Defsym

            _insert(pipeline, Defsym(values=options.defsym), after="link", before="", who="--defsym")
        placed: dict[str, int] = {}
        for plugin, classes in plugins:
            # Passes that say where they run are placed; the others are for -p pipelines.
            placeable = [cls for cls in classes if getattr(cls, "after", "") or getattr(cls, "before", "")]
            if not placeable and len(classes) > 1:
                names = ", ".join(cls.name for cls in classes)
                raise PipelineError(f"{plugin}: none of the plugin's passes ({names}) says where it runs: set "
                                    '`after = "PASS"` or `before = "PASS"` in a class, or name them in a -p pipeline')
            for cls in placeable or classes:
                place(pipeline, cls, str(plugin), placed)
    from .instrument import check_pass_names

    check_pass_names(pipeline, options)
    return pipeline


def place(pipeline: Pipeline, pass_cls: Any, who: str, placed: dict[str, int] | None = None) -> Pass:
    """Insert a default instance of `pass_cls` where its `after`/`before` say; returns it.

    `placed` counts the passes already placed after each anchor, so passes placed after the
    same one run in the order they were loaded."""
    after, before = getattr(pass_cls, "after", ""), getattr(pass_cls, "before", "")
    if not after and not before:
        raise PipelineError(f"{who}: pass '{pass_cls.name}' does not say where it runs: set `after = \"PASS\"` "
                            "or `before = \"PASS\"` in its class, or name it in a -p pipeline")
    try:
        instance = pass_cls()
    except (TypeError, ValueError, BpfLinkerError) as e:
        raise PipelineError(f"{who}: pass '{pass_cls.name}' cannot be created with its default options "
                            f"({e}); name it with options in a -p pipeline") from None
    _insert(pipeline, instance, after=after, before=before, who=who, placed=placed)
    return instance


def _insert(pipeline: Pipeline, instance: Pass, *, after: str, before: str, who: str,
            placed: dict[str, int] | None = None) -> None:
    names = [p.name for p in pipeline.passes]
    for anchor in (after, before):
        if anchor and anchor not in names:
            side = "after" if anchor == after else "before"
            raise PipelineError(f"{who}: pass '{instance.name}' runs {side} '{anchor}', which is not in this "
                                f"pipeline ({','.join(names)})")
    if after:
        # After the anchor and after what was placed there before (first loaded runs first).
        at = max(i for i, n in enumerate(names) if n == after) + 1
        placed = {} if placed is None else placed
        at += placed.get(after, 0)
        placed[after] = placed.get(after, 0) + 1
        if before and at > names.index(before):
            raise PipelineError(f"{who}: pass '{instance.name}' must run after '{after}' and before '{before}', "
                                f"but '{before}' comes first in this pipeline ({','.join(names)})")
    else:
        at = names.index(before)
    pipeline.passes.insert(at, instance)
