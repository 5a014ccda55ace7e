"""Rust drop-in (issue 3): rustc calls bpf-linker as its linker for no_core BPF crates.

The crates live in tests/rust/dropin (see each file's header); tests/rust/minicore.rs gives
them the lang items. rustc builds a `--crate-type=cdylib` for bpfel-unknown-none with
`-C linker=bpf-linker` (the console script, found on PATH) or with a wrapper script that
records the argument list rustc passes and the linker's stderr (rustc shows the linker's
output only when it fails). Expected return values come from the Rust source's arithmetic,
recomputed here in Python on the same packets.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

import bpfkit

RUST_DIR = bpfkit.TESTS_DIR / "rust"
DROPIN = RUST_DIR / "dropin"
TARGET = "bpfel-unknown-none"
# No std, core or panic machinery: build like this, always.
RUSTC_FLAGS = ("--target", TARGET, "-C", "panic=abort", "-C", "overflow-checks=off")
# What the invocation tests add with -C link-arg: it must come last in rustc's argv.
USER_LINK_ARGS = ("--fatal-errors=true", "--log-level=warn")


def linker_script() -> str | None:
    """The `bpf-linker` console script of this Python (its directory goes first on PATH)."""
    path = Path(sysconfig.get_path("scripts")) / "bpf-linker"
    return str(path) if path.exists() else shutil.which("bpf-linker")


def rust_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RUSTC_BOOTSTRAP"] = "1"
    env.pop(bpfkit.REQUIRE_ALL_ENV, None)
    # Automatic libLLVM discovery, as a cargo user gets it.
    env.pop("BPF_LINKER_LLVM", None)
    script = linker_script()
    if script:
        env["PATH"] = os.path.dirname(script) + os.pathsep + env.get("PATH", "")
    return env


WRAPPER = """#!/bin/sh
# Records rustc's argument list (NUL-separated) and the linker's stderr, then runs bpf-linker.
printf '%s\\0' "$@" > '{log}/argv'
bpf-linker "$@" 2> '{log}/stderr'
rc=$?
cat '{log}/stderr' >&2
exit $rc
"""


@dataclass
class Linked:
    """One rustc cdylib build."""

    out: Path
    cwd: Path
    rustc: subprocess.CompletedProcess
    argv: list[str] | None = None         # what rustc passed to the linker (wrapper builds)
    linker_stderr: str | None = None      # the linker's own stderr (wrapper builds)

    @property
    def ok(self) -> bool:
        return self.rustc.returncode == 0


class RustBuilder:
    """Builds minicore once, dependency rlibs and cdylibs on demand (memoized per session)."""

    def __init__(self, root: Path):
        self.root = root
        self.env = rust_env()
        self.core_dir = root / "minicore"
        self.core_dir.mkdir()
        self._memo: dict[tuple, object] = {}
        self.rustc([RUST_DIR / "minicore.rs", "--crate-type=rlib", "--crate-name", "minicore",
                    "-C", "opt-level=2", "-o", self.core_dir / "libminicore.rlib"], cwd=self.core_dir)

    def rustc(self, args, *, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
        cmd = ["rustc", *RUSTC_FLAGS, "-L", str(self.core_dir), *map(str, args)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=self.env)
        if check and r.returncode != 0:
            pytest.fail(f"rustc failed (exit {r.returncode}): {' '.join(cmd)}\n{r.stderr}", pytrace=False)
        return r

    def rlib(self, src: str, crate: str, opt: str, *, subdir: str | None = None, extra=()) -> Path:
        """lib<crate>.rlib from tests/rust/dropin/<src>, in <root>/<subdir or deps-O<opt>>."""
        key = ("rlib", src, crate, opt, subdir, tuple(extra))
        if key not in self._memo:
            d = self.root / (subdir or f"deps-O{opt}")
            d.mkdir(exist_ok=True)
            out = d / f"lib{crate}.rlib"
            self.rustc([DROPIN / src, "--crate-type=rlib", "--crate-name", crate, "-C", f"opt-level={opt}",
                        "-L", d, *extra, "-o", out], cwd=d)
            self._memo[key] = out
        return self._memo[key]

    def cdylib(self, src: str, name: str, opt: str, *, libdirs=(), wrapper: bool = False,
               link_args=(), extra=(), check: bool = True) -> Linked:
        """Build tests/rust/dropin/<src> as a cdylib in its own directory <root>/<name>.

        wrapper=True links through a wrapper script (argv and stderr recorded) and keeps
        rustc's temporary files (-C save-temps), so the link can be replayed by hand.
        """
        key = ("cdylib", src, name, opt, tuple(map(str, libdirs)), wrapper, tuple(link_args), tuple(extra))
        if key in self._memo:
            return self._memo[key]
        cwd = self.root / name
        cwd.mkdir()
        out = cwd / f"{name}.o"
        args = [DROPIN / src, "--crate-type=cdylib", "-C", f"opt-level={opt}", "-L", self.root / f"deps-O{opt}"]
        for d in libdirs:
            args += ["-L", d]
        if wrapper:
            log = cwd / "linker-log"
            log.mkdir()
            script = cwd / "wrap-linker.sh"
            script.write_text(WRAPPER.format(log=log))
            script.chmod(0o755)
            args += ["-C", f"linker={script}", "-C", "save-temps"]
        else:
            args += ["-C", "linker=bpf-linker"]
        for a in link_args:
            args += ["-C", f"link-arg={a}"]
        args += [*extra, "-o", out.name]
        r = self.rustc(args, cwd=cwd, check=check)
        linked = Linked(out=out, cwd=cwd, rustc=r)
        if wrapper:
            argv_file = cwd / "linker-log" / "argv"
            linked.argv = argv_file.read_bytes().decode().split("\0")[:-1] if argv_file.exists() else None
            stderr_file = cwd / "linker-log" / "stderr"
            linked.linker_stderr = stderr_file.read_text() if stderr_file.exists() else None
        self._memo[key] = linked
        return linked

    # -- the crates of tests/rust/dropin ----------------------------------------------------

    def progs(self, opt: str, **kw) -> Linked:
        """progs.rs (xdp, classifier and uprobe programs) over the pktlib rlib."""
        self.rlib("pktlib.rs", "pktlib", opt)
        tag = "-wrapped" if kw.get("wrapper") else ""
        return self.cdylib("progs.rs", f"progs-O{opt}{tag}", opt, **kw)

    def mem_builtins(self) -> Path:
        """memfuncs.rs as a #![compiler_builtins] crate (rustc does not export its symbols)."""
        return self.rlib("memfuncs.rs", "mem_builtins", "0", subdir="mem-builtins", extra=("--cfg", "builtins"))


