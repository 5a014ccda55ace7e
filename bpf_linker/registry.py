"""Where passes come from: built-ins, the `bpf_linker.passes` entry-point group, plugin files."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from .errors import PipelineError

BUILTIN_MODULES = (
    "unpack_archives", "link", "defsym", "internalize", "ignore_noinline", "unroll_loops",
    "optimize", "expand_memcpy", "btf", "check_undefined", "codegen", "llvm",
    "check_object", "report", "kernel_verify", "link_objects",
)
ENTRY_POINT_GROUP = "bpf_linker.passes"
# A plugin file is first imported in a forked child, so an os._exit(), a crash or an endless
# loop at import ends that child, not the link; this bounds how long the import may take.
IMPORT_TIMEOUT_ENV = "BPF_LINKER_PLUGIN_TIMEOUT"
DEFAULT_IMPORT_TIMEOUT = 30.0
_PASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Provider:
    """Who provides a pass: kind "built-in" (origin: its module), "entry point" (`name = module:attr`)
    or "file" (the plugin's path)."""

    kind: str
    origin: str

    def __str__(self) -> str:
        return f"entry point {self.origin}" if self.kind == "entry point" else self.origin


class Registry:
    """Pass name -> (class, provider). Duplicate names are an error naming both providers.

    `plugins` lists what --load-pass-plugin loaded, in order: (plugin, its pass classes),
    the plugin being a file path or an installed entry point's name.
    """

    def __init__(self):
        self._passes: dict[str, tuple[type, Provider]] = {}
        self.plugins: list[tuple[str, list[type]]] = []

    def register(self, pass_cls: type, provider: "Provider | str") -> None:
        if isinstance(provider, str):
            provider = Provider("file", provider)
        name = getattr(pass_cls, "name", "")
        if not name:
            raise PipelineError(f"{provider}: pass class {getattr(pass_cls, '__name__', pass_cls)!r} has no name")
        if name in self._passes:
            other = self._passes[name][1]
            raise PipelineError(f"pass '{name}' is defined twice: by {other} and by {provider}")
        self._passes[name] = (pass_cls, provider)

    def get(self, name: str) -> type:
        try:
            return self._passes[name][0]
        except KeyError:
            known = ", ".join(sorted(self._passes))
            raise PipelineError(f"unknown pass '{name}'{_did_you_mean(name, self._passes)} "
                                f"(known passes: {known})") from None

    def provider(self, name: str) -> Provider:
        return self._passes[name][1]

    def names(self) -> list[str]:
        return sorted(self._passes)

    def items(self):
        return sorted((name, cls, str(provider)) for name, (cls, provider) in self._passes.items())

    def _register_all(self, classes, provider: Provider, where: str) -> list[Any]:
        if not isinstance(classes, (list, tuple)):
            raise PipelineError(f"{where}: a pass plugin must define PASSES = [PassClass, ...], "
                                f"not {type(classes).__name__}")
        checked = [check_pass_class(cls, f"{where}: PASSES[{i}]") for i, cls in enumerate(classes)]
        for cls in checked:
            self.register(cls, provider)
        for i, cls in enumerate(checked):
            if cls.run is _pass_base().run:
                raise PipelineError(f"{where}: PASSES[{i}] ({cls.__name__}): pass '{cls.name}' defines no "
                                    "run(self, module, ctx)")
        return checked

    def load_plugin_file(self, path: str) -> list[type]:
        """A Python file listing its pass classes in `PASSES = [...]`; returns them.

        The file is first imported in a forked child (see `probe_import`): a plugin that
        exits, crashes or loops at import is an error naming the file, never the end of
        the link or a hang.
        """
        if not os.path.isfile(path):
            raise PipelineError(f"{path}: pass plugin not found" + _entry_point_hint(path))
        problem = probe_import(path)
        if problem:
            raise PipelineError(f"{path}: {problem}")
        module = _import_file(path)
        passes = getattr(module, "PASSES", None)
        if passes is None:
            raise PipelineError(f"{path}: a pass plugin must define PASSES = [PassClass, ...]")
        classes = self._register_all(passes, Provider("file", path), path)
        if not classes:
            raise PipelineError(f"{path}: the pass plugin lists no passes (PASSES is empty)")
        self.plugins.append((path, classes))
        return classes

    def load_plugin(self, spec: str) -> list[type]:
        """--load-pass-plugin SPEC: a Python file, or the name of an installed entry point of
        the `bpf_linker.passes` group (whose passes are registered already) to place in the pipeline."""
        if os.path.exists(spec) or spec.endswith(".py") or os.sep in spec:
            return self.load_plugin_file(spec)
        classes = [cls for cls, provider in self._passes.values()
                   if provider.kind == "entry point" and provider.origin.split(" = ", 1)[0] == spec]
        if not classes:
            raise PipelineError(f"{spec}: pass plugin not found" + _entry_point_hint(spec))
        self.plugins.append((spec, classes))
        return classes

    def load_entry_points(self) -> None:
        import importlib.metadata  # here, not at import: ~10 ms that a link without -p or plugins skips

        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            where = f"entry point {ep.name} ({ep.value})"
            try:
                loaded = ep.load()
            except KeyboardInterrupt:
                raise
            except SystemExit as e:
                raise PipelineError(f"{where}: called sys.exit({e.code!r}) while being imported") from None
            except BaseException as e:
                raise PipelineError(f"{where}: {type(e).__name__}: {e}") from None
            classes = loaded if isinstance(loaded, (list, tuple)) else [loaded]
            self._register_all(classes, Provider("entry point", f"{ep.name} = {ep.value}"), where)


def check_pass_class(cls, where: str) -> Any:
    """`cls` if it is a usable Pass subclass, else a PipelineError saying what is wrong with it."""
    from .pipeline import Pass

    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        raise PipelineError(f"{where} is {_short_repr(cls)}, not a subclass of bpf_linker.Pass")
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not _PASS_NAME.match(name):
        raise PipelineError(f"{where} ({cls.__name__}): name must be a pass name such as 'my-pass', "
                            f"not {_short_repr(name)}")
    for attr in ("after", "before"):
        value = getattr(cls, attr, "")
        if not isinstance(value, str):
            raise PipelineError(f"{where} ({cls.__name__}): {attr} must be a pass name (a str), "
                                f"not {_short_repr(value)}")
    return cls


def _pass_base():
    from .pipeline import Pass
    return Pass


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word: str, choices) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _entry_point_hint(spec: str) -> str:
    import importlib.metadata

    names = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
    if names:
        return f" (no such file; installed plugins, group {ENTRY_POINT_GROUP}: {', '.join(names)})"
    return " (no such file, and no plugin is installed under the entry-point group " \
           f"{ENTRY_POINT_GROUP})"


