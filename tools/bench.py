"""Benchmark bpf-linker against llvm-link+opt+llc (and a Rust bpf-linker) on workloads generated from C in the run."""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CLANG = "clang-16"
CLANG_FLAGS = ["-g", "-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-D__TARGET_ARCH_x86"]
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"
EM_BPF = 247

SCALE_SIZES = (1, 10, 100, 1000)


# --------------------------------------------------------------------------- workloads

@dataclass
class Link:
    """One link: its inputs and the symbols a linker that internalizes everything must keep."""

    inputs: list[str]
    exports: list[str]


@dataclass
class Workload:
    name: str
    summary: str
    links: list[Link]
    btf: bool = True  # the output must carry .BTF


SMALL_A = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
int helper_b(int x);
static __noinline int h1(int x) { return x * 3 + 1; }
__noinline int helper_a(int x) { return h1(x) + helper_b(x); }
SEC("tc") int prog(struct __sk_buff *skb) { return helper_a(skb->len); }
char LICENSE[] SEC("license") = "GPL";
"""

SMALL_B = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static __noinline int h2(int x) { return x ^ 0x55; }
__noinline int helper_c(int x) { return x - 7; }
__noinline int helper_b(int x) { return h2(x) + helper_c(x); }
"""

LIBBPF_HEADER = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
"""

# Four libbpf-style tools, each a main file with programs and maps and a file of helpers.
LIBBPF_PROGRAMS = {
    "runqlat": (
        ["sched_wakeup", "sched_switch", "start", "hist", "LICENSE", "targ_tgid"],
        r"""
u64 log2l(u64 v);
int hist_add(void *map, u32 slot);
int trace_enqueue(void *map, u32 tgid, u32 pid, u32 targ);
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u32); __type(value, u64); } start SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 64); __type(key, u32); __type(value, u64); } hist SEC(".maps");
const volatile u32 targ_tgid = 0;
SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	return trace_enqueue(&start, BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid), targ_tgid);
}
SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u32 pid = BPF_CORE_READ(next, pid);
	u64 *tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	hist_add(&hist, log2l((bpf_ktime_get_ns() - *tsp) / 1000));
	bpf_map_delete_elem(&start, &pid);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
        r"""
__noinline u64 log2l(u64 v)
{
	u64 r = 0;
	for (int i = 32; i > 0; i >>= 1)
		if (v >> i) { v >>= i; r += i; }
	return r;
}
__noinline int hist_add(void *map, u32 slot)
{
	if (slot >= 64)
		slot = 63;
	u64 *count = bpf_map_lookup_elem(map, &slot);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}
__noinline int trace_enqueue(void *map, u32 tgid, u32 pid, u32 targ)
{
	if (targ && targ != tgid)
		return 0;
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(map, &pid, &ts, BPF_ANY);
	return 0;
}
"""),
    "execsnoop": (
        ["exec_enter", "events", "LICENSE"],
        r"""
struct event { u32 pid, ppid, uid; u64 start; char comm[16]; char arg0[64]; };
int fill_event(struct event *e, struct task_struct *task);
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 256 * 1024); } events SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_execve")
int exec_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	fill_event(e, (struct task_struct *)bpf_get_current_task());
	const char *arg0 = (const char *)BPF_CORE_READ(ctx, args[0]);
	bpf_probe_read_user_str(e->arg0, sizeof(e->arg0), arg0);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
        r"""
struct event { u32 pid, ppid, uid; u64 start; char comm[16]; char arg0[64]; };
__noinline int fill_event(struct event *e, struct task_struct *task)
{
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = bpf_get_current_uid_gid();
	e->start = BPF_CORE_READ(task, start_time);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return 0;
}
"""),
    "readstat": (
        ["kp_vfs_read", "reads", "LICENSE"],
        r"""
struct read_key { u64 ino; u32 dev; u32 pid; };
int account(void *map, struct file *f, u64 n);
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 4096); __type(key, struct read_key); __type(value, u64); } reads SEC(".maps");
SEC("kprobe/vfs_read")
int BPF_KPROBE(kp_vfs_read, struct file *file, char *buf, size_t count)
{
	return account(&reads, file, count);
}
char LICENSE[] SEC("license") = "GPL";
""",
        r"""