@pytest.fixture(scope="session")
def rust(tmp_path_factory) -> RustBuilder:
    bpfkit.require(bpfkit.have_rustc(), "rustc with the bpfel-unknown-none target")
    bpfkit.require(linker_script() is not None, "the bpf-linker console script (pip install -e .)")
    return RustBuilder(tmp_path_factory.mktemp("rust"))


# --- the programs' arithmetic, recomputed -------------------------------------------------

def _mix(h: int, b: int) -> int:
    return ((h ^ b) * 31 + 7) & 0xFFFFFFFF


def _fold(data: bytes, seed: int) -> int:
    h = seed
    for b in data:
        h = _mix(h, b)
    return h


def expected_xdp(pkt: bytes) -> int:
    return 9999 if len(pkt) < 16 else _fold(pkt[:16], 0) & 0xFFFF


def expected_tc(pkt: bytes) -> int:
    return 7777 if len(pkt) < 22 else _fold(pkt[2:22], _mix(3, len(pkt))) & 0xFFFFF


PACKETS = {
    "counting": bytes(range(64)),
    "scrambled": bytes((i * 37 + 11) & 0xFF for i in range(90)),
    "short": b"\x5a" * 15,  # shorter than both programs need: the bounds-check branch
}


def test_expectations_are_not_trivial():
    values = {(expected_xdp(p), expected_tc(p)) for p in PACKETS.values()}
    assert len(values) == len(PACKETS)
    assert expected_xdp(PACKETS["counting"]) == 36672  # worked by hand once, kept as an anchor


