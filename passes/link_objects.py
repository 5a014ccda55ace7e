"""link-objects: link the plain BPF objects among the inputs into the output object with libbpf's static linker."""

# A plain BPF ELF (clang -c without -emit-llvm: a vendor's prebuilt helper, a C object next to
# Rust code) has no bitcode, so LLVM cannot link it. After codegen, our object and the plain
# objects go, in command-line order (ours at the place of the first bitcode input), to
# libbpf's linker, as `bpftool gen object` links files: it merges sections, symbols, BTF and
# BTF.ext and resolves externs both ways (weak loses to strong). Before that, the link pass
# notes each plain object's symbols (note_plain_object): what it references or defines stays
# global in the bitcode (internalize), so libbpf resolves externs both ways (weak loses to
# strong, strong twice is its "conflicting non-weak symbol" error), and what it defines is
# not an undefined symbol (check-undefined).
#
# What libbpf needs, and what it cannot do, becomes one error naming the object:
# - BTF in every file (clang -g; for the bitcode side, debug info, so no --no-btf);
# - an object output (not --emit asm/llvm-ir/llvm-bc);
# - libbpf 1.1 (Debian 12) leaves an `extern` map of `.maps` that an earlier file uses and a
#   later file defines at offset 0 of the merged `.maps` DATASEC in .BTF; the loader then
#   fails ("map relo failed to find map"). Every DATASEC entry of the result is checked
#   against its ELF symbol, so this (or any such slip) is an error at link time.
# No file is written: inputs and the output are memfds libbpf opens by /proc/self/fd path
# (libbpf 1.1 has no bpf_linker__add_buf), or, where there are none, files in a private
# temporary directory that is removed before the pass returns.

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass

from bpf_linker.errors import LinkError
from bpf_linker.inputs import BITCODE_KINDS
from bpf_linker.pipeline import LinkContext, Pass

KIND = "bpf-object"
# ctx.facts keys: every global name of the plain objects (kept global: libbpf resolves externs
# both ways and reports strong/strong conflicts), and those they define (not undefined).
SYMBOLS = "plain_object_symbols"
DEFINED = "plain_object_definitions"
_MAX_MESSAGE = 600
_NO_EXTERN_BTF = re.compile(r"failed to find BTF info for global/extern symbol '([^']+)'")


@dataclass(frozen=True)
class LinkObjects(Pass):
    name = "link-objects"
    summary = "link the plain BPF objects (ELF without bitcode) into the object with libbpf's static linker"

    def run(self, module, ctx: LinkContext) -> None:
        objects = [obj for obj in ctx.inputs if obj.kind == KIND]
        if not objects:
            return
        ours = ctx.outputs.get("obj")
        if ours is None:
            other = ", ".join(ctx.outputs) or "nothing"
            raise LinkError(f"{objects[0].name}: {_emit_problem(other)}")
        _require_btf(ours, objects, ctx)
        files = _in_order(ctx.inputs, ours)
        from bpf_linker.bindings import libbpf_linker

        log = ctx.logger(self.name)
        try:
            data, messages = _link(files, libbpf_linker)
        except libbpf_linker.LibbpfUnavailable as e:
            raise LinkError(f"{objects[0].name}: plain BPF objects are linked with libbpf's static linker, "
                            f"but {e}") from None
        except libbpf_linker.LibbpfLinkError as e:
            culprit = e.path or objects[0].name
            detail = "; ".join(e.messages) or e.reason
            missing = next((m.group(1) for m in map(_NO_EXTERN_BTF.search, e.messages) if m), None)
            if e.path == _OURS and missing:
                # rustc writes no debug info for `extern "C"` declarations; clang -g does.
                raise LinkError(_short(
                    f"{_bitcode_names(missing, ctx)}: '{missing}' is declared without debug info (rustc emits "
                    f"none for extern declarations), and libbpf's linker needs BTF for every extern it resolves "
                    f"in a plain BPF object; compile the file that defines '{missing}' to bitcode instead "
                    "(clang -g -emit-llvm)")) from None
            raise LinkError(_short(f"{culprit}: libbpf {_version(libbpf_linker)}'s linker cannot link it: {detail}"
                                   f" ({e.reason})")) from None
        for line in messages:
            log.info("libbpf: %s", line)
        _check_datasecs(data, files, ctx, _version(libbpf_linker))
        log.info("linked %s with libbpf %s's linker", ", ".join(name for name, _ in files),
                 _version(libbpf_linker))
        ctx.outputs["obj"] = data


PASSES = [LinkObjects]


# -- the link pass's part: what the bitcode must know about the plain objects ------------------------

