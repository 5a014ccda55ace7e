"""`python -m bpf_linker`: the same as the `bpf-linker` command."""

from bpf_linker.cli import main

raise SystemExit(main())