# --- 1. rustc -C linker=bpf-linker: loads and runs ----------------------------------------

@pytest.mark.requires_rustc
@pytest.mark.requires_kernel_bpf
@pytest.mark.parametrize("opt", ["0", "2"])
def test_rustc_cdylib_loads_and_runs(rust, opt):
    linked = rust.progs(opt)
    for name, pkt in PACKETS.items():
        # prog_run loads every program of the object (the uprobe too) before running one.
        assert bpfkit.prog_run(linked.out, "rust_xdp", pkt) == expected_xdp(pkt), name
        assert bpfkit.prog_run(linked.out, "rust_tc", pkt) == expected_tc(pkt), name


# --- 2. aya program shapes ----------------------------------------------------------------

@pytest.mark.requires_rustc
@pytest.mark.parametrize("opt", ["0", "2"])
def test_programs_in_aya_sections_and_dependency_exports(rust, opt):
    syms = bpfkit.elf_symbols(rust.progs(opt).out)
    assert syms["rust_xdp"] == ("STB_GLOBAL", "STT_FUNC", "xdp")
    assert syms["rust_tc"] == ("STB_GLOBAL", "STT_FUNC", "classifier")
    assert syms["rust_connect"] == ("STB_GLOBAL", "STT_FUNC", "uprobe/connect")
    # #[no_mangle] functions of the dependency rlib: rustc exports them, so they stay global,
    # called (pktlib_mix) or not (pktlib_unused_export).
    assert syms["pktlib_mix"][:2] == ("STB_GLOBAL", "STT_FUNC")
    assert syms["pktlib_unused_export"][:2] == ("STB_GLOBAL", "STT_FUNC")
    # Plain Rust functions of the dependency: internal (or inlined away), and gone when unused.
    assert not [n for n in syms if "never_called" in n], syms
    assert all(syms[n][0] == "STB_LOCAL" for n in syms if "fold_bytes" in n), syms
    assert not [n for n, s in syms.items() if s[2] == "SHN_UNDEF"], syms
    # Nothing of minicore's lang items survives as a symbol.
    assert not [n for n in syms if "minicore" in n], syms


@pytest.mark.requires_rustc
def test_legacy_and_btf_map_sections(rust):
    """ELF level only: libbpf 1.x rejects legacy `maps/*` and `.maps` needs BTF."""
    out = rust.cdylib("maps.rs", "maps", "2").out
    syms = bpfkit.elf_symbols(out)
    assert syms["COUNTERS"] == ("STB_GLOBAL", "STT_OBJECT", "maps/counters")
    assert syms["RUST_BTF_MAP"] == ("STB_GLOBAL", "STT_OBJECT", ".maps")
    assert syms["maps_prog"] == ("STB_GLOBAL", "STT_FUNC", "xdp")
    # struct bpf_map_def { type = BPF_MAP_TYPE_ARRAY, key 4, value 8, max_entries 16, flags 0 }
    assert bpfkit.elf_section_data(out, "maps/counters") == struct.pack("<5I", 2, 4, 8, 16, 0)
    assert bpfkit.elf_section_data(out, ".maps") == bytes(32)  # four null pointers


# --- 5. rustc's invocation, recorded and replayed -------------------------------------------

