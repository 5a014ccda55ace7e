"""pytest setup: bpfkit importable, requirement markers, libLLVM, fixture-building and linker fixtures."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The `bpf-linker` console script of the environment running the tests comes first on PATH
# (rustc's `-C linker=bpf-linker` looks it up there), also when that venv is not activated.
os.environ["PATH"] = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])

import pytest  # noqa: E402

import bpfkit  # noqa: E402

# marker -> (probe, what is missing); markers are declared in pyproject.toml.
_REQUIREMENTS = {
    "requires_clang": (bpfkit.have_clang, "clang-16, llvm-ar-16 and llvm-objdump-16 (to build fixtures)"),
    "requires_kernel_bpf": (bpfkit.have_kernel_bpf, "root, bpftool and a bpffs at /sys/fs/bpf (to load BPF programs)"),
    "requires_llvm": (lambda: any(f() for f in bpfkit.LLVM_LIBS.values()), "a libLLVM (16 or 22) with the BPF target"),
    "requires_rustc": (bpfkit.have_rustc, "rustc with the bpfel-unknown-none target"),
}


def pytest_runtest_setup(item):
    """Skip (or, with BPF_LINKER_REQUIRE_ALL=1, fail) tests whose requirement markers are unmet."""
    for marker, (probe, what) in _REQUIREMENTS.items():
        if item.get_closest_marker(marker) is not None:
            bpfkit.require(probe(), what)


@pytest.fixture(params=sorted(bpfkit.LLVM_LIBS), ids=sorted(bpfkit.LLVM_LIBS))
def llvm_lib(request) -> str:
    """Path of a libLLVM to give the linker as BPF_LINKER_LLVM: llvm16, llvm19 and llvm22."""
    path = bpfkit.LLVM_LIBS[request.param]()
    bpfkit.require(path is not None, f"{request.param}: no libLLVM found")
    return path


@pytest.fixture
def run_linker():
    """bpfkit.run_linker(*args, llvm=None, check=True, cwd=None) -> CompletedProcess."""
    return bpfkit.run_linker


@pytest.fixture(scope="session")
def cbuild(tmp_path_factory) -> bpfkit.FixtureBuilder:
    """Builds the C fixtures of tests/c once per session (see bpfkit.FixtureBuilder)."""
    bpfkit.require(bpfkit.have_clang(), _REQUIREMENTS["requires_clang"][1])
    return bpfkit.FixtureBuilder(tmp_path_factory.mktemp("cfixtures"))


@pytest.fixture(scope="session")
def ref_run():
    """ref_run(obj, prog, data) -> r0, memoized: the reference objects are loaded once per input."""
    memo: dict[tuple, int] = {}

    def run(obj, prog_name, data):
        key = (str(obj), prog_name, bytes(data))
        if key not in memo:
            memo[key] = bpfkit.prog_run(obj, prog_name, data)
        return memo[key]

    return run
