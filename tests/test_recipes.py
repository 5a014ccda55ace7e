"""The recipes of examples/: the C project's Makefile, the Rust crate's cargo config, the Python build script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

import bpfkit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
C_PROJECT = EXAMPLES / "c"
RUST_CRATE = EXAMPLES / "rust"
MINICORE = Path(__file__).resolve().parent / "rust" / "minicore.rs"

ETHERTYPE = 0x0800
PAYLOAD = bytes(range(1, 17))
FRAME = bytes(range(1, 13)) + ETHERTYPE.to_bytes(2, "big") + PAYLOAD + bytes(34)  # what `make load` sends


def expected(frame: bytes, weight: int = 3) -> int:
    """What every recipe's program returns: EtherType * weight + sum of payload[i] * (i + 1)."""
    ethertype = int.from_bytes(frame[12:14], "big")
    return ethertype * weight + sum(b * (i + 1) for i, b in enumerate(frame[14:30]))


def tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def run(cmd, *, cwd=None, env=None) -> subprocess.CompletedProcess:
    return bpfkit.run_tool(cmd, cwd=cwd, env=env)


# -- (a) examples/c: a Makefile project ----------------------------------------------------------------

@pytest.mark.requires_clang
def test_c_makefile_builds_out_of_tree(tmp_path):
    bpfkit.require(shutil.which("make") is not None, "make")
    before = tree(C_PROJECT)
    build = tmp_path / "build"
    r = run(["make", "-C", C_PROJECT, f"O={build}"])
    assert "bpf-linker -o" in r.stdout
    assert sorted(p.name for p in build.iterdir()) == ["checksum.bc", "example.o", "main.bc", "parse.bc", "stats.bc"]
    assert tree(C_PROJECT) == before  # nothing written into the source tree
    symbols = bpfkit.elf_symbols(build / "example.o")
    assert symbols["classify"] == ("STB_GLOBAL", "STT_FUNC", "tc")
    assert symbols["packets"] == ("STB_GLOBAL", "STT_OBJECT", ".bss")  # user space's counter stays global
    assert symbols["packets_by_type"][2] == ".maps"
    # Helpers taking packet pointers are inlined across files or static in BTF, never global
    # (a global function is verified on its own, without its caller's packet bounds).
    btf = bpfkit.btf_dump(build / "example.o")
    assert not [line for line in btf.splitlines() if "FUNC '" in line and "linkage=global" in line
                and "FUNC 'classify'" not in line]
    again = run(["make", "-C", C_PROJECT, f"O={build}"])
    assert "Nothing to be done" in again.stdout
    if bpfkit.have_kernel_bpf():
        assert bpfkit.prog_run(build / "example.o", "classify", FRAME) == expected(FRAME) == 7640


@pytest.mark.requires_clang
@pytest.mark.requires_kernel_bpf
def test_c_makefile_load_target_runs_and_unpins(tmp_path):
    bpfkit.require(shutil.which("make") is not None, "make")
    pin = bpfkit.BPFFS / f"bpf_linker_recipe_{uuid.uuid4().hex[:12]}"
    build = tmp_path / "build"
    try:
        r = run(["make", "-C", C_PROJECT, f"O={build}", f"PIN={pin}", "load"])
        assert (build / "frame.bin").read_bytes() == FRAME
        assert f"Return value: {expected(FRAME)}," in r.stdout + r.stderr
        assert not pin.exists()
        # A failing run still removes the pin: a frame too short for BPF_PROG_TEST_RUN.
        (build / "frame.bin").write_bytes(b"\0" * 4)
        failed = subprocess.run(["make", "-C", str(C_PROJECT), f"O={build}", f"PIN={pin}", "load"],
                                capture_output=True, text=True)
        assert failed.returncode != 0
        assert not pin.exists()
    finally:
        if pin.exists():
            pin.unlink()
    run(["make", "-C", C_PROJECT, f"O={build}", "clean"])
    assert not build.exists()


# -- (b) examples/rust: cargo with bpf-linker as the linker -------------------------------------------

# The no_core crate root the test puts in place of src/main.rs (no rust-src here, so no core):
# minicore's lang items as a module, plus `partial_ord`, and the example's programs.rs unchanged.
NO_CORE_ROOT = """\
#![feature(no_core, lang_items, rustc_attrs, intrinsics, auto_traits)]
#![allow(internal_features)]
#![no_core]
#![no_main]
mod lang_items;
mod programs;
"""
PARTIAL_ORD = """
#[lang = "partial_ord"]
pub trait PartialOrd<Rhs: PointeeSized = Self>: PartialEq<Rhs> + PointeeSized {
    fn lt(&self, other: &Rhs) -> bool;
    fn le(&self, other: &Rhs) -> bool;
    fn gt(&self, other: &Rhs) -> bool;
    fn ge(&self, other: &Rhs) -> bool;
}
macro_rules! ord { ($($t:ty)*) => { $(impl PartialOrd for $t {
    #[inline] fn lt(&self, o: &$t) -> bool { (*self) < (*o) }
    #[inline] fn le(&self, o: &$t) -> bool { (*self) <= (*o) }
    #[inline] fn gt(&self, o: &$t) -> bool { (*self) > (*o) }
    #[inline] fn ge(&self, o: &$t) -> bool { (*self) >= (*o) }
})* } }
ord!(u8 u16 u32 u64 i32 i64 usize);
"""


