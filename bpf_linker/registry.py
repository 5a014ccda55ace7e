"""Where passes come from: built-ins, the `bpf_linker.passes` entry-point group, plugin files."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os

from .errors import PipelineError

BUILTIN_MODULES = (
    "unpack_archives", "link", "internalize", "ignore_noinline", "unroll_loops",
    "optimize", "expand_memcpy", "btf", "check_undefined", "codegen", "llvm",
    "check_object", "report", "kernel_verify",
)
ENTRY_POINT_GROUP = "bpf_linker.passes"


class Registry:
    """Pass name -> (class, provider). Duplicate names are an error naming both providers."""

    def __init__(self):
        self._passes: dict[str, tuple[type, str]] = {}

    def register(self, pass_cls: type, provider: str) -> None:
        name = getattr(pass_cls, "name", "")
        if not name:
            raise PipelineError(f"{provider}: pass class {pass_cls.__name__} has no name")
        if name in self._passes:
            other = self._passes[name][1]
            raise PipelineError(f"pass '{name}' is defined twice: by {other} and by {provider}")
        self._passes[name] = (pass_cls, provider)

    def get(self, name: str) -> type:
        try:
            return self._passes[name][0]
        except KeyError:
            known = ", ".join(sorted(self._passes))
            raise PipelineError(f"unknown pass '{name}' (known passes: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._passes)

    def items(self):
        return sorted((name, cls, provider) for name, (cls, provider) in self._passes.items())

    def load_plugin_file(self, path: str) -> None:
        """A Python file listing its pass classes in `PASSES = [...]`."""
        if not os.path.isfile(path):
            raise PipelineError(f"{path}: pass plugin not found")
        spec = importlib.util.spec_from_file_location(
            f"bpf_linker_plugin_{abs(hash(os.path.abspath(path)))}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise PipelineError(f"{path}: cannot load pass plugin: {type(e).__name__}: {e}") from None
        passes = getattr(module, "PASSES", None)
        if not isinstance(passes, (list, tuple)):
            raise PipelineError(f"{path}: a pass plugin must define PASSES = [PassClass, ...]")
        for cls in passes:
            self.register(cls, path)


def default_registry(plugin_files: tuple[str, ...] = ()) -> Registry:
    registry = Registry()
    for module_name in BUILTIN_MODULES:
        module = importlib.import_module(f"bpf_linker.passes.{module_name}")
        for cls in getattr(module, "PASSES", ()):
            registry.register(cls, f"bpf_linker.passes.{module_name}")
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
        except Exception as e:
            raise PipelineError(f"entry point {ep.name} ({ep.value}): {type(e).__name__}: {e}") from None
        for cls in loaded if isinstance(loaded, (list, tuple)) else [loaded]:
            registry.register(cls, f"entry point {ep.value}")
    for path in plugin_files:
        registry.load_plugin_file(path)
    return registry
