"""Turn input paths into linkable objects by content: bitcode, IR text, ELF with .llvmbc, ar archives."""

from __future__ import annotations

import codecs
import io
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .errors import InputError
from .reading import MAX_INPUT, TooLarge, not_a_file, read_prefix_then_rest

BITCODE_MAGIC = b"BC\xc0\xde"
WRAPPER_MAGIC = b"\xde\xc0\x17\x0b"
ELF_MAGIC = b"\x7fELF"
ARCHIVE_MAGIC = b"!<arch>\n"
THIN_ARCHIVE_MAGIC = b"!<thin>\n"

_NO_BITCODE_HINT = "(compile with -emit-llvm or -fembed-bitcode)"
_MEMBER_WARNINGS = 5
_MAX_NAME_SHOWN = 120


@dataclass(frozen=True)
class InputObject:
    """One input: raw bitcode (plain or wrapper format), IR text, or a plain BPF ELF object.

    A "bpf-object" (a BPF ELF with code or data and no `.llvmbc`) is not parsed by LLVM: the
    link pass notes its symbols and link-objects hands it to libbpf's linker after codegen.
    """

    name: str  # "path", "path(member)", "outer.a(inner.a)(member)"
    kind: str  # "bitcode", "ir" or "bpf-object"
    data: bytes


BITCODE_KINDS = ("bitcode", "ir")
EM_BPF = 247


# --- classification ---------------------------------------------------------

# Starts of the first non-comment line of textual IR.
_IR_KEYWORDS = (
    "source_filename",
    "target datalayout",
    "target triple",
    "define ",
    "declare ",
    "attributes ",
    "module asm",
    "uselistorder",
)
# Sigils of top-level IR entities (@global, %type, !metadata, $comdat, ^summary),
# which must be followed by a name, a number or a quoted name.
_IR_SIGILS = "@%!$^"
_IR_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$._-\"")
_IR_SCAN_LIMIT = 64 * 1024
_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def classify(data: bytes) -> str:
    """Return "archive", "bitcode", "elf", "ir" or "unknown" for the content `data`."""
    if data.startswith((ARCHIVE_MAGIC, THIN_ARCHIVE_MAGIC)):
        return "archive"
    if data.startswith((BITCODE_MAGIC, WRAPPER_MAGIC)):
        return "bitcode"
    if data.startswith(ELF_MAGIC):
        return "elf"
    if _looks_like_ir(data):
        return "ir"
    return "unknown"


def _looks_like_ir(data: bytes) -> bool:
    """True if the text starts, after blank and `;` comment lines, with an IR entity."""
    window = data[:_IR_SCAN_LIMIT]
    truncated = len(data) > len(window)
    if window.startswith(codecs.BOM_UTF8):
        window = window[len(codecs.BOM_UTF8) :]
    saw_comment = False
    lines = window.split(b"\n")
    for index, raw in enumerate(lines):
        is_last = index == len(lines) - 1
        line = _decode_text_line(raw, partial=truncated and is_last)
        if line is None:
            return False
        line = line.strip()
        if not line:
            continue
        if line.startswith(";"):
            saw_comment = True
            continue
        return _starts_ir_entity(line)
    # Only comments (an empty module to LLVM), or a comment header longer than we scan.
    return saw_comment


