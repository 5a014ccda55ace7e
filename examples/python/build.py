#!/usr/bin/env python3
"""Build script using the Python API: compile examples/c to bitcode with clang, link it with bpf_linker.link()."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import bpf_linker

C_PROJECT = Path(__file__).resolve().parent.parent / "c"
SOURCES = ("main.c", "parse.c", "checksum.c", "stats.c")  # link order: the first file is taken as it is


def multiarch() -> str:
    try:
        return subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "x86_64-linux-gnu"


def compile_all(clang: str, out_dir: Path) -> list[Path]:
    flags = ["-g", "-O2", "-mcpu=v3", "-target", "bpf", f"-I/usr/include/{multiarch() or 'x86_64-linux-gnu'}",
             f"-I{C_PROJECT / 'include'}", "-emit-llvm", "-c"]
    bitcode = []
    for name in SOURCES:
        out = out_dir / Path(name).with_suffix(".bc")
        subprocess.run([clang, *flags, str(C_PROJECT / "src" / name), "-o", str(out)], check=True)
        bitcode.append(out)
    return bitcode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path, help="where the bitcode and example.o go")
    parser.add_argument("--clang", default=os.environ.get("CLANG", "clang-16"))
    parser.add_argument("--weight", type=int, help="fix the .rodata knob `weight` at link time (--defsym)")
    parser.add_argument("--verify", action="store_true", help="load every program into the kernel after the link")
    args = parser.parse_args(argv)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    try:
        bitcode = compile_all(args.clang, args.out_dir)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"build.py: cannot compile: {e}", file=sys.stderr)
        return 1
    output = args.out_dir / "example.o"
    settings = {"defsym": (f"weight={args.weight}",)} if args.weight is not None else {}
    try:
        # Keywords are LinkOptions fields, as the command line's flags: export, cpu, btf, unroll_loops, ...
        result = bpf_linker.link(bitcode, output, verify=args.verify, **settings)
    except bpf_linker.BpfLinkerError as e:
        print(f"build.py: {e}", file=sys.stderr)
        return 1
    print(f"{output}: {result!r}")
    print(f"pipeline: {result.pipeline}")
    if "verify" in result.outputs:  # the kernel's verdict on each program, as --verify prints it
        print(result.outputs["verify"].decode(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
