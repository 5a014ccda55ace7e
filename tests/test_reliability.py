"""Hostile use: special outputs, invalid IR, unbounded inputs, signals, failing logs, odd names."""

from __future__ import annotations

import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

HEADER = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
PROG = 'SEC("tc") int prog(struct __sk_buff *skb) { return 7; }\nchar LICENSE[] SEC("license") = "GPL";\n'


@pytest.fixture(scope="module")
def prog_bc(tmp_path_factory):
    d = tmp_path_factory.mktemp("rel")
    src = d / "prog.c"
    src.write_text(HEADER + PROG)
    return bpfkit.compile_c(src, d / "prog.bc")


@pytest.fixture(scope="module")
def one_llvm():
    path = bpfkit.llvm16_path() or bpfkit.llvm22_path()
    bpfkit.require(path is not None, "a libLLVM")
    return path


def linker_cmd(*args):
    return [sys.executable, "-m", "bpf_linker", *map(str, args)]


def linker_env(llvm):
    env = dict(os.environ, BPF_LINKER_LLVM=str(llvm), PYTHONSAFEPATH="1")
    return env


def one_error(r) -> str:
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpf-linker: error: "), r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# --- outputs that are not regular files -------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_output_to_a_character_device_writes_into_it(one_llvm, prog_bc, tmp_path):
    dev = tmp_path / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    bpfkit.run_linker("-o", dev, prog_bc, llvm=one_llvm)
    assert stat.S_ISCHR(dev.stat().st_mode)
    assert dev.stat().st_rdev == os.makedev(1, 3)
    assert leftovers(tmp_path) == []


def test_output_to_a_fifo_reaches_its_reader(one_llvm, prog_bc, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = {}

    def read():
        with open(fifo, "rb") as f:
            got["data"] = f.read()

    reader = threading.Thread(target=read)
    reader.start()
    bpfkit.run_linker("-o", fifo, prog_bc, llvm=one_llvm)
    reader.join(30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    reference = tmp_path / "ref.o"
    bpfkit.run_linker("-o", reference, prog_bc, llvm=one_llvm)
    assert got["data"] == reference.read_bytes()


def test_dash_is_stdout(one_llvm, prog_bc, tmp_path):
    r = subprocess.run(linker_cmd("-o", "-", prog_bc), capture_output=True, env=linker_env(one_llvm))
    assert r.returncode == 0, r.stderr
    reference = tmp_path / "ref.o"
    bpfkit.run_linker("-o", reference, prog_bc, llvm=one_llvm)
    assert r.stdout == reference.read_bytes()
    assert not (Path.cwd() / "-").exists()


def test_dev_stdout_into_a_pipe(one_llvm, prog_bc):
    r = subprocess.run(linker_cmd("-o", "/dev/stdout", prog_bc), capture_output=True, env=linker_env(one_llvm))
    assert r.returncode == 0, r.stderr
    assert r.stdout[:4] == b"\x7fELF"
    assert os.path.islink("/dev/stdout")


def test_empty_output_path_is_an_error(one_llvm, prog_bc, tmp_path):
    r = bpfkit.run_linker("-o", "", prog_bc, llvm=one_llvm, check=False, cwd=tmp_path)
    assert "-o/--output: empty path" in one_error(r)
    assert list(tmp_path.iterdir()) == []


def test_longest_legal_output_name(one_llvm, prog_bc, tmp_path):
    out = tmp_path / ("o" * 253 + ".o")  # 255 bytes, the longest name ext4 allows
    bpfkit.run_linker("-o", out, prog_bc, llvm=one_llvm)
    assert out.read_bytes()[:4] == b"\x7fELF"
    assert leftovers(tmp_path) == []


# --- invalid IR ---------------------------------------------------------------------------

BAD_IR = textwrap.dedent("""\
    target triple = "bpf"
    define i32 @prog(ptr %ctx) section "tc" {
    entry:
      %b = add i32 %a, 1
      %a = add i32 1, 2
      ret i32 %b
    }
""")


def test_input_that_fails_the_verifier_is_an_error(llvm_lib, tmp_path):
    bad = tmp_path / "bad.ll"
    bad.write_text(BAD_IR)
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, bad, llvm=llvm_lib, check=False)
    line = one_error(r)
    assert f"{bad}: invalid IR (LLVM's verifier): Instruction does not dominate all uses!" in line
    assert not out.exists()


# --- unbounded inputs -----------------------------------------------------------------------

@pytest.mark.parametrize("args", [["/dev/zero"], ["--export-symbols", "/dev/zero", "{prog}"], ["@/dev/zero", "{prog}"]],
                         ids=["input", "export-symbols", "response-file"])
def test_dev_zero_fails_at_once(one_llvm, prog_bc, tmp_path, args):
    out = tmp_path / "out.o"
    argv = [a.format(prog=prog_bc) for a in args]
    started = time.monotonic()
    r = bpfkit.run_linker("-o", out, *argv, llvm=one_llvm, check=False)
    assert time.monotonic() - started < 20
    line = one_error(r)
    assert "/dev/zero" in line and "character device" in line
    assert not out.exists()


def test_zero_filled_file_is_refused_from_its_first_bytes(one_llvm, tmp_path):
    zeros = tmp_path / "zeros.bin"
    with open(zeros, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB of zeros costs no disk
    r = bpfkit.run_linker("-o", tmp_path / "out.o", zeros, llvm=one_llvm, check=False)
    assert f"{zeros}: unrecognized input" in one_error(r)


def test_input_larger_than_the_bound(monkeypatch, tmp_path):
    from bpf_linker import inputs
    from bpf_linker.errors import InputError

    big = tmp_path / "big.ll"
    big.write_bytes(b"; comment\n" * (300 << 10))  # 3 MiB of IR comments
    monkeypatch.setattr(inputs, "MAX_INPUT", 1 << 20)
    with pytest.raises(InputError, match=r"big\.ll: larger than 1 MiB, too large"):
        inputs.read_inputs([str(big)], __import__("logging").getLogger("t"))


def test_endless_stream_under_a_memory_limit_names_the_input(one_llvm, tmp_path):
    fifo = tmp_path / "endless.ll"
    os.mkfifo(fifo)
    stop = threading.Event()

    def feed():
        chunk = b"; an IR comment line that never ends the module\n" * 20000
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(chunk)
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (700 << 20, 700 << 20))"
    code = f"{limit}; import sys; from bpf_linker.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "-o", str(tmp_path / "out.o"), str(fifo)],
                       capture_output=True, text=True, env=linker_env(one_llvm), timeout=120)
    stop.set()
    line = one_error(r)
    assert str(fifo) in line and ("not enough memory" in line or "too large" in line), line


