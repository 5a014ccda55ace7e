"""An emitted BPF object, read with pyelftools: its symbols and each program's instruction count."""

from __future__ import annotations

from typing import Any

import io
import struct
from dataclasses import dataclass

SHF_EXECINSTR = 0x4
INSN_SIZE = 8
CALL, LD_IMM64 = 0x85, 0x18
BPF_PSEUDO_CALL = 1


@dataclass(frozen=True)
class Symbol:
    """One ELF symbol: `binding` "global", "local" or "weak"; `type` "func", "object" or "notype";
    `section` "UND" for undefined symbols (kfuncs, ksyms)."""

    name: str
    section: str
    size: int
    binding: str
    type: str
    value: int


@dataclass(frozen=True)
class Program:
    """A program (a function outside `.text`) and the instructions the kernel loads for it:
    its own plus those of every subprogram it calls, directly or not (8-byte slots, as the
    kernel counts: `ld_imm64` is two)."""

    name: str
    section: str
    own: int
    subprograms: tuple[str, ...]
    instructions: int


@dataclass(frozen=True)
class ObjectInfo:
    symbols: tuple[Symbol, ...]
    programs: tuple[Program, ...]

    def symbol(self, name: str) -> Symbol | None:
        return next((s for s in self.symbols if s.name == name), None)


def read_object(data: bytes) -> ObjectInfo:
    """Symbols and programs of a BPF ELF object (the bytes codegen produced)."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection

    elf = ELFFile(io.BytesIO(data))
    little = elf.little_endian
    symtab = elf.get_section_by_name(".symtab")
    raw_symbols = list(symtab.iter_symbols()) if symtab is not None else []
    symbols = []
    funcs: dict[int, list[tuple[int, int, str]]] = {}  # section index -> [(start slot, end slot, name)]
    for sym in raw_symbols:
        kind = sym["st_info"]["type"]
        if not sym.name or kind in ("STT_SECTION", "STT_FILE"):
            continue
        shndx = sym["st_shndx"]
        section = elf.get_section(shndx).name if isinstance(shndx, int) else \
            {"SHN_UNDEF": "UND", "SHN_ABS": "ABS", "SHN_COMMON": "COMMON"}.get(shndx, str(shndx))
        symbols.append(Symbol(sym.name, section, sym["st_size"],
                              sym["st_info"]["bind"].removeprefix("STB_").lower(),
                              kind.removeprefix("STT_").lower(), sym["st_value"]))
        if kind == "STT_FUNC" and isinstance(shndx, int):
            start = sym["st_value"] // INSN_SIZE
            funcs.setdefault(shndx, []).append((start, start + max(sym["st_size"] // INSN_SIZE, 1), sym.name))

    def function_at(shndx: int, slot: int) -> str | None:
        for start, end, name in funcs.get(shndx, ()):
            if start <= slot < end:
                return name
        return None

    relocations: dict[int, dict[int, Any]] = {}
    for sec in elf.iter_sections():
        if isinstance(sec, RelocationSection) and sec["sh_link"] and symtab is not None:
            table = relocations.setdefault(sec["sh_info"], {})
            for rel in sec.iter_relocations():
                table[rel["r_offset"]] = raw_symbols[rel["r_info_sym"]] if rel["r_info_sym"] < len(raw_symbols) \
                    else None

    calls: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    sections: dict[str, str] = {}
    fmt = "<BBhi" if little else ">BBhi"
    for index, sec in enumerate(elf.iter_sections()):
        if sec["sh_type"] != "SHT_PROGBITS" or not sec["sh_flags"] & SHF_EXECINSTR:
            continue
        for start, end, name in funcs.get(index, ()):
            sizes[name] = end - start
            sections[name] = sec.name
        code_bytes, relocs = sec.data(), relocations.get(index, {})
        offset = 0
        while offset + INSN_SIZE <= len(code_bytes):
            code, regs, _off, imm = struct.unpack_from(fmt, code_bytes, offset)
            src = (regs >> 4) if little else (regs & 0xF)
            slot = offset // INSN_SIZE
            if code == CALL and src == BPF_PSEUDO_CALL:
                caller = function_at(index, slot)
                target_sym = relocs.get(offset)
                if target_sym is not None and isinstance(target_sym["st_shndx"], int):
                    target = function_at(target_sym["st_shndx"], target_sym["st_value"] // INSN_SIZE + imm + 1)
                else:
                    target = function_at(index, slot + imm + 1)
                if caller and target:
                    calls.setdefault(caller, set()).add(target)
            offset += 2 * INSN_SIZE if code == LD_IMM64 else INSN_SIZE

    programs = []
    for sym in symbols:
        section = sections.get(sym.name) if sym.type == "func" else None
        if section is None or section == ".text":
            continue
        reached, todo = [], [sym.name]
        while todo:
            for callee in sorted(calls.get(todo.pop(), ())):
                if callee != sym.name and callee not in reached:
                    reached.append(callee)
                    todo.append(callee)
        own = sizes.get(sym.name, sym.size // INSN_SIZE)
        programs.append(Program(sym.name, section, own, tuple(reached),
                                own + sum(sizes.get(name, 0) for name in reached)))
    return ObjectInfo(tuple(symbols), tuple(programs))
