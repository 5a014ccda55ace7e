"""Old kernels (issue 11): unrolling after cross-file inlining, check-object, --target-kernel, --verify, --report."""

# The fixture tests/c/oldk is a two-file program whose noinline helpers (helpers.c) hold loops
# whose trip counts come from their caller (main.c). Each test links with the CLI in a
# subprocess, reads the object with bpfkit (independent of the linker's decoder) and
# bpf_linker.object_code, and runs programs with BPF_PROG_TEST_RUN. The module ends by checking
# that nothing it loaded is left in `bpftool prog list` or under /sys/fs/bpf.

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

import bpfkit
from bpf_linker.bpf_insn import cpu_level, decode, needs
from bpf_linker.object_code import ObjectCode

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

FILES = ["oldk/main.c", "oldk/helpers.c"]
OLD_FLAGS = ("--unroll-loops", "--ignore-inline-never", "--cpu", "v1")
PROG = "oldk_prog"
PACKETS = {
    "counting": bytes(range(64)),
    "zeros": b"\0" * 64,
    "ones": b"\xff" * 64,
    "mixed": bytes((i * 37 + 11) & 0xFF for i in range(64)),
    "short": b"\x05" * 20,  # shorter than 14 + 32 bytes: returns 1 before any helper
}
# Program names the module loads; none may be left in the kernel afterwards.
OUR_PROGRAMS = {"oldk_prog", "pinned_prog", "oob_prog", "varloop_prog", "pragma_prog", "many_a", "many_b",
                *(f"slow_prog_{c}" for c in "abcdef")}
EXIT_CANNOT_VERIFY = 77


@pytest.fixture(scope="module")
def one_llvm() -> str:
    path = bpfkit.llvm22_path() or bpfkit.llvm16_path()
    bpfkit.require(path is not None, "a libLLVM (16 or 22) with the BPF target")
    return path


@pytest.fixture(scope="module")
def link(cbuild, tmp_path_factory):
    """link(llvm, *flags, files=FILES, check=True) -> (CompletedProcess, output path); links memoized."""
    root = tmp_path_factory.mktemp("oldk")
    memo: dict[tuple, tuple] = {}

    def run(llvm, *flags, files=FILES, check=True):
        key = (llvm, flags, tuple(files), check)
        if key not in memo:
            out = root / f"out{len(memo)}.o"
            inputs = [cbuild.build(f, "bc") for f in files]
            r = bpfkit.run_linker("-o", out, *flags, *inputs, llvm=llvm, check=check)
            memo[key] = (r, out)
        return memo[key]

    return run


def marked_line(rel: str) -> int:
    """The line of tests/c/<rel> marked LOOP-HERE."""
    lines = (bpfkit.C_DIR / rel).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "/* LOOP-HERE */" in line)


def local_calls(path) -> list:
    return [c for c in bpfkit.bpf_calls(path) if c["kind"] == "local"]


def newest_cpu_needed(path) -> int:
    obj = ObjectCode(path.read_bytes())
    return max([1] + [n.level for f in obj.functions for i in f.insns if (n := needs(i)) is not None])


def bpffs_entries() -> set[str]:
    return set(os.listdir(bpfkit.BPFFS)) if bpfkit.BPFFS.is_dir() else set()


def kernel_programs() -> set[str]:
    r = subprocess.run([bpfkit.BPFTOOL, "-j", "prog", "list"], capture_output=True, text=True)
    return {p.get("name", "") for p in json.loads(r.stdout or "[]")} if r.returncode == 0 else set()


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind():
    """After the module: none of its programs in the kernel, no new entry under /sys/fs/bpf it made."""
    before = bpffs_entries()
    yield
    if not bpfkit.have_kernel_bpf():
        return
    assert kernel_programs() & OUR_PROGRAMS == set()
    # Other test runs on this machine pin under bpfkit_<pid>_*; anything else new would be ours.
    assert {e for e in bpffs_entries() - before if not e.startswith("bpfkit_")} == set()


# --------------------------------------------------------------------------- item 1: unroll after inlining