struct read_key { u64 ino; u32 dev; u32 pid; };
__noinline int account(void *map, struct file *f, u64 n)
{
	struct read_key k = {};
	k.ino = BPF_CORE_READ(f, f_inode, i_ino);
	k.dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	k.pid = bpf_get_current_pid_tgid() >> 32;
	u64 *v = bpf_map_lookup_elem(map, &k);
	if (v) {
		*v += n;
	} else {
		bpf_map_update_elem(map, &k, &n, BPF_NOEXIST);
	}
	return 0;
}
"""),
    "classifier": (
        ["classify", "flows", "LICENSE"],
        r"""
int parse_eth(void *data, void *data_end, u32 *proto);
u32 flow_hash(void *data, void *data_end);
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536); __type(key, u32); __type(value, u64); } flows SEC(".maps");
SEC("tc")
int classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	u32 proto = 0;
	if (parse_eth(data, data_end, &proto) < 0)
		return 0;
	u32 h = flow_hash(data, data_end) ^ proto;
	u64 one = 1, *n = bpf_map_lookup_elem(&flows, &h);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&flows, &h, &one, BPF_ANY);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
""",
        r"""
__noinline int parse_eth(void *data, void *data_end, u32 *proto)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		return -1;
	*proto = eth->h_proto;
	return 0;
}
__noinline u32 flow_hash(void *data, void *data_end)
{
	u8 *p = data;
	u32 h = 2166136261u;
	for (int i = 0; i < 34; i++) {
		if ((void *)(p + i + 1) > data_end)
			break;
		h = (h ^ p[i]) * 16777619u;
	}
	return h;
}
"""),
}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _compile(sources: list[Path], include: list[Path] = ()) -> list[str]:
    """clang-16 -g -O2 each source to bitcode, two at a time; returns the .bc paths."""
    def one(src: Path) -> str:
        out = src.with_suffix(".bc")
        cmd = [CLANG, *CLANG_FLAGS, *(f"-I{d}" for d in include), "-emit-llvm", "-c", str(src), "-o", str(out)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{r.stderr}")
        return str(out)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(one, sources))


def make_small(root: Path) -> Workload:
    d = root / "small"
    inputs = _compile([_write(d / "a.c", SMALL_A), _write(d / "b.c", SMALL_B)])
    return Workload("small", "2 files, 6 functions", [Link(inputs, ["prog", "LICENSE"])])


def make_libbpf(root: Path, programs: list[str]) -> Workload | None:
    if not (os.path.exists(VMLINUX_BTF) and shutil.which("bpftool")):
        print(f"bench: no bpftool or {VMLINUX_BTF}: skipping the vmlinux.h workload", file=sys.stderr)
        return None
    d = root / "libbpf"
    d.mkdir(parents=True, exist_ok=True)
    header = subprocess.run(["bpftool", "btf", "dump", "file", VMLINUX_BTF, "format", "c"],
                            capture_output=True, text=True, check=True).stdout
    (d / "vmlinux.h").write_text(header)
    links = []
    for name in programs:
        exports, main, helpers = LIBBPF_PROGRAMS[name]
        sources = [_write(d / name / "main.bpf.c", LIBBPF_HEADER + main),
                   _write(d / name / "helpers.bpf.c", LIBBPF_HEADER + helpers)]
        links.append(Link(_compile(sources, [d]), exports))
    return Workload("libbpf", f"{len(programs)} libbpf-style tools (vmlinux.h), 2 files each, linked one by one",
                    links)


def make_large(root: Path, files: int = 20, funcs: int = 25) -> Workload:
    """`files` files of `funcs` chained noinline functions (about 60 instructions each), a tc program per file."""
    d = root / "large"
    names = [[f"f_{i}_{j}" for j in range(funcs)] for i in range(files)]
    _write(d / "large.h", "".join(f"__u64 {n}(__u64 x, __u64 y);\n" for row in names for n in row))
    sources = []
    for i in range(files):
        out = ["#include <linux/bpf.h>", "#include <bpf/bpf_helpers.h>", '#include "large.h"']
        for j in range(funcs):
            body = []
            for k in range(12):
                c = (0x9E3779B97F4A7C15 * (i * 1000 + j * 16 + k + 1)) & 0xFFFFFFFFFFFFFFFF
                body.append(f"\tx = (x ^ (x >> {7 + k % 23})) * 0x{c:016x}ULL + y;")
            if j + 1 < funcs:
                body.append(f"\tif (x & 3)\n\t\tx += {names[i][j + 1]}(x, y ^ {j});")
            if j == 0:
                body.append(f"\tif (!(x & 7))\n\t\tx ^= {names[(i + 1) % files][funcs - 1]}(y, x);")
            out.append(f"__noinline __u64 {names[i][j]}(__u64 x, __u64 y)\n{{\n" + "\n".join(body)
                       + "\n\treturn x;\n}")
        out.append(f'SEC("tc") int prog_{i}(struct __sk_buff *skb)\n{{\n'
                   f"\treturn {names[i][0]}(skb->len, skb->mark) & 0xff;\n}}")
        if i == 0:
            out.append('char LICENSE[] SEC("license") = "GPL";')
        sources.append(_write(d / f"f{i}.c", "\n".join(out) + "\n"))
    inputs = _compile(sources, [d])
    exports = [f"prog_{i}" for i in range(files)] + ["LICENSE"]
    return Workload("large", f"{files} files, {files * funcs} functions (-g)", [Link(inputs, exports)])


def make_scale(root: Path, n: int) -> Workload:
    """n modules of one function each, calling the next module's; module 0 also holds the program.

    A chain keeps every function small: one function calling all n would make codegen of
    that one function, not linking, the thing that grows.
    """
    d = root / f"scale{n}"
    sources = []
    for k in range(n):
        step = f"(x * {2 * k + 1}u) ^ {k}u"
        if k + 1 < n:
            text = (f"unsigned s_{k + 1}(unsigned x);\n"
                    f"__attribute__((noinline)) unsigned s_{k}(unsigned x) {{ return s_{k + 1}({step}); }}\n")
        else:
            text = f"__attribute__((noinline)) unsigned s_{k}(unsigned x) {{ return {step}; }}\n"
        if k == 0:
            text += ('__attribute__((section("tc"), used)) int prog(unsigned *ctx) { return s_0(ctx[0]) & 0xff; }\n'
                     'char LICENSE[] __attribute__((section("license"), used)) = "GPL";\n')
        sources.append(_write(d / f"m{k}.c", text))
    return Workload(f"scale-{n}", f"{n} input module{'s' if n > 1 else ''}, 1 function each",
                    [Link(_compile(sources), ["prog", "LICENSE"])])


# --------------------------------------------------------------------------- running and measuring

@dataclass
class Sample:
    wall: float  # seconds
    cpu: float   # user + system seconds of the process and the children it waited for
    rss: int     # peak resident set, KiB, of the largest process
    status: int


def run_measured(cmd, env=None, cwd=None) -> Sample:
    """Run one command; wall time, and CPU time and peak RSS from wait4 (children included)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"bench: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n{message}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode)


