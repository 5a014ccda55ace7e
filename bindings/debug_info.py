"""Read a module's compile units (`!llvm.dbg.cu`) without printing the module."""

from __future__ import annotations

from ._errors import take_message
from ._ffi import ffi

DBG_CU = b"llvm.dbg.cu"


def compile_unit_texts(module) -> list[str]:
    """Each DICompileUnit printed alone (`distinct !DICompileUnit(language: ..., producer: ...)`).

    The C API has no getter for a compile unit's language on any version, so each unit is
    printed as one value: a line of text with its operands shown as addresses, whatever
    the size of the module's other debug info (microseconds, not the module's megabytes).
    """
    lib = module.lib
    count = lib.LLVMGetNamedMetadataNumOperands(module.handle, DBG_CU)
    if not count:
        return []
    units = ffi.new("LLVMValueRef[]", count)
    lib.LLVMGetNamedMetadataOperands(module.handle, DBG_CU, units)
    return [take_message(lib, lib.LLVMPrintValueToString(unit)) for unit in units if unit != ffi.NULL]
