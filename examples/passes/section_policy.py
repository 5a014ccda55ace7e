"""section-policy: rename program sections, then check every program's section against an allow-list.

A program's ELF section tells libbpf its type and attach point (`tc`, `xdp`, `kprobe/...`); a
misspelt one (`kprobes/...`, `tx`) fails only at load time, or loads as the wrong type. This
pass runs after `internalize` (`--load-pass-plugin examples/passes/section_policy.py`) and
fails the link naming every program whose section is not allowed: by default the section
names libbpf knows, or the glob patterns of `allow`. `rename=old=new,...` moves programs
first, e.g. `section-policy{rename=tc=classifier allow=classifier}`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from bpf_linker import LinkContext, Pass, PassError, PipelineError

# libbpf's program section names (libbpf.c section_defs), as glob patterns.
LIBBPF_SECTIONS = (
    "socket", "sk_reuseport", "sk_reuseport/migrate", "kprobe/*", "uprobe*", "kretprobe/*", "uretprobe*",
    "kprobe.multi/*", "kretprobe.multi/*", "uprobe.multi*", "uretprobe.multi*", "kprobe.session/*",
    "ksyscall/*", "kretsyscall/*", "usdt*", "tc", "tc/ingress", "tc/egress", "tcx/ingress", "tcx/egress",
    "netkit/primary", "netkit/peer", "classifier", "action", "tracepoint/*", "tp/*", "raw_tracepoint/*",
    "raw_tp/*", "raw_tracepoint.w/*", "raw_tp.w/*", "tp_btf/*", "fentry/*", "fmod_ret/*", "fexit/*",
    "fentry.s/*", "fmod_ret.s/*", "fexit.s/*", "freplace/*", "lsm/*", "lsm.s/*", "lsm_cgroup/*", "iter/*",
    "iter.s/*", "syscall", "xdp.frags/devmap", "xdp/devmap", "xdp.frags/cpumap", "xdp/cpumap", "xdp.frags",
    "xdp", "perf_event", "lwt_in", "lwt_out", "lwt_xmit", "lwt_seg6local", "sockops", "sk_skb/*", "sk_skb",
    "sk_msg", "lirc_mode2", "flow_dissector", "cgroup_skb/*", "cgroup/*", "struct_ops*", "sk_lookup",
    "netfilter",
)


@dataclass(frozen=True)
class SectionPolicy(Pass):
    name = "section-policy"
    summary = "rename program sections (rename=old=new), then fail on sections the allow-list lacks"
    after = "internalize"
    allow: tuple[str, ...] = ()      # glob patterns; empty: the sections libbpf knows
    rename: tuple[str, ...] = ()     # old=new pairs

    def __post_init__(self):
        for pair in self.rename:
            old, eq, new = pair.partition("=")
            if not eq or not old or not new:
                raise PipelineError(f"pass 'section-policy': rename takes old=new pairs, not '{pair}'")

    def run(self, module, ctx: LinkContext) -> None:
        log = ctx.logger(self.name)
        renames = dict(pair.split("=", 1) for pair in self.rename)
        allowed = self.allow or LIBBPF_SECTIONS
        refused = []
        for function in module.functions():
            # Programs: definitions with a section of their own that stay global.
            if function.is_declaration or not function.section or function.section == ".text" \
                    or function.linkage.is_local:
                continue
            if function.section in renames:
                log.info("%s: section %s -> %s", function.name, function.section, renames[function.section])
                function.section = renames[function.section]
            if not any(fnmatch.fnmatchcase(function.section, pattern) for pattern in allowed):
                refused.append(f"program '{function.name}' is in section '{function.section}'")
        if refused:
            shown = ", ".join(self.allow) if self.allow else "the sections libbpf knows"
            raise PassError(self.name, f"{'; '.join(refused)}, which the policy does not allow (allowed: {shown})")


PASSES = [SectionPolicy]