def _module_name(path: str) -> str:
    return f"bpf_linker_plugin_{abs(hash(os.path.abspath(path)))}"


def _import_file(path: str):
    """Import a plugin file in this process: whatever it raises becomes a PipelineError naming it."""
    spec = importlib.util.spec_from_file_location(_module_name(path), path)
    if spec is None or spec.loader is None:
        raise PipelineError(f"{path}: cannot load pass plugin (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    # In sys.modules while it runs, as for any import: dataclasses resolves the string
    # annotations of `from __future__ import annotations` modules there.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        sys.modules.pop(spec.name, None)
        raise
    except SystemExit as e:
        sys.modules.pop(spec.name, None)
        raise PipelineError(f"{path}: the pass plugin called sys.exit({e.code!r}) while being imported") from None
    except BaseException as e:
        sys.modules.pop(spec.name, None)
        raise PipelineError(f"{path}: cannot load pass plugin: {type(e).__name__}: {e}") from None
    return module


def import_timeout() -> float:
    raw = os.environ.get(IMPORT_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        raise PipelineError(f"{IMPORT_TIMEOUT_ENV}: not a number of seconds: '{raw}'") from None
    return value if value > 0 else DEFAULT_IMPORT_TIMEOUT


def probe_import(path: str, timeout: float | None = None) -> str | None:
    """Import a plugin file in a forked child (its output discarded); None if that worked, else why not.

    Catches what an in-process import cannot: os._exit(), a crash (signal), and an import
    that does not finish within `timeout` seconds (BPF_LINKER_PLUGIN_TIMEOUT, default 30).
    Where fork() is unavailable or fails, returns None: the in-process import still
    turns exceptions and sys.exit() into errors.
    """
    timeout = import_timeout() if timeout is None else timeout
    if not hasattr(os, "fork"):
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # child: import, report, exit without running the parent's atexit handlers
        try:
            os.close(read_fd)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            try:
                _import_file(path)
                message = "ok"
            except PipelineError as e:
                message = str(e).removeprefix(f"{path}: ")
            except BaseException as e:
                message = f"cannot load pass plugin: {type(e).__name__}: {e}"
            os.write(write_fd, message.encode("utf-8", "replace")[:4096])
        finally:
            os._exit(0)
    os.close(write_fd)
    data, finished = b"", False
    try:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 4096)
            if not chunk:
                finished = True
                break
            data += chunk
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C while waiting: take the child down too
        from .worker import kill_and_reap

        kill_and_reap(pid)
        raise
    finally:
        os.close(read_fd)
    if not finished:
        return (f"importing the pass plugin did not finish within {timeout:g} s (an endless loop at import?); "
                f"{IMPORT_TIMEOUT_ENV} sets the limit")
    if data == b"ok":
        return None
    if data:
        return data.decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"importing the pass plugin killed the process ({name})"
    return (f"the pass plugin ended the process while being imported (os._exit({os.WEXITSTATUS(status)}) "
            "or a crash)")


_BUILTINS: list[tuple[str, list[type]]] | None = None


def builtin_passes() -> list[tuple[str, list[type]]]:
    global _BUILTINS
    if _BUILTINS is None:
        _BUILTINS = [(f"bpf_linker.passes.{m}", list(getattr(importlib.import_module(f"bpf_linker.passes.{m}"),
                                                            "PASSES", ())))
                     for m in BUILTIN_MODULES]
    return _BUILTINS


def default_registry(plugin_files: tuple[str, ...] = ()) -> Registry:
    """Built-in passes, installed entry points, then each --load-pass-plugin (file or entry point name)."""
    registry = Registry()
    for module_name, classes in builtin_passes():
        for cls in classes:
            registry.register(cls, Provider("built-in", module_name))
    registry.load_entry_points()
    for spec in plugin_files:
        registry.load_plugin(spec)
    return registry


# --- --list-passes ---------------------------------------------------------------------


def _type_name(hint) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")


def _options_of(cls) -> list[str]:
    import dataclasses
    import typing

    from .pipeline import _format_value

    if not dataclasses.is_dataclass(cls):
        return []
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    out = []
    for f in dataclasses.fields(cls):
        if f.default == ():
            default = "()"
        elif f.default is not dataclasses.MISSING:
            default = _format_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = _format_value(f.default_factory())
        else:
            default = "(required)"
        out.append(f"{f.name.replace('_', '-')}: {_type_name(hints.get(f.name, f.type))} = {default}")
    return out


def _positions(options, registry: Registry) -> dict[str, str]:
    """pass name -> where it runs: in the pipeline these options build, or with which flag."""
    import dataclasses

    from .options import LinkOptions
    from .pipeline import build_pipeline, pipeline_for

    where: dict[str, str] = {}
    current = build_pipeline(options, registry).passes
    names = [p.name for p in current]
    for i, name in enumerate(names):
        neighbours = ", ".join(part for part in (f"after {names[i - 1]}" if i else "first",
                                                 f"before {names[i + 1]}" if i + 1 < len(names) else "last"))
        where.setdefault(name, f"#{i + 1} of {len(names)} in this pipeline ({neighbours})")
    base = LinkOptions(inputs=(), output="")
    for f in dataclasses.fields(LinkOptions):
        if f.default is False:
            try:
                changed: dict[str, Any] = {f.name: True}
                extra = pipeline_for(dataclasses.replace(base, **changed)).passes
            except Exception:
                continue
            extra_names = [p.name for p in extra]
            for i, name in enumerate(extra_names):
                if name not in where:
                    where[name] = f"with --{f.name.replace('_', '-')} (after {extra_names[i - 1]})" if i else \
                        f"with --{f.name.replace('_', '-')}"
    where.setdefault("defsym", "with --defsym (after link)")
    where.setdefault("link-objects", "when an input is a plain BPF object (after codegen)")
    return where


def describe_passes(options) -> str:
    """--list-passes: every pass with its summary, options, position and provider."""
    registry = default_registry(options.pass_plugins)
    positions = _positions(options, registry)
    lines = []
    for name, cls, _ in registry.items():
        provider = registry.provider(name)
        lines.append(f"{name}")
        if getattr(cls, "summary", ""):
            lines.append(f"    {cls.summary}")
        position = positions.get(name)
        if position is None:
            placement = " and ".join(f"{side} {getattr(cls, side)}" for side in ("after", "before")
                                     if getattr(cls, side, ""))
            position = (f"{placement} (its own placement) with --load-pass-plugin" if placement
                        else "only when named in a -p pipeline")
        lines.append(f"    runs: {position}")
        opts = _options_of(cls)
        lines.append(f"    options: {'; '.join(opts) if opts else 'none'}")
        kind = {"built-in": "built-in", "entry point": "installed package, entry point",
                "file": "plugin file"}[provider.kind]
        lines.append(f"    provided by: {kind} {provider.origin}")
    return "\n".join(lines) + "\n"
