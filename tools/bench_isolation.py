"""Benchmark: what the forked worker costs per link, as a ratio against in-process links.

Builds the examples/split program with clang-16, then links it N times each way in this
process (same library, same inputs) and prints per-link wall times and the ratio.
Usage: python tools/bench_isolation.py [N]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpf_linker import LinkOptions, link

ROOT = Path(__file__).resolve().parents[1]
CFLAGS = ["-g", "-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-emit-llvm", "-c"]


def build(tmp: Path) -> list[str]:
    out = []
    for name in ("main", "parse", "csum"):
        bc = tmp / f"{name}.bc"
        subprocess.run(["clang-16", *CFLAGS, str(ROOT / "examples/split" / f"{name}.c"), "-o", str(bc)], check=True)
        out.append(str(bc))
    return out


def per_link(options: LinkOptions, isolate: bool, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        link(options, isolate=isolate)
    return (time.perf_counter() - start) / n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        options = LinkOptions(inputs=tuple(build(tmp)), output=str(tmp / "out.o"))
        link(options, isolate=False)  # load libLLVM and warm caches first
        in_process = per_link(options, False, n)
        isolated = per_link(options, True, n)
    print(f"in-process: {in_process * 1000:.1f} ms/link, forked worker: {isolated * 1000:.1f} ms/link, "
          f"ratio {isolated / in_process:.2f}x (+{(isolated - in_process) * 1000:.1f} ms), n={n}")


if __name__ == "__main__":
    main()