def _decode_text_line(raw: bytes, partial: bool) -> str | None:
    """Decode one line as UTF-8 text; None if it is not text (bad UTF-8, control bytes)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        line = decoder.decode(raw, final=not partial)
    except UnicodeDecodeError:
        return None
    if any((c < " " and c not in _TEXT_CONTROLS) or c == "\x7f" for c in line):
        return None
    return line


def _starts_ir_entity(line: str) -> bool:
    if line.startswith(_IR_KEYWORDS):
        return True
    return len(line) > 1 and line[0] in _IR_SIGILS and line[1] in _IR_NAME_START


# --- reading inputs ---------------------------------------------------------


@dataclass
class _Collector:
    """What reading the inputs produced so far, and what it left out."""

    log: logging.Logger
    objects: list[InputObject] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Non-bitcode archive members beyond the first few are counted, not each warned about.
    quiet_skips: int = 0

    def warn_skipped_member(self, name: str) -> None:
        if len(self.skipped) <= _MEMBER_WARNINGS:
            self.log.warning("%s: skipped non-bitcode archive member", name)
        else:
            self.quiet_skips += 1
            self.log.debug("%s: skipped non-bitcode archive member", name)

    def summarize(self) -> None:
        if self.quiet_skips:
            self.log.warning("skipped %d more non-bitcode archive members (--log-level debug lists them)",
                             self.quiet_skips)


def read_inputs(paths: Sequence[str], log: logging.Logger) -> list[InputObject]:
    """Read every input path, in order, into a flat list of bitcode and IR objects."""
    if not paths:
        raise InputError("no input files")
    found = _Collector(log)
    for path in paths:
        data = _read_file(path)
        _collect(path, data, classify(data), found)
    found.summarize()
    if not any(obj.kind in BITCODE_KINDS for obj in found.objects):
        plain = [obj.name for obj in found.objects]
        names = plain + found.skipped or list(paths)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        hint = ("; plain BPF objects are linked only together with bitcode (`bpftool gen object` links them alone)"
                if plain else "")
        raise InputError(f"no bitcode in the inputs: {shown} {_NO_BITCODE_HINT}{hint}")
    return found.objects


def has_bpf_objects(paths: Sequence[str]) -> bool:
    """Whether an input (or an archive member) is a plain BPF object, for pipeline_for().

    Bitcode and IR inputs are recognized by their first bytes; ELF objects and archives are
    read. An input that cannot be read counts as none: read_inputs() reports it.
    """
    for path in paths:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO read here would be lost to the link
                continue
            with open(path, "rb") as f:
                head = f.read(len(ARCHIVE_MAGIC))
            if classify(head) not in ("elf", "archive"):
                continue
            if _holds_bpf_object(path, _read_file(path)):
                return True
        except (OSError, InputError):
            continue
    return False


def _holds_bpf_object(name: str, data: bytes) -> bool:
    kind = classify(data)
    if kind == "elf":
        return _is_bpf_object(name, data)
    if kind == "archive":
        return any(classify(member) == "elf" and not _is_rust_metadata(member_name)
                   and _is_bpf_object(member_name, member)
                   for member_name, member in _archive_members(name, data))
    return False


def _refuse_unknown(path: str, head: bytes, complete: bool) -> None:
    """The kind is decided by the first 64 KiB, before the rest is read (`/dev/zero` fails here)."""
    if not head:
        raise InputError(f"{path}: empty file")
    if classify(head) == "unknown":
        raise InputError(f"{path}: unrecognized input (not LLVM bitcode, IR text, ELF or ar archive)")


def _read_file(path: str) -> bytes:
    try:
        reason = not_a_file(path)
        if reason:
            raise InputError(f"{path}: {reason}")
        with open(path, "rb") as f:
            return read_prefix_then_rest(f, MAX_INPUT, _IR_SCAN_LIMIT,
                                         lambda head, complete: _refuse_unknown(path, head, complete))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    except TooLarge as e:
        raise InputError(f"{path}: {e}, too large to be a BPF program's input") from None
    except MemoryError:
        raise InputError(f"{path}: not enough memory to read it") from None


def _collect(name: str, data: bytes, kind: str, found: _Collector) -> None:
    """Add the objects in `data` (named `name`, of content kind `kind`) to `found`."""
    if kind in ("bitcode", "ir"):
        found.log.debug("%s: %s", name, "bitcode" if kind == "bitcode" else "IR text")
        found.objects.append(InputObject(name, kind, data))
    elif kind == "archive":
        for member_name, member_data in _archive_members(name, data):
            member_kind = classify(member_data)
            if member_kind == "unknown" or _is_rust_metadata(member_name):
                _skip_member(member_name, found)
            else:
                _collect(member_name, member_data, member_kind, found)
    elif kind == "elf":
        bitcode = _embedded_bitcode(name, data)
        if bitcode is not None:
            found.log.debug("%s: bitcode embedded in ELF", name)
            found.objects.append(InputObject(name, "bitcode", bitcode))
        else:
            _skip_elf(name, data, found)
    else:
        raise AssertionError(f"unexpected input kind {kind!r}")


def _is_rust_metadata(member_name: str) -> bool:
    return member_name.endswith("(lib.rmeta)")


def _skip_member(name: str, found: _Collector) -> None:
    found.skipped.append(name)
    if _is_rust_metadata(name):
        found.log.debug("%s: Rust metadata, skipped", name)
    else:
        found.warn_skipped_member(name)


def _skip_elf(name: str, data: bytes, found: _Collector) -> None:
    """An ELF without bitcode: a plain BPF object is kept for libbpf's linker (passes/link_objects.py)."""
    if _is_symbols_only(data):
        # rustc passes such a symbols.o on every link: nothing to warn about.
        found.skipped.append(name)
        found.log.debug("%s: symbols-only ELF object without bitcode, skipped", name)
    elif _machine(data) == EM_BPF and _has_code_or_data(data):
        found.log.debug("%s: plain BPF object (no bitcode), linked by libbpf's linker after codegen", name)
        found.objects.append(InputObject(name, "bpf-object", data))
    elif _machine(data) == EM_BPF:
        found.skipped.append(name)
        found.log.debug("%s: BPF ELF object without bitcode, code or data, skipped", name)
    else:
        found.skipped.append(name)
        found.log.warning("%s: no embedded bitcode (.llvmbc section) and not a BPF object, skipped", name)