def note_plain_object(ctx: LinkContext, obj, log) -> None:
    """Called by the link pass for a "bpf-object" input: check it can be linked, note its symbols."""
    if "link-objects" not in ctx.facts.get("pipeline", ("link-objects",)):
        raise LinkError(f"{obj.name}: a plain BPF object (no bitcode), but the pipeline has no link-objects "
                        "pass to link it (add link-objects after codegen)")
    if ctx.options.emit != "obj":
        raise LinkError(f"{obj.name}: {_emit_problem(ctx.options.emit)}")
    defined, referenced = elf_symbols(obj.name, obj.data)
    ctx.facts.setdefault(DEFINED, set()).update(defined)
    ctx.facts.setdefault(SYMBOLS, set()).update(defined | referenced)
    log.debug("%s: plain BPF object, defines %s; references %s", obj.name, ", ".join(sorted(defined)) or "nothing",
              ", ".join(sorted(referenced)) or "nothing")


def _emit_problem(kind: str) -> str:
    return (f"a plain BPF object (no bitcode) can only be linked into an object (--emit obj), not {kind}; "
            "compile it with -emit-llvm to get bitcode")


def elf_symbols(name: str, data: bytes) -> tuple[set[str], set[str]]:
    """(global or weak symbols the object defines, those it references undefined)."""
    defined: set[str] = set()
    referenced: set[str] = set()
    for sym_name, bind, _type, section, _value in _symbols(name, data):
        if bind not in ("STB_GLOBAL", "STB_WEAK"):
            continue
        (referenced if section == "SHN_UNDEF" else defined).add(sym_name)
    return defined, referenced


