"""What an emitted BPF object holds, read with pyelftools: functions, programs, calls, loops, line info."""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from functools import cached_property

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from .bpf_insn import Insn, decode, stack_offsets

SHF_EXECINSTR = 0x4
BTF_MAGIC = 0xEB9F
MAP_SECTIONS = (".maps", "maps")


@dataclass(frozen=True)
class Location:
    """A source position from the object's line info (`.BTF.ext`)."""

    file: str
    line: int
    column: int = 0

    def __str__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}"


@dataclass
class Function:
    """A function symbol's code: `start`/`end` are byte offsets in its section."""

    name: str
    section: str
    section_index: int
    start: int
    end: int
    insns: list[Insn] = field(default_factory=list)

    @property
    def is_program(self) -> bool:
        """libbpf's rule: functions outside `.text` are programs, those in `.text` subprograms."""
        return self.section != ".text"

    @property
    def stack_depth(self) -> int:
        return stack_offsets(self.insns)


@dataclass(frozen=True)
class Call:
    """A `call` instruction: kind 'local' (BPF-to-BPF, target a function name), 'kfunc' or 'helper' (id)."""

    caller: Function
    insn: Insn
    kind: str
    target: str | int


@dataclass(frozen=True)
class Reference:
    """An ld_imm64 relocated against a symbol: kind 'map', 'data' (.data/.rodata/.bss), 'function', 'extern'."""

    function: Function
    insn: Insn
    kind: str
    symbol: str
    section: str


