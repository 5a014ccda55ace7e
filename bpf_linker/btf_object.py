"""Patch an emitted BPF object's `.BTF`: FUNC linkage `static` for functions whose ELF symbol is local."""

from __future__ import annotations

import struct

# Why: the BPF backend takes a function's BTF linkage from its DISubprogram
# (DISPFlagLocalToUnit), not from IR linkage, so an internalized helper comes out `global`
# in BTF and the verifier checks it on its own (REFERENCE.md section 4). Setting the flag
# needs a textual IR round trip of the whole module (LLVM 16's C API cannot edit metadata;
# on a vmlinux.h program that costs more than codegen) or a rewrite of every reference to
# the subprogram. The object says the same in a few bytes: a BTF_KIND_FUNC type's linkage
# is the `vlen` of its `info` word (0 static, 1 global, 2 extern), and `.BTF.ext`'s
# func_info maps each function's (section, byte offset) to its FUNC type id. `.BTF.ext`
# and everything else stay byte for byte; DWARF (read by neither libbpf nor the kernel)
# keeps DW_AT_external. Plain `struct` parsing of ELF64 in either byte order: importing
# pyelftools would cost more than the patch.

BTF_MAGIC = 0xEB9F
BTF_KIND_FUNC = 12
BTF_FUNC_STATIC = 0
STB_LOCAL = 0
STT_FUNC = 2
SHN_LORESERVE = 0xFF00

# Bytes that follow the 12-byte common header of each BTF kind: (fixed, per vlen entry).
_KIND_TRAILER = {
    1: (4, 0),    # INT
    2: (0, 0),    # PTR
    3: (12, 0),   # ARRAY
    4: (0, 12),   # STRUCT
    5: (0, 12),   # UNION
    6: (0, 8),    # ENUM
    7: (0, 0),    # FWD
    8: (0, 0),    # TYPEDEF
    9: (0, 0),    # VOLATILE
    10: (0, 0),   # CONST
    11: (0, 0),   # RESTRICT
    12: (0, 0),   # FUNC
    13: (0, 8),   # FUNC_PROTO
    14: (4, 0),   # VAR
    15: (0, 12),  # DATASEC
    16: (0, 0),   # FLOAT
    17: (4, 0),   # DECL_TAG
    18: (0, 0),   # TYPE_TAG
    19: (0, 12),  # ENUM64
}


class NotPatchable(Exception):
    """The object is not one this module understands (the caller falls back to the IR path)."""