def test_default_build_keeps_the_helpers_calls_and_loops(llvm_lib, link):
    """The fixture proves the point: without flags, four calls and four loops (one per helper)."""
    _, out = link(llvm_lib)
    assert len(local_calls(out)) == 4
    assert {c.target for c in ObjectCode(out.read_bytes()).local_calls()} == {"hash_bytes", "mix_rounds",
                                                                              "fold_bits", "first_zero"}
    assert {j["function"] for j in bpfkit.backward_jumps(out)} == {"hash_bytes", "mix_rounds", "fold_bits",
                                                                   "first_zero"}


def test_old_kernel_flags_leave_no_call_no_loop_no_32bit_instruction(llvm_lib, link):
    """--unroll-loops --ignore-inline-never --cpu v1: trip counts known only after inlining are unrolled too."""
    r, out = link(llvm_lib, *OLD_FLAGS)
    assert local_calls(out) == []
    assert bpfkit.backward_jumps(out) == [], bpfkit.disasm(out)
    assert bpfkit.cpu_v3_insns(out) == {"alu32": 0, "jmp32": 0}
    assert newest_cpu_needed(out) == 1


@pytest.mark.requires_kernel_bpf
def test_old_kernel_build_returns_what_the_default_build_returns(llvm_lib, link):
    _, default = link(llvm_lib)
    _, old = link(llvm_lib, *OLD_FLAGS)
    for name, data in PACKETS.items():
        assert bpfkit.prog_run(old, PROG, data) == bpfkit.prog_run(default, PROG, data), name


def test_unroll_runs_after_optimize_and_the_object_is_checked():
    r = bpfkit.run_linker("--print-pipeline", *OLD_FLAGS)
    passes = [p.split("{")[0] for p in r.stdout.strip().split(",")]
    assert passes.index("ignore-noinline") < passes.index("optimize") < passes.index("unroll-loops")
    assert r.stdout.strip().endswith("codegen,check-object{no-calls=true no-loops=true}")


# --------------------------------------------------------------------------- item 2: what is left fails the link

def test_data_dependent_loop_fails_naming_its_source_line(llvm_lib, link):
    r, out = link(llvm_lib, "--unroll-loops", files=["oldk/varloop.c"], check=False)
    line = marked_line("oldk/varloop.c")
    assert r.returncode == 1, r.stderr
    assert (f"error: loop at varloop.c:{line} in varloop_prog was not unrolled: trip count unknown"
            in r.stderr), r.stderr
    assert not out.exists()


def test_fatal_errors_false_turns_the_failure_into_a_warning(one_llvm, link):
    r, out = link(one_llvm, "--unroll-loops", "--fatal-errors=false", files=["oldk/varloop.c"], check=False)
    assert r.returncode == 0, r.stderr
    assert f"warning: loop at varloop.c:{marked_line('oldk/varloop.c')} in varloop_prog" in r.stderr
    assert bpfkit.backward_jumps(out)


def test_loop_marked_unroll_disable_is_reported(llvm_lib, link):
    r, out = link(llvm_lib, "--unroll-loops", files=["oldk/pragma.c"], check=False)
    assert r.returncode == 1
    assert (f"loop at pragma.c:{marked_line('oldk/pragma.c')} in pragma_prog was not unrolled: "
            "it is marked '#pragma clang loop unroll(disable)'") in r.stderr, r.stderr


def test_ignore_inline_never_inlines_a_helper_the_inliner_would_keep(llvm_lib, link):
    """many.c calls a big helper five times: alwaysinline copies it into every call site."""
    r, out = link(llvm_lib, "--ignore-inline-never", files=["oldk/many.c"])
    assert local_calls(out) == []
    upstream = ("unpack-archives,link,internalize,ignore-noinline{always-inline=false},optimize,btf,"
                "check-undefined,codegen,check-object{no-calls=true}")
    r, _ = link(llvm_lib, "-p", upstream, files=["oldk/many.c"], check=False)
    assert r.returncode == 1
    line = next(i for i, text in enumerate((bpfkit.C_DIR / "oldk/many.c").read_text().splitlines(), 1)
                if "CALLS-HERE" in text)
    assert f"call to big_mix at many.c:{line} in many_a was not inlined" in r.stderr, r.stderr
    assert "(3 times)" in r.stderr