# --- signals -------------------------------------------------------------------------------

SPIN_PLUGIN = textwrap.dedent("""\
    from dataclasses import dataclass
    from bpf_linker import Pass

    @dataclass(frozen=True)
    class Spin(Pass):
        name = "spin"
        summary = "never ends"
        def run(self, module, ctx):
            while True:
                pass

    PASSES = [Spin]
""")


def _children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_spinning_link(one_llvm, prog_bc, tmp_path):
    plugin = tmp_path / "spin.py"
    plugin.write_text(SPIN_PLUGIN)
    out = tmp_path / "out.o"
    proc = subprocess.Popen(linker_cmd("--load-pass-plugin", plugin, "-p", "unpack-archives,link,spin,codegen",
                                       "-o", out, prog_bc),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=linker_env(one_llvm))
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:
        time.sleep(0.2)
        workers = _children_of(proc.pid)
    assert workers, "the link's worker did not start"
    time.sleep(0.5)  # into the spinning pass
    return proc, workers, out


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_stop_signal_mid_link(one_llvm, prog_bc, tmp_path, sig, status):
    proc, workers, out = _start_spinning_link(one_llvm, prog_bc, tmp_path)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpf-linker: error: "), err
    time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "the worker outlived the linker"
    assert not out.exists() and leftovers(tmp_path) == []


def test_worker_dies_with_a_killed_parent(one_llvm, prog_bc, tmp_path):
    proc, workers, _ = _start_spinning_link(one_llvm, prog_bc, tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "the worker outlived a SIGKILLed linker"


def test_signal_while_writing_removes_the_temporary(monkeypatch, tmp_path):
    from bpf_linker import output
    from bpf_linker.cli import Terminated

    target = tmp_path / "out.o"
    target.write_bytes(b"previous")

    def stopped(*args):
        raise Terminated(signal.SIGTERM)

    monkeypatch.setattr(output.os, "replace", stopped)
    with pytest.raises(Terminated):
        output.write_output(str(target), b"\x7fELF new")
    assert target.read_bytes() == b"previous"
    assert leftovers(tmp_path) == []


# --- logging ------------------------------------------------------------------------------

def test_unwritable_log_file_is_one_warning(one_llvm, prog_bc, tmp_path):
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, prog_bc, "--log-file", "/dev/full", "--log-level", "info", llvm=one_llvm)
    warnings = [line for line in r.stderr.splitlines() if "log file" in line]
    assert warnings == ["bpf-linker: warning: cannot write log file /dev/full: No space left on device; "
                        "no more lines are written to it"], r.stderr
    assert "Logging error" not in r.stderr and "Traceback" not in r.stderr
    assert out.read_bytes()[:4] == b"\x7fELF"


