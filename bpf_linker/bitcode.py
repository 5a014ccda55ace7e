"""Read the producer (e.g. "LLVM16.0.6") from bitcode's IDENTIFICATION block, before LLVM parses it."""

from __future__ import annotations

import re

from .inputs import BITCODE_MAGIC, WRAPPER_MAGIC

_IDENTIFICATION_BLOCK_ID = 13
_IDENTIFICATION_CODE_STRING = 1

# Abbreviation ids and operand encodings of the LLVM bitstream format.
_END_BLOCK, _ENTER_SUBBLOCK, _DEFINE_ABBREV, _UNABBREV_RECORD = 0, 1, 2, 3
_FIRST_APPLICATION_ABBREV = 4
_LITERAL, _FIXED, _VBR, _ARRAY, _CHAR6, _BLOB = 0, 1, 2, 3, 4, 5
_CHAR6_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"


class _Malformed(Exception):
    """The bitstream is not what we expect; bitcode_producer turns this into None."""


class _BitReader:
    """Little-endian bit cursor over a byte buffer, bounded by `end` (in bits)."""

    def __init__(self, data: memoryview):
        self.data = data
        self.pos = 0
        self.end = len(data) * 8

    def read(self, width: int) -> int:
        if width == 0:
            return 0
        if self.pos + width > self.end:
            raise _Malformed("read past the end")
        first, last = self.pos >> 3, (self.pos + width + 7) >> 3
        value = int.from_bytes(self.data[first:last], "little") >> (self.pos & 7)
        self.pos += width
        return value & ((1 << width) - 1)

    def read_vbr(self, width: int) -> int:
        high_bit = 1 << (width - 1)
        result, shift = 0, 0
        while True:
            chunk = self.read(width)
            result |= (chunk & (high_bit - 1)) << shift
            if not chunk & high_bit:
                return result
            shift += width - 1
            if shift > 64:
                raise _Malformed("VBR value too long")

    def align32(self) -> None:
        self.pos = (self.pos + 31) & ~31
        if self.pos > self.end:
            raise _Malformed("alignment past the end")

    def read_bytes(self, count: int) -> bytes:
        if self.pos & 7 or self.pos + count * 8 > self.end:
            raise _Malformed("bad blob")
        start = self.pos >> 3
        self.pos += count * 8
        return bytes(self.data[start : start + count])

    def bits_left(self) -> int:
        return self.end - self.pos


def bitcode_producer(data: bytes) -> str | None:
    """The producer string of the bitcode's IDENTIFICATION_BLOCK ("LLVM16.0.6"), or None."""
    try:
        return _read_producer(data)
    except (_Malformed, ValueError, IndexError):
        return None


def _bitstream(data: bytes) -> memoryview | None:
    """The raw bitstream: `data` itself, or the part a bitcode wrapper header points at."""
    view = memoryview(data)
    if data.startswith(WRAPPER_MAGIC):
        if len(data) < 16:
            return None
        offset = int.from_bytes(data[8:12], "little")
        size = int.from_bytes(data[12:16], "little")
        if offset + size > len(data):
            return None
        view = view[offset : offset + size]
    if bytes(view[:4]) != BITCODE_MAGIC:
        return None
    return view


def _read_producer(data: bytes) -> str | None:
    stream = _bitstream(data)
    if stream is None:
        return None
    bits = _BitReader(stream)
    bits.pos = 32
    if bits.read(2) != _ENTER_SUBBLOCK or bits.read_vbr(8) != _IDENTIFICATION_BLOCK_ID:
        return None
    abbrev_width = bits.read_vbr(4)
    bits.align32()
    words = bits.read(32)
    block_end = bits.pos + words * 32
    if abbrev_width == 0 or block_end > bits.end:
        return None
    bits.end = block_end
    return _read_identification_block(bits, abbrev_width)


