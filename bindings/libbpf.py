"""libbpf 1.x (Debian's libbpf1) through cffi in ABI mode, with its own FFI: load an object's programs one at a time."""

# Used by --verify. Nothing is pinned (every map's pin path is cleared before loading), and
# each object is closed right after its program was loaded, so the kernel frees the program
# and its maps; an interrupted or killed process loses its file descriptors the same way.
# $BPF_LINKER_LIBBPF names the library (default: libbpf.so.1 from the loader's search path,
# then /usr/lib/x86_64-linux-gnu/libbpf.so.1).

from __future__ import annotations

import errno as errno_codes
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cffi

LIBBPF_ENV = "BPF_LINKER_LIBBPF"
CANDIDATES = ("libbpf.so.1", "/usr/lib/x86_64-linux-gnu/libbpf.so.1")
MIN_VERSION = (1, 0)  # bpf_program__set_log_buf, libbpf_bpf_prog_type_str, errors returned as -errno
LOG_SIZE = 1 << 20  # kernels 6.4+ keep the log's end when it overflows; older ones fail with ENOSPC
LIBBPF_DEBUG = 2

ffi = cffi.FFI()
ffi.cdef(Path(__file__).with_name("libbpf_decl.h").read_text())

_lock = threading.Lock()
_loaded = None
_libc = None


class LibbpfUnavailable(Exception):
    """No usable libbpf (missing, too old, or not a libbpf)."""


class NoPermission(Exception):
    """The kernel refused to load anything: no root, no CAP_BPF (EPERM)."""


def open_libbpf(ffi_, needs: tuple[str, ...] = (), what: str = "libbpf 1.x"):
    """dlopen the first candidate ($BPF_LINKER_LIBBPF, else CANDIDATES) that is libbpf 1.0+ with
    the functions `needs`, through `ffi_`; LibbpfUnavailable says what was tried."""
    explicit = os.environ.get(LIBBPF_ENV)
    tried = []
    for name in ([explicit] if explicit else CANDIDATES):
        try:
            lib = ffi_.dlopen(name)
        except OSError as e:  # cffi appends a note about ctypes.util.find_library: drop it
            tried.append(f"{name}: {str(e).split('  Additionally')[0].rstrip('.')}")
            continue
        try:
            found = (lib.libbpf_major_version(), lib.libbpf_minor_version())
            for symbol in needs:
                getattr(lib, symbol)
        except AttributeError:
            tried.append(f"{name}: not {what}")
            continue
        if found < MIN_VERSION:
            tried.append(f"{name}: libbpf {found[0]}.{found[1]} is older than 1.0")
            continue
        return lib
    where = f"${LIBBPF_ENV}" if explicit else "the system"
    raise LibbpfUnavailable(f"no libbpf 1.0+ in {where} ({'; '.join(tried)}); install libbpf1")


def load_libbpf():
    """The libbpf `lib`, loaded once; LibbpfUnavailable says what was tried."""
    global _loaded, _libc
    with _lock:
        if _loaded is None:
            lib = open_libbpf(ffi)
            _libc = ffi.dlopen(None)
            _loaded = lib
        return _loaded


def version() -> str:
    lib = load_libbpf()
    return f"{lib.libbpf_major_version()}.{lib.libbpf_minor_version()}"


@dataclass
class ProgramLoad:
    """What loading one program told: `ok`, the error (`errno`, `message`) and the verifier log."""

    name: str
    section: str
    type: str
    insns: int
    verified_insns: int | None = None
    ok: bool = False
    errno: int = 0
    message: str = ""
    log: str = ""
    # The log overflowed LOG_SIZE: its start is lost, and the kernel reports ENOSPC, not the verdict.
    log_truncated: bool = False
    libbpf_messages: tuple[str, ...] = ()


class _Messages:
    """libbpf's warnings and info lines while a call runs (its print callback)."""

    def __init__(self):
        self.lines: list[str] = []

    def __enter__(self):
        buf = ffi.new("char[]", 4096)

        @ffi.callback("int(int, const char *, void *)")
        def on_print(level, fmt, ap):
            if level < LIBBPF_DEBUG:
                _libc.vsnprintf(buf, len(buf), fmt, ap)
                self.lines.append(ffi.string(buf).decode("utf-8", "replace").rstrip("\n"))
            return 0

        self._callback = on_print  # kept alive while libbpf holds it
        self._previous = _loaded.libbpf_set_print(on_print)
        return self

    def __exit__(self, *exc):
        _loaded.libbpf_set_print(self._previous)
        return False