@pytest.mark.requires_rustc
@pytest.mark.parametrize("opt", ["0", "2"])
def test_rustc_invocation_shape_and_quiet_link(rust, opt):
    linked = rust.progs(opt, wrapper=True, link_args=USER_LINK_ARGS)
    assert linked.ok, linked.rustc.stderr
    argv = linked.argv
    assert argv[0] == "--export-symbols" and Path(argv[1]).name == "symbols"
    assert [a for a in argv if Path(a).name == "symbols.o"], argv
    assert [a for a in argv if a.endswith(".rcgu.o")], argv
    assert [a for a in argv if Path(a).name == "libpktlib.rlib"], argv
    assert f"-O{opt}" in argv and "--debug" in argv
    assert tuple(argv[-len(USER_LINK_ARGS):]) == USER_LINK_ARGS, argv
    assert argv.index("--debug") < len(argv) - len(USER_LINK_ARGS)
    # rustc's export list names the programs and the dependency's #[no_mangle] functions.
    exported = set(Path(argv[1]).read_text().split("\n"))
    assert {"rust_xdp", "rust_tc", "rust_connect", "pktlib_mix", "pktlib_unused_export"} <= exported
    # symbols.o (no bitcode) and the rlibs' lib.rmeta members are skipped without a word.
    assert linked.linker_stderr == ""
    assert bpfkit.elf_symbols(linked.out)["rust_xdp"] == ("STB_GLOBAL", "STT_FUNC", "xdp")


def _replay(linked: Linked, out: Path, extra=(), llvm: str | None = None) -> subprocess.CompletedProcess:
    """Run the linker by hand with the argument list rustc used (output redirected)."""
    argv = list(linked.argv)
    argv[argv.index("-o") + 1] = str(out)
    env = rust_env()
    if llvm:
        env["BPF_LINKER_LLVM"] = llvm
    return subprocess.run([linker_script(), *argv, *extra], capture_output=True, text=True,
                          cwd=linked.cwd, env=env)


@pytest.mark.requires_rustc
@pytest.mark.parametrize("opt", ["0", "2"])
def test_replaying_rustcs_argv_gives_the_same_object(rust, opt, tmp_path):
    linked = rust.progs(opt, wrapper=True, link_args=USER_LINK_ARGS)
    assert linked.ok, linked.rustc.stderr
    out = tmp_path / "replay.o"
    r = _replay(linked, out, extra=["--log-level=info"])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == linked.out.read_bytes()
    # At info level still nothing about symbols.o or lib.rmeta, and no warning at all.
    lines = r.stderr.splitlines()
    assert not [line for line in lines if "warning" in line or "skipped" in line], r.stderr
    assert not [line for line in lines if "lib.rmeta" in line], r.stderr
    # rustc's -O0 bitcode (every local in an `alloca [N x i8]`) is recognized as unoptimized
    # and gets LLVM's full pipeline; -O2 bitcode only the post-link one.
    if opt == "0":
        assert "running 'default<O1>,dce' (unoptimized inputs: " in r.stderr, r.stderr
    else:
        assert "(inputs already optimized)" in r.stderr, r.stderr


# --- 4. LLVM versions: Rust's LLVM 22 bitcode ----------------------------------------------

@pytest.mark.requires_rustc
@pytest.mark.requires_llvm
@pytest.mark.parametrize("how", ["--llvm", "env"])
def test_llvm16_refuses_rust_bitcode_in_one_line(rust, tmp_path, how):
    llvm16 = bpfkit.llvm16_path()
    bpfkit.require(llvm16 is not None, "libLLVM 16")
    linked = rust.progs("2", wrapper=True, link_args=USER_LINK_ARGS)
    out = tmp_path / "old.o"
    if how == "--llvm":
        r = _replay(linked, out, extra=["--llvm", llvm16])
    else:
        r = _replay(linked, out, llvm=llvm16)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    line = lines[0]
    assert line.startswith("bpf-linker: error: ")
    rcgu = next(a for a in linked.argv if a.endswith(".rcgu.o"))
    assert rcgu in line
    assert "LLVM22" in line and "16.0" in line and "--llvm" in line
    assert not out.exists()