def _symbols(name: str, data: bytes):
    """(name, bind, type, section name or SHN_*, value) of every named symbol."""
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(io.BytesIO(data))
        symtab = elf.get_section_by_name(".symtab")
        out = []
        for sym in symtab.iter_symbols() if symtab is not None else ():
            if not sym.name or sym["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                continue
            shndx = sym["st_shndx"]
            section = elf.get_section(shndx).name if isinstance(shndx, int) else shndx
            out.append((sym.name, sym["st_info"]["bind"], sym["st_info"]["type"], section, sym["st_value"]))
        return out
    except Exception as e:  # pyelftools raises many unrelated types on bad input
        raise LinkError(f"{name}: malformed ELF: {e or type(e).__name__}") from None


# -- linking ------------------------------------------------------------------------------------------

def _in_order(inputs, ours: bytes) -> list[tuple[str, bytes]]:
    """(name, data) of every file for libbpf: plain objects as given, ours where the first bitcode input was."""
    files: list[tuple[str, bytes]] = []
    for obj in inputs:
        if obj.kind == KIND:
            files.append((obj.name, obj.data))
        elif not any(name == _OURS for name, _ in files):
            files.append((_OURS, ours))
    return files


_OURS = "the bitcode's object"


def _link(files: list[tuple[str, bytes]], libbpf_linker) -> tuple[bytes, tuple[str, ...]]:
    """libbpf's linker on `files`; (the output, libbpf's messages). Errors name inputs, not temporary paths."""
    with _Scratch() as scratch:
        paths = [scratch.file(data) for _, data in files]
        out = scratch.output()
        names = {path: name for path, (name, _) in zip(paths, files)}
        try:
            messages = libbpf_linker.link_files(paths, out)
        except libbpf_linker.LibbpfLinkError as e:
            e.path = names.get(e.path, e.path)
            e.messages = tuple(_rename(line, names, out) for line in e.messages)
            raise
        return scratch.read_output(), tuple(_rename(line, names, out) for line in messages)


def _rename(line: str, names: dict[str, str], out: str) -> str:
    for path, name in names.items():
        line = line.replace(path, name)
    return line.replace(out, "the output")


class _Scratch:
    """Where libbpf reads and writes: memfds named by /proc/self/fd paths, else a private temporary directory."""

    def __enter__(self):
        self.fds: list[int] = []
        self.dir: str | None = None
        self.use_memfd = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")
        if not self.use_memfd:
            self.dir = tempfile.mkdtemp(prefix="bpf-linker-objects-")
        return self

    def _new(self, label: str) -> str:
        if self.use_memfd:
            fd = os.memfd_create(f"bpf-linker-{label}", os.MFD_CLOEXEC)
            self.fds.append(fd)
            return f"/proc/self/fd/{fd}"
        return os.path.join(self.dir, f"{len(os.listdir(self.dir))}-{label}.o")

    def file(self, data: bytes) -> str:
        path = self._new("input")
        if self.use_memfd:
            view, written = memoryview(data), 0
            while written < len(data):
                written += os.write(self.fds[-1], view[written:])
        else:
            with open(path, "wb") as f:
                f.write(data)
        return path

    def output(self) -> str:
        self.out = self._new("output")
        return self.out

    def read_output(self) -> bytes:
        with open(self.out, "rb") as f:
            return f.read()

    def __exit__(self, *exc):
        for fd in self.fds:
            os.close(fd)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


def _version(libbpf_linker) -> str:
    try:
        return libbpf_linker.version()
    except Exception:
        return "?"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


# -- BTF on both sides --------------------------------------------------------------------------------

def _has_btf(data: bytes) -> bool:
    from elftools.elf.elffile import ELFFile

    try:
        return ELFFile(io.BytesIO(data)).get_section_by_name(".BTF") is not None
    except Exception:
        return False


def _require_btf(ours: bytes, objects, ctx: LinkContext) -> None:
    for obj in objects:
        if not _has_btf(obj.data):
            raise LinkError(f"{obj.name}: a plain BPF object without BTF (no .BTF section): libbpf's linker, which "
                            "links it, needs BTF in every object; compile it with clang -g")
    if not _has_btf(ours):
        if ctx.options.btf is False:
            why, fix = "--no-btf strips it", "drop --no-btf"
        else:
            why, fix = "no debug info", "compile the bitcode with -g (Rust: -C debuginfo=2 and -C link-arg=--btf)"
        raise LinkError(f"{objects[0].name}: a plain BPF object is linked by libbpf's linker, which needs BTF on "
                        f"both sides, and the object of the bitcode inputs has none ({why}); {fix}")


# -- the result: every DATASEC entry where its symbol is ------------------------------------------------

_BTF_KIND_VAR = 14
_BTF_KIND_DATASEC = 15
# Bytes after the 12-byte common header of each BTF kind: (fixed, per vlen entry).
_TRAILER = {1: (4, 0), 2: (0, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 7: (0, 0), 8: (0, 0),
            9: (0, 0), 10: (0, 0), 11: (0, 0), 12: (0, 0), 13: (0, 8), 14: (4, 0), 15: (0, 12), 16: (0, 0),
            17: (4, 0), 18: (0, 0), 19: (0, 12)}


def datasec_entries(btf: bytes, order: str) -> list[tuple[str, str, int]]:
    """(DATASEC name, VAR name, offset) of every variable placed in a data section by `.BTF`."""
    magic, _version_, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        order + "HBBIIIII", btf, 0)
    if magic != 0xEB9F:
        return []
    strings = btf[hdr_len + str_off: hdr_len + str_off + str_len]

    def string(offset: int) -> str:
        end = strings.find(b"\0", offset)
        return strings[offset: end if end >= 0 else len(strings)].decode("utf-8", "replace")

    names: dict[int, tuple[int, str]] = {}  # type id -> (kind, name)
    datasecs = []
    pos, end, type_id = hdr_len + type_off, hdr_len + type_off + type_len, 1
    while pos + 12 <= end:
        name_off, info, _size = struct.unpack_from(order + "III", btf, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        fixed, per = _TRAILER.get(kind, (None, None))
        if fixed is None:
            return []  # a kind this code does not know: nothing to check
        names[type_id] = (kind, string(name_off))
        if kind == _BTF_KIND_DATASEC:
            entries = [struct.unpack_from(order + "III", btf, pos + 12 + 12 * i) for i in range(vlen)]
            datasecs.append((string(name_off), entries))
        pos += 12 + fixed + per * vlen
        type_id += 1
    out = []
    for section, entries in datasecs:
        for var_type, offset, _size in entries:
            kind, name = names.get(var_type, (0, ""))
            if kind == _BTF_KIND_VAR:
                out.append((section, name, offset))
    return out


def _check_datasecs(data: bytes, files, ctx: LinkContext, version: str) -> None:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    btf = elf.get_section_by_name(".BTF")
    if btf is None:
        return
    order = "<" if elf.little_endian else ">"
    at: dict[tuple[str, str], set[int]] = {}
    for name, _bind, _type, section, value in _symbols("the output", data):
        at.setdefault((section, name), set()).add(value)
    for section, name, offset in datasec_entries(btf.data(), order):
        values = at.get((section, name))
        if values and offset not in values:
            raise LinkError(_misplaced(section, name, offset, sorted(values), files, ctx, version))


def _misplaced(section: str, name: str, offset: int, values, files, ctx: LinkContext, version: str) -> str:
    """The error for a variable whose BTF offset is not its symbol's: name who uses it and who defines it."""
    users, definer = [], None
    for file_name, data in files:
        for sym_name, bind, _type, sym_section, _value in _symbols(file_name, data):
            if sym_name != name or bind not in ("STB_GLOBAL", "STB_WEAK"):
                continue
            if sym_section == "SHN_UNDEF":
                users.append(file_name)
            elif sym_section == section and definer is None:
                definer = file_name
    what = "map" if section == ".maps" else "variable"
    shown = {_OURS: _bitcode_names(name, ctx)}
    if users and definer:
        user = users[0]
        place = "before the bitcode inputs" if user == _OURS else f"before {shown.get(user, user)}"
        return (f"{shown.get(user, user)}: extern {what} '{name}' ({section}) is defined in "
                f"{shown.get(definer, definer)}, a later input: libbpf {version}'s linker leaves it at offset "
                f"{offset} in .BTF, not at {values[0]} where it is (loading would fail with \"map relo failed to "
                f"find map\"); list {shown.get(definer, definer)} {place}")
    return (f"libbpf {version}'s linker put {what} '{name}' ({section}) at offset {offset} in .BTF, not at "
            f"{values[0]} where its symbol is; the object would not load")


def _bitcode_names(symbol: str, ctx: LinkContext) -> str:
    users = ctx.references.get(symbol) or [obj.name for obj in ctx.inputs if obj.kind in BITCODE_KINDS][:1]
    return ", ".join(sorted(set(users))) if users else _OURS

