#!/usr/bin/env python3
"""Write the bpf-linker(1) man page, generated from the CLI's argparse parser.

    python tools/build_manpage.py [OUTPUT]     (default: build/bpf-linker.1)

Needs argparse-manpage (`pip install .[man]`). The date in the header follows
SOURCE_DATE_EPOCH when set, so the page can be built reproducibly.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    from bpf_linker.cli import build_parser, package_version
except ImportError:  # running from a checkout without the package installed
    sys.path.insert(0, str(REPO_ROOT))
    from bpf_linker.cli import build_parser, package_version

try:
    from argparse_manpage.manpage import Manpage
except ImportError:  # older releases only had the compatibility name
    from build_manpages.manpage import Manpage


def render() -> str:
    """The man page source (roff)."""
    parser = build_parser()
    page = Manpage(parser)
    page.source = f"bpf-linker {package_version()}"
    page.manual = "User Commands"
    page.description = "static linker for BPF programs in LLVM bitcode"
    return str(page)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1:
        print("usage: build_manpage.py [OUTPUT]", file=sys.stderr)
        return 2
    out = Path(argv[0]) if argv else REPO_ROOT / "build" / "bpf-linker.1"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(), encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
