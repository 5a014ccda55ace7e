"""Start-up: the compiled cffi declarations, the discovery cache and what a plain link imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bpf_linker.bindings import _ffi

DECL_DIR = Path(_ffi.DECL_DIR)


def _decls(tmp_path) -> Path:
    decl = tmp_path / "decl"
    shutil.copytree(DECL_DIR, decl)
    return decl


# --------------------------------------------------------------------------- declarations

def test_compiled_declarations_are_generated_then_reused(tmp_path):
    decl, cache = _decls(tmp_path), tmp_path / "cache"
    first = _ffi.load_declarations(str(decl), str(cache))
    assert first.source == "generated" and Path(first.path).is_file()
    assert Path(first.path).parent == cache
    again = _ffi.load_declarations(str(decl), str(cache))
    assert (again.source, again.path) == ("cache", first.path)
    assert [p.name for p in cache.glob("*.code")] == [Path(first.path).name + f".{sys.implementation.cache_tag}.code"]
    assert type(again.ffi).__module__ != "cffi.api"  # _cffi_backend's FFI, no pycparser
    assert again.ffi.sizeof("LLVMModuleRef") == again.ffi.sizeof("void *")
    again.ffi.callback("LLVMFatalErrorHandler", lambda reason: None)


def test_a_changed_or_added_decl_file_selects_a_new_module(tmp_path):
    decl, cache = _decls(tmp_path), tmp_path / "cache"
    base = _ffi.load_declarations(str(decl), str(cache))
    core = decl / "core.h"
    core.write_text(core.read_text() + "void LLVMBpfLinkerTestDump(LLVMModuleRef M);\n")
    edited = _ffi.load_declarations(str(decl), str(cache))
    assert edited.source == "generated" and edited.path != base.path
    assert b"LLVMBpfLinkerTestDump" in Path(edited.path).read_bytes()
    (decl / "zz_more.h").write_text("LLVMBool LLVMBpfLinkerTestOnly(LLVMValueRef Val);\n")
    added = _ffi.load_declarations(str(decl), str(cache))
    assert added.source == "generated" and added.path not in (base.path, edited.path)
    assert b"LLVMBpfLinkerTestOnly" in Path(added.path).read_bytes()
    (decl / "zz_more.h").unlink()
    assert _ffi.load_declarations(str(decl), str(cache)).path == edited.path


def test_types_h_comes_first_then_the_rest_by_name(tmp_path):
    decl = _decls(tmp_path)
    # Sorts before types.h and uses its typedefs: loads only if types.h is read first.
    (decl / "a_first.h").write_text("LLVMTypeRef LLVMBpfLinkerTestFirst(LLVMContextRef C);\n")
    names = _ffi.decl_files(str(decl))
    assert names[0] == "types.h" and names[1:] == sorted(names[1:]) and "a_first.h" in names
    loaded = _ffi.load_declarations(str(decl), str(tmp_path / "cache"))
    assert loaded.source == "generated" and b"LLVMBpfLinkerTestFirst" in Path(loaded.path).read_bytes()


def test_unwritable_cache_falls_back_to_the_inline_cdef(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    loaded = _ffi.load_declarations(str(_decls(tmp_path)), str(blocker / "cache"))
    assert loaded.source == "inline" and loaded.path is None
    assert loaded.ffi.sizeof("LLVMBool") == 4


def test_no_home_directory_means_no_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # ignored, as the XDG spec says
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # no home directory either
    assert _ffi.cache_dir() is None
    assert _ffi.load_declarations(str(_decls(tmp_path))).source == "inline"
    cache = _ffi._DiscoveryCache()
    assert cache.path is None
    cache.put("rustc", ["key"], [], "value")
    assert cache.get("rustc", ["key"]) is None and sorted(p.name for p in tmp_path.iterdir()) == ["decl"]


def test_damaged_or_foreign_cached_module_is_not_used(tmp_path):
    decl, cache = _decls(tmp_path), tmp_path / "cache"
    path = Path(_ffi.load_declarations(str(decl), str(cache)).path)
    path.write_text("raise SystemExit('not cffi output')\n")
    again = _ffi.load_declarations(str(decl), str(cache))
    assert again.source == "generated" and b"_cffi_backend" in path.read_bytes()
    path.chmod(0o666)  # writable by others: never executed
    assert _ffi.load_declarations(str(decl), str(cache)).source == "generated"
    assert path.stat().st_mode & 0o022 == 0


# --------------------------------------------------------------------------- discovery cache

def _age(*paths, seconds: float = 30.0) -> None:
    """Move mtimes into the past, beyond the cache's 'changed a moment ago' window."""
    when = time.time() - seconds
    for p in paths:
        os.utime(p, (when, when), follow_symlinks=False)


