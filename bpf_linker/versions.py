"""Which LLVM produced each bitcode input, and whether the loaded libLLVM can read it."""

from __future__ import annotations

import logging

from .bindings import ENV_VAR
from .bitcode import bitcode_producer, producer_major
from .errors import InputError

log = logging.getLogger("bpf_linker")


def producers(inputs) -> dict[str, str]:
    """Input name -> producer string, for bitcode inputs that name one."""
    found = {}
    for obj in inputs:
        if obj.kind == "bitcode":
            producer = bitcode_producer(obj.data)
            if producer:
                found[obj.name] = producer
    return found


def newest_major(found: dict[str, str]) -> int | None:
    majors = [m for m in map(producer_major, found.values()) if m is not None]
    return max(majors) if majors else None


def report_mixed(found: dict[str, str]) -> None:
    by_producer: dict[str, list[str]] = {}
    for name, producer in found.items():
        by_producer.setdefault(producer, []).append(name)
    if len(by_producer) > 1:
        parts = [f"{p} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                 for p, names in sorted(by_producer.items())]
        log.info("inputs come from several LLVM versions: %s", "; ".join(parts))


def check_readable(found: dict[str, str], library) -> None:
    """One line naming the first input the loaded library is too old to read."""
    for name, producer in found.items():
        major = producer_major(producer)
        if major is not None and major > library.major:
            version = ".".join(map(str, library.version))
            raise InputError(
                f"{name}: produced by {producer}, newer than the loaded libLLVM {version} "
                f"({library.path}); choose libLLVM {major} or newer with --llvm PATH or {ENV_VAR}=PATH")