@pytest.mark.requires_llvm
def test_automatic_discovery_skips_a_library_older_than_the_inputs(tmp_path):
    llvm16, llvm22 = bpfkit.llvm16_path(), bpfkit.llvm22_path()
    bpfkit.require(llvm16 is not None and llvm22 is not None, "libLLVM 16 and 22")
    # Once by file name (libLLVM-16.so.1), once by probing a name that tells nothing.
    anonymous = tmp_path / "libanonymous.so"
    anonymous.symlink_to(llvm16)
    snippet = (
        "import sys\n"
        "import bpf_linker.bindings._ffi as ffi\n"
        "ffi.discovery_order = lambda explicit: [('system', sys.argv[1]), ('system', sys.argv[2])]\n"
        "print(ffi.load_llvm(None, min_major=22).major)\n"
    )
    env = dict(os.environ, PYTHONSAFEPATH="1")
    env.pop("BPF_LINKER_LLVM", None)
    for first in (llvm16, str(anonymous)):
        r = subprocess.run([sys.executable, "-c", snippet, first, llvm22], capture_output=True, text=True,
                           env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "22", (first, r.stdout, r.stderr)


# --- 3. memory builtins defined by dependencies -------------------------------------------

@pytest.mark.requires_rustc
@pytest.mark.requires_kernel_bpf
def test_memory_builtins_of_a_dependency_survive(rust):
    builtins = rust.mem_builtins()
    linked = rust.cdylib("memuser.rs", "memuser", "0", libdirs=[builtins.parent])
    syms = bpfkit.elf_symbols(linked.out)
    assert syms["memcpy"] == ("STB_GLOBAL", "STT_FUNC", ".text")
    assert syms["memset"] == ("STB_GLOBAL", "STT_FUNC", ".text")
    assert bpfkit.prog_run(linked.out, "mem_xdp", PACKETS["counting"]) == 2


@pytest.mark.requires_rustc
def test_disable_memory_builtins_drops_unused_ones(rust):
    builtins = rust.mem_builtins()
    linked = rust.cdylib("memuser.rs", "memuser-disabled", "0", libdirs=[builtins.parent],
                         wrapper=True, link_args=["--disable-memory-builtins"])
    assert linked.ok, linked.rustc.stderr
    assert linked.linker_stderr == ""  # default log level: nothing to say about symbols.o or lib.rmeta
    exported = set(Path(linked.argv[1]).read_text().split("\n"))
    assert "memcpy" not in exported  # as for the real compiler_builtins
    syms = bpfkit.elf_symbols(linked.out)
    assert "memcpy" not in syms and "memset" not in syms, syms
    assert syms["mem_xdp"] == ("STB_GLOBAL", "STT_FUNC", "xdp")


IDENTICAL_VARIANTS = {
    # rustc's default build, the duplicate is the same source under another crate name.
    "O0": ("0", ()),
    # Optimized, and the duplicate carries debug info: !dbg, #dbg_value records and
    # metadata numbers differ, the code does not. --no-btf keeps BTF out of this test.
    "O2-debuginfo": ("2", ("-C", "debuginfo=2")),
}


@pytest.mark.requires_rustc
@pytest.mark.parametrize("variant", sorted(IDENTICAL_VARIANTS))
def test_identical_duplicate_builtins_link(rust, variant):
    opt, other_flags = IDENTICAL_VARIANTS[variant]
    builtins = rust.rlib("memfuncs.rs", "mem_builtins", opt, subdir=f"mem-{variant}", extra=("--cfg", "builtins"))
    rust.rlib("memfuncs.rs", "mem_other", opt, subdir=f"mem-{variant}", extra=other_flags)
    linked = rust.cdylib("memuser.rs", f"memuser-same-{variant}", opt, libdirs=[builtins.parent], wrapper=True,
                         link_args=["--no-btf", "--log-level=info"], extra=("--cfg", "dup"))
    assert linked.ok, linked.rustc.stderr
    stderr = linked.linker_stderr
    inputs = {Path(a).name: a for a in linked.argv}
    first, second = inputs["libmem_other.rlib"], inputs["libmem_builtins.rlib"]
    assert linked.argv.index(first) < linked.argv.index(second)  # rustc puts compiler_builtins last
    for name in ("memcpy", "memset"):
        pattern = (rf"^bpf-linker: info: {name}: defined by {re.escape(first)}\([^)]*\.rcgu\.o\) and "
                   rf"{re.escape(second)}\([^)]*\.rcgu\.o\) with identical bodies; "
                   rf"using {re.escape(first)}\([^)]*\.rcgu\.o\)'s$")
        assert re.search(pattern, stderr, re.M), stderr
    syms = bpfkit.elf_symbols(linked.out)
    assert syms["memcpy"][:2] == ("STB_GLOBAL", "STT_FUNC")
    assert syms["memset"][:2] == ("STB_GLOBAL", "STT_FUNC")


@pytest.mark.requires_rustc
def test_different_duplicate_builtins_are_an_error(rust):
    builtins = rust.mem_builtins()
    other = rust.rlib("memfuncs_rev.rs", "mem_other", "0", subdir="mem-different")
    linked = rust.cdylib("memuser.rs", "memuser-different", "0", libdirs=[builtins.parent, other.parent],
                         wrapper=True, extra=("--cfg", "dup"), check=False)
    assert linked.rustc.returncode != 0
    lines = linked.linker_stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bpf-linker: error: duplicate symbol 'memcpy'"), lines
    assert "libmem_other.rlib(" in lines[0] and "libmem_builtins.rlib(" in lines[0]
    assert "different bodies" in lines[0]
    assert "duplicate symbol 'memcpy'" in linked.rustc.stderr  # rustc shows it to the user
    assert not linked.out.exists()


# --- the identical-body criterion, on IR text ---------------------------------------------

_MEMSET_IR = """target triple = "bpfel"
define internal void @{helper}(ptr %d, i8 %v) #0 {{
  %{x} = {op} i8 %v, 1
  store i8 %{x}, ptr %d, align 1
  ret void
}}
define ptr @memset(ptr %s, i32 %c, i64 %n) #1 {{
entry:
  %b = trunc i32 %c to i8
  call void @{helper}(ptr %s, i8 %b){attach}
  ret ptr %s
}}
define i32 @prog_{helper}(ptr %ctx) section "tc" {{
  ret i32 0
}}
attributes #0 = {{ noinline {attrs} }}
attributes #1 = {{ nounwind "no-builtins" }}
{meta}"""
_META = """!llvm.module.flags = !{!0}
!0 = !{i32 7, !"custom", i32 1}
!1 = !{!"unrelated"}
"""


def _memset_ir(helper, x="x", op="add", attrs="nounwind", attach=""):
    return _MEMSET_IR.format(helper=helper, x=x, op=op, attrs=attrs, attach=attach,
                             meta=_META if attach else "")


SECOND_MEMSET = {
    # other names for the internal helper and the local values, a metadata attachment
    "renamed": (True, _memset_ir("helper_b", x="renamed", attach=", !note !1")),
    "helper-differs": (False, _memset_ir("helper_c", op="xor")),
    "attributes-differ": (False, _memset_ir("helper_d", attrs="nounwind optsize")),
}


@pytest.mark.requires_llvm
@pytest.mark.parametrize("case", sorted(SECOND_MEMSET))
def test_duplicate_builtin_bodies_compared_through_internal_callees(llvm_lib, run_linker, tmp_path, case):
    identical, second_ir = SECOND_MEMSET[case]
    a, b, out = tmp_path / "a.ll", tmp_path / "b.ll", tmp_path / "out.o"
    a.write_text(_memset_ir("helper_a"))
    b.write_text(second_ir)
    r = run_linker(a, b, "-o", out, "--log-level=info", llvm=llvm_lib, check=False)
    if identical:
        assert r.returncode == 0, r.stderr
        assert f"memset: defined by {a} and {b} with identical bodies; using {a}'s" in r.stderr
        assert bpfkit.elf_symbols(out)["memset"][:2] == ("STB_GLOBAL", "STT_FUNC")
    else:
        assert r.returncode == 1
        assert f"duplicate symbol 'memset': defined in {a} and in {b} with different bodies" in r.stderr
        assert not out.exists()