def run_sequence(cmds, env=None) -> Sample:
    """Commands one after another (a tool pipeline): times add up, RSS is the largest process's."""
    samples = [run_measured(c, env=env) for c in cmds]
    return Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples), max(s.rss for s in samples), 0)


@dataclass
class Contender:
    """Something that links a workload: ours on one libLLVM, the LLVM tools of a version, upstream."""

    name: str
    kind: str  # "ours", "tools", "link+llc", "upstream", "ours-default"
    llvm: str  # "16", "22", "rustc 22", "?"
    link: object  # (Link, out_dir) -> Sample

    def run(self, workload: Workload, out_dir: Path) -> Sample:
        samples = [self.link(lk, out_dir / f"{self.name}-{i}.o") for i, lk in enumerate(workload.links)]
        return Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples), max(s.rss for s in samples), 0)


def our_command() -> list[str]:
    """The installed console script beside this interpreter (no version-manager shim), else -m."""
    script = Path(sys.executable).with_name("bpf-linker")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bpf_linker"]


def our_env(work: Path) -> dict:
    """Bytecode written once (as an installed package has it), caches in the work directory."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(work / "pycache"), XDG_CACHE_HOME=str(work / "cache"))
    for var in ("PYTHONDONTWRITEBYTECODE", "BPF_LINKER_LLVM", "BPF_LINKER_IN_PROCESS"):
        env.pop(var, None)
    return env


def llvm_versions(wanted: list[str] | None) -> dict[str, dict]:
    """major -> {"lib", "bin"} for each LLVM whose shared library and llvm-link/opt/llc exist."""
    found = {}
    for major in range(16, 31):
        bindir = f"/usr/lib/llvm-{major}/bin"
        libs = [p for pattern in (f"/usr/lib/llvm-{major}/lib/libLLVM*.so*", f"/usr/lib/*-linux-gnu/libLLVM-{major}.so*",
                                  f"/usr/lib/*-linux-gnu/libLLVM.so.{major}.*")
                for p in sorted(glob.glob(pattern))]
        libs = [os.path.realpath(p) for p in libs if open(os.path.realpath(p), "rb").read(4) == b"\x7fELF"]
        tools = all(os.access(f"{bindir}/{t}", os.X_OK) for t in ("llvm-link", "opt", "llc"))
        if libs and tools and (not wanted or str(major) in wanted):
            found[str(major)] = {"lib": libs[0], "bin": bindir}
    return found


def contenders(versions: dict, upstream: str | None, work: Path) -> list[Contender]:
    env = our_env(work)
    ours = our_command()
    out = []
    for major, v in versions.items():
        def ours_link(lk, path, lib=v["lib"]):
            return run_measured([*ours, "--llvm", lib, "-o", path, *lk.inputs], env=env)

        def tools_link(lk, path, bindir=v["bin"]):
            linked, optimized = path.with_suffix(".link.bc"), path.with_suffix(".opt.bc")
            return run_sequence([[f"{bindir}/llvm-link", *lk.inputs, "-o", linked],
                                 [f"{bindir}/opt", "-O2", linked, "-o", optimized],
                                 [f"{bindir}/llc", "-march=bpf", "-filetype=obj", optimized, "-o", path]])

        def link_llc(lk, path, bindir=v["bin"]):
            linked = path.with_suffix(".link.bc")
            return run_sequence([[f"{bindir}/llvm-link", *lk.inputs, "-o", linked],
                                 [f"{bindir}/llc", "-march=bpf", "-filetype=obj", linked, "-o", path]])

        out += [Contender(f"ours-{major}", "ours", major, ours_link),
                Contender(f"tools-{major}", "tools", major, tools_link),
                Contender(f"linkllc-{major}", "link+llc", major, link_llc)]
    if upstream:
        def upstream_link(lk, path):
            return run_measured([upstream, "--btf", "--export", ",".join(lk.exports), "-o", path, *lk.inputs])

        out.append(Contender("upstream", "upstream", "?", upstream_link))
    return out


def measure(workload: Workload, cands: list[Contender], runs: int, out_dir: Path, log) -> dict[str, list[Sample]]:
    """One warm-up each, then `runs` rounds; each round runs every contender once, the order
    rotated from round to round, so load changes spread evenly."""
    samples: dict[str, list[Sample]] = {c.name: [] for c in cands}
    for c in cands:
        c.run(workload, out_dir)
        check_outputs(workload, c, out_dir)
    for r in range(runs):
        order = cands[r % len(cands):] + cands[:r % len(cands)]
        for c in order:
            samples[c.name].append(c.run(workload, out_dir))
        log(f"  {workload.name}: round {r + 1}/{runs}")
    return samples


def check_outputs(workload: Workload, c: Contender, out_dir: Path) -> None:
    """The outputs are BPF objects (with .BTF where the workload has BTF): the run did link."""
    for i in range(len(workload.links)):
        data = (out_dir / f"{c.name}-{i}.o").read_bytes()
        machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
        if data[:4] != b"\x7fELF" or machine != EM_BPF:
            raise SystemExit(f"bench: {c.name} on {workload.name}: output {i} is not a BPF object")
        if workload.btf and c.kind in ("ours", "ours-default") and b".BTF\0" not in data:
            raise SystemExit(f"bench: {c.name} on {workload.name}: output {i} has no .BTF")


# --------------------------------------------------------------------------- Python's share

_HARNESS = r"""
import json, sys, time
t0 = time.perf_counter()
import bpf_linker.bindings._ffi as F

