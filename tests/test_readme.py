"""README's quick start runs as written: the C program of two files and an archive links, loads and returns 65."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import bpfkit

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    text = README.read_text()
    start = text.index("Quick start for C")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block, "README has no quick start block"
    return block.group(1)


@pytest.mark.requires_clang
@pytest.mark.requires_llvm
@pytest.mark.requires_kernel_bpf
def test_quick_start_for_c(tmp_path):
    script = quick_start()
    assert "bpf-linker -o prog.o main.bc libutil.a" in script
    # A pin name of our own, so parallel runs do not collide.
    pin = f"/sys/fs/bpf/readme_quickstart_{tmp_path.name}"
    script = script.replace("/sys/fs/bpf/quickstart", pin)
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Return value: 65\b", r.stdout, re.M), r.stdout + r.stderr
    assert not Path(pin).exists()
    assert bpfkit.elf_symbols(tmp_path / "prog.o")["prog"][:2] == ("STB_GLOBAL", "STT_FUNC")
