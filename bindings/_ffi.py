"""The cffi declarations, libLLVM discovery and loading (one library per process)."""

from __future__ import annotations

import marshal
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from bpf_linker.errors import LLVMNotFoundError

# Start-up costs, and what this module does about them (measured on a 2-CPU machine):
# - Parsing the declarations (decl/*.h) with cffi's in-line `cdef` imports pycparser and
#   costs 75-100 ms at every start. They are compiled once into cffi's out-of-line ABI
#   form (`set_source(name, None)`: a pure-Python module holding the parsed types, no C
#   compiler) under `${XDG_CACHE_HOME:-~/.cache}/bpf-linker-startup/`, named by a hash of every
#   decl file's name and contents and the cffi backend's version: editing, adding or
#   removing a decl file selects a new module, generated on first use. Loading it imports
#   only `_cffi_backend` (about 1 ms). When the cache cannot be written or read, the
#   in-line cdef is used, as before.
# - Discovery ran `rustc --print sysroot` (20-40 ms) and globbed system directories
#   (~70 ms) at every start. Candidates are now produced lazily (the first library that
#   loads ends the search) and both steps are cached in the same directory, keyed by
#   everything their answer depends on (see `_rustc_key` and `_system_key`) and checked
#   against the current state of the files they found, so a changed toolchain, PATH,
#   `BPF_LINKER_LLVM`, rustup override or installed library is never answered from a
#   stale entry.

MIN_VERSION = 16
MAX_VERSION = 30
ENV_VAR = "BPF_LINKER_LLVM"

DECL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "decl")
CACHE_FORMAT = 1
# An input whose mtime is this close to the moment a cache entry is written might change
# again within the file system's timestamp granularity: such entries are not written.
_RACY_SECONDS = 2.0