spent = [0.0]

class Timed:
    # Every libLLVM call, timed.
    def __init__(self, lib):
        self._lib = lib
    def __getattr__(self, name):
        f = getattr(self._lib, name)
        if not callable(f):
            return f
        def call(*args, _f=f, _clock=time.perf_counter):
            t = _clock()
            try:
                return _f(*args)
            finally:
                spent[0] += _clock() - t
        setattr(self, name, call)
        return call

real_open = F._open
def timed_open(path, source):
    t = time.perf_counter()
    try:
        library = real_open(path, source)  # dlopen and target initialization count as LLVM's
    finally:
        spent[0] += time.perf_counter() - t
    library.lib = Timed(library.lib)
    return library
F._open = timed_open
from bpf_linker.cli import main
status = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"llvm": spent[0], "python_process": time.perf_counter() - t0}, f)
sys.exit(status)
"""


def python_share(workload: Workload, major: str, lib: str, work: Path) -> float:
    """Share of our wall time spent outside libLLVM calls (interpreter start-up included), in-process."""
    env = dict(our_env(work), BPF_LINKER_IN_PROCESS="1")
    wall = llvm = 0.0
    for i, lk in enumerate(workload.links):
        report = work / "share.json"
        sample = run_measured([sys.executable, "-c", _HARNESS, report, "--llvm", lib, "-o",
                               work / f"share-{major}-{i}.o", *lk.inputs], env=env)
        wall += sample.wall
        llvm += json.loads(report.read_text())["llvm"]
    return max(0.0, 1.0 - llvm / wall)


# --------------------------------------------------------------------------- start-up rows

def startup_rows(runs: int, work: Path, log) -> list[dict]:
    """--version against `import cffi` plus loading the same libLLVM; default discovery against naming it."""
    env = our_env(work)
    ours = our_command()
    version = subprocess.run([*ours, "--version"], env=env, capture_output=True, text=True, check=True).stdout
    lib = version.splitlines()[-1].split("(", 1)[1].split(",", 1)[0].rstrip(")")
    baseline = [sys.executable, "-c", f"import cffi; ffi = cffi.FFI(); ffi.cdef('void LLVMInitializeBPFTarget(void);'); "
                                      f"ffi.dlopen({lib!r}).LLVMInitializeBPFTarget()"]
    small = make_small(work)
    inputs = small.links[0].inputs
    # The library default discovery picks for these inputs (the one closest to their producer).
    debug = subprocess.run([*ours, "--log-level", "debug", "-o", work / "default.o", *inputs], env=env,
                           capture_output=True, text=True, check=True).stderr
    chosen = re.search(r"debug: LLVM [\d.]+ from (.+) \((\S+)\)$", debug, re.MULTILINE)
    link_lib = chosen.group(1) if chosen else lib
    cmds = {
        "version": [*ours, "--version"],
        "import cffi + dlopen": baseline,
        "default discovery": [*ours, "-o", work / "default.o", *inputs],
        "explicit library": [*ours, "--llvm", link_lib, "-o", work / "explicit.o", *inputs],
    }
    samples: dict[str, list[Sample]] = {k: [] for k in cmds}
    names = list(cmds)
    for name in names:  # warm-up
        run_measured(cmds[name], env=env)
    for r in range(runs):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(run_measured(cmds[name], env=env))
    log("  start-up: done")
    med = {k: _median(v) for k, v in samples.items()}
    return [
        {"row": "--version vs import cffi + dlopen of the same libLLVM", "library": lib,
         "ours": med["version"], "baseline": med["import cffi + dlopen"],
         "ratio": med["version"]["wall"] / med["import cffi + dlopen"]["wall"]},
        {"row": "small link: default discovery vs --llvm naming the library it finds", "library": link_lib,
         "ours": med["default discovery"], "baseline": med["explicit library"],
         "ratio": med["default discovery"]["wall"] / med["explicit library"]["wall"]},
    ]


def _median(samples: list[Sample]) -> dict:
    return {"wall": statistics.median(s.wall for s in samples), "cpu": statistics.median(s.cpu for s in samples),
            "rss": max(s.rss for s in samples), "runs": len(samples)}


# --------------------------------------------------------------------------- report

def rows_for(workload: Workload, samples, cands, shares) -> list[dict]:
    rows = []
    upstream = _median(samples["upstream"]) if "upstream" in samples else None
    for c in cands:
        if c.kind != "ours":
            continue
        ours = _median(samples[c.name])
        tools = _median(samples[f"tools-{c.llvm}"])
        linkllc = _median(samples[f"linkllc-{c.llvm}"])
        row = {"workload": workload.name, "summary": workload.summary, "llvm": c.llvm, "ours": ours,
               "tools": tools, "link+llc": linkllc, "vs_tools": ours["wall"] / tools["wall"],
               "vs_link_llc": ours["wall"] / linkllc["wall"],
               "rss_vs_tools": ours["rss"] / tools["rss"], "python_share": shares.get(c.llvm)}
        if upstream:
            row["upstream"] = upstream
            row["vs_upstream"] = ours["wall"] / upstream["wall"]
        rows.append(row)
    return rows


def targets(rows: list[dict], startup: list[dict]) -> list[dict]:
    """The issue's targets, each a ratio in this run."""
    out = []

    def add(what, value, limit, ok=None):
        out.append({"target": what, "value": round(value, 3) if value is not None else None, "limit": limit,
                    "met": (value is not None and value <= limit) if ok is None else ok})

    for r in rows:
        v = r["llvm"]
        if r["workload"] == "small":
            add(f"small link <= 1.0x tools (LLVM {v})", r["vs_tools"], 1.0)
            if "vs_upstream" in r:
                add(f"moonshot: small link <= 2x upstream (LLVM {v})", r["vs_upstream"], 2.0)
        if r["workload"] == "large":
            add(f"large program <= 0.9x tools (LLVM {v})", r["vs_tools"], 0.9)
            if r["python_share"] is not None:
                add(f"large program: Python share <= 5% (LLVM {v})", r["python_share"], 0.05)
            add(f"large program: peak RSS <= 1.3x tools' largest process (LLVM {v})", r["rss_vs_tools"], 1.3)
        if r["workload"] == "libbpf":
            add(f"vmlinux.h programs <= 1.0x llvm-link + llc (LLVM {v})", r["vs_link_llc"], 1.0)
        if r["workload"] == "scale-100" and "vs_upstream" in r:
            add(f"100 inputs <= 1.2x upstream (LLVM {v})", r["vs_upstream"], 1.2)
    for v in sorted({r["llvm"] for r in rows}):
        scale = {int(r["workload"].split("-")[1]): r for r in rows
                 if r["llvm"] == v and r["workload"].startswith("scale-")}
        if {10, 100, 1000} <= set(scale):
            # Growth: the cost of each input from 100 to 1000 over that from 10 to 100 (1.0 is
            # linear), ours against the LLVM tools' on the same inputs.
            def growth(kind):
                t = {n: scale[n][kind]["wall"] for n in (10, 100, 1000)}
                return ((t[1000] - t[100]) / 900) / max(1e-9, (t[100] - t[10]) / 90)

            ours, tools = growth("ours"), growth("tools")
            add(f"time linear in inputs: per-input cost growth 10->100->1000, ours {ours:.2f} "
                f"vs tools {tools:.2f}, ratio <= 1.25 (LLVM {v})", ours / tools, 1.25)
            mem = scale[1000]["ours"]["rss"] / scale[100]["ours"]["rss"]
            add(f"memory at most linear: rss1000 / rss100 <= 10 (LLVM {v})", mem, 10.0)
    for s in startup:
        if s["row"].startswith("--version"):
            add("--version <= 1.5x (import cffi + dlopen libLLVM)", s["ratio"], 1.5)
        else:
            add("default discovery <= explicit library (5% noise allowed)", s["ratio"], 1.05)
    return out


