"""LLVMContext with its diagnostic handler always installed, collecting diagnostics."""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass

from ._errors import take_message
from ._ffi import Library, ffi
from ._owned import Owned

log = logging.getLogger("bpf_linker.llvm")

SEVERITIES = {0: "error", 1: "warning", 2: "remark", 3: "note"}


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    message: str

    def __str__(self) -> str:
        return self.message


class Context(Owned):
    """One LLVM context per link. Diagnostics land in `diagnostics` instead of exiting the process."""

    _dispose = "LLVMContextDispose"

    def __init__(self, library: Library):
        super().__init__(library, library.lib.LLVMContextCreate())
        self.diagnostics: list[Diagnostic] = []
        # Without a handler LLVM calls exit(1) on the first error diagnostic.
        # The callback must stay referenced as long as the context lives; it holds the
        # context only weakly, so the two do not form a garbage cycle.
        me = weakref.ref(self)

        def on_diagnostic(info, _data):
            context = me()
            if context is not None:
                context._on_diagnostic(info)

        self._handler = ffi.callback("void(LLVMDiagnosticInfoRef, void *)", on_diagnostic)
        self.lib.LLVMContextSetDiagnosticHandler(self.handle, self._handler, ffi.NULL)

    def _on_diagnostic(self, info) -> None:
        try:
            severity = SEVERITIES.get(self.lib.LLVMGetDiagInfoSeverity(info), "note")
            message = take_message(self.lib, self.lib.LLVMGetDiagInfoDescription(info)).strip()
            self.diagnostics.append(Diagnostic(severity, message))
            if severity == "warning":
                log.warning("%s", message)
            elif severity != "error":
                log.debug("%s: %s", severity, message)
        except Exception:  # an exception must never cross into LLVM
            log.exception("diagnostic handler failed")

    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def take_errors(self, since: int = 0) -> list[str]:
        return [d.message for d in self.diagnostics[since:] if d.severity == "error"]

    def attribute_kind(self, name: str) -> int:
        data = name.encode()
        return self.lib.LLVMGetEnumAttributeKindForName(data, len(data))