def cache_dir() -> str | None:
    """`${XDG_CACHE_HOME:-~/.cache}/bpf-linker-startup` (beside bpf_linker.llvm_options's
    `bpf-linker/`, so each directory holds one kind of file); None without a home directory."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(base):  # unset, or relative (which the XDG spec says to ignore)
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "bpf-linker-startup")


def _write_atomically(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _sig(path: str):
    """What identifies a file's or directory's current state: [mtime_ns, size, inode], or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _trusted(path: str) -> bool:
    """A cache file we may exec or believe: ours, and writable by nobody else."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_uid in (os.geteuid(), 0) and not st.st_mode & 0o022


# --------------------------------------------------------------------------- declarations

def decl_files(decl_dir: str = DECL_DIR) -> list[str]:
    """Every *.h in `decl_dir`: types.h (the typedefs the others use) first, the rest by name."""
    rest = sorted(n for n in os.listdir(decl_dir) if n.endswith(".h") and n != "types.h")
    return ["types.h", *rest]


def _digest(data: bytes) -> str:
    try:
        from _blake2 import blake2b  # hashlib's own backend, without hashlib's OpenSSL import (~4 ms)
    except ImportError:  # pragma: no cover - CPython always builds it
        from hashlib import blake2b
    return blake2b(data, digest_size=16).hexdigest()


@dataclass
class Declarations:
    """The cffi FFI object and where it came from: "cache", "generated" (now) or "inline"."""

    ffi: Any
    source: str
    path: str | None = None


def load_declarations(decl_dir: str = DECL_DIR, cache: str | None = None) -> Declarations:
    """The declarations of every decl file, from the compiled module when possible (see the module doc)."""
    import _cffi_backend

    names = decl_files(decl_dir)
    texts = []
    for name in names:
        with open(os.path.join(decl_dir, name), "rb") as f:
            texts.append(f.read())
    key = b"\0".join([_cffi_backend.__version__.encode(), *(n.encode() + b"\n" + t for n, t in zip(names, texts))])
    module = f"_bpf_linker_decl_{_digest(key)}"
    directory = cache if cache is not None else cache_dir()
    if directory is None:
        return Declarations(_parse_inline(texts), "inline")
    path = os.path.join(directory, module + ".py")
    ffi = _load_compiled(module, path)
    if ffi is not None:
        return Declarations(ffi, "cache", path)
    builder = _parse_inline(texts)
    try:
        _generate(builder, module, path)
    except Exception:
        return Declarations(builder, "inline")
    ffi = _load_compiled(module, path)
    return Declarations(ffi, "generated", path) if ffi is not None else Declarations(builder, "inline")


def _load_compiled(module: str, path: str):
    if not _trusted(path):
        return None
    # The module's code object, marshalled beside it (what a .pyc holds): compiling the
    # 20 KB source would cost about a millisecond at every start.
    code_path = f"{path}.{sys.implementation.cache_tag}.code"
    try:
        source_sig = _sig(path)
        code = None
        if _trusted(code_path):
            try:
                with open(code_path, "rb") as f:
                    sig, code = marshal.loads(f.read())
                if sig != source_sig:  # compiled from another file than the one there now
                    code = None
            except (OSError, ValueError, EOFError, TypeError):
                code = None
        if code is None:
            with open(path, "rb") as f:
                code = compile(f.read(), path, "exec")
            try:
                _write_atomically(code_path, marshal.dumps((source_sig, code)))
            except OSError:
                pass
        namespace = {"__name__": module, "__file__": path}
        exec(code, namespace)
        return namespace["ffi"]
    except (Exception, SystemExit):  # damaged or foreign (even one that exits): regenerate
        return None


def _parse_inline(texts: list[bytes]):
    import cffi

    builder = cffi.FFI()
    for text in texts:
        builder.cdef(text.decode())
    return builder


def _generate(builder, module: str, path: str) -> None:
    import contextlib
    import io
    import tempfile

    builder.set_source(module, None)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        with contextlib.redirect_stdout(io.StringIO()):  # cffi prints "generating ..."
            builder.emit_python_code(os.path.join(tmp, "decl.py"))
        with open(os.path.join(tmp, "decl.py"), "rb") as f:
            _write_atomically(path, f.read())


declarations = load_declarations()
ffi = declarations.ffi


@dataclass
class Library:
    """A loaded libLLVM: the cffi `lib`, where it came from and its version."""

    lib: Any
    path: str
    version: tuple[int, int, int]
    source: str  # "--llvm", "BPF_LINKER_LLVM", "rustc", "system"

    @property
    def major(self) -> int:
        return self.version[0]


_loaded: Library | None = None
_lock = threading.Lock()


# --------------------------------------------------------------------------- discovery cache

def _discovery_path() -> str | None:
    # marshal: no import to pay (json's is ~2 ms); its format may change with the interpreter.
    directory = cache_dir()
    if directory is None:
        return None
    return os.path.join(directory, f"discovery-{CACHE_FORMAT}.{sys.implementation.cache_tag}.marshal")


class _DiscoveryCache:
    """step -> {"key": ..., "checks": {path: sig}, "value": ...} in one marshal file."""

    def __init__(self, path: str | None = None):
        self.path = path or _discovery_path()  # None: no cache (no home directory)
        self._entries: dict | None = None

    def _read(self) -> dict:
        if self._entries is None:
            self._entries = {}
            if self.path and _trusted(self.path):
                try:
                    with open(self.path, "rb") as f:
                        data = marshal.loads(f.read())
                    if isinstance(data, dict):
                        self._entries = data
                except (OSError, ValueError, EOFError, TypeError):
                    pass
        return self._entries

    def get(self, step: str, key):
        entry = self._read().get(step)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        checks = entry.get("checks")
        if not isinstance(checks, dict) or any(_sig(p) != s for p, s in checks.items()):
            return None  # something it found has changed since
        return entry.get("value")

    def put(self, step: str, key, checks: list[str], value) -> None:
        """Store `value` for `key`, valid while every path in `checks` keeps its state."""
        import time

        if not self.path:
            return
        sigs = {p: _sig(p) for p in checks}
        newest_ok = time.time_ns() - int(_RACY_SECONDS * 1e9)
        if any(s is not None and s[0] > newest_ok for s in sigs.values()):
            return  # something changed a moment ago and might change again within one timestamp tick
        entries = dict(self._read())
        entries[step] = {"key": key, "checks": sigs, "value": value}
        try:
            _write_atomically(self.path, marshal.dumps(entries))
            self._entries = entries
        except OSError:
            pass


_cache: _DiscoveryCache | None = None


def _discovery_cache() -> _DiscoveryCache:
    global _cache
    if _cache is None or _cache.path != _discovery_path():
        _cache = _DiscoveryCache()
    return _cache


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


# --------------------------------------------------------------------------- rustc's library

def _rustup_home() -> str:
    return os.environ.get("RUSTUP_HOME") or os.path.join(os.path.expanduser("~"), ".rustup")


def _rustc_key(rustc: str) -> list:
    """What `rustc --print sysroot` depends on: the binary PATH finds and, for a rustup proxy,
    rustup's choice of toolchain (RUSTUP_TOOLCHAIN, settings.toml with its directory overrides,
    the installed toolchains, rust-toolchain files in the working directory and its parents)."""
    home = _rustup_home()
    settings = os.path.join(home, "settings.toml")
    key: list = [rustc, os.path.realpath(rustc), _sig(rustc), os.environ.get("RUSTUP_TOOLCHAIN"), home,
                 _sig(settings), _sig(os.path.join(home, "toolchains"))]
    try:
        cwd = os.getcwd()
    except OSError:  # a removed working directory: rustup's answer is not worth caching
        return key + [None, os.urandom(8).hex()]
    try:
        with open(settings, "rb") as f:
            if b"[overrides]" in f.read():
                key.append(cwd)  # `rustup override set` answers by directory
    except OSError:
        pass
    d = cwd
    while True:
        for name in ("rust-toolchain", "rust-toolchain.toml"):
            s = _sig(os.path.join(d, name))
            if s is not None:
                key.append([os.path.join(d, name), s])
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return key


def rustc_llvm_candidates() -> list[str]:
    """libLLVM shipped in the sysroot of the `rustc` on PATH (not the linker-script .so)."""
    import shutil

    rustc = shutil.which("rustc")
    if not rustc:
        return []
    cache = _discovery_cache()
    key = _rustc_key(rustc)
    cached = cache.get("rustc", key)
    if isinstance(cached, list):
        return cached
    import subprocess

    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    libdir = os.path.join(sysroot, "lib")
    found = sorted((os.path.join(libdir, n) for n in _listdir(libdir) if re.match(r"libLLVM.*\.so", n)),
                   reverse=True)
    found = [p for p in found if _is_elf(p)]
    home = _rustup_home()
    watched = [rustc, os.path.join(home, "settings.toml"), os.path.join(home, "toolchains"), libdir, *found]
    cache.put("rustc", key, watched, found)
    return found


# --------------------------------------------------------------------------- system libraries

def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _system_dirs() -> list[str]:
    usr_lib = sorted(_listdir("/usr/lib"))
    dirs = [f"/usr/lib/{n}" for n in usr_lib if n.endswith("-linux-gnu") and os.path.isdir(f"/usr/lib/{n}")]
    return dirs + [d for d in ("/usr/lib64", "/usr/lib", "/usr/local/lib") if os.path.isdir(d)]


def _llvm_dirs() -> list[str]:
    """/usr/lib/llvm-N (Debian's per-version trees)."""
    return sorted(f"/usr/lib/{n}" for n in _listdir("/usr/lib") if re.fullmatch(r"llvm-\d+", n))


def _system_key() -> list:
    """The directories the search lists: their state changes whenever an entry is added or removed."""
    dirs = _system_dirs() + _llvm_dirs()
    dirs += [f"{d}/lib" for d in _llvm_dirs()]
    return [[d, _sig(d)] for d in ["/usr/lib", *dirs]]


def _scan_system() -> list[str]:
    import fnmatch

    listings = {}

    def names(d: str) -> list[str]:
        if d not in listings:  # each directory is listed once, then matched in memory
            listings[d] = sorted(n for n in _listdir(d) if n.startswith("libLLVM"))
        return listings[d]

    found: list[str] = []
    dirs = _system_dirs()
    for major in range(MAX_VERSION, MIN_VERSION - 1, -1):
        patterns = []
        for d in dirs:
            patterns += [(d, f"libLLVM.so.{major}.*"), (d, f"libLLVM-{major}.so*"), (d, f"libLLVM-{major}.*.so*")]
        llvm_lib = f"/usr/lib/llvm-{major}/lib"
        patterns += [(llvm_lib, "libLLVM.so*"), (llvm_lib, f"libLLVM-{major}.so*")]
        for d, pattern in patterns:
            for name in fnmatch.filter(names(d), pattern):
                real = os.path.realpath(os.path.join(d, name))
                if real not in found and _is_elf(real):
                    found.append(real)
    return found


def system_llvm_candidates() -> list[str]:
    """System libLLVM shared libraries, newest major version first, down to MIN_VERSION."""
    cache = _discovery_cache()
    key = _system_key()
    cached = cache.get("system", key)
    if isinstance(cached, list):
        return cached
    found = _scan_system()
    cache.put("system", key, [d for d, _ in key] + found, found)
    return found


def discovery_order(explicit: str | None):
    """(source, path) candidates in the order they are tried, computed as they are needed."""
    if explicit:
        yield ("--llvm", explicit)
        return
    env = os.environ.get(ENV_VAR)
    if env:
        yield (ENV_VAR, env)
        return
    for path in rustc_llvm_candidates():
        yield ("rustc", path)
    for path in system_llvm_candidates():
        yield ("system", path)


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


def _closest_first(candidates, min_major: int | None):
    """With the inputs' LLVM known, automatic candidates from the closest version up.

    The LLVM that produced the bitcode is the least surprising one to link it with: clang-16
    bitcode gets libLLVM 16 even when rustc's newer library is found first (rustc's own
    bitcode still gets rustc's library, the first of its version). Explicit choices, and
    links whose inputs name no producer (IR text), keep the discovery order.
    """
    candidates = iter(candidates)
    first = next(candidates, None)
    if first is None:
        return
    if min_major is None or first[0] in ("--llvm", ENV_VAR):
        yield first
        yield from candidates
        return
    ordered = [first, *candidates]
    # Unnamed libraries (a version only dlopen can tell) go last, in discovery order.
    ordered.sort(key=lambda c: (_version_from_name(c[1]) or 10**6) - min_major
                 if (_version_from_name(c[1]) or 10**6) >= min_major else 10**7)
    yield from ordered


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
        problems = []
        for source, path in _closest_first(discovery_order(explicit), min_major):
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


@ffi.callback("LLVMFatalErrorHandler")
def _fatal_error_handler(reason):
    # LLVM aborts the process right after this returns; say why on one line and end with status 1.
    text = ffi.string(reason) if reason != ffi.NULL else b"unknown reason"
    text = re.sub(rb"\s+", b" ", text).strip()
    os.write(fatal_error_fd, _FATAL_PREFIX + text + b"\n")
    os._exit(1)


def _install_fatal_error_handler(library: Library) -> None:
    library.lib.LLVMInstallFatalErrorHandler(_fatal_error_handler)
