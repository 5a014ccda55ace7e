"""The wheel: built from a fresh copy, installed into a fresh venv, with its command, man page and types."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bpfkit

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bpf_linker", "passes", "bindings", "tools")


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built by pip from a copy of the sources (no build/ or .venv from this checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "build"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src])
    (found,) = out.glob("bpf_linker-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", env])
    run([env / "bin" / "python", "-m", "pip", "install", "-q", wheel])
    return env


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [n for n in names if n.endswith("/share/man/man1/bpf-linker.1")]
    assert data and data[0].startswith("bpf_linker-") and ".data/data/" in data[0]
    assert "bpf_linker/py.typed" in names
    assert "bpf_linker/bindings/decl/types.h" in names and "bpf_linker/passes/link.py" in names
    # Our folders are mapped under bpf_linker: nothing installs top-level `passes` or `bindings`.
    assert not [n for n in names if n.startswith(("passes/", "bindings/"))]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT OR Apache-2.0" in text


def test_man_page_sections(wheel):
    name = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("man1/bpf-linker.1"))
    page = zipfile.ZipFile(wheel).read(name).decode()
    assert page.startswith(".TH BPF\\-LINKER")
    for heading in ("ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert f'.SH "{heading}"' in page or f".SH {heading}" in page, heading
    assert "BPF_LINKER_LLVM" in page and "BPF_LINKER_LOG" in page and "BPF_LINKER_IN_PROCESS" in page
    assert "\\-\\-export" in page and "\\-\\-fatal\\-errors" in page


def test_installed_command_help_and_man(venv):
    r = run([venv / "bin" / "bpf-linker", "--help"])
    assert r.stdout.startswith("usage: bpf-linker ")
    env = dict(os.environ, MANPATH=str(venv / "share" / "man"), MANWIDTH="100", MANPAGER="cat", PAGER="cat")
    man = run(["man", "bpf-linker"], env=env)
    assert "static linker for BPF programs" in man.stdout
    assert "BPF_LINKER_LOG" in man.stdout


@pytest.mark.requires_clang
@pytest.mark.requires_llvm
def test_installed_command_links(venv, tmp_path):
    src = tmp_path / "p.c"
    src.write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n'
                   'SEC("tc") int prog(struct __sk_buff *s) { return 3; }\nchar LICENSE[] SEC("license") = "GPL";\n')
    bc = bpfkit.compile_c(src, tmp_path / "p.bc")
    out = tmp_path / "p.o"
    env = dict(os.environ, BPF_LINKER_LLVM=bpfkit.llvm16_path() or bpfkit.llvm22_path() or "")
    run([venv / "bin" / "bpf-linker", "-o", out, bc], env=env, cwd=tmp_path)
    assert bpfkit.elf_symbols(out)["prog"][:2] == ("STB_GLOBAL", "STT_FUNC")


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs the system python3")
def test_setup_script_with_the_system_python_first(tmp_path):
    """tools/setup.sh on a copy, Debian's python3 first on PATH (it refuses pip outside a venv),
    run from another directory and run twice: the venv it makes has a working bpf-linker."""
    src = tmp_path / "checkout"
    src.mkdir()
    for name in (*SOURCES, "examples"):
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "build"))
        else:
            shutil.copy2(path, src / name)
    env = dict(os.environ, PATH="/usr/bin:/bin:/usr/sbin:/sbin")
    env.pop("VIRTUAL_ENV", None)
    for _ in range(2):
        run(["bash", src / "tools" / "setup.sh"], env=env, cwd=tmp_path)
    python = src / ".venv" / "bin" / "python"
    base = run([python, "-c", "import sys; print(sys.base_prefix)"], env=env).stdout.strip()
    assert base == "/usr"
    r = run([src / ".venv" / "bin" / "bpf-linker", "--help"], env=env)
    assert r.stdout.startswith("usage: bpf-linker ")
    assert (src / "build" / "man" / "man1" / "bpf-linker.1").exists()
