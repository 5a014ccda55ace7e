"""Function attributes by name: read, add and remove enum, integer, type and string attributes."""

from __future__ import annotations

from ._errors import decode
from ._ffi import ffi

# Every attribute name LLVM 16 to 22 knows (llvm/IR/Attributes.inc). The C API maps a name
# to its kind number but not back, so the reverse table is built from these per library.
KNOWN_NAMES = """
    align alignstack allocalign allockind allocptr allocsize
    allow_direct_access_in_hot_patch_function alwaysinline builtin byref byval captures cold
    convergent coro_elide_safe coro_only_destroy_when_complete dead_on_return dead_on_unwind
    dereferenceable dereferenceable_or_null disable_sanitizer_instrumentation elementtype
    fn_ret_thunk_extern hot hybrid_patchable immarg inalloca initializes inlinehint inreg
    jumptable marked_for_windows_hot_patching memory minsize mustprogress naked nest noalias
    nobuiltin nocallback nocapture nocf_check nocreateundeforpoison nodivergencesource
    noduplicate noext nofpclass nofree noimplicitfloat noinline nomerge nonlazybind nonnull
    noprofile norecurse noredzone noreturn nosanitize_bounds nosanitize_coverage nosync noundef
    nounwind null_pointer_is_valid optdebug optforfuzzing optnone optsize preallocated
    presplitcoroutine range readnone readonly returned returns_twice safestack sanitize_address
    sanitize_alloc_token sanitize_hwaddress sanitize_memory sanitize_memtag
    sanitize_numerical_stability sanitize_realtime sanitize_realtime_blocking sanitize_thread
    sanitize_type shadowcallstack signext skipprofile speculatable speculative_load_hardening
    sret ssp sspreq sspstrong strictfp swiftasync swifterror swiftself uwtable vscale_range
    willreturn writable writeonly zeroext
""".split()

# Attributes that carry an integer (0 is a value for them, e.g. `memory(none)`), not flags.
INT_ATTRIBUTES = frozenset(("align", "alignstack", "allockind", "allocsize", "captures", "dereferenceable",
                            "dereferenceable_or_null", "memory", "nofpclass", "uwtable", "vscale_range"))

_names_by_kind: dict[int, dict[int, str]] = {}


def attribute_name(lib, kind: int) -> str:
    """The name of enum attribute `kind` in the loaded LLVM (`<attribute N>` if unknown)."""
    table = _names_by_kind.get(id(lib))
    if table is None:
        table = {}
        for name in KNOWN_NAMES:
            data = name.encode()
            k = lib.LLVMGetEnumAttributeKindForName(data, len(data))
            if k:
                table[k] = name
        _names_by_kind[id(lib)] = table
    return table.get(kind, f"<attribute {kind}>")


def enum_kind(lib, name: str) -> int:
    """The kind number of an enum attribute name; 0 if LLVM has no such enum attribute."""
    data = name.encode()
    return lib.LLVMGetEnumAttributeKindForName(data, len(data))


def read_attributes(value, index: int) -> dict:
    """name -> value for every attribute of `value` (a function) at attribute index `index`."""
    from .types import Type

    lib = value.lib
    count = lib.LLVMGetAttributeCountAtIndex(value.handle, index)
    if not count:
        return {}
    attrs = ffi.new("LLVMAttributeRef[]", count)
    lib.LLVMGetAttributesAtIndex(value.handle, index, attrs)
    out: dict = {}
    length = ffi.new("unsigned *")
    for attr in attrs:
        if lib.LLVMIsStringAttribute(attr):
            key = decode(lib.LLVMGetStringAttributeKind(attr, length), length[0])
            out[key] = decode(lib.LLVMGetStringAttributeValue(attr, length), length[0])
            continue
        name = attribute_name(lib, lib.LLVMGetEnumAttributeKind(attr))
        if lib.LLVMIsTypeAttribute(attr):
            out[name] = Type(value.module, lib.LLVMGetTypeAttributeValue(attr))
        elif lib.LLVMIsEnumAttribute(attr):
            number = lib.LLVMGetEnumAttributeValue(attr)
            out[name] = number if name in INT_ATTRIBUTES else True
        else:  # constant-range attributes (range, initializes): no C API reads them
            out[name] = None
    return out


def add_attribute(value, index: int, name: str, setting=None) -> None:
    """Add an attribute: enum (setting None/True, or an int), type (setting a Type) or string."""
    from .types import Type

    lib = value.lib
    context = lib.LLVMGetModuleContext(value.module.handle)
    kind = enum_kind(lib, name)
    if kind and isinstance(setting, Type):
        attr = lib.LLVMCreateTypeAttribute(context, kind, setting.handle)
    elif kind:
        if setting is not None and not isinstance(setting, (bool, int)):
            raise ValueError(f"attribute '{name}' takes an integer (or nothing), not {setting!r}")
        attr = lib.LLVMCreateEnumAttribute(context, kind, 0 if setting in (None, True) else int(setting))
    else:
        k = name.encode()
        v = ("" if setting is None else str(setting)).encode()
        attr = lib.LLVMCreateStringAttribute(context, k, len(k), v, len(v))
    lib.LLVMAddAttributeAtIndex(value.handle, index, attr)


def remove_attribute(value, index: int, name: str) -> None:
    lib = value.lib
    kind = enum_kind(lib, name)
    if kind:
        lib.LLVMRemoveEnumAttributeAtIndex(value.handle, index, kind)
    else:
        k = name.encode()
        lib.LLVMRemoveStringAttributeAtIndex(value.handle, index, k, len(k))