def _ms(x: float) -> str:
    return f"{x * 1000:.0f}"


def table(rows: list[dict], startup: list[dict], goals: list[dict]) -> str:
    lines = ["| workload | LLVM | ours ms (CPU ms, RSS MB) | llvm-link+opt+llc ms (CPU, RSS) | ours/tools "
             "| llvm-link+llc ms | ours/(link+llc) | upstream ms | ours/upstream | outside LLVM |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o, t, lk = r["ours"], r["tools"], r["link+llc"]
        up = r.get("upstream")
        up_ms = _ms(up["wall"]) if up else "-"
        up_ratio = f"{r['vs_upstream']:.2f}" if up else "-"
        share = f"{r['python_share'] * 100:.0f}%" if r["python_share"] is not None else "-"
        lines.append(
            f"| {r['workload']} | {r['llvm']} | {_ms(o['wall'])} ({_ms(o['cpu'])}, {o['rss'] / 1024:.0f}) "
            f"| {_ms(t['wall'])} ({_ms(t['cpu'])}, {t['rss'] / 1024:.0f}) | {r['vs_tools']:.2f} "
            f"| {_ms(lk['wall'])} | {r['vs_link_llc']:.2f} | {up_ms} | {up_ratio} | {share} |")
    for s in startup:
        lines.append(f"\n{s['row']}: {_ms(s['ours']['wall'])} ms vs {_ms(s['baseline']['wall'])} ms "
                     f"= {s['ratio']:.2f}x ({s['library']})")
    lines.append("\n| target | value | limit | met |\n|---|---|---|---|")
    for g in goals:
        value = "-" if g["value"] is None else f"{g['value']:.3f}"
        lines.append(f"| {g['target']} | {value} | {g['limit']} | {'yes' if g['met'] else 'NO'} |")
    return "\n".join(lines)


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model, "cpus": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release(), "loadavg_start": os.getloadavg()}


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="CI mode: a few small workloads, one LLVM, one round; checks that it ran, not how fast")
    parser.add_argument("--runs", type=int, default=3, help="measured rounds per workload (default 3)")
    parser.add_argument("--llvm", default="", help="comma-separated LLVM majors (default: every one with tools)")
    parser.add_argument("--upstream", metavar="PATH", help="a Rust bpf-linker binary to compare with")
    parser.add_argument("--workloads", default="small,libbpf,large,scale",
                        help="comma-separated: small, libbpf, large, scale (default: all)")
    parser.add_argument("--json", metavar="PATH", default="bench-results.json", help="where to write the results")
    parser.add_argument("--workdir", metavar="DIR", help="keep generated sources and outputs here")
    args = parser.parse_args(argv)
    if not shutil.which(CLANG):
        print(f"bench: {CLANG} is needed to build the workloads", file=sys.stderr)
        return 1
    versions = llvm_versions([v for v in args.llvm.split(",") if v] or None)
    if not versions:
        print("bench: no LLVM with both libLLVM and llvm-link/opt/llc found", file=sys.stderr)
        return 1
    runs = 1 if args.quick else args.runs
    if args.quick:
        newest = max(versions, key=int)
        versions = {newest: versions[newest]}
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bpf-linker-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    info = machine()
    log(f"bench: LLVM {', '.join(versions)}; {runs} round(s); load {info['loadavg_start']}; in {work}")
    wanted = set(args.workloads.split(","))
    workloads: list[Workload] = []
    if "small" in wanted:
        workloads.append(make_small(work))
    if "libbpf" in wanted:
        lb = make_libbpf(work, ["classifier"] if args.quick else list(LIBBPF_PROGRAMS))
        if lb:
            workloads.append(lb)
    if "large" in wanted and not args.quick:
        workloads.append(make_large(work))
    if "scale" in wanted:
        workloads += [make_scale(work, n) for n in ((1, 10) if args.quick else SCALE_SIZES)]
    log(f"bench: built {', '.join(w.name for w in workloads)}")

    cands = contenders(versions, args.upstream, work)
    rows = []
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    for w in workloads:
        samples = measure(w, cands, runs, out_dir, log)
        shares = {v: python_share(w, v, versions[v]["lib"], work) for v in versions}
        rows += rows_for(w, samples, cands, shares)
    startup = startup_rows(max(runs, 3) if not args.quick else 1, work, log)
    goals = targets(rows, startup)
    info["loadavg_end"] = os.getloadavg()
    report = {"machine": info, "llvm": versions, "upstream": args.upstream, "runs": runs, "quick": args.quick,
              "rows": rows, "startup": startup, "targets": goals}
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(table(rows, startup, goals))
    print(f"\nload average {info['loadavg_start']} -> {info['loadavg_end']} on {info['cpus']} CPUs; "
          f"JSON: {args.json}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    if args.quick:
        expected = len(workloads) * len(versions)
        if len(rows) != expected or not goals:
            print(f"bench: expected {expected} result rows, got {len(rows)}", file=sys.stderr)
            return 1
        print(f"bench --quick: {len(rows)} workloads linked by every contender, outputs checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