# --- ELF --------------------------------------------------------------------


def _embedded_bitcode(name: str, data: bytes) -> bytes | None:
    """The bytes of the `.llvmbc` section, or None if there is none (or only a marker)."""
    from elftools.elf.elffile import ELFFile  # here: only ELF inputs pay for importing pyelftools (~25 ms)

    try:
        section = ELFFile(io.BytesIO(data)).get_section_by_name(".llvmbc")
        if section is None or section["sh_type"] == "SHT_NOBITS":
            return None
        start, size = section["sh_offset"], section["sh_size"]
        if start + size > len(data):
            raise InputError(f"{name}: malformed ELF: section .llvmbc (offset {start}, size {size}) "
                             f"extends past the end of the file ({len(data)} bytes)")
        bitcode = section.data()
    except InputError:
        raise
    except Exception as e:  # pyelftools raises many unrelated types on bad input
        raise InputError(f"{name}: malformed ELF: {_reason(e)}") from None
    # -fembed-bitcode=marker leaves an empty (or one-byte) placeholder section.
    if len(bitcode) <= 1:
        return None
    if classify(bitcode) != "bitcode":
        raise InputError(f"{name}: .llvmbc section does not hold LLVM bitcode")
    return bitcode


def _machine(data: bytes) -> int:
    """The ELF header's e_machine (EM_BPF is 247), in the file's byte order."""
    if len(data) < 20:
        return 0
    return int.from_bytes(data[18:20], "big" if data[5] == 2 else "little")


def _is_bpf_object(name: str, data: bytes) -> bool:
    """A BPF ELF with code or data and no embedded bitcode: what read_inputs keeps as "bpf-object"."""
    return _machine(data) == EM_BPF and _embedded_bitcode(name, data) is None and _has_code_or_data(data)


def _has_code_or_data(data: bytes) -> bool:
    """An allocated section (code, data, .bss, .maps, license) that is not empty: something to link."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    try:
        return any(section["sh_flags"] & SH_FLAGS.SHF_ALLOC and section["sh_size"] > 0
                   for section in ELFFile(io.BytesIO(data)).iter_sections())
    except Exception:  # already parsed once for .llvmbc; an odd one is for libbpf to judge
        return True


def _is_symbols_only(data: bytes) -> bool:
    """True for an ELF like rustc's symbols.o: no code and no initialized data."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    try:
        for section in ELFFile(io.BytesIO(data)).iter_sections():
            if section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
                return False
            if section["sh_type"] == "SHT_PROGBITS" and section["sh_size"] > 0:
                return False
    except Exception:  # already parsed once for .llvmbc; treat oddities as real objects
        return False
    return True


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__


# --- ar archives ------------------------------------------------------------

_HEADER_SIZE = 60
_HEADER_END = b"`\n"
_GNU_SYMBOL_TABLES = ("/", "/SYM64/")
_GNU_NAME_TABLE = "//"
_BSD_SYMBOL_TABLES = ("__.SYMDEF", "__.SYMDEF SORTED", "__.SYMDEF_64", "__.SYMDEF_64 SORTED")
_BSD_LONG_NAME = b"#1/"
_MAX_NESTING = 32


