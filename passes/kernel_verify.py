"""kernel-verify: load each program of the object into the running kernel with libbpf, then unload it (--verify)."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass

from bpf_linker.errors import BpfLinkerError, LinkError
from bpf_linker.pipeline import LinkContext, Pass

EXIT_CANNOT_VERIFY = 77
_INSN_LINE = re.compile(r"^\d+: (\(|R\d|frame)")  # "12: (71) r0 = ...", "0: R1=ctx() R10=fp0"
_NOISE = ("processed ", "verification time", "stack depth", "; ", "from ", "mark_precise", "last_idx")


class CannotVerify(BpfLinkerError):
    """--verify cannot load programs here (no libbpf, no permission): exit status 77."""

    exit_status = EXIT_CANNOT_VERIFY


class VerifierRejected(LinkError):
    """The running kernel's verifier rejected a program; `rejected` names them."""

    outputs: dict = {}  # --report's text, printed even though the link failed

    def __init__(self, message: str, rejected: tuple[str, ...] = ()):
        super().__init__(message)
        self.rejected = tuple(rejected)


def reason(log: str, fallback: str) -> str:
    """The verifier's own words: the last lines of its log that are not instructions or statistics."""
    said = [line.strip() for line in log.splitlines()
            if line.strip() and not _INSN_LINE.match(line.strip()) and not line.strip().startswith(_NOISE)]
    return "; ".join(said[-2:]) if said else fallback


def result(load) -> str:
    """`ok`, `rejected (EACCES)`; a log that overflowed makes the kernel answer ENOSPC whatever the verdict."""
    if load.ok:
        return "ok"
    if load.log_truncated and load.errno == errno.ENOSPC:
        return "rejected (log tail only)"
    return f"rejected ({errno.errorcode.get(load.errno, load.message)})"


@dataclass(frozen=True)
class KernelVerify(Pass):
    """Each program is loaded alone, with the maps it uses, through Debian's libbpf1
    (bindings/libbpf.py), and its object closed right away: nothing stays in the kernel and
    nothing is pinned, even when the link is interrupted (the worker's file descriptors
    close with it). The table (program, section, type, instructions, instructions the
    verifier processed, result) goes to ctx.outputs["verify"], which the CLI prints on
    standard output. A rejection fails the link (exit status 1) with the verifier's reason,
    and the table shows the last lines of its log. When nothing can be loaded here (no
    libbpf 1.0+, or not root / no CAP_BPF), the link fails with one line and exit status
    77 (CannotVerify.exit_status), so scripts can tell "rejected" from "not checked".
    """

    name = "kernel-verify"
    summary = "load each program into the running kernel with libbpf and unload it (--verify)"
    log_lines: int = 12  # verifier log lines shown per rejected program

    def run(self, module, ctx: LinkContext) -> None:
        from bpf_linker.bindings.libbpf import LibbpfUnavailable, NoPermission, load_each, version
        from bpf_linker.passes.report import object_for, table, text_outputs

        data = ctx.outputs.get("obj") or object_for(module, ctx).data
        name = os.path.basename(ctx.options.output or "bpf_linker").split(".")[0] or "bpf_linker"
        try:
            loads = load_each(data, name)
        except LibbpfUnavailable as e:
            raise CannotVerify(f"--verify: {e}") from None
        except NoPermission as e:
            raise CannotVerify(f"--verify: the kernel does not let this process load BPF programs ({e}: "
                               "run as root or with CAP_BPF and CAP_NET_ADMIN)") from None
        except ValueError as e:
            raise LinkError(f"--verify: {e}") from None
        rows = [[r.name, r.section, r.type, r.insns, r.verified_insns if r.verified_insns else "-", result(r)]
                for r in loads]
        lines = [f"kernel {os.uname().release}, libbpf {version()}:"]
        lines += ["  " + line for line in table(["program", "section", "type", "insns", "verified", "result"],
                                                rows, {3, 4})]
        rejected = [r for r in loads if not r.ok]
        for r in rejected:
            log = [line for line in r.log.rstrip().splitlines()] or list(r.libbpf_messages)
            shown = f"last {min(self.log_lines, len(log))} of {len(log)}{'+' if r.log_truncated else ''} lines"
            lines.append(f"verifier log of {r.name}, {shown}:")
            lines += ["  " + line for line in log[-self.log_lines:]]
        ctx.outputs["verify"] = ("\n".join(lines) + "\n").encode()
        ctx.logger(self.name).info("%d program(s) loaded and unloaded, %d rejected", len(loads), len(rejected))
        if rejected:
            first = rejected[0]
            more = f" (and {len(rejected) - 1} more program(s))" if len(rejected) > 1 else ""
            error = VerifierRejected(
                f"the kernel's verifier rejected {first.name} ({first.section}): "
                f"{reason(first.log, first.message)}{more}", tuple(r.name for r in rejected))
            error.outputs = text_outputs(ctx)
            raise error


PASSES = [KernelVerify]