def _strerror(lib, err: int) -> str:
    buf = ffi.new("char[]", 256)
    lib.libbpf_strerror(err, buf, len(buf))
    return ffi.string(buf).decode("utf-8", "replace")


def _string(ptr) -> str:
    return "" if ptr == ffi.NULL else ffi.string(ptr).decode("utf-8", "replace")


def _open(lib, data: bytes, name: str):
    buf = ffi.from_buffer(data)
    opts = ffi.new("struct bpf_object_open_opts *")
    opts.sz = ffi.sizeof("struct bpf_object_open_opts")
    cname = ffi.new("char[]", name.encode()[:64])
    opts.object_name = cname
    obj = lib.bpf_object__open_mem(buf, len(data), opts)
    if obj == ffi.NULL:
        err = ffi.errno or errno_codes.EINVAL
        return None, err
    m = lib.bpf_object__next_map(obj, ffi.NULL)
    while m != ffi.NULL:  # never pin (LIBBPF_PIN_BY_NAME maps would land under /sys/fs/bpf)
        lib.bpf_map__set_pin_path(m, ffi.NULL)
        m = lib.bpf_object__next_map(obj, m)
    return (obj, buf, cname), 0


def _programs(lib, obj) -> list:
    out = []
    p = lib.bpf_object__next_program(obj, ffi.NULL)
    while p != ffi.NULL:
        out.append(p)
        p = lib.bpf_object__next_program(obj, p)
    return out


def load_each(data: bytes, name: str = "bpf_linker_verify") -> list[ProgramLoad]:
    """Load each program of the object alone (its maps with it), read its info, unload it.

    Raises LibbpfUnavailable, NoPermission (EPERM: nothing can be loaded here), or
    ValueError with libbpf's messages when the object does not even open.
    """
    lib = load_libbpf()
    results: list[ProgramLoad] = []
    with _Messages() as messages:
        opened, err = _open(lib, data, name)
        if opened is None:
            raise ValueError(f"libbpf cannot open the object: {_strerror(lib, err)}"
                             + (f" ({messages.lines[-1]})" if messages.lines else ""))
        try:
            count = len(_programs(lib, opened[0]))
        finally:
            lib.bpf_object__close(opened[0])
        for index in range(count):
            results.append(_load_one(lib, data, name, index, messages))
    return results


def _load_one(lib, data: bytes, name: str, index: int, messages: _Messages) -> ProgramLoad:
    opened, err = _open(lib, data, name)
    if opened is None:
        raise ValueError(f"libbpf cannot open the object: {_strerror(lib, err)}")
    obj = opened[0]
    log = ffi.new("char[]", LOG_SIZE)
    try:
        programs = _programs(lib, obj)
        prog = programs[index]
        for other in programs:
            if other != prog:
                lib.bpf_program__set_autoload(other, False)
        # Level 0 with a buffer: libbpf asks for the log only when the load fails, then retries.
        lib.bpf_program__set_log_buf(prog, log, LOG_SIZE)
        result = ProgramLoad(name=_string(lib.bpf_program__name(prog)),
                             section=_string(lib.bpf_program__section_name(prog)),
                             type=_string(lib.libbpf_bpf_prog_type_str(lib.bpf_program__type(prog))) or "?",
                             insns=lib.bpf_program__insn_cnt(prog))
        mark = len(messages.lines)
        rc = lib.bpf_object__load(obj)
        result.libbpf_messages = tuple(messages.lines[mark:])
        result.insns = lib.bpf_program__insn_cnt(prog) or result.insns
        if rc == 0:
            result.ok = True
            fd = lib.bpf_program__fd(prog)
            info = ffi.new("struct bpf_prog_info *")
            size = ffi.new("uint32_t *", ffi.sizeof("struct bpf_prog_info"))
            if fd >= 0 and lib.bpf_obj_get_info_by_fd(fd, info, size) == 0:
                result.verified_insns = info.verified_insns or None
        else:
            result.errno = -rc
            result.message = _strerror(lib, rc)
            result.log = _string(log)
            if len(result.log) >= LOG_SIZE - 1:  # full: the kernel kept the end (6.4+), cut mid-line
                result.log = result.log.partition("\n")[2]
                result.log_truncated = True
            if result.errno == errno_codes.EPERM and not result.log:
                raise NoPermission(result.message)
        return result
    finally:
        lib.bpf_object__close(obj)