def test_log_file_in_a_missing_directory_is_one_warning(one_llvm, prog_bc, tmp_path):
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, prog_bc, "--log-file", tmp_path / "no" / "log", llvm=one_llvm)
    assert r.stderr.startswith("bpf-linker: warning: cannot open log file ")
    assert out.read_bytes()[:4] == b"\x7fELF"


# --- smaller ones -----------------------------------------------------------------------------

def test_llvmbc_past_the_end_is_malformed(one_llvm, tmp_path):
    src = tmp_path / "e.c"
    src.write_text(HEADER + PROG)
    obj = bpfkit.compile_c(src, tmp_path / "e.o", form="obj-embed")
    data = bytearray(obj.read_bytes())
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as f:
        elf = ELFFile(f)
        index = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".llvmbc")
        shoff, shentsize = elf["e_shoff"], elf["e_shentsize"]
    size_at = shoff + index * shentsize + 32  # Elf64_Shdr.sh_size
    struct.pack_into("<Q", data, size_at, len(data) * 4)
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    r = bpfkit.run_linker("-o", tmp_path / "out.o", bad, llvm=one_llvm, check=False)
    assert f"{bad}: malformed ELF: section .llvmbc" in one_error(r)


def test_newline_in_an_input_path_stays_one_line(one_llvm, tmp_path):
    weird = tmp_path / "a\nb.bc"
    weird.write_bytes(b"garbage that is no input")
    r = bpfkit.run_linker("-o", tmp_path / "out.o", weird, llvm=one_llvm, check=False)
    assert "a\\nb.bc: unrecognized input" in one_error(r)


def test_many_non_bitcode_members_are_summarized(one_llvm, prog_bc, tmp_path):
    members = []
    for i in range(2000):
        p = tmp_path / f"m{i}.txt"
        p.write_bytes(b"not bitcode\n")
        members.append(p)
    archive = tmp_path / "many.a"
    # `ar` from binutils is not guaranteed; llvm-ar is (requires_clang).
    subprocess.run([bpfkit.LLVM_AR, "rcS", archive, *members], check=True, capture_output=True)
    r = bpfkit.run_linker("-o", tmp_path / "out.o", prog_bc, archive, llvm=one_llvm)
    warnings = [line for line in r.stderr.splitlines() if line.startswith("bpf-linker: warning: ")]
    assert len(warnings) == 6, r.stderr
    assert warnings[-1] == ("bpf-linker: warning: skipped 1995 more non-bitcode archive members "
                            "(--log-level debug lists them)")


def test_garbage_bsd_member_name_is_cut(one_llvm, tmp_path):
    name = bytes(range(1, 256)) * 12
    body = name + b"payload"
    header = b"#1/" + str(len(name)).encode()
    header = header.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) + b"644".ljust(8)
    header += str(len(body)).encode().ljust(10) + b"`\n"
    archive = tmp_path / "bsd.a"
    archive.write_bytes(b"!<arch>\n" + header + body)
    r = bpfkit.run_linker("-o", tmp_path / "out.o", archive, llvm=one_llvm, check=False)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert [line.split(":")[1] for line in lines] == [" warning", " error"], r.stderr
    assert "no bitcode in the inputs" in lines[1]
    assert all(len(line) < 400 for line in lines), r.stderr


def test_failed_fork_is_one_line(monkeypatch):
    from bpf_linker import worker
    from bpf_linker.errors import BpfLinkerError

    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(worker.os, "fork", no_fork)
    with pytest.raises(BpfLinkerError, match=r"cannot start the link's worker process: Resource temporarily "
                                             r"unavailable \(fork failed; BPF_LINKER_IN_PROCESS=1"):
        worker.run_isolated(lambda progress: None, __import__("logging").getLogger("t"))


def test_output_directory_fails_before_the_link(one_llvm, tmp_path):
    # Checked before the inputs are even read: the missing input is not what is reported.
    r = bpfkit.run_linker("-o", tmp_path, tmp_path / "missing.bc", llvm=one_llvm, check=False)
    assert f"{tmp_path}: cannot write output: Is a directory" in one_error(r)
    r = bpfkit.run_linker("-o", tmp_path / "no" / "x.o", tmp_path / "missing.bc", llvm=one_llvm, check=False)
    assert f"{tmp_path / 'no' / 'x.o'}: cannot write output: {tmp_path / 'no'}: No such directory" in one_error(r)