class ObjectCode:
    """The code of one BPF ELF relocatable object (bytes), decoded once."""

    def __init__(self, data: bytes):
        self.data = data
        self._stream = io.BytesIO(data)
        self.elf = ELFFile(self._stream)
        self.little_endian = self.elf.little_endian
        self._relocs: dict[int, dict[int, tuple[str, object, str, int]]] = {}
        self.functions: list[Function] = []
        self._read()

    # -- reading -------------------------------------------------------------
    def _read(self) -> None:
        elf = self.elf
        symtab = elf.get_section_by_name(".symtab")
        for sec in elf.iter_sections():
            # Only the code's relocations: those of .debug_* (vmlinux.h types) are many and unneeded.
            if isinstance(sec, RelocationSection) and symtab is not None and self._is_code(sec["sh_info"]):
                table = elf.get_section(sec["sh_link"])
                out = self._relocs.setdefault(sec["sh_info"], {})
                for r in sec.iter_relocations():
                    sym = table.get_symbol(r["r_info_sym"])
                    shndx = sym["st_shndx"]
                    name = sym.name or (elf.get_section(shndx).name if isinstance(shndx, int) else "")
                    out[r["r_offset"]] = (name, shndx, sym["st_info"]["type"], sym["st_value"])
        code: dict[int, list[Insn]] = {}
        for index, sec in enumerate(elf.iter_sections()):
            if sec["sh_type"] == "SHT_PROGBITS" and sec["sh_flags"] & SHF_EXECINSTR:
                code[index] = decode(sec.data(), self.little_endian)
        for sym in symtab.iter_symbols() if symtab is not None else ():
            shndx = sym["st_shndx"]
            if sym["st_info"]["type"] != "STT_FUNC" or not isinstance(shndx, int) or shndx not in code:
                continue
            start = sym["st_value"]
            end = start + sym["st_size"] if sym["st_size"] else start + 8
            insns = [i for i in code[shndx] if start <= i.offset < end]
            self.functions.append(Function(sym.name, elf.get_section(shndx).name, shndx, start, end, insns))
        self.functions.sort(key=lambda f: (f.section_index, f.start))

    def _is_code(self, index: int) -> bool:
        sec = self.elf.get_section(index)
        return sec["sh_type"] == "SHT_PROGBITS" and bool(sec["sh_flags"] & SHF_EXECINSTR)

    def function_at(self, section_index: int, offset: int) -> Function | None:
        for f in self.functions:
            if f.section_index == section_index and f.start <= offset < f.end:
                return f
        return None

    def function(self, name: str) -> Function | None:
        return next((f for f in self.functions if f.name == name), None)

    @property
    def programs(self) -> list[Function]:
        return [f for f in self.functions if f.is_program]

    # -- calls, loops, references ---------------------------------------------
    @cached_property
    def calls(self) -> list[Call]:
        out = []
        for f in self.functions:
            relocs = self._relocs.get(f.section_index, {})
            for insn in f.insns:
                if not insn.is_call:
                    continue
                rel = relocs.get(insn.offset)
                if rel is not None:
                    name, shndx, _, value = rel
                    if not isinstance(shndx, int):
                        out.append(Call(f, insn, "kfunc", name))
                        continue
                    target = self.function_at(shndx, value + 8 * (insn.imm + 1))
                    out.append(Call(f, insn, "local", target.name if target else name))
                elif insn.src == 1:  # pc-relative pseudo call, already resolved
                    target = self.function_at(f.section_index, insn.offset + 8 * (insn.imm + 1))
                    out.append(Call(f, insn, "local", target.name if target else f"pc{insn.imm:+d}"))
                elif insn.src == 2:
                    out.append(Call(f, insn, "kfunc", f"btf_id {insn.imm}"))
                else:
                    out.append(Call(f, insn, "helper", insn.imm))
        return out

    def local_calls(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "local"]

    def backward_jumps(self) -> list[tuple[Function, Insn]]:
        return [(f, i) for f in self.functions for i in f.insns if i.is_backward_jump]

    @cached_property
    def references(self) -> list[Reference]:
        out = []
        for f in self.functions:
            relocs = self._relocs.get(f.section_index, {})
            for insn in f.insns:
                if insn.size != 16 or insn.offset not in relocs:
                    continue
                name, shndx, sym_type, _ = relocs[insn.offset]
                if not isinstance(shndx, int):
                    out.append(Reference(f, insn, "extern", name, ""))
                    continue
                sec = self.elf.get_section(shndx)
                if sec.name in MAP_SECTIONS or sec.name.startswith("maps/"):
                    kind = "map"
                elif sec["sh_flags"] & SHF_EXECINSTR:
                    kind = "function"
                else:
                    kind = "data"
                out.append(Reference(f, insn, kind, name, sec.name))
        return out

    def callees(self, f: Function) -> list[str]:
        return [c.target for c in self.local_calls() if c.caller is f and isinstance(c.target, str)]

    def reachable(self, program: Function) -> list[Function]:
        """The program and every function it calls, transitively, in call order."""
        seen, order, todo = set(), [], [program]
        while todo:
            f = todo.pop(0)
            if f.name in seen:
                continue
            seen.add(f.name)
            order.append(f)
            todo += [g for g in (self.function(n) for n in self.callees(f)) if g is not None]
        return order

    def programs_reaching(self, f: Function) -> list[str]:
        return [p.name for p in self.programs if any(g is f for g in self.reachable(p))]

    def is_recursive(self, f: Function) -> bool:
        """Whether `f` can reach itself through calls (such a call can never be inlined)."""
        return any(g.name == f.name for callee in self.callees(f) if self.function(callee)
                   for g in self.reachable(self.function(callee)))

    def stack_depth(self, program: Function) -> int:
        """The deepest stack the program reaches: its frame plus the deepest chain of callee frames."""
        def depth(f: Function, path: frozenset) -> int:
            below = [depth(g, path | {g.name}) for g in (self.function(n) for n in self.callees(f))
                     if g is not None and g.name not in path]
            return f.stack_depth + max(below, default=0)
        return depth(program, frozenset({program.name}))

    # -- line info ----------------------------------------------------------------
    @cached_property
    def _line_info(self) -> dict[str, list[tuple[int, Location]]]:
        """Section name -> [(byte offset, location)] sorted, from `.BTF.ext` (empty without BTF)."""
        btf = self.elf.get_section_by_name(".BTF")
        ext = self.elf.get_section_by_name(".BTF.ext")
        if btf is None or ext is None:
            return {}
        e = "<" if self.little_endian else ">"
        try:
            bdata, xdata = btf.data(), ext.data()
            magic, _, _, hdr_len, _, _, str_off, str_len = struct.unpack_from(e + "HBBIIIII", bdata, 0)
            strings = bdata[hdr_len + str_off: hdr_len + str_off + str_len]
            xmagic, _, _, xhdr_len, _, _, line_off, line_len = struct.unpack_from(e + "HBBIIIII", xdata, 0)
            if magic != BTF_MAGIC or xmagic != BTF_MAGIC or not line_len:
                return {}

            def string(offset: int) -> str:
                end = strings.find(b"\0", offset)
                return strings[offset:end if end >= 0 else None].decode("utf-8", "replace")

            pos = xhdr_len + line_off
            stop = pos + line_len
            rec_size, = struct.unpack_from(e + "I", xdata, pos)
            pos += 4
            out: dict[str, list[tuple[int, Location]]] = {}
            while pos + 8 <= stop:
                sec_name_off, count = struct.unpack_from(e + "II", xdata, pos)
                pos += 8
                rows = out.setdefault(string(sec_name_off), [])
                for _ in range(count):
                    insn_off, file_off, _, line_col = struct.unpack_from(e + "IIII", xdata, pos)
                    rows.append((insn_off, Location(string(file_off), line_col >> 10, line_col & 0x3FF)))
                    pos += rec_size
            for rows in out.values():
                rows.sort(key=lambda r: r[0])
            return out
        except (struct.error, ValueError):
            return {}

    @property
    def has_line_info(self) -> bool:
        return bool(self._line_info)

    def location(self, section: str, offset: int) -> Location | None:
        """The source line of the instruction at `offset` in `section`: the last line info record at or before it."""
        best = None
        for start, loc in self._line_info.get(section, ()):
            if start > offset:
                break
            if loc.line:
                best = loc
        return best

    def where(self, f: Function, insn: Insn) -> str:
        """`file.c:42` when there is line info, else `section+0x58`."""
        loc = self.location(f.section, insn.offset)
        return str(loc) if loc else f"{f.section}+{insn.offset:#x}"

    def source_shares(self, functions=None) -> dict[str, int]:
        """Source file -> instruction slots attributed to it by line info ("?" for none)."""
        counts: dict[str, int] = {}
        for f in functions if functions is not None else self.functions:
            for insn in f.insns:
                loc = self.location(f.section, insn.offset)
                key = loc.file if loc else "?"
                counts[key] = counts.get(key, 0) + insn.size // 8
        return counts

    # -- inlined functions (DWARF, read only when asked) ------------------------------
    @cached_property
    def _dwarf(self):
        # Unrelocated: LLVM's BPF objects relocate code addresses against section symbols (value
        # 0) with the offset in place (REL), so the raw values are already right; pyelftools'
        # relocation pass took 3.6 s of 3.6 s on a vmlinux.h program, reading takes 1 ms.
        try:
            return self.elf.get_dwarf_info(relocate_dwarf_sections=False) if self.elf.has_dwarf_info() else None
        except Exception:  # damaged or unsupported DWARF: no inlining detail
            return None

    def source_function(self, f: Function, offset: int) -> str:
        """The function the instruction at `offset` came from: the innermost inlined one, else `f`."""
        dwarf = self._dwarf
        if dwarf is None:
            return f.name
        try:
            for cu in dwarf.iter_CUs():
                for die in cu.get_top_DIE().iter_children():
                    if die.tag == "DW_TAG_subprogram" and _die_name(die) == f.name and "DW_AT_low_pc" in die.attributes:
                        low = die.attributes["DW_AT_low_pc"].value
                        if low != f.start:
                            continue
                        found = _innermost_inlined(dwarf, cu, die, offset)
                        return found or f.name
        except Exception:  # pyelftools could not follow this DWARF: say less, do not fail
            return f.name
        return f.name