class _Elf:
    def __init__(self, data: bytes):
        if data[:4] != b"\x7fELF" or len(data) < 64:
            raise NotPatchable("not an ELF file")
        if data[4] != 2:
            raise NotPatchable("not ELF64")
        self.order = {1: "<", 2: ">"}.get(data[5])
        if self.order is None:
            raise NotPatchable("unknown ELF byte order")
        o = self.order
        shoff, = struct.unpack_from(o + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", data, 0x3A)
        if shentsize != 64 or shoff + shnum * 64 > len(data):
            raise NotPatchable("bad section header table")
        self.sections = []  # (name_off, type, offset, size, link, entsize)
        for i in range(shnum):
            name, stype, _flags, _addr, offset, size, link, _info, _align, entsize = struct.unpack_from(
                o + "IIQQQQIIQQ", data, shoff + 64 * i)
            if stype != 8 and offset + size > len(data):  # SHT_NOBITS has no file bytes
                raise NotPatchable(f"section {i} lies outside the file")
            self.sections.append((name, stype, offset, size, link, entsize))
        names = self.sections[shstrndx] if shstrndx < shnum else None
        self.names = [self._string(data, names, s[0]) if names else "" for s in self.sections]

    @staticmethod
    def _string(data: bytes, section, offset: int) -> str:
        start = section[2] + offset
        end = data.find(b"\0", start, section[2] + section[3])
        if end < 0:
            raise NotPatchable("unterminated string")
        return data[start:end].decode("utf-8", "replace")

    def find(self, name: str):
        for index, section_name in enumerate(self.names):
            if section_name == name:
                return index, self.sections[index]
        return None, None


def _btf_strings(data: bytes, order: str, base: int, size: int):
    """(type section start, type section end, string reader) of the `.BTF` at `base`."""
    if size < 24:
        raise NotPatchable(".BTF too short")
    magic, _version, _flags, hdr_len = struct.unpack_from(order + "HBBI", data, base)
    if magic != BTF_MAGIC:
        raise NotPatchable(".BTF magic does not match the ELF byte order")
    type_off, type_len, str_off, str_len = struct.unpack_from(order + "IIII", data, base + 8)
    types = base + hdr_len + type_off
    strings = base + hdr_len + str_off
    if hdr_len + max(type_off + type_len, str_off + str_len) > size:
        raise NotPatchable(".BTF sections lie outside .BTF")

    def string(offset: int) -> str:
        if offset >= str_len:
            raise NotPatchable("BTF string offset out of range")
        end = data.find(b"\0", strings + offset, strings + str_len)
        return data[strings + offset:end].decode("utf-8", "replace")

    return types, types + type_len, string


def _type_offsets(data: bytes, order: str, start: int, end: int) -> list[int]:
    """File offset of each BTF type's header; index = type id - 1."""
    offsets, pos = [], start
    while pos < end:
        info, = struct.unpack_from(order + "I", data, pos + 4)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        trailer = _KIND_TRAILER.get(kind)
        if trailer is None:
            raise NotPatchable(f"unknown BTF kind {kind}")
        offsets.append(pos)
        pos += 12 + trailer[0] + trailer[1] * vlen
    if pos != end:
        raise NotPatchable("BTF types overrun their section")
    return offsets


def _func_info(data: bytes, order: str, base: int, size: int, string) -> dict[tuple[str, int], int]:
    """(section name, byte offset) -> FUNC type id, from `.BTF.ext`'s func_info."""
    if size < 24:
        raise NotPatchable(".BTF.ext too short")
    magic, _version, _flags, hdr_len, info_off, info_len = struct.unpack_from(order + "HBBIII", data, base)
    if magic != BTF_MAGIC:
        raise NotPatchable(".BTF.ext magic does not match")
    pos = base + hdr_len + info_off
    end = pos + info_len
    if hdr_len + info_off + info_len > size:
        raise NotPatchable("func_info lies outside .BTF.ext")
    out: dict[tuple[str, int], int] = {}
    if info_len == 0:
        return out
    rec_size, = struct.unpack_from(order + "I", data, pos)
    if rec_size < 8:
        raise NotPatchable("func_info record too small")
    pos += 4
    while pos < end:
        name_off, count = struct.unpack_from(order + "II", data, pos)
        section = string(name_off)
        pos += 8
        if pos + count * rec_size > end:
            raise NotPatchable("func_info records overrun")
        for i in range(count):
            insn_off, type_id = struct.unpack_from(order + "II", data, pos + i * rec_size)
            out[(section, insn_off)] = type_id
        pos += count * rec_size
    return out


def local_functions(elf: _Elf, data: bytes) -> list[tuple[str, int, str]]:
    """(section name, value, symbol name) of every STB_LOCAL STT_FUNC symbol."""
    index, symtab = elf.find(".symtab")
    if symtab is None:
        return []
    _name, _type, offset, size, link, entsize = symtab
    if entsize != 24 or link >= len(elf.sections):
        raise NotPatchable("bad .symtab")
    strtab = elf.sections[link]
    out = []
    for pos in range(offset + 24, offset + size, 24):  # entry 0 is the null symbol
        name, info, _other, shndx, value, _size = struct.unpack_from(elf.order + "IBBHQQ", data, pos)
        if info >> 4 == STB_LOCAL and info & 0xF == STT_FUNC and 0 < shndx < min(SHN_LORESERVE, len(elf.names)):
            out.append((elf.names[shndx], value, elf._string(data, strtab, name)))
    return out


def make_local_functions_static(obj: bytes) -> tuple[bytes, list[str]]:
    """The object with FUNC linkage static for every local function symbol; and their names.

    Returns `obj` unchanged (and an empty list) when it has no `.BTF`/`.BTF.ext`.
    Raises NotPatchable for anything it does not understand.
    """
    elf = _Elf(obj)
    _, btf = elf.find(".BTF")
    _, ext = elf.find(".BTF.ext")
    if btf is None or ext is None:
        return obj, []
    order = elf.order
    types_start, types_end, string = _btf_strings(obj, order, btf[2], btf[3])
    offsets = _type_offsets(obj, order, types_start, types_end)
    func_info = _func_info(obj, order, ext[2], ext[3], string)
    patched = bytearray(obj)
    changed = []
    for section, value, name in local_functions(elf, obj):
        type_id = func_info.get((section, value))
        if type_id is None or not 0 < type_id <= len(offsets):
            continue  # no BTF for this function (no debug info)
        at = offsets[type_id - 1] + 4
        info, = struct.unpack_from(order + "I", obj, at)
        if (info >> 24) & 0x1F != BTF_KIND_FUNC:
            raise NotPatchable(f"func_info of {name} names BTF type {type_id}, which is not a FUNC")
        if info & 0xFFFF != BTF_FUNC_STATIC:
            struct.pack_into(order + "I", patched, at, (info & ~0xFFFF) | BTF_FUNC_STATIC)
            changed.append(name)
    return (bytes(patched) if changed else obj), changed


# --- the order of forward declarations ---------------------------------------------------
#
# The BPF backend appends a BTF_KIND_FWD for every struct that members point to but the
# module does not define (`bpf_sock`, `bpf_flow_keys` from `struct __sk_buff`), after all
# other types, in the order of a std::map keyed by the DICompositeType's *address*. Sorting
# that trailing block by name, and renumbering what refers to it, gives an object that
# depends on the bitcode only, whatever the heap looked like when it was compiled.

BTF_KIND_FWD = 7
# Kinds whose size_or_type word is a type id.
_TYPE_IN_HEADER = {2, 8, 9, 10, 11, 12, 13, 14, 17, 18}


def _remap_types(patched: bytearray, order: str, offsets: list[int], remap: dict[int, int]) -> None:
    def fix(at: int) -> None:
        old, = struct.unpack_from(order + "I", patched, at)
        new = remap.get(old)
        if new is not None:
            struct.pack_into(order + "I", patched, at, new)

    for pos in offsets:
        info, = struct.unpack_from(order + "I", patched, pos + 4)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        if kind in _TYPE_IN_HEADER:
            fix(pos + 8)
        if kind == 3:  # ARRAY: element and index types
            fix(pos + 12)
            fix(pos + 16)
        elif kind in (4, 5):  # STRUCT, UNION members: name, type, offset
            for k in range(vlen):
                fix(pos + 12 + 12 * k + 4)
        elif kind == 13:  # FUNC_PROTO params: name, type
            for k in range(vlen):
                fix(pos + 12 + 8 * k + 4)
        elif kind == 15:  # DATASEC vars: type, offset, size
            for k in range(vlen):
                fix(pos + 12 + 12 * k)


def _remap_core_relos(patched: bytearray, order: str, ext, remap: dict[int, int]) -> None:
    """CO-RE relocation records name a root type id: insn_off, type_id, access_str_off, kind."""
    base, size = ext[2], ext[3]
    _magic, _version, _flags, hdr_len = struct.unpack_from(order + "HBBI", patched, base)
    if hdr_len < 32:
        return  # no core_relo part
    relo_off, relo_len = struct.unpack_from(order + "II", patched, base + 24)
    if relo_len == 0:
        return
    pos = base + hdr_len + relo_off
    end = pos + relo_len
    if hdr_len + relo_off + relo_len > size:
        raise NotPatchable("core_relo lies outside .BTF.ext")
    rec_size, = struct.unpack_from(order + "I", patched, pos)
    if rec_size < 16:
        raise NotPatchable("core_relo record too small")
    pos += 4
    while pos < end:
        _name, count = struct.unpack_from(order + "II", patched, pos)
        pos += 8
        for i in range(count):
            at = pos + i * rec_size + 4
            old, = struct.unpack_from(order + "I", patched, at)
            if old in remap:
                struct.pack_into(order + "I", patched, at, remap[old])
        pos += count * rec_size


def _sort_tail_strings(patched: bytearray, obj: bytes, order: str, btf, fwd_at: list[int]) -> None:
    """Names that only forward declarations use were added to the string table last (after
    every other type's), in the same heap order: rewrite that tail in the new type order."""
    base = btf[2]
    _magic, _version, _flags, hdr_len = struct.unpack_from(order + "HBBI", obj, base)
    _type_off, _type_len, str_off, str_len = struct.unpack_from(order + "IIII", obj, base + 8)
    strings = base + hdr_len + str_off
    table = obj[strings:strings + str_len]
    names = [struct.unpack_from(order + "I", patched, at)[0] for at in fwd_at]  # in the new order
    fwd_offsets = set(names)
    # Walk back from the end over strings that forward declarations name.
    tail = len(table)
    while tail > 0:
        start = table.rfind(b"\0", 0, tail - 1) + 1
        if start not in fwd_offsets:
            break
        tail = start
    if tail == len(table):
        return  # every name was in the table before the forward declarations came
    if table[-1:] != b"\0":
        raise NotPatchable("the BTF string table does not end with a NUL")
    pos, placed = tail, {}
    for at, off in zip(fwd_at, names):
        if off < tail:
            continue  # a name other types use too: it stays where it is
        if off not in placed:
            name = table[off:table.index(b"\0", off)]
            patched[strings + pos:strings + pos + len(name) + 1] = name + b"\0"
            placed[off] = pos
            pos += len(name) + 1
        struct.pack_into(order + "I", patched, at, placed[off])
    if pos != len(table):
        raise NotPatchable("the forward declarations' names do not fill the string table's tail")


def canonical_forward_types(obj: bytes) -> bytes:
    """The object with its trailing BTF_KIND_FWD types sorted by name (references renumbered).

    Returns `obj` itself when there is nothing to reorder; raises NotPatchable for anything
    it does not understand.
    """
    elf = _Elf(obj)
    _, btf = elf.find(".BTF")
    if btf is None:
        return obj
    order = elf.order
    types_start, types_end, string = _btf_strings(obj, order, btf[2], btf[3])
    offsets = _type_offsets(obj, order, types_start, types_end)

    def kind_of(i: int) -> int:
        return (struct.unpack_from(order + "I", obj, offsets[i] + 4)[0] >> 24) & 0x1F

    first = len(offsets)
    while first > 0 and kind_of(first - 1) == BTF_KIND_FWD:
        first -= 1
    block = list(range(first, len(offsets)))
    if len(block) < 2:
        return obj

    def key(i: int):
        name_off, info = struct.unpack_from(order + "II", obj, offsets[i])
        return string(name_off), info

    ordered = sorted(block, key=key)
    if ordered == block:
        return obj
    patched = bytearray(obj)
    remap = {}
    for j, i in enumerate(ordered):
        patched[offsets[first + j]:offsets[first + j] + 12] = obj[offsets[i]:offsets[i] + 12]
        remap[i + 1] = first + j + 1  # type ids count from 1
    _sort_tail_strings(patched, obj, order, btf, [offsets[first + j] for j in range(len(block))])
    _remap_types(patched, order, offsets, remap)
    _, ext = elf.find(".BTF.ext")
    if ext is not None:
        _remap_core_relos(patched, order, ext, remap)
    return bytes(patched)