def test_call_left_names_caller_callee_and_line(one_llvm, link):
    """check-object{no-calls=true} without --ignore-inline-never: each noinline call is one line."""
    pipeline = ("unpack-archives,link,internalize,optimize,btf,check-undefined,codegen,"
                "check-object{no-calls=true}")
    r, _ = link(one_llvm, "-p", pipeline, check=False)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("bpf-linker: error: call to ")]
    assert len(lines) == 4, r.stderr
    assert any("call to hash_bytes at main.c:" in line and "in oldk_prog was not inlined" in line for line in lines)


def test_instructions_beyond_the_cpu_are_named(one_llvm, link):
    """Code for cpu v3 checked against v1: its ALU32 and JMP32 instructions are reported."""
    pipeline = ("unpack-archives,link,internalize,ignore-noinline,optimize,unroll-loops,btf,check-undefined,"
                "codegen,check-object{cpu=v1}")
    r, _ = link(one_llvm, "--cpu", "v3", "-p", pipeline, check=False)
    assert r.returncode == 1
    assert "needs cpu v3 (kernel 5.1), beyond cpu v1" in r.stderr, r.stderr
    assert "instruction 'alu32 " in r.stderr and "in oldk_prog" in r.stderr


# --------------------------------------------------------------------------- item 3: --target-kernel

