"""Fuzzing the command line with mutated inputs: every outcome is a clean success or one error line.

Seeds are built once per session with clang-16 / llvm-ar-16: bitcode, IR text, IR that
fails LLVM's verifier, an ELF with `.llvmbc` (and one whose `.llvmbc` runs past its end), GNU and BSD ar archives (long member names, a nested archive, an
rlib-like archive with `lib.rmeta`) and a hand-made bitcode wrapper. Hypothesis mutates
them (bit flips, overwrites with "interesting" values, inserts, deletes, truncation,
splicing two seeds, line edits of text) or makes random bytes behind a magic number,
with a fixed example budget and derandomize=True, so a run is reproducible and bounded.

Every case goes through the CLI's own entry point (`bpf_linker.cli.main`, as `python -m
bpf_linker -o OUT INPUT` runs it). To fit the budget, one harness process runs a batch of
cases, with libLLVM loaded once; each link still runs in its own forked worker, as in
the CLI. For every case:

- exit status 0 or 1, within CASE_SECONDS;
- no Python traceback, and nothing on stderr that is not `bpf-linker: <level>: ...`
  (no raw LLVM output);
- on failure exactly one `bpf-linker: error:` line, not an "internal error", and no
  output file (nor a temporary one);
- on success an object pyelftools parses.

Whatever fuzzing (this test or tools/fuzz_atheris.py) finds is fixed and its input kept
in tests/fuzz_regressions/, run through the real CLI by test_regressions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

REGRESSIONS = bpfkit.TESTS_DIR / "fuzz_regressions"
CASE_SECONDS = 30
BATCH = 16          # cases per harness process (one hypothesis example)
EXAMPLES = 30       # hypothesis examples per LLVM: BATCH * EXAMPLES cases each

SEED_DIR = bpfkit.TESTS_DIR / "c" / "fuzz"


def _wrapper(bitcode: bytes) -> bytes:
    """The bitcode wrapper header (Darwin's format): magic, version, offset, size, cputype."""
    import struct

    return struct.pack("<IIIII", 0x0B17C0DE, 0, 20, len(bitcode), 7) + bitcode


@pytest.fixture(scope="session")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    bpfkit.require(bpfkit.have_clang(), "clang-16 and llvm-ar-16")
    d = tmp_path_factory.mktemp("fuzz-seeds")
    (d / "prog.c").write_text((SEED_DIR / "prog.c").read_text())
    (d / "helper.c").write_text((SEED_DIR / "helper.c").read_text())
    bc = bpfkit.compile_c(d / "prog.c", d / "prog.bc", extra=("-g",))
    helper_bc = bpfkit.compile_c(d / "helper.c", d / "fuzz_helper_with_a_long_name.bc")
    ll = bpfkit.compile_c(d / "prog.c", d / "prog.ll", form="ll")
    embed = bpfkit.compile_c(d / "prog.c", d / "prog.o", form="obj-embed")
    plain = bpfkit.compile_c(d / "helper.c", d / "lib.rmeta", form="obj")
    gnu = bpfkit.make_archive(d / "libgnu.a", [bc, helper_bc])
    nested = bpfkit.make_archive(d / "libnested.a", [gnu, helper_bc])
    rlib = bpfkit.make_archive(d / "libfake.rlib", [plain, helper_bc])
    bsd = d / "libbsd.a"
    bpfkit.run_tool([bpfkit.LLVM_AR, "--format=bsd", "rcs", bsd, bc, helper_bc])
    out = {p.name: p.read_bytes() for p in (bc, ll, embed, gnu, nested, rlib, bsd)}
    out["wrapper.bc"] = _wrapper(bc.read_bytes())
    # IR that parses but fails LLVM's verifier (a use before its definition).
    out["unverified.ll"] = (b'target triple = "bpf"\ndefine i32 @prog(ptr %ctx) section "tc" {\nentry:\n'
                            b"  %b = add i32 %a, 1\n  %a = add i32 1, 2\n  ret i32 %b\n}\n")
    out["llvmbc-past-end.o"] = _llvmbc_past_end(out["prog.o"])
    return out


def _llvmbc_past_end(elf: bytes) -> bytes:
    """An ELF whose .llvmbc section header claims more bytes than the file has."""
    import io
    import struct

    from elftools.elf.elffile import ELFFile

    parsed = ELFFile(io.BytesIO(elf))
    index = next(i for i, s in enumerate(parsed.iter_sections()) if s.name == ".llvmbc")
    data = bytearray(elf)
    struct.pack_into("<Q", data, parsed["e_shoff"] + index * parsed["e_shentsize"] + 32, len(elf) * 2)
    return bytes(data)


# --- mutations -----------------------------------------------------------------------------

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
               b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80", b"9999999999", b"-1", b"0", b"/", b"//", b"/0",
               b"/99999", b"#1/", b"#1/999", b"`\n", b"!<arch>\n", b"BC\xc0\xde", b"\xde\xc0\x17\x0b",
               b"\x7fELF", b"\n", b"define ", b"@", b"!", b"\"", b"%", b"{", b"}"]