def _read_identification_block(bits: _BitReader, abbrev_width: int) -> str | None:
    abbrevs: list[list[tuple[int, int]]] = []
    producer = None
    while True:
        abbrev_id = bits.read(abbrev_width)
        if abbrev_id == _END_BLOCK:
            return producer
        if abbrev_id == _ENTER_SUBBLOCK:
            _skip_subblock(bits)
            continue
        if abbrev_id == _DEFINE_ABBREV:
            abbrevs.append(_read_abbrev(bits))
            continue
        if abbrev_id == _UNABBREV_RECORD:
            code = bits.read_vbr(6)
            operands = [bits.read_vbr(6) for _ in range(_count(bits, bits.read_vbr(6), 1))]
        else:
            index = abbrev_id - _FIRST_APPLICATION_ABBREV
            if index >= len(abbrevs):
                raise _Malformed("undefined abbreviation")
            code, operands = _read_abbreviated_record(bits, abbrevs[index])
        if code == _IDENTIFICATION_CODE_STRING:
            producer = bytes(operands).decode("utf-8", errors="replace")


def _skip_subblock(bits: _BitReader) -> None:
    bits.read_vbr(8)
    bits.read_vbr(4)
    bits.align32()
    words = bits.read(32)
    if bits.pos + words * 32 > bits.end:
        raise _Malformed("sub-block past the end")
    bits.pos += words * 32


def _read_abbrev(bits: _BitReader) -> list[tuple[int, int]]:
    """DEFINE_ABBREV: a list of (encoding, value) operands; width-0 scalars become literal 0."""
    operands: list[tuple[int, int]] = []
    for _ in range(_count(bits, bits.read_vbr(5), 1)):
        if bits.read(1):
            operands.append((_LITERAL, bits.read_vbr(8)))
            continue
        encoding = bits.read(3)
        if encoding in (_FIXED, _VBR):
            width = bits.read_vbr(5)
            if width > 64 or (encoding == _VBR and width == 1):
                raise _Malformed("bad operand width")
            operands.append((encoding, width) if width else (_LITERAL, 0))
        elif encoding in (_ARRAY, _CHAR6, _BLOB):
            operands.append((encoding, 0))
        else:
            raise _Malformed("unknown operand encoding")
    if not operands or operands[0][0] in (_ARRAY, _BLOB):
        raise _Malformed("abbreviation without a record code")
    return operands


def _read_abbreviated_record(bits: _BitReader, abbrev: list[tuple[int, int]]) -> tuple[int, list[int]]:
    values: list[int] = []
    for index, (encoding, value) in enumerate(abbrev):
        if encoding == _ARRAY:
            if index != len(abbrev) - 2 or abbrev[-1][0] in (_LITERAL, _ARRAY, _BLOB):
                raise _Malformed("bad array operand")
            element_encoding, element_width = abbrev[-1]
            length = _count(bits, bits.read_vbr(6), 1)
            values.extend(_read_scalar(bits, element_encoding, element_width) for _ in range(length))
            break
        if encoding == _BLOB:
            if index != len(abbrev) - 1:
                raise _Malformed("blob is not the last operand")
            length = _count(bits, bits.read_vbr(6), 8)
            bits.align32()
            values.extend(bits.read_bytes(length))
            bits.align32()
            break
        values.append(value if encoding == _LITERAL else _read_scalar(bits, encoding, value))
    return values[0], values[1:]


def _read_scalar(bits: _BitReader, encoding: int, width: int) -> int:
    if encoding == _FIXED:
        return bits.read(width)
    if encoding == _VBR:
        return bits.read_vbr(width)
    return ord(_CHAR6_ALPHABET[bits.read(6)])


def _count(bits: _BitReader, count: int, min_bits_each: int) -> int:
    """Reject element counts that cannot fit in what is left of the block."""
    if count * min_bits_each > bits.bits_left():
        raise _Malformed("count larger than the block")
    return count


_PRODUCER_VERSION = re.compile(r"^LLVM(\d+)\.")


def producer_major(producer: str | None) -> int | None:
    """The LLVM major version in a producer string: "LLVM22.1.2-rust-1.95.0-stable" -> 22."""
    m = _PRODUCER_VERSION.match(producer or "")
    return int(m.group(1)) if m else None