@pytest.mark.parametrize("kernel", ["4.14", "5.2"])
def test_target_kernel_objects_follow_that_kernels_rules(llvm_lib, link, kernel):
    r, out = link(llvm_lib, "--target-kernel", kernel)
    assert r.returncode == 0, r.stderr
    assert bpfkit.backward_jumps(out) == []                     # no bounded loops before 5.3
    if kernel == "4.14":
        assert local_calls(out) == []                           # no BPF-to-BPF calls before 4.16
        assert bpfkit.cpu_v3_insns(out) == {"alu32": 0, "jmp32": 0}
        assert newest_cpu_needed(out) <= 2                      # jlt & co. arrived in 4.14
    else:
        assert newest_cpu_needed(out) == 3                      # 5.1 runs JMP32 and ALU32: used
    obj = ObjectCode(out.read_bytes())
    assert all(sum(i.size // 8 for f in obj.reachable(p) for i in f.insns) <= 4096 for p in obj.programs)


@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("kernel", ["4.14", "5.2"])
def test_target_kernel_objects_run_like_the_default_build(one_llvm, link, kernel):
    _, default = link(one_llvm)
    _, out = link(one_llvm, "--target-kernel", kernel)
    for name, data in PACKETS.items():
        assert bpfkit.prog_run(out, PROG, data) == bpfkit.prog_run(default, PROG, data), name


def test_print_pipeline_shows_what_the_target_kernel_chose():
    def pipeline(*flags):
        return bpfkit.run_linker("--print-pipeline", *flags).stdout.strip()

    assert pipeline("--target-kernel", "4.14").endswith(
        "ignore-noinline,optimize,unroll-loops,expand-memcpy,btf,check-undefined,codegen,"
        "check-object{no-calls=true no-loops=true cpu=v2 kernel=4.14}")
    five_two = pipeline("--target-kernel", "5.2")
    assert "ignore-noinline" not in five_two
    assert five_two.endswith("optimize,unroll-loops,expand-memcpy,btf,check-undefined,codegen,"
                             "check-object{no-loops=true cpu=v3 kernel=5.2}")
    assert pipeline("--target-kernel", "6.6").endswith("codegen,check-object{cpu=v4 kernel=6.6}")


def test_global_data_before_5_2_is_refused(one_llvm, link):
    """tests/c/split keeps a .rodata table and a .bss counter: global data needs kernel 5.2."""
    r, out = link(one_llvm, "--target-kernel", "5.1", files=["split/main.c", "split/helpers.c"], check=False)
    assert r.returncode == 1
    assert "needs kernel 5.2" in r.stderr and "global variable '" in r.stderr, r.stderr
    assert not out.exists()


def test_target_kernel_rejects_a_bad_version(one_llvm):
    for bad, why in (("five", "invalid --target-kernel 'five'"), ("3.10", "have no eBPF")):
        r = bpfkit.run_linker("--print-pipeline", "--target-kernel", bad, llvm=one_llvm, check=False)
        assert r.returncode == 1 and why in r.stderr, r.stderr


# --------------------------------------------------------------------------- item 4: --verify

@pytest.mark.requires_kernel_bpf
def test_verify_accepts_a_good_object(one_llvm, link):
    r, out = link(one_llvm, *OLD_FLAGS, "--verify")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.strip().startswith(PROG)]
    assert len(rows) == 1, r.stdout
    name, section, kind, insns, verified, result = rows[0]
    assert (section, kind, result) == ("tc", "sched_cls", "ok")
    assert int(insns) == sum(i.size // 8 for f in ObjectCode(out.read_bytes()).functions for i in f.insns)
    assert int(verified) > 0
    assert out.is_file()


@pytest.mark.requires_kernel_bpf
def test_verify_leaves_no_pin_for_a_pinned_map(one_llvm, link):
    r, _ = link(one_llvm, "--verify", files=["oldk/pinned.c"])
    assert " ok" in r.stdout, r.stdout
    assert "oldk_pinned_map" not in bpffs_entries()


@pytest.mark.requires_kernel_bpf
def test_verify_rejection_exits_1_with_the_verifiers_reason(one_llvm, link):
    r, out = link(one_llvm, "--verify", files=["bad/oob.c"], check=False)
    assert r.returncode == 1, r.stderr
    error = [line for line in r.stderr.splitlines() if line.startswith("bpf-linker: error:")]
    assert len(error) == 1 and "verifier rejected oob_prog (tc)" in error[0], r.stderr
    assert "invalid access to packet" in error[0]
    assert "rejected (EACCES)" in r.stdout and "verifier log of oob_prog" in r.stdout
    assert "R1 offset is outside of the packet" in r.stdout
    assert not out.exists()


def test_verify_without_libbpf_exits_77(one_llvm, cbuild, tmp_path):
    out = tmp_path / "x.o"
    env = dict(os.environ, BPF_LINKER_LIBBPF=str(tmp_path / "libbpf.so.1"), BPF_LINKER_LLVM=one_llvm,
               PYTHONSAFEPATH="1")
    r = subprocess.run([sys.executable, "-m", "bpf_linker", "-o", str(out), "--verify",
                        str(cbuild.build("oldk/pinned.c"))], capture_output=True, text=True, env=env)
    assert r.returncode == EXIT_CANNOT_VERIFY, r.stderr
    assert r.stderr.count("\n") == 1 and "no libbpf 1.0+" in r.stderr, r.stderr
    assert not out.exists()


@pytest.mark.requires_kernel_bpf
def test_verify_without_the_right_to_load_exits_77(one_llvm, cbuild, tmp_path):
    """Root without capabilities (setpriv --bounding-set=-all) may not load programs."""
    bpfkit.require(os.path.exists("/usr/bin/setpriv"), "setpriv (util-linux)")
    out = tmp_path / "x.o"
    env = dict(os.environ, BPF_LINKER_LLVM=one_llvm, PYTHONSAFEPATH="1")
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", sys.executable,
                        "-m", "bpf_linker", "-o", str(out), "--verify", str(cbuild.build("oldk/pinned.c"))],
                       capture_output=True, text=True, env=env)
    assert r.returncode == EXIT_CANNOT_VERIFY, r.stderr
    assert r.stderr.count("\n") == 1 and "does not let this process load BPF programs" in r.stderr, r.stderr


@pytest.mark.requires_kernel_bpf
def test_interrupted_verify_leaves_nothing_in_the_kernel(one_llvm, cbuild, tmp_path):
    """Ctrl-C (SIGINT to the process group) at several points of a --verify of six slow programs."""
    env = dict(os.environ, BPF_LINKER_LLVM=one_llvm, PYTHONSAFEPATH="1")
    cmd = [sys.executable, "-m", "bpf_linker", "-o", str(tmp_path / "slow.o"), "--verify",
           str(cbuild.build("oldk/slow.c"))]
    start = time.monotonic()
    full = subprocess.run(cmd, capture_output=True, text=True, env=env)
    took = time.monotonic() - start
    assert full.returncode == 0 and full.stdout.count(" ok") == 6, full.stdout + full.stderr
    before = bpffs_entries()
    for fraction in (0.4, 0.6, 0.8, 0.95):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        time.sleep(took * fraction)
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=120)
        assert p.returncode in (0, 128 + signal.SIGINT), err
        # The kernel frees a program after its last descriptor closes, a moment later (RCU).
        deadline = time.monotonic() + 5
        while {n for n in kernel_programs() if n.startswith("slow_prog")} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {n for n in kernel_programs() if n.startswith("slow_prog")} == set()
        assert {e for e in bpffs_entries() - before if not e.startswith("bpfkit_")} == set()