def no_core_copy(tmp_path: Path) -> Path:
    """The example crate with a no_core root: Cargo.toml, .cargo/config.toml and src/programs.rs as they are."""
    crate = tmp_path / "crate"
    shutil.copytree(RUST_CRATE, crate, ignore=shutil.ignore_patterns("target", "Cargo.lock"))
    lang_items = [line for line in MINICORE.read_text().splitlines() if not line.startswith("#![")]
    (crate / "src" / "lang_items.rs").write_text("#![allow(dead_code)]\n" + "\n".join(lang_items) + PARTIAL_ORD)
    (crate / "src" / "main.rs").write_text(NO_CORE_ROOT)
    return crate


def rust_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)  # PATH: this environment's bpf-linker first (tests/conftest.py)
    env["RUSTC_BOOTSTRAP"] = "1"  # #![no_core] on stable rustc
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target")
    env.pop("BPF_LINKER_LLVM", None)
    env.pop(bpfkit.REQUIRE_ALL_ENV, None)
    return env


def cargo_config() -> dict:
    return tomllib.loads((RUST_CRATE / ".cargo" / "config.toml").read_text())


def test_rust_cargo_config_selects_bpf_linker():
    config = cargo_config()
    assert config["build"]["target"] == "bpfel-unknown-none"
    assert config["target"]["bpfel-unknown-none"]["linker"] == "bpf-linker"
    assert "link-arg=--btf" in config["target"]["bpfel-unknown-none"]["rustflags"]
    manifest = tomllib.loads((RUST_CRATE / "Cargo.toml").read_text())
    assert manifest["profile"]["release"]["panic"] == "abort"
    assert not manifest.get("dependencies")


@pytest.mark.requires_rustc
def test_rust_example_typechecks_against_core_on_the_host(tmp_path):
    """The crate as users build it (#![no_std], core, a panic handler): checked against the host's core."""
    run(["rustc", "--edition", "2021", "--crate-type", "bin", "--emit=metadata", "-C", "panic=abort", "-D", "warnings",
         RUST_CRATE / "src" / "main.rs", "--out-dir", tmp_path])


def build_rust(crate: Path, env: dict[str, str], tmp_path: Path, tool: str) -> tuple[Path, str]:
    """`cargo build --release --offline`, or the rustc command that cargo runs, from .cargo/config.toml."""
    if tool == "cargo":
        r = run(["cargo", "build", "--release", "--offline", "-v"], cwd=crate, env=env)
        return Path(env["CARGO_TARGET_DIR"]) / "bpfel-unknown-none" / "release" / "example", r.stderr
    config = cargo_config()
    target = config["build"]["target"]
    out = tmp_path / "example"
    cmd = ["rustc", "--edition", "2021", "--crate-type", "bin", "--crate-name", "example", "--target", target,
           "-C", "opt-level=3", "-C", "panic=abort", "-C", "debuginfo=2",
           "-C", f"linker={config['target'][target]['linker']}", *config["target"][target]["rustflags"],
           crate / "src" / "main.rs", "-o", out]
    r = run(cmd, env=env)
    return out, r.stderr


@pytest.mark.requires_rustc
@pytest.mark.parametrize("tool", ["cargo", "rustc"])
def test_rust_crate_builds_with_bpf_linker_and_runs(tool, tmp_path):
    """cargo 1.95 builds the no-dependency no_core crate offline; rustc with the config's flags is the fallback."""
    if tool == "cargo":
        bpfkit.require(shutil.which("cargo") is not None, "cargo")
        assert run(["cargo", "--version"]).stdout.startswith("cargo ")
    crate = no_core_copy(tmp_path)
    obj, log = build_rust(crate, rust_env(tmp_path), tmp_path, tool)
    if tool == "cargo":
        assert "-C linker=bpf-linker" in log and "-C link-arg=--btf" in log  # from .cargo/config.toml
    assert obj.read_bytes()[:4] == b"\x7fELF"
    symbols = bpfkit.elf_symbols(obj)
    assert symbols["example_tc"] == ("STB_GLOBAL", "STT_FUNC", "classifier")
    btf = bpfkit.btf_dump(obj)  # --btf: kernel-compatible BTF, the helper static
    assert "FUNC 'example_tc' type_id=" in btf
    assert next(line for line in btf.splitlines() if "FUNC 'payload_sum'" in line).endswith("linkage=static")
    if bpfkit.have_kernel_bpf():
        assert bpfkit.prog_run(obj, "example_tc", FRAME) == expected(FRAME) == 7640


# -- (c) examples/python/build.py: the Python API from a build script ----------------------------------

@pytest.mark.requires_clang
def test_python_build_script(tmp_path):
    out = tmp_path / "out"
    r = run([sys.executable, EXAMPLES / "python" / "build.py", out])
    assert f"{out / 'example.o'}: <LinkResult obj " in r.stdout
    assert "0 errors" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["checksum.bc", "example.o", "main.bc", "parse.bc", "stats.bc"]
    if bpfkit.have_kernel_bpf():
        assert bpfkit.prog_run(out / "example.o", "classify", FRAME) == expected(FRAME)


@pytest.mark.requires_clang
@pytest.mark.requires_kernel_bpf
def test_python_build_script_defsym_and_verify(tmp_path):
    out = tmp_path / "out"
    r = run([sys.executable, EXAMPLES / "python" / "build.py", out, "--weight", "5", "--verify"])
    assert "defsym{values=weight=5}" in r.stdout
    assert next(line for line in r.stdout.splitlines() if line.lstrip().startswith("classify")).endswith("ok")
    assert bpfkit.prog_run(out / "example.o", "classify", FRAME) == expected(FRAME, weight=5) == 11736


@pytest.mark.requires_clang
def test_python_build_script_reports_a_failed_link(tmp_path):
    r = subprocess.run([sys.executable, EXAMPLES / "python" / "build.py", tmp_path / "out", "--weight", str(1 << 32)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("build.py: ") and "weight" in r.stderr and "Traceback" not in r.stderr