MAGICS = [b"", b"BC\xc0\xde", b"\xde\xc0\x17\x0b", b"\x7fELF\x02\x01\x01", b"!<arch>\n", b"!<thin>\n",
          b"; ModuleID = 'x'\n", b"define i32 @f() {\n", b"target triple = \"bpf\"\n", b"!llvm"]

# Hypothesis favours small numbers; scattering them keeps mutations from piling up at offset 0.
position = st.integers(min_value=0, max_value=(1 << 32) - 1)


def _at(pos: int, size: int) -> int:
    return ((pos * 2654435761) & 0xFFFFFFFF) % (size + 1)

mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("overwrite"), position, st.sampled_from(INTERESTING)),
    st.tuples(st.just("overwrite"), position, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), position, st.binary(max_size=16)),
    st.tuples(st.just("delete"), position, st.integers(1, 64)),
    st.tuples(st.just("truncate"), position, st.just(0)),
    st.tuples(st.just("splice"), position, st.integers(0, 7)),
    st.tuples(st.just("lines"), position, st.integers(0, 3)),
)


def mutate(data: bytes, steps, seeds: dict[str, bytes]) -> bytes:
    buf = bytearray(data)
    for kind, pos, arg in steps:
        at = _at(pos, len(buf))
        if kind == "flip" and buf:
            buf[at % len(buf)] ^= arg
        elif kind == "overwrite":
            buf[at:at + len(arg)] = arg
        elif kind == "insert":
            buf[at:at] = arg
        elif kind == "delete":
            del buf[at:at + arg]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "splice":
            other = list(seeds.values())[arg % len(seeds)]
            buf[at:] = other[_at(pos >> 3, len(other)):]
        elif kind == "lines":
            lines = bytes(buf).split(b"\n")
            i = _at(pos, len(lines) - 1)
            if arg == 0:
                del lines[i]
            elif arg == 1:
                lines.insert(i, lines[i])
            elif arg == 2:
                j = _at(pos >> 5, len(lines) - 1)
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = lines[i][: len(lines[i]) // 2]
            buf = bytearray(b"\n".join(lines))
    return bytes(buf)


FLAG_SETS = [[], ["--emit", "llvm-ir"], ["--emit", "asm", "-O1"], ["--btf"], ["--no-btf", "--emit", "llvm-bc"],
             ["--export", "fuzz_prog,total", "--unroll-loops"]]


@st.composite
def cases(draw, seeds: dict[str, bytes]):
    """(description, input bytes, flags)."""
    flags = draw(st.sampled_from(FLAG_SETS))
    if draw(st.integers(0, 9)) == 0:
        magic = draw(st.sampled_from(MAGICS))
        return f"random bytes after {magic[:12]!r}", magic + draw(st.binary(min_size=1, max_size=512)), flags
    name = draw(st.sampled_from(sorted(seeds)))
    steps = draw(st.lists(mutation, min_size=1, max_size=4))
    return f"{name} mutated by {steps}", mutate(seeds[name], steps, seeds), flags


# --- running a batch -------------------------------------------------------------------------

# Runs in a fresh interpreter: libLLVM loaded once, then every case through cli.main with its
# stderr (Python and file descriptor 2) in a file of its own.
HARNESS = r"""
import io, json, os, signal, sys, time
from bpf_linker import cli
from bpf_linker.bindings import load_llvm

class CaseTimeout(BaseException):
    pass

def on_alarm(signum, frame):
    raise CaseTimeout()

load_llvm()
signal.signal(signal.SIGALRM, on_alarm)
cases = json.load(open(sys.argv[1]))
results = []
saved_fd, saved_stream = os.dup(2), sys.stderr
for case in cases:
    err = open(case["stderr"], "w", buffering=1)
    os.dup2(err.fileno(), 2)
    sys.stderr = err
    start = time.monotonic()
    signal.alarm(int(sys.argv[3]))
    try:
        status = cli.main(["-o", case["output"], *case["flags"], case["input"]])
    except CaseTimeout:
        status = "timeout"
    except BaseException as e:
        import traceback
        traceback.print_exc()
        status = "exception"
    finally:
        signal.alarm(0)
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        sys.stderr = saved_stream
        err.close()
    results.append({"status": status, "seconds": time.monotonic() - start})
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)
    if status == "timeout":
        break
"""


def run_batch(batch, workdir: Path, llvm: str) -> list[dict]:
    """Run [(description, data, flags)] through the harness; one result dict per case run."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec = []
    for i, (description, data, flags) in enumerate(batch):
        case_dir = workdir / f"case{i}"
        case_dir.mkdir()
        (case_dir / "input").write_bytes(data)
        (case_dir / "description").write_text(f"{description}\nflags: {flags}\n")
        spec.append({"input": str(case_dir / "input"), "output": str(case_dir / "out" / "result.o"),
                     "stderr": str(case_dir / "stderr"), "flags": flags})
        (case_dir / "out").mkdir()
    (workdir / "cases.json").write_text(json.dumps(spec))
    results_file = workdir / "results.json"
    env = dict(os.environ, PYTHONSAFEPATH="1", BPF_LINKER_LLVM=llvm)
    proc = subprocess.Popen([sys.executable, "-c", HARNESS, workdir / "cases.json", results_file, str(CASE_SECONDS)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CASE_SECONDS * (len(batch) + 2))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the harness and the worker it forked
        proc.communicate()
        pytest.fail(f"the fuzz harness hung (batch in {workdir})")
    assert proc.returncode == 0, f"harness failed: {err.decode(errors='replace')}"
    results = json.loads(results_file.read_text())
    for r, s in zip(results, spec):
        r["stderr"] = Path(s["stderr"]).read_text(errors="replace")
        r["output"] = s["output"]
        r["input"] = s["input"]
    return results


def check_case(description: str, flags, result: dict) -> None:
    """The contract of one CLI run (see the module docstring)."""
    where = (f"case: {description}\ninput: {result.get('input', '?')}\nflags: {flags}\n"
             f"stderr:\n{result['stderr']}")
    status, stderr, out = result["status"], result["stderr"], Path(result["output"])
    assert status in (0, 1), f"exit status {status!r}\n{where}"
    assert result["seconds"] < CASE_SECONDS, f"took {result['seconds']:.1f} s\n{where}"
    assert "Traceback" not in stderr, where
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert all(line.startswith("bpf-linker: ") for line in lines), f"raw output on stderr\n{where}"
    errors = [line for line in lines if line.startswith("bpf-linker: error: ")]
    leftovers = [p.name for p in out.parent.iterdir() if p.name != out.name]
    assert not leftovers, f"left {leftovers}\n{where}"
    if status == 1:
        assert len(errors) == 1, f"{len(errors)} error lines\n{where}"
        assert "internal error" not in errors[0], where
        assert not out.exists(), f"a failed link wrote {out}\n{where}"
    else:
        assert not errors, where
        data = out.read_bytes()
        emit = flags[flags.index("--emit") + 1] if "--emit" in flags else "obj"
        if emit == "obj":
            from io import BytesIO

            from elftools.elf.elffile import ELFFile

            elf = ELFFile(BytesIO(data))
            assert elf["e_machine"] == "EM_BPF", where
            list(elf.iter_sections())
        else:
            assert data, where



@pytest.mark.parametrize("llvm_name", ["llvm16", "llvm22"])
def test_fuzz_cli(seeds, tmp_path_factory, llvm_name):
    llvm = bpfkit.LLVM_LIBS[llvm_name]()
    bpfkit.require(llvm is not None, f"{llvm_name}: no libLLVM found")
    root = tmp_path_factory.mktemp(f"fuzz-{llvm_name}")
    counter = iter(range(1 << 30))
    outcomes = {0: 0, 1: 0}

    # No shrinking: a failure names its case and input file already, and shrinking a batch
    # of CLI runs would take minutes.
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.lists(cases(seeds), min_size=BATCH, max_size=BATCH))
    def fuzz(batch):
        results = run_batch(batch, root / f"batch{next(counter)}", llvm)
        for (description, _, flags), result in zip(batch, results):
            check_case(description, flags, result)
            outcomes[result["status"]] += 1
        assert len(results) == len(batch)

    start = time.monotonic()
    fuzz()
    print(f"{llvm_name}: {sum(outcomes.values())} cases ({outcomes[0]} linked, {outcomes[1]} clean errors) "
          f"in {time.monotonic() - start:.0f} s")


# --- regressions ------------------------------------------------------------------------------


def regression_inputs() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and p.suffix != ".md") \
        if REGRESSIONS.is_dir() else []


@pytest.mark.parametrize("path", regression_inputs(), ids=lambda p: p.name)
def test_regressions(path, llvm_lib, tmp_path):
    """Each input fuzzing once broke the contract on, through the real CLI (`python -m bpf_linker`)."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result.o"
    start = time.monotonic()
    r = bpfkit.run_linker("-o", out, path, llvm=llvm_lib, check=False)
    result = {"status": r.returncode, "stderr": r.stderr, "output": str(out),
              "seconds": time.monotonic() - start}
    check_case(f"regression {path.name}", [], result)