# --------------------------------------------------------------------------- item 5: --report

def test_report_counts_and_shares(one_llvm, link):
    r, out = link(one_llvm, "--report")
    text = r.stdout
    row = next(line.split() for line in text.splitlines() if line.strip().startswith(PROG))
    obj = ObjectCode(out.read_bytes())
    total = sum(i.size // 8 for f in obj.functions for i in f.insns)
    assert row[:2] == [PROG, "tc"] and int(row[2]) == total
    assert (int(row[4]), int(row[5])) == (4, 4)                   # calls and loops left
    shares = {line.split()[0]: line.split() for line in text.splitlines()
              if line.strip().split()[:1] in (["main.c"], ["helpers.c"])}
    assert set(shares) == {"main.c", "helpers.c"}
    assert shares["helpers.c"][3:] == ["oldk__helpers.bc"] and shares["main.c"][3:] == ["oldk__main.bc"]
    assert sum(int(s[1]) for s in shares.values()) == total


def test_report_is_printed_for_a_link_that_fails(one_llvm, link):
    r, _ = link(one_llvm, "--unroll-loops", "--report", files=["oldk/varloop.c"], check=False)
    assert r.returncode == 1
    row = next(line.split() for line in r.stdout.splitlines() if line.strip().startswith("varloop_prog"))
    assert int(row[5]) >= 1                                        # the loop left


def test_cpu_levels():
    assert [cpu_level(c) for c in ("generic", "v1", "v2", "v3", "v4")] == [1, 1, 2, 3, 4]


@pytest.mark.parametrize("code, off, imm, level, what", [
    (0x07, 0, 1, None, ""),               # r0 += 1
    (0xD4, 0, 32, None, ""),              # le32 r0: byte swaps exist at every cpu
    (0xDB, 0, 0, None, ""),               # lock *(u64 *)(r0 + 0) += r1
    (0xAD, 2, 0, 2, "jlt"),               # if r0 < r1 goto +2
    (0x0C, 0, 0, 3, "alu32 add"),         # w0 += w1
    (0x1E, 2, 0, 3, "jmp32 jeq"),         # if w0 == w1 goto +2
    (0xDB, 0, 1, 3, "atomic fetch_add"),  # r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)
    (0x91, 4, 0, 4, "ldxsx"),             # r0 = *(s8 *)(r1 + 4)
    (0xBF, 8, 0, 4, "movsx"),             # r0 = (s8)r1
    (0x3F, 1, 0, 4, "sdiv"),              # r0 s/= r1
    (0xD7, 0, 32, 4, "bswap"),            # bswap32 r0
    (0x06, 0, -3, 4, "gotol"),            # gotol -3
])
def test_instruction_needs(code, off, imm, level, what):
    """bpf_insn.needs on one encoded instruction: the CPU it needs beyond v1, and its name."""
    insn = decode(struct.pack("<BBhi", code, 0x10, off, imm))[0]
    need = needs(insn)
    assert (need.level, need.what) == (level, what) if level else need is None
    assert insn.is_backward_jump == (code == 0x06)


def test_v4_instructions_are_named_against_v3(link):
    """LLVM 22 at --cpu v4 emits sign-extending loads for flags/prog.c; a v3 check names them."""
    llvm = bpfkit.llvm22_path()
    bpfkit.require(llvm is not None, "libLLVM 22 (cpu v4)")
    pipeline = "unpack-archives,link,internalize,optimize,btf,check-undefined,codegen,check-object{cpu=v3}"
    r, _ = link(llvm, "--cpu", "v4", "-p", pipeline, files=["flags/prog.c", "flags/helper.c"], check=False)
    assert r.returncode == 1
    assert "instruction 'ldxsx' at prog.c:" in r.stderr and "needs cpu v4 (kernel 6.6), beyond cpu v3" in r.stderr, \
        r.stderr
