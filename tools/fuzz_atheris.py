#!/usr/bin/env python3
"""Coverage-guided fuzzing of input reading and linking with atheris (libFuzzer for Python).

A dev tool, not a dependency: `pip install atheris` (wheels for CPython 3.8-3.12 on
x86_64 Linux; 3.0.0 installs on 3.11 here). Run from the checkout, with the package
installed (`pip install -e .`):

    python tools/fuzz_atheris.py                          # seeds built with clang-16, 5 minutes
    python tools/fuzz_atheris.py CORPUS_DIR -max_total_time=600 -artifact_prefix=crashes/
    BPF_LINKER_LLVM=/usr/lib/x86_64-linux-gnu/libLLVM-16.so.1 python tools/fuzz_atheris.py
    python tools/fuzz_atheris.py crashes/crash-1234abcd   # replay one input

Each fuzz input is one mode byte followed by the content of one input file. The mode
byte picks what runs:

- mode % 4 == 0: only `bpf_linker.inputs.read_inputs` (fast; coverage-guided over the
  classification and the ar/ELF/IR readers);
- otherwise: `read_inputs` and then the link through the API, `bpf_linker.link()`, with
  one of FLAG_SETS (picked by mode // 4). Each link runs in a forked worker, so LLVM
  crashes are contained (and invisible to coverage: that part is mutation only).

The contract checked (a violation raises, which libFuzzer reports with the input saved
as crash-*): read_inputs raises nothing but InputError; link() raises nothing but
BpfLinkerError subclasses; every error message is one line (the CLI prints it as
`bpf-linker: error: ...`) and is not an "internal error"; a failed link leaves no
output and no temporary file; a successful one writes a BPF ELF pyelftools parses;
nothing reaches stderr that is not a `bpf-linker: <level>:` line (no raw LLVM output).

Keep what it finds, once fixed, in tests/fuzz_regressions/ (without the mode byte).
libFuzzer's own signal handlers are off by default (-handle_segv=0 ...): a forked
worker that crashes must be reported by the worker, not by a libFuzzer copy in it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["bpf_linker"]):
    from bpf_linker import BpfLinkerError, LinkOptions, link
    from bpf_linker.errors import InputError
    from bpf_linker.inputs import read_inputs
    from bpf_linker.logsetup import LogConfig, configure_logging

import logging

FLAG_SETS = [
    {},
    {"emit": "llvm-ir"},
    {"emit": "asm", "opt_level": "1"},
    {"btf": True},
    {"btf": False, "emit": "llvm-bc"},
    {"export": ("fuzz_prog", "total"), "unroll_loops": True},
    {"cpu": "v3", "cpu_features": "+alu32"},
    {"ignore_inline_never": True, "opt_level": "z"},
]

DEFAULT_ARGS = ["-handle_segv=0", "-handle_abrt=0", "-handle_bus=0", "-handle_ill=0", "-handle_fpe=0",
                "-timeout=60", "-rss_limit_mb=4096", "-max_len=65536"]

SEED_DIR = Path(__file__).resolve().parents[1] / "tests" / "c" / "fuzz"


def build_seeds(corpus: str) -> None:
    """Bitcode, IR text, ELF with .llvmbc, GNU/BSD/nested archives: each under every mode byte class."""
    clang, ar = shutil.which("clang-16"), shutil.which("llvm-ar-16")
    if not (clang and ar):
        print("fuzz_atheris: clang-16/llvm-ar-16 not found; starting from an empty corpus", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory(prefix="bpf-linker-seeds-") as d:
        def cc(src, out, *flags):
            path = os.path.join(d, out)
            subprocess.run([clang, "-g", "-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", *flags,
                            os.path.join(d, src), "-o", path], check=True)
            return path

        for name in ("prog.c", "helper.c"):
            shutil.copy(SEED_DIR / name, os.path.join(d, name))
        bc = cc("prog.c", "prog.bc", "-emit-llvm", "-c")
        helper = cc("helper.c", "fuzz_helper_with_a_long_name.bc", "-emit-llvm", "-c")
        ll = cc("prog.c", "prog.ll", "-S", "-emit-llvm", "-g0")
        embed = cc("prog.c", "prog.o", "-fembed-bitcode", "-c", "-g0")
        seeds = {"prog.bc": bc, "prog.ll": ll, "prog.o": embed}
        for name, fmt, members in (("gnu.a", "gnu", [bc, helper]), ("bsd.a", "bsd", [bc, helper])):
            path = os.path.join(d, name)
            subprocess.run([ar, f"--format={fmt}", "rcs", path, *members], check=True)
            seeds[name] = path
        nested = os.path.join(d, "nested.a")
        subprocess.run([ar, "rcs", nested, seeds["gnu.a"], helper], check=True)
        seeds["nested.a"] = nested
        for name, path in seeds.items():
            with open(path, "rb") as f:
                data = f.read()
            for mode in (0, 1, 6, 13):
                with open(os.path.join(corpus, f"seed-{mode}-{name}"), "wb") as f:
                    f.write(bytes([mode]) + data)


class ContractViolation(AssertionError):
    pass


_quiet = logging.getLogger("bpf_linker.fuzz")  # read_inputs' skip warnings: not wanted here
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False
_work = tempfile.mkdtemp(prefix="bpf-linker-atheris-")
stats = {"runs": 0, "read-only": 0, "input errors": 0, "linked": 0, "link errors": 0}


def _count(what: str) -> None:
    stats[what] += 1
    stats["runs"] += 1
    if stats["runs"] % 2000 == 0:
        print(f"fuzz_atheris: {stats}", file=sys.__stderr__)  # sys.stderr may be a link's capture


def check_message(error: BaseException) -> None:
    text = str(error)
    if "\n" in text or not text.strip():
        raise ContractViolation(f"error message is not one line: {text!r}")
    if text.startswith("internal error"):
        raise ContractViolation(f"internal error: {text}")


def test_one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    mode, content = data[0], data[1:]
    path = os.path.join(_work, "input")
    with open(path, "wb") as f:
        f.write(content)
    try:
        read_inputs([path], _quiet)
    except InputError as e:
        check_message(e)
        _count("input errors")
        return
    if mode % 4 == 0:
        _count("read-only")
        return
    out_dir = os.path.join(_work, "out")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.mkdir(out_dir)
    out = os.path.join(out_dir, "result")
    flags = FLAG_SETS[(mode // 4) % len(FLAG_SETS)]
    stderr = io.StringIO()
    saved, sys.stderr = sys.stderr, stderr
    undo = configure_logging(LogConfig("warn"), stream=stderr)
    try:
        link(LinkOptions(inputs=(path,), output=out, **flags))
        ok = True
        _count("linked")
    except BpfLinkerError as e:
        check_message(e)
        ok = False
        _count("link errors")
    finally:
        undo()
        sys.stderr = saved
    raw = [line for line in stderr.getvalue().splitlines() if line.strip() and not line.startswith("bpf-linker: ")]
    if raw:
        raise ContractViolation(f"raw output on stderr: {raw[:5]}")
    left = sorted(os.listdir(out_dir))
    if ok:
        if left != ["result"]:
            raise ContractViolation(f"after a successful link the output directory holds {left}")
        if flags.get("emit", "obj") == "obj":
            from elftools.elf.elffile import ELFFile

            with open(out, "rb") as f:
                elf = ELFFile(f)
                if elf["e_machine"] != "EM_BPF":
                    raise ContractViolation(f"output is not a BPF ELF: {elf['e_machine']}")
                for _ in elf.iter_sections():
                    pass
    elif left:
        raise ContractViolation(f"a failed link left {left}")


def main() -> None:
    from bpf_linker.bindings import load_llvm

    library = load_llvm()  # once, in this process: the forked workers inherit it
    print(f"fuzz_atheris: LLVM {'.'.join(map(str, library.version))} from {library.path}", file=sys.stderr)
    args = sys.argv[:1]
    given = sys.argv[1:]
    dirs = [a for a in given if not a.startswith("-") and os.path.isdir(a)]
    if not dirs and not any(os.path.isfile(a) for a in given if not a.startswith("-")):
        corpus = os.path.join(tempfile.gettempdir(), "bpf-linker-fuzz-corpus")
        os.makedirs(corpus, exist_ok=True)
        if not os.listdir(corpus):
            build_seeds(corpus)
        given = [corpus, *given]
        if not any(a.startswith("-max_total_time") for a in given):
            given.append("-max_total_time=300")
    names = {a.split("=", 1)[0] for a in given if a.startswith("-")}
    args += [a for a in DEFAULT_ARGS if a.split("=", 1)[0] not in names] + given
    atheris.Setup(args, test_one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(_work, ignore_errors=True)


if __name__ == "__main__":
    main()
