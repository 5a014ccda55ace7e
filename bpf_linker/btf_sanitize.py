"""Make debug info BTF-safe by editing a module's textual IR (the `btf` pass's engine).

The BPF backend turns debug info into `.BTF`/`.BTF.ext`, and the kernel accepts only
C-shaped types. rustc's debug info has names with `< > : , [ ; ]` and spaces, names
longer than the kernel's symbol limit, named pointer types, data-carrying enums
(`DW_TAG_variant_part`, which LLVM's BTF writer cannot express before LLVM 22), and
struct members listed in declaration order rather than offset order. This module
applies the Rust bpf-linker's rules (src/llvm/di.rs) to printed IR, so it works the same
on LLVM 16 (whose C API cannot edit metadata) as on 19 and 22:

- `DICompositeType` with tag `DW_TAG_structure_type` or `DW_TAG_union_type`, unless it is
  a plain forward declaration (`flags: DIFlagFwdDecl` exactly):
  - an element of kind `DW_TAG_variant_part` marks a data-carrying enum: its elements
    become `!{}` (a member-less struct of the same size) and its name is reported;
  - otherwise its `DIDerivedType` elements, sorted by offset (stable), become its
    elements (other elements are dropped, as upstream does); a member whose base type is
    a composite named `AyaBtfMapMarker` is dropped and the struct loses its name
    (aya's BTF maps must be anonymous structs);
  - its name is sanitized (`sanitize_name`).
- `DIDerivedType` with tag `DW_TAG_pointer_type` loses its name.
- `DISubprogram` names are sanitized (the BTF FUNC name comes from them).

Everything else (enumerations, typedefs, member names, variables, template parameters)
is left alone, as upstream does. On clang's C debug info every rule is a no-op: names
are C identifiers, pointers are unnamed and members are in offset order.

The printed IR is regular: one `!N = [distinct ]!Kind(...)` node per line, fields as
`key: value` separated by `, `, and every string literal without a raw `"` (the printer
writes `"` and `\\` and every non-printable byte as `\\XX`). The parser below relies only
on that.
"""

from __future__ import annotations

from typing import Any

import re
from dataclasses import dataclass, field

#: KSYM_NAME_LEN as the oldest kernels define it: longer sanitized names are shortened.
MAX_KSYM_NAME_LEN = 128
_HASH_HEX_DIGITS = 16  # a u64 in hex, the width upstream reserves for the hash
_TRIM = MAX_KSYM_NAME_LEN - _HASH_HEX_DIGITS - 1  # 111: the kept prefix, then "_" + hash

_C_NAME_BYTES = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")

# --------------------------------------------------------------------------- names

_MASK = (1 << 64) - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _MASK


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 of `data` (64-bit result).

    With zero keys this is Rust's `std::collections::hash_map::DefaultHasher::new()` fed
    through `Hasher::write(bytes)` and `finish()`: what upstream hashes long names with.
    """
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(v0, v1, v2, v3):
        v0 = (v0 + v1) & _MASK
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & _MASK
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & _MASK
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & _MASK
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3)  # 1 compression round
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= b
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(3):  # 3 finalization rounds
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def sanitize_name(name: bytes | str) -> bytes:
    """A C-safe name, by upstream's rule (bpf-linker src/llvm/di.rs, sanitize_type_name).

    Bytes in `[0-9A-Za-z_]` stay; every other byte becomes `_` + its value in uppercase
    hex without padding + `_` (`<` is `_3C_`). A result longer than 128 bytes is cut to
    111 bytes and gets `_` + the lowercase, unpadded hex of SipHash-1-3 (zero keys) of
    the whole sanitized name, so it is at most 128 bytes.
    """
    if isinstance(name, str):
        name = name.encode("utf-8")
    out = bytearray()
    for byte in name:
        if byte in _C_NAME_BYTES:
            out.append(byte)
        else:
            out += b"_%X_" % byte
    if len(out) > MAX_KSYM_NAME_LEN:
        digest = siphash13(bytes(out))
        out = out[:_TRIM] + b"_%x" % digest
    return bytes(out)


def is_c_name(name: bytes) -> bool:
    return all(b in _C_NAME_BYTES for b in name) and len(name) <= MAX_KSYM_NAME_LEN


# --------------------------------------------------------------------------- IR strings

_HEX_ESCAPE = re.compile(rb"\\([0-9A-Fa-f]{2})")


def ir_string_bytes(literal: str) -> bytes:
    """The bytes of an IR string literal's contents (no quotes): `\\XX` escapes decoded."""
    raw = literal.encode("utf-8", errors="surrogateescape")
    return _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def ir_string_literal(data: bytes) -> str:
    """Bytes as an IR string literal with quotes, escaped as LLVM's printer does."""
    parts = []
    for b in data:
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            parts.append(chr(b))
        else:
            parts.append("\\%02X" % b)
    return '"' + "".join(parts) + '"'