@pytest.fixture
def fake_rustc(tmp_path):
    """A `rustc` on PATH that counts its calls and names tmp/sysroot; RUSTUP_HOME and the cache in tmp."""
    bindir, sysroot, calls = tmp_path / "bin", tmp_path / "sysroot", tmp_path / "calls"
    bindir.mkdir()
    (sysroot / "lib").mkdir(parents=True)
    rustc = bindir / "rustc"
    rustc.write_text(f"#!/bin/sh\necho x >> {calls}\necho {sysroot}\n")
    rustc.chmod(0o755)
    lib = sysroot / "lib" / "libLLVM.so.22.1-rust-1.0-stable"
    lib.symlink_to(os.path.realpath(sys.executable))  # any ELF file will do
    _age(rustc, lib, sysroot / "lib")
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", XDG_CACHE_HOME=str(tmp_path / "cache"),
               RUSTUP_HOME=str(tmp_path / "rustup"), PYTHONSAFEPATH="1")
    env.pop("RUSTUP_TOOLCHAIN", None)
    work = tmp_path / "work"
    work.mkdir()

    def candidates(**extra):
        r = subprocess.run([sys.executable, "-c", "import bpf_linker.bindings._ffi as f; "
                            "print('\\n'.join(f.rustc_llvm_candidates()))"],
                           env={**env, **extra}, cwd=work, capture_output=True, text=True, check=True)
        count = len(calls.read_text().splitlines()) if calls.exists() else 0
        return r.stdout.split(), count

    candidates.rustc, candidates.lib, candidates.sysroot, candidates.work = rustc, lib, sysroot, work
    return candidates


def test_rustc_sysroot_is_asked_once(fake_rustc):
    first, calls = fake_rustc()
    assert first == [str(fake_rustc.lib)] and calls == 1
    assert fake_rustc() == (first, 1)


def test_stale_discovery_entries_are_not_used(fake_rustc):
    fake_rustc()
    _age(fake_rustc.rustc, seconds=10)  # another rustc binary
    assert fake_rustc()[1] == 2
    assert fake_rustc(RUSTUP_TOOLCHAIN="nightly")[1] == 3  # another toolchain asked for
    toolchain = fake_rustc.work / "rust-toolchain.toml"
    toolchain.write_text('[toolchain]\nchannel = "beta"\n')
    _age(toolchain)
    assert fake_rustc()[1] == 4  # a directory override
    newer = fake_rustc.sysroot / "lib" / "libLLVM.so.23.1-rust-2.0-stable"
    newer.symlink_to(os.path.realpath(sys.executable))
    _age(newer, fake_rustc.sysroot / "lib")
    found, calls = fake_rustc()
    assert calls == 5 and found == [str(newer), str(fake_rustc.lib)]
    fake_rustc.lib.unlink()  # a library the entry names is gone: asked again, not answered from the cache
    _age(fake_rustc.sysroot / "lib", seconds=5)
    found, calls = fake_rustc()
    assert calls == 6 and found == [str(newer)]
    assert fake_rustc() == ([str(newer)], 6)