def _die_name(die) -> str | None:
    attr = die.attributes.get("DW_AT_name")
    if attr is not None:
        return attr.value.decode("utf-8", "replace") if isinstance(attr.value, bytes) else str(attr.value)
    for ref in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if ref in die.attributes:
            return _die_name(die.get_DIE_from_attribute(ref))
    return None


def _ranges(dwarf, cu, die) -> list[tuple[int, int]]:
    attrs = die.attributes
    if "DW_AT_low_pc" in attrs and "DW_AT_high_pc" in attrs:
        low = attrs["DW_AT_low_pc"].value
        high = attrs["DW_AT_high_pc"]
        end = high.value if high.form in ("DW_FORM_addr", "DW_FORM_addrx") else low + high.value
        return [(low, end)]
    if "DW_AT_ranges" in attrs:
        base = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        base = base.value if base is not None else 0
        out = []
        for entry in dwarf.range_lists().get_range_list_at_offset(attrs["DW_AT_ranges"].value, cu=cu):
            if hasattr(entry, "base_address"):
                base = entry.base_address
            elif getattr(entry, "is_absolute", False):
                out.append((entry.begin_offset, entry.end_offset))
            else:
                out.append((base + entry.begin_offset, base + entry.end_offset))
        return out
    return []


def _innermost_inlined(dwarf, cu, die, offset: int) -> str | None:
    found = None
    for child in die.iter_children():
        if child.tag == "DW_TAG_inlined_subroutine":
            if any(lo <= offset < hi for lo, hi in _ranges(dwarf, cu, child)):
                found = _innermost_inlined(dwarf, cu, child, offset) or _die_name(child)
        elif child.tag == "DW_TAG_lexical_block":
            inner = _innermost_inlined(dwarf, cu, child, offset)
            found = inner or found
    return found