# --------------------------------------------------------------------------- metadata text

# `!12 = distinct !DICompositeType(...)`, `!7 = !{!1, !2}`: one node per line.
_NODE = re.compile(r"!(\d+) = (distinct )?!(DI[A-Za-z]+\(|\{)(.*)([)}])$")
# One `key: value` field: a string, a value with (up to two levels of) parentheses, or
# anything up to the next comma.
_FIELD = re.compile(r'(\w+): ("[^"]*"|[^,"(]*\([^()]*(?:\([^()]*\)[^()]*)*\)|[^,"]*)(?:, |$)')
_NODE_ID = re.compile(r"!(\d+) = ")
# Nodes the rules may edit: structs/unions, subprograms, pointer types with a name.
_TARGET = re.compile(r"\n!(\d+) = (?:distinct )?!(?:DICompositeType\(tag: DW_TAG_(?:structure|union)_type"
                     r"|DISubprogram\(|DIDerivedType\(tag: DW_TAG_pointer_type, name: )")
_TARGET_SUBPROGRAM = re.compile(r"\n!(\d+) = distinct !DISubprogram\(")
_TOKEN = re.compile(r'"[^"]*"|[(){}]|,|[^"(){},]+')
_REF = re.compile(r"!(\d+)")


def split_fields(body: str) -> list[tuple[str, str]]:
    """`tag: X, name: "a, b", elements: !3` -> [(tag, X), (name, "a, b"), (elements, !3)]."""
    fields = _FIELD.findall(body)
    # The matches tile the body exactly when their lengths (plus separators) add up.
    if sum(len(k) + len(v) for k, v in fields) + 4 * len(fields) - 2 == len(body):
        return fields
    # Slow path for anything the one-regex form does not cover: split at top-level commas.
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for tok in _TOKEN.findall(body):
        if tok in ("(", "{"):
            depth += 1
        elif tok in (")", "}"):
            depth -= 1
        elif tok == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(tok)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    out = []
    for part in parts:
        key, sep, value = part.partition(":")
        out.append((key.strip(), value.strip()) if sep else ("", part))
    return out


def join_fields(fields) -> str:
    return ", ".join(f"{k}: {v}" if k else v for k, v in fields)


class _Node:
    """One numbered metadata node of the printed module."""

    __slots__ = ("line", "distinct", "kind", "body", "_fields")

    def __init__(self, line: int, distinct: bool, kind: str, body: str):
        self.line = line          # index of the node's line in the metadata lines
        self.distinct = distinct
        self.kind = kind          # "DICompositeType", "DIDerivedType", ... or "{" for a tuple
        self.body = body
        self._fields: dict[str, str] | None = None

    @property
    def fields(self) -> dict[str, str]:
        if self._fields is None:
            self._fields = dict(split_fields(self.body)) if self.kind != "{" else {}
        return self._fields

    def field(self, key: str) -> str | None:
        return self.fields.get(key)

    @property
    def tag(self) -> str | None:
        # The printer writes `tag:` first for every node kind that has one.
        if self.body.startswith("tag: "):
            end = self.body.find(",")
            return self.body[5:end] if end >= 0 else self.body[5:]
        return None

    def refs(self) -> list[int]:
        """A tuple's node operands (`!{!1, null, !3}` -> [1, 3])."""
        return [int(x) for x in _REF.findall(self.body)] if self.kind == "{" else []


class _Nodes:
    """Numbered nodes by id, parsed from their line on first use.

    The printer numbers nodes `!0, !1, ...` one per line in order, so node N is normally
    on line `base + N`; anything else falls back to a full index.
    """

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.cache: dict[int, Any] = {}
        self.base = 0
        self.index: dict[int, int] | None = None
        for i, line in enumerate(lines):
            m = _NODE_ID.match(line)
            if m is not None:
                self.base = i - int(m.group(1))
                break

    def line_of(self, nid: int) -> int | None:
        i = self.base + nid
        if self.index is None:
            if 0 <= i < len(self.lines) and self.lines[i].startswith(f"!{nid} = "):
                return i
            self.index = {}
            for j, line in enumerate(self.lines):
                m = _NODE_ID.match(line)
                if m is not None:
                    self.index[int(m.group(1))] = j
        return self.index.get(nid)

    def last_line(self) -> int:
        return next(i for i in range(len(self.lines) - 1, -1, -1) if _NODE_ID.match(self.lines[i]))

    def get(self, nid: int | None) -> _Node | None:
        if nid is None:
            return None
        node = self.cache.get(nid, False)
        if node is False:
            node = None
            i = self.line_of(nid)
            m = _NODE.match(self.lines[i]) if i is not None else None
            if m is not None:
                opener = m.group(3)
                node = _Node(i, bool(m.group(2)), "{" if opener == "{" else opener[:-1], m.group(4))
            self.cache[nid] = node
        return node

    def __getitem__(self, nid: int) -> _Node:
        return self.get(nid)

    def __contains__(self, nid: int) -> bool:
        return self.get(nid) is not None