def test_entries_of_files_changed_a_moment_ago_are_not_written(tmp_path):
    cache = _ffi._DiscoveryCache(str(tmp_path / "discovery.marshal"))
    fresh, old = tmp_path / "fresh", tmp_path / "old"
    fresh.write_text("")
    old.write_text("")
    _age(old)
    cache.put("a", ["k"], [str(fresh)], "value")
    assert _ffi._DiscoveryCache(cache.path).get("a", ["k"]) is None
    cache.put("b", ["k"], [str(old)], "value")
    reread = _ffi._DiscoveryCache(cache.path)
    assert reread.get("b", ["k"]) == "value" and reread.get("b", ["other key"]) is None
    _age(old, seconds=10)
    assert _ffi._DiscoveryCache(cache.path).get("b", ["k"]) is None


# --------------------------------------------------------------------------- what a link imports

UNUSED_ON_A_PLAIN_LINK = ("cffi", "pycparser", "hypothesis", "importlib.metadata", "bpf_linker.llvm_options",
                          "subprocess")

_REPORT_IMPORTS = """
import sys
scans = []
if "importlib.metadata" in sys.modules:  # imported at start-up already: count the scans instead
    import importlib.metadata
    real = importlib.metadata.entry_points
    importlib.metadata.entry_points = lambda *a, **k: scans.append(k) or real(*a, **k)
from bpf_linker.cli import main
status = main(sys.argv[2:])
print(" ".join(sorted(m for m in sys.argv[1].split(",") if m in sys.modules)) or "-", len(scans))
sys.exit(status)
"""


@pytest.mark.requires_clang
@pytest.mark.requires_llvm
def test_a_plain_link_imports_only_what_it_uses(cbuild, tmp_path):
    """No cffi/pycparser (compiled declarations), no option validation without options to
    check, no subprocess (cached discovery), no entry-point scan without -p or plugins."""
    bare = subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sys.modules))"],
                          capture_output=True, text=True, check=True).stdout.split()
    watched = [m for m in UNUSED_ON_A_PLAIN_LINK if m not in bare]
    inputs = cbuild.inputs("split", ["main.c", "helpers.c"])
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONSAFEPATH="1")
    env.pop("BPF_LINKER_LLVM", None)
    runs = []
    for _ in range(2):  # the first run fills the caches
        r = subprocess.run([sys.executable, "-c", _REPORT_IMPORTS, ",".join(watched), "-o", tmp_path / "out.o",
                            *inputs], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        runs.append(r.stdout.split())
    assert runs[1] == ["-", "0"], f"a plain link imported {runs[1][0]}, scanned entry points {runs[1][1]} times"
    assert (tmp_path / "out.o").is_file()


@pytest.mark.requires_llvm
def test_default_discovery_finds_what_it_found_before(tmp_path):
    """--version twice with a fresh cache: the same library, by the same step."""
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONSAFEPATH="1")
    env.pop("BPF_LINKER_LLVM", None)
    lines = [subprocess.run([sys.executable, "-m", "bpf_linker", "--version"], env=env, capture_output=True,
                            text=True, check=True).stdout.splitlines()[-1] for _ in range(2)]
    assert lines[0] == lines[1] and lines[0].startswith("LLVM ")
    assert any(p.name.startswith("discovery-") for p in (tmp_path / "cache" / "bpf-linker-startup").iterdir())


def test_reading_bitcode_inputs_does_not_import_pyelftools(tmp_path):
    """pyelftools (~25 ms to import) is for ELF inputs; bitcode and IR inputs do without it."""
    bc = tmp_path / "x.bc"
    bc.write_bytes(b"BC\xc0\xde" + b"\0" * 60)
    script = ("import logging, sys; from bpf_linker.inputs import read_inputs; "
              "objs = read_inputs([sys.argv[1]], logging.getLogger('t')); "
              "print(len(objs), 'elftools' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", script, bc], capture_output=True, text=True, check=True,
                       env=dict(os.environ, PYTHONSAFEPATH="1"))
    assert r.stdout.split() == ["1", "False"]
