"""The cffi declarations, libLLVM discovery and loading (one library per process)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import cffi

from bpf_linker.errors import LLVMNotFoundError

MIN_VERSION = 16
MAX_VERSION = 30
ENV_VAR = "BPF_LINKER_LLVM"

_DECL_DIR = Path(__file__).with_name("decl")
# types.h holds the typedefs every other file uses; the rest, one file per C API area, in name order.
_DECL_FILES = ("types.h", *sorted(p.name for p in _DECL_DIR.glob("*.h") if p.name != "types.h"))

ffi = cffi.FFI()
for _name in _DECL_FILES:
    ffi.cdef((_DECL_DIR / _name).read_text())


@dataclass
class Library:
    """A loaded libLLVM: the cffi `lib`, where it came from and its version."""

    lib: object
    path: str
    version: tuple[int, int, int]
    source: str  # "--llvm", "BPF_LINKER_LLVM", "rustc", "system"

    @property
    def major(self) -> int:
        return self.version[0]


_loaded: Library | None = None
_lock = threading.Lock()


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def rustc_llvm_candidates() -> list[str]:
    """libLLVM shipped in the sysroot of the `rustc` on PATH (not the linker-script .so)."""
    rustc = shutil.which("rustc")
    if not rustc:
        return []
    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    found = sorted(glob.glob(os.path.join(sysroot, "lib", "libLLVM*.so*")), reverse=True)
    return [p for p in found if _is_elf(p)]


def _system_dirs() -> list[str]:
    dirs = []
    for pattern in ("/usr/lib/*-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        dirs.extend(sorted(glob.glob(pattern)))
    return dirs


def system_llvm_candidates() -> list[str]:
    """System libLLVM shared libraries, newest major version first, down to MIN_VERSION."""
    found: list[str] = []
    for major in range(MAX_VERSION, MIN_VERSION - 1, -1):
        patterns = []
        for d in _system_dirs():
            patterns += [f"{d}/libLLVM.so.{major}.*", f"{d}/libLLVM-{major}.so*",
                         f"{d}/libLLVM-{major}.*.so*"]
        patterns += [f"/usr/lib/llvm-{major}/lib/libLLVM.so*", f"/usr/lib/llvm-{major}/lib/libLLVM-{major}.so*"]
        for pattern in patterns:
            for path in sorted(glob.glob(pattern)):
                real = os.path.realpath(path)
                if _is_elf(real) and real not in found:
                    found.append(real)
    return found


def discovery_order(explicit: str | None) -> list[tuple[str, str]]:
    """(source, path) candidates in the order they are tried."""
    if explicit:
        return [("--llvm", explicit)]
    env = os.environ.get(ENV_VAR)
    if env:
        return [(ENV_VAR, env)]
    return ([("rustc", p) for p in rustc_llvm_candidates()]
            + [("system", p) for p in system_llvm_candidates()])


def _version_from_name(path: str) -> int | None:
    """The major version a library's file name promises (libLLVM.so.22.1, libLLVM-16.so.1), if any."""
    m = re.search(r"libLLVM[-.](?:so\.)?(\d+)", os.path.basename(path))
    return int(m.group(1)) if m else None


def _open(path: str, source: str) -> Library:
    """dlopen one library and check it is a usable LLVM with the BPF target."""
    if not os.path.exists(path):
        raise LLVMNotFoundError(f"{path}: no such file ({source})")
    try:
        lib = ffi.dlopen(path)
    except OSError as e:
        raise LLVMNotFoundError(f"{path}: cannot load libLLVM ({source}): {e}") from None
    try:
        getattr(lib, "LLVMGetVersion")
    except AttributeError:
        raise LLVMNotFoundError(f"{path}: not libLLVM {MIN_VERSION} or newer ({source})") from None
    major, minor, patch = (ffi.new("unsigned *") for _ in range(3))
    lib.LLVMGetVersion(major, minor, patch)
    version = (major[0], minor[0], patch[0])
    if version[0] < MIN_VERSION:
        raise LLVMNotFoundError(f"{path}: LLVM {version[0]} is too old, {MIN_VERSION} or newer is needed ({source})")
    try:
        for part in ("TargetInfo", "Target", "TargetMC", "AsmPrinter", "AsmParser"):
            getattr(lib, f"LLVMInitializeBPF{part}")()
    except AttributeError:
        raise LLVMNotFoundError(f"{path}: LLVM {version[0]} was built without the BPF target ({source})") from None
    return Library(lib=lib, path=path, version=version, source=source)


def load_llvm(explicit: str | None = None, min_major: int | None = None) -> Library:
    """Find, load and initialize libLLVM once per process; later calls return the same library.

    Automatic discovery skips libraries older than `min_major` (they cannot read newer
    bitcode); an explicit choice (--llvm, BPF_LINKER_LLVM) is loaded as given.
    Asking for a different explicit library after one is loaded is an error: LLVM's
    command-line options and registries are process-global.
    """
    global _loaded
    with _lock:
        if _loaded is not None:
            if explicit and os.path.realpath(explicit) != os.path.realpath(_loaded.path):
                raise LLVMNotFoundError(
                    f"{explicit}: another libLLVM is already loaded in this process ({_loaded.path}); "
                    "run the link in a new process")
            return _loaded
        candidates = discovery_order(explicit)
        problems = []
        for source, path in candidates:
            automatic = source not in ("--llvm", ENV_VAR)
            named = _version_from_name(path)
            if automatic and min_major and named and named < min_major:
                problems.append(f"{path}: LLVM {named} is older than the inputs' LLVM {min_major}")
                continue
            try:
                _loaded = _open(path, source)
            except LLVMNotFoundError as e:
                if not automatic:
                    raise
                problems.append(str(e))
                continue
            if automatic and min_major and _loaded.major < min_major:
                problems.append(f"{path}: LLVM {_loaded.major} is older than the inputs' LLVM {min_major}")
                _loaded = None
                continue
            _install_fatal_error_handler(_loaded)
            return _loaded
        detail = "; ".join(problems) if problems else "none found"
        wanted = max(MIN_VERSION, min_major or 0)
        raise LLVMNotFoundError(
            f"no libLLVM {wanted}+ with the BPF target found (tried --llvm, ${ENV_VAR}, "
            f"rustc's sysroot, system libraries: {detail}); install libllvm{wanted} or newer, "
            f"or point --llvm / {ENV_VAR} at a libLLVM shared library")


_FATAL_PREFIX = b"bpf-linker: error: LLVM fatal error: "
# Where the fatal-error handler writes: stderr, or the real one while LLVM's is captured.
fatal_error_fd = 2


@ffi.callback("void(const char *)")
def _fatal_error_handler(reason):
    # LLVM aborts the process right after this returns; say why on one line and end with status 1.
    text = ffi.string(reason) if reason != ffi.NULL else b"unknown reason"
    text = re.sub(rb"\s+", b" ", text).strip()
    os.write(fatal_error_fd, _FATAL_PREFIX + text + b"\n")
    os._exit(1)


def _install_fatal_error_handler(library: Library) -> None:
    library.lib.LLVMInstallFatalErrorHandler(_fatal_error_handler)