def _ref(value: str | None) -> int | None:
    if value and value.startswith("!") and value[1:].isdigit():
        return int(value[1:])
    return None


def _name_bytes(literal: str) -> bytes:
    return ir_string_bytes(literal[1:-1])


@dataclass
class SanitizeReport:
    local_to_unit: int = 0      # subprograms given DISPFlagLocalToUnit
    renamed: int = 0            # composite types and subprograms whose name changed
    pointers_unnamed: int = 0
    members_sorted: int = 0     # structs/unions whose member list was reordered or filtered
    data_carrying_enums: list[str] = field(default_factory=list)  # original names, as found
    anonymized: int = 0         # structs made anonymous by an AyaBtfMapMarker member

    @property
    def changed(self) -> bool:
        return bool(self.local_to_unit or self.renamed or self.pointers_unnamed or self.members_sorted
                    or self.data_carrying_enums or self.anonymized)


_STRUCT_TAGS = ("DW_TAG_structure_type", "DW_TAG_union_type")
_C_LANGUAGE = re.compile(r"DW_LANG_(C\b|C\d|C_plus_plus|ObjC)")


def compile_units(ir: str) -> list[tuple[str, str]]:
    """(language, producer) of every DICompileUnit in the module."""
    units: list[tuple[str, str]] = []
    pos = 0
    while True:
        pos = ir.find("!DICompileUnit(", pos)
        if pos < 0:
            return units
        end = ir.find("\n", pos)
        end = len(ir) if end < 0 else end
        body = ir[pos + len("!DICompileUnit("):end].rstrip()
        pos = end
        if body.endswith(")"):
            fields = dict(split_fields(body[:-1]))
            producer = fields.get("producer", '""')
            units.append((fields.get("language", ""), _name_bytes(producer).decode("utf-8", "replace")))


def is_c_family(language: str, producer: str) -> bool:
    """DW_LANG_C* (C, C89/99/11/17, C++, ObjC), or a clang producer that is not rustc."""
    if language:
        return bool(_C_LANGUAGE.match(language))
    return "clang" in producer and "rustc" not in producer


def local_function_subprograms(ir: str) -> set[int]:
    """Ids of the subprograms attached (`!dbg !N`) to internal or private function definitions."""
    found: set[int] = set()
    for prefix in ("\ndefine internal ", "\ndefine private "):
        pos = 0
        while True:
            pos = ir.find(prefix, pos)
            if pos < 0:
                break
            end = ir.find("\n", pos + 1)
            line = ir[pos + 1:end if end >= 0 else len(ir)]
            pos = pos + 1
            at = line.rfind(" !dbg !")
            if at >= 0:
                digits = line[at + 7:].split(" ", 1)[0]
                if digits.isdigit():
                    found.add(int(digits))
    return found


