"""libbpf's static linker (bpf_linker__new/add_file/finalize/free) through cffi, with its own FFI."""

# The ELF-level linker `bpftool gen object` runs, from Debian's libbpf1 (1.1 has no
# bpf_linker__add_buf: inputs and the output are files). libbpf reports why a file cannot
# be linked only through its print callback; link_files() collects those lines (warnings
# and info, not debug) while it runs and restores the previous callback afterwards.
# The library is found as bindings/libbpf.py finds it for --verify ($BPF_LINKER_LIBBPF).

from __future__ import annotations

import errno as errno_codes
import os
import threading

import cffi

from .libbpf import LibbpfUnavailable, open_libbpf

__all__ = ["LibbpfLinkError", "LibbpfUnavailable", "link_files", "version"]

_DECLARATIONS = """
struct bpf_linker;
struct bpf_linker_opts { size_t sz; };
struct bpf_linker_file_opts { size_t sz; };
struct bpf_linker *bpf_linker__new(const char *filename, struct bpf_linker_opts *opts);
int bpf_linker__add_file(struct bpf_linker *linker, const char *filename, const struct bpf_linker_file_opts *opts);
int bpf_linker__finalize(struct bpf_linker *linker);
void bpf_linker__free(struct bpf_linker *linker);

typedef int (*libbpf_print_fn_t)(int level, const char *fmt, void *ap);
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
uint32_t libbpf_major_version(void);
uint32_t libbpf_minor_version(void);
int libbpf_strerror(int err, char *buf, size_t size);
int vsnprintf(char *str, size_t size, const char *format, void *ap);
"""
LIBBPF_DEBUG = 2  # libbpf_print_level: 0 warn, 1 info, 2 debug

ffi = cffi.FFI()
ffi.cdef(_DECLARATIONS)

_lock = threading.Lock()
_loaded: tuple | None = None  # (lib, libc)


class LibbpfLinkError(Exception):
    """libbpf's linker refused a file: `path` (None: the output), errno `err`, and libbpf's `messages`."""

    def __init__(self, path: str | None, err: int, reason: str, messages: tuple[str, ...]):
        super().__init__(f"{path or 'output'}: {reason}")
        self.path = path
        self.err = err
        self.reason = reason
        self.messages = messages


def _load():
    global _loaded
    with _lock:
        if _loaded is None:  # bpf_linker__new: present from libbpf 0.4
            lib = open_libbpf(ffi, ("bpf_linker__new",), "libbpf 1.x with its static linker")
            _loaded = (lib, ffi.dlopen(None))
        return _loaded


def version() -> str:
    lib, _ = _load()
    return f"{lib.libbpf_major_version()}.{lib.libbpf_minor_version()}"


class _Messages:
    """libbpf's warning and info lines while the linker runs (its print callback, process-wide)."""

    def __init__(self, lib, libc):
        self.lib, self.libc = lib, libc
        self.lines: list[str] = []

    def __enter__(self):
        buf = ffi.new("char[]", 4096)

        @ffi.callback("int(int, const char *, void *)")
        def on_print(level, fmt, ap):
            if level < LIBBPF_DEBUG:
                self.libc.vsnprintf(buf, len(buf), fmt, ap)
                text = ffi.string(buf).decode("utf-8", "replace").strip()
                self.lines.append(text.removeprefix("libbpf: "))
            return 0

        self._callback = on_print  # kept alive while libbpf holds it
        self._previous = self.lib.libbpf_set_print(on_print)
        return self

    def __exit__(self, *exc):
        self.lib.libbpf_set_print(self._previous)
        return False


def _strerror(lib, err: int) -> str:
    buf = ffi.new("char[]", 256)
    lib.libbpf_strerror(-abs(err), buf, len(buf))
    return ffi.string(buf).decode("utf-8", "replace")


def link_files(paths: list[str], output: str) -> tuple[str, ...]:
    """Link the BPF ELF files `paths`, in order, into `output` (a file libbpf creates); returns libbpf's messages.

    Raises LibbpfUnavailable, or LibbpfLinkError naming the file libbpf refused.
    """
    lib, libc = _load()
    with _Messages(lib, libc) as messages:
        opts = ffi.new("struct bpf_linker_opts *", {"sz": ffi.sizeof("struct bpf_linker_opts")})
        linker = lib.bpf_linker__new(os.fsencode(output), opts)
        if linker == ffi.NULL:
            err = ffi.errno or errno_codes.EINVAL
            raise LibbpfLinkError(None, err, _strerror(lib, err), tuple(messages.lines))
        try:
            file_opts = ffi.new("struct bpf_linker_file_opts *", {"sz": ffi.sizeof("struct bpf_linker_file_opts")})
            for path in paths:
                rc = lib.bpf_linker__add_file(linker, os.fsencode(path), file_opts)
                if rc < 0:
                    raise LibbpfLinkError(path, -rc, _strerror(lib, rc), tuple(messages.lines))
            rc = lib.bpf_linker__finalize(linker)
            if rc < 0:
                raise LibbpfLinkError(None, -rc, _strerror(lib, rc), tuple(messages.lines))
        finally:
            lib.bpf_linker__free(linker)
    return tuple(messages.lines)