def _archive_members(name: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """Yield (display name, content) of every member, descending into nested archives."""
    if data.startswith(THIN_ARCHIVE_MAGIC):
        raise InputError(f"{name}: thin archives are not supported")
    if depth > _MAX_NESTING:
        raise InputError(f"{name}: archives nested more than {_MAX_NESTING} deep")
    for member, content in _parse_archive(name, data):
        member_name = f"{name}({member})"
        if content.startswith((ARCHIVE_MAGIC, THIN_ARCHIVE_MAGIC)):
            yield from _archive_members(member_name, content, depth + 1)
        else:
            yield member_name, content


def _parse_archive(archive: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (member name, content) of the real members of one GNU or BSD ar archive."""
    names_table: bytes | None = None
    offset = len(ARCHIVE_MAGIC)
    while offset < len(data):
        if offset % 2:
            offset += 1  # members start at even offsets
            continue
        if len(data) - offset < _HEADER_SIZE:
            if data[offset:].strip(b"\n"):
                raise _malformed(archive, f"truncated member header at offset {offset}")
            return
        header = data[offset : offset + _HEADER_SIZE]
        if header[58:60] != _HEADER_END:
            raise _malformed(archive, f"bad member header at offset {offset} (no '`\\n' terminator)")
        raw_name = header[:16].rstrip(b" ")
        size = _parse_size(archive, header[48:58], offset)
        start = offset + _HEADER_SIZE
        end = start + size
        if end > len(data):
            raise _malformed(
                archive,
                f"truncated member '{_display(raw_name)}' at offset {offset}: "
                f"size {size} extends past the end of the archive",
            )
        offset = end
        content = data[start:end]
        text_name = raw_name.decode("latin-1")
        if text_name in _GNU_SYMBOL_TABLES:
            continue
        if text_name == _GNU_NAME_TABLE:
            names_table = content
            continue
        if raw_name.startswith(_BSD_LONG_NAME):
            member, content = _bsd_long_name(archive, raw_name, content, start - _HEADER_SIZE)
        elif raw_name.startswith(b"/"):
            member = _gnu_long_name(archive, raw_name, names_table, start - _HEADER_SIZE)
        else:
            member = _display(raw_name[:-1] if raw_name.endswith(b"/") else raw_name)
        if member in _BSD_SYMBOL_TABLES:
            continue
        yield member, content


def _parse_size(archive: str, field_bytes: bytes, offset: int) -> int:
    digits = field_bytes.strip(b" ")
    if not digits or not digits.isdigit():
        raise _malformed(
            archive, f"member at offset {offset} has a bad size field {_display(field_bytes)!r}"
        )
    return int(digits)


def _bsd_long_name(archive: str, raw_name: bytes, content: bytes, offset: int) -> tuple[str, bytes]:
    """BSD `#1/<len>`: the name is the first <len> bytes of the content (NUL-padded)."""
    length_text = raw_name[len(_BSD_LONG_NAME) :]
    if not length_text.isdigit():
        raise _malformed(
            archive, f"member at offset {offset} has a bad BSD name length {_display(raw_name)!r}"
        )
    length = int(length_text)
    if length > len(content):
        raise _malformed(
            archive, f"member at offset {offset}: BSD name length {length} exceeds the member size {len(content)}"
        )
    return _display(content[:length].rstrip(b"\0")), content[length:]


def _gnu_long_name(archive: str, raw_name: bytes, table: bytes | None, offset: int) -> str:
    """GNU `/<n>`: the name starts at byte <n> of the `//` table and ends with `/\\n`."""
    index_text = raw_name[1:]
    if not index_text.isdigit():
        raise _malformed(archive, f"member at offset {offset} has a bad name {_display(raw_name)!r}")
    index = int(index_text)
    if table is None:
        raise _malformed(
            archive, f"member at offset {offset} refers to long name /{index} but there is no name table"
        )
    if index >= len(table):
        raise _malformed(
            archive, f"member at offset {offset}: long name reference /{index} is outside the name table"
        )
    end = len(table)
    for terminator in (b"\n", b"\0"):
        found = table.find(terminator, index)
        if found != -1:
            end = min(end, found)
    name = table[index:end]
    return _display(name[:-1] if name.endswith(b"/") else name)


def _display(raw: bytes) -> str:
    """Member names are for messages only: decode leniently and escape control characters."""
    text = raw.decode("utf-8", errors="backslashreplace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= _MAX_NAME_SHOWN else text[:_MAX_NAME_SHOWN] + f"... ({len(raw)} bytes)"


def _malformed(archive: str, detail: str) -> InputError:
    return InputError(f"{archive}: malformed archive: {detail}")
