#!/usr/bin/env python3
"""Write the bpf-linker(1) man page, generated from the CLI's argparse parser.

    python tools/build_manpage.py [OUTPUT]     (default: build/man/man1/bpf-linker.1)

Runs at wheel build time (tools/build_backend.py), where only the build requirements
are installed: the parser is imported from the source tree without the package's
__init__ (which needs cffi and libLLVM), so argparse-manpage is all it needs. The date
in the header follows SOURCE_DATE_EPOCH when set, so the page can be built reproducibly.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "build" / "man" / "man1" / "bpf-linker.1"

ENVIRONMENT = r"""
.TP
.B BPF_LINKER_LLVM
Path of the libLLVM shared library to load (as \fB\-\-llvm\fR); otherwise the library of the
\fBrustc\fR on PATH, then the system's, newest first.
.TP
.B BPF_LINKER_LOG
\fILEVEL\fR[\fB:\fR\fIFILE\fR]: log level (error, warn, info, debug, trace) and an optional log
file, for builds whose linker flags cannot be changed (rustc calls the linker).
\fB\-\-log\-level\fR and \fB\-\-log\-file\fR win over it.
.TP
.B RUST_LOG
Read for the log level when neither the flags nor \fBBPF_LINKER_LOG\fR give one.
.TP
.B BPF_LINKER_IN_PROCESS
Set to 1 to run the link in the linker's own process instead of a forked worker (for debuggers
and profilers; an LLVM crash then ends the process).
"""

EXIT_STATUS = r"""
.TP
.B 0
The output was written.
.TP
.B 1
An error, reported in one line: the command line, an input, a symbol, LLVM. No output file is
written and an existing one is left untouched.
.TP
.B 128+N
Stopped by signal N (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP); the temporary output
is removed.
"""

EXAMPLES = r"""
Link C programs compiled to bitcode, one of them from an archive:
.PP
.nf
.RS
clang \-g \-O2 \-target bpf \-emit\-llvm \-c main.c \-o main.bc
clang \-g \-O2 \-target bpf \-emit\-llvm \-c helpers.c \-o helpers.bc
llvm\-ar rcs libhelpers.a helpers.bc
bpf\-linker \-o prog.o main.bc libhelpers.a
.RE
.fi
.PP
Use it as rustc's linker for BPF crates:
.PP
.nf
.RS
RUSTFLAGS="\-C linker=bpf\-linker" cargo build \-\-target bpfel\-unknown\-none \-Z build\-std=core \-\-release
.RE
.fi
.PP
Debug a pipeline: show what runs, and the IR after one pass:
.PP
.nf
.RS
bpf\-linker \-\-print\-pipeline \-o prog.o main.bc
bpf\-linker \-\-print\-after optimize \-o prog.o main.bc 2> after\-optimize.ll
.RE
.fi
"""

SEE_ALSO = r"""
.BR clang (1),
.BR llc (1),
.BR llvm\-link (1),
.BR bpftool (8),
.BR bpftool\-gen (8)
"""


def _source_parser_module():
    """bpf_linker.cli from the source tree, without executing bpf_linker/__init__.py."""
    if "bpf_linker" not in sys.modules:
        package = types.ModuleType("bpf_linker")
        package.__path__ = [str(REPO_ROOT / "bpf_linker")]
        sys.modules["bpf_linker"] = package
    return importlib.import_module("bpf_linker.cli")


def _version() -> str:
    text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else "unknown"


def render() -> str:
    """The man page source (roff)."""
    try:
        from argparse_manpage.manpage import Manpage
    except ImportError:  # older releases only had the compatibility name
        from build_manpages.manpage import Manpage

    parser = _source_parser_module().build_parser()
    page = Manpage(parser)
    page.source = f"bpf-linker {_version()}"
    page.manual = "User Commands"
    page.description = "static linker for BPF programs in LLVM bitcode"
    for heading, text in (("ENVIRONMENT", ENVIRONMENT), ("EXIT STATUS", EXIT_STATUS),
                          ("EXAMPLES", EXAMPLES), ("SEE ALSO", SEE_ALSO)):
        page.add_section(heading, ">", text.strip())
    return str(page)


def write(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or argv[:1] in (["-h"], ["--help"]):
        print("usage: build_manpage.py [OUTPUT]", file=sys.stderr)
        return 2
    try:
        print(write(Path(argv[0]) if argv else DEFAULT_OUTPUT))
    except ImportError as e:
        print(f"build_manpage.py: {e} (pip install argparse-manpage)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