def sanitize_ir(ir: str, *, local_to_unit: set[int] | None = None, btf_rules: bool = True
                ) -> tuple[str, SanitizeReport]:
    """Edit a printed module's debug info; returns (ir, report).

    `local_to_unit`: subprogram ids to give DISPFlagLocalToUnit (static BTF linkage);
    `btf_rules`: apply the naming/pointer/enum/member rules of the module docstring.
    Only the metadata lines that change are rewritten; new element lists are appended
    as new numbered nodes after the last one. Returns `ir` itself when nothing changed.
    """
    report = SanitizeReport()
    local_to_unit = local_to_unit or set()
    if not btf_rules and not local_to_unit:
        return ir, report
    start = ir.find("\n!")  # the printer puts all metadata after globals, functions and attributes
    if start < 0:
        return ir, report
    head, text = ir[:start + 1], ir[start + 1:]
    targets = [int(m.group(1)) for m in (_TARGET if btf_rules else _TARGET_SUBPROGRAM).finditer(ir, start)]
    if not targets:
        return ir, report
    lines = text.split("\n")
    nodes = _Nodes(lines)

    next_id = None  # first free node id, found when a new node is needed
    new_lines: list[str] = []
    tuple_ids: dict[str, int] = {}  # body of a uniqued tuple -> its id

    def tuple_node(refs: list[int]) -> int:
        nonlocal next_id
        if next_id is None:
            next_id = 0
            for line in lines:
                m = _NODE.match(line)
                if m is None:
                    continue
                next_id = max(next_id, int(m.group(1)) + 1)
                if m.group(3) == "{" and not m.group(2):
                    tuple_ids.setdefault(m.group(4), int(m.group(1)))
        body = ", ".join(f"!{r}" for r in refs)
        if body not in tuple_ids:
            tuple_ids[body] = next_id
            new_lines.append(f"!{next_id} = !{{{body}}}")
            next_id += 1
        return tuple_ids[body]

    edits: dict[int, list[tuple[str, str]]] = {}  # node id -> its new fields

    def offset_of(ref: int) -> int:
        value = nodes[ref].field("offset")
        return int(value) if value and value.isdigit() else 0

    for nid in targets:
        n = nodes.get(nid)
        if n is None:
            continue
        kind = n.kind
        if kind == "DISubprogram":
            fields = None
            if nid in local_to_unit and "DISPFlagLocalToUnit" not in n.body:
                fields = split_fields(n.body)
                keys = [k for k, _ in fields]
                if "spFlags" in keys:
                    fields = [(k, f"DISPFlagLocalToUnit | {v}" if k == "spFlags" else v) for k, v in fields]
                else:
                    fields.append(("spFlags", "DISPFlagLocalToUnit"))
                report.local_to_unit += 1
            name = n.field("name") if btf_rules else None
            if name is not None and not is_c_name(_name_bytes(name)):
                fields = [(k, ir_string_literal(sanitize_name(_name_bytes(v))) if k == "name" else v)
                          for k, v in (fields or split_fields(n.body))]
                report.renamed += 1
            if fields is not None:
                edits[nid] = fields
        elif not btf_rules:
            continue
        elif kind == "DIDerivedType":
            if n.tag == "DW_TAG_pointer_type" and "name: " in n.body and n.field("name") is not None:
                edits[nid] = [(k, v) for k, v in split_fields(n.body) if k != "name"]
                report.pointers_unnamed += 1
        elif kind == "DICompositeType":
            if n.tag not in _STRUCT_TAGS or n.field("flags") == "DIFlagFwdDecl":
                continue
            name = n.field("name")
            elements = _ref(n.field("elements"))
            new_elements = None
            remove_name = False
            if elements is not None and elements in nodes:
                refs = nodes[elements].refs()
                is_enum = False
                members: list[int] = []
                for ref in refs:
                    el = nodes.get(ref)
                    if el is None:
                        continue
                    if el.kind == "DICompositeType":
                        if el.tag == "DW_TAG_variant_part":
                            if name is not None:
                                report.data_carrying_enums.append(_name_bytes(name).decode("utf-8", "replace"))
                            is_enum = True
                            break
                    elif el.kind == "DIDerivedType":
                        base = nodes.get(_ref(el.field("baseType")))
                        if (base is not None and base.kind == "DICompositeType"
                                and base.field("name") == '"AyaBtfMapMarker"'):
                            remove_name = True
                            continue
                        members.append(ref)
                if is_enum:
                    new_elements = []
                elif members:
                    ordered = sorted(members, key=offset_of)
                    if ordered != refs:
                        new_elements = ordered
            rename = name is not None and (remove_name or not is_c_name(_name_bytes(name)))
            if new_elements is None and not rename:
                continue
            out = []
            for key, value in split_fields(n.body):
                if key == "name" and rename:
                    if remove_name:
                        report.anonymized += 1
                        continue
                    value = ir_string_literal(sanitize_name(_name_bytes(value)))
                    report.renamed += 1
                elif key == "elements" and new_elements is not None:
                    value = f"!{tuple_node(new_elements)}"
                    report.members_sorted += 1
                out.append((key, value))
            edits[nid] = out

    if not edits and not new_lines:
        return ir, report
    for nid, fields in edits.items():
        n = nodes[nid]
        close = ")" if n.kind != "{" else "}"
        lines[n.line] = f"!{nid} = {'distinct ' if n.distinct else ''}!{n.kind}({join_fields(fields)}{close}"
    if new_lines:
        last = nodes.last_line()
        lines[last + 1:last + 1] = new_lines
    return head + "\n".join(lines), report

