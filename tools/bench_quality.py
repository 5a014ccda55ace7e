"""Quality check: instructions and verified_insns of generated libbpf-style programs, ours against clang's single-file object."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

LIBS = {
    16: ("/usr/lib/x86_64-linux-gnu/libLLVM-16.so.1", "/usr/lib/llvm-16/lib/libLLVM.so"),
    19: ("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1", "/usr/lib/llvm-19/lib/libLLVM.so.1"),
    22: ("/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1", "/usr/lib/llvm-22/lib/libLLVM.so.1"),
}
CFLAGS = ("-g", "-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu")
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
BPFFS = Path("/sys/fs/bpf")
SYS_BPF, BPF_OBJ_GET = 321, 7  # x86_64 syscall number, bpf(2) command

PRELUDE = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "GPL";
"""


def _map(name: str, value: str) -> str:
    return (f"struct {{ __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); "
            f"__type(value, {value}); }} {name} SEC(\".maps\");\n")


# --------------------------------------------------------------------------- generated programs

def zero_struct(n: int) -> str:
    return PRELUDE + f"""struct ev {{ __u32 pid; __u32 len; __u64 ts; char comm[{n}]; }};
{_map("evs", "struct ev")}
SEC("tc") int zero_struct_{n}(struct __sk_buff *skb)
{{
	struct ev e = {{}};
	__u32 key = 0;

	e.len = skb->len;
	bpf_skb_load_bytes(skb, 0, e.comm, 4);
	bpf_map_update_elem(&evs, &key, &e, BPF_ANY);
	return e.len + e.comm[1];
}}
"""


def zero_chars(n: int) -> str:
    return PRELUDE + f"""{_map("bufs", f"char[{n}]")}
SEC("tc") int zero_chars_{n}(struct __sk_buff *skb)
{{
	char comm[{n}] = {{}};
	__u32 key = 0;

	bpf_skb_load_bytes(skb, 0, comm, 2);
	bpf_map_update_elem(&bufs, &key, comm, BPF_ANY);
	return comm[1];
}}
"""


def string_copy(n: int, text: str) -> str:
    return PRELUDE + f"""{_map("names", f"char[{n}]")}
SEC("tc") int string_copy_{n}_{len(text)}(struct __sk_buff *skb)
{{
	char name[{n}] = "{text}";
	__u32 key = 0;

	bpf_skb_load_bytes(skb, 0, name + {n - 2}, 1);
	bpf_map_update_elem(&names, &key, name, BPF_ANY);
	return name[0] + name[{n - 2}];
}}
"""


def printk(global_data: bool, formats: list[str]) -> str:
    calls = "\n".join(f'\tbpf_printk("{f}\\n", len);' for f in formats)
    name = f"printk_{'gd' if global_data else 'nogd'}_{len(formats)}"
    return ("" if global_data else "#define BPF_NO_GLOBAL_DATA\n") + PRELUDE + f"""
SEC("tc") int {name}(struct __sk_buff *skb)
{{
	__u32 len = skb->len;

{calls}
	return len + 1;
}}
"""


def const_struct(fields: int) -> str:
    values = ", ".join(str(i * 0x01010101 + 3) for i in range(fields))
    members = " ".join(f"__u32 f{i};" for i in range(fields))
    return PRELUDE + f"""struct cfg {{ {members} }};
{_map("cfgs", "struct cfg")}
SEC("tc") int const_struct_{fields}(struct __sk_buff *skb)
{{
	struct cfg c = {{ {values} }};
	__u32 key = 0;

	c.f1 = skb->len;
	bpf_map_update_elem(&cfgs, &key, &c, BPF_ANY);
	return c.f0;
}}
"""


def map_value(name_len: int) -> str:
    return PRELUDE + f"""struct rec {{ __u64 a; __u32 b; __u16 c; char name[{name_len}]; char tail[5]; }};
{_map("recs", "struct rec")}
SEC("tc") int map_value_{name_len}(struct __sk_buff *skb)
{{
	struct rec r = {{}};
	struct rec *v;
	__u32 key = 0;

	r.a = skb->len;
	r.c = 0x1234;
	__builtin_memcpy(r.name, "record", 7);
	bpf_skb_load_bytes(skb, 0, r.tail, sizeof(r.tail));
	bpf_map_update_elem(&recs, &key, &r, BPF_ANY);
	v = bpf_map_lookup_elem(&recs, &key);
	if (!v)
		return 0;
	return v->a + v->name[2] + v->tail[1];
}}
"""


def stack_copy(n: int) -> str:
    return PRELUDE + f"""{_map("bufs", f"char[{n}]")}
SEC("tc") int stack_copy_{n}(struct __sk_buff *skb)
{{
	char a[{n}], b[{n}];
	__u32 key = 0;

	if (bpf_skb_load_bytes(skb, 0, a, sizeof(a)))
		return 0;
	__builtin_memcpy(b, a, sizeof(b));
	b[1] ^= 1;
	bpf_map_update_elem(&bufs, &key, b, BPF_ANY);
	return a[1];
}}
"""


TWO_H = """#pragma once
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#ifndef HELPER
#define HELPER
#endif
struct sample { __u64 ts; __u32 len; __u32 seq; char tag[12]; char src[8]; };
HELPER void sample_init(struct sample *s, __u32 len);
HELPER void sample_copy(struct sample *s, const char *from);
"""
TWO_HELPERS = """#include "two.h"
HELPER void sample_init(struct sample *s, __u32 len)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->len = len;
	__builtin_memcpy(s->tag, "two-files", 10);
}
HELPER void sample_copy(struct sample *s, const char *from)
{
	__builtin_memcpy(s->src, from, sizeof(s->src));
}
"""
TWO_MAIN = """#include "two.h"
char LICENSE[] SEC("license") = "GPL";
""" + _map("samples", "struct sample") + """
SEC("tc") int two_files(struct __sk_buff *skb)
{
	struct sample s;
	char src[8];
	__u32 key = 0;

	sample_init(&s, skb->len);
	if (bpf_skb_load_bytes(skb, 4, src, sizeof(src)))
		return 0;
	sample_copy(&s, src);
	s.seq = 7;
	bpf_map_update_elem(&samples, &key, &s, BPF_ANY);
	return s.len + s.tag[1];
}
"""


def programs() -> dict[str, dict[str, str]]:
    """name -> {file name: source}; the first file is the main one, `two.h` is a header."""
    out = {}
    for n in (16, 20, 64):
        out[f"zero_struct_{n}"] = {"p.c": zero_struct(n)}
    for n in (16, 36):
        out[f"zero_chars_{n}"] = {"p.c": zero_chars(n)}
    for n, text in ((16, "hello"), (16, "hello-world-123"), (32, "a-name-of-thirty-one-characters")):
        out[f"string_copy_{n}_{len(text)}"] = {"p.c": string_copy(n, text)}
    formats = ["printk: len=%u", "printk: a somewhat longer format with %u", "short %u"]
    for gd in (False, True):
        for k in (1, 3):
            out[f"printk_{'gd' if gd else 'nogd'}_{k}"] = {"p.c": printk(gd, formats[:k])}
    for fields in (6, 10):
        out[f"const_struct_{fields}"] = {"p.c": const_struct(fields)}
    for name_len in (10, 16):
        out[f"map_value_{name_len}"] = {"p.c": map_value(name_len)}
    for n in (16, 24):
        out[f"stack_copy_{n}"] = {"p.c": stack_copy(n)}
    out["two_files"] = {"main.c": TWO_MAIN, "helpers.c": TWO_HELPERS, "two.h": TWO_H,
                        "ref.c": '#define HELPER static\n#include "main.c"\n#include "helpers.c"\n'}
    return out


# --------------------------------------------------------------------------- measuring

def run(cmd, env=None) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{r.stderr}{r.stdout}")
    return r


def toolchain(major: int) -> tuple[str, str | None] | None:
    """(clang for the bitcode, llc for the reference or None if clang-<major> itself makes it)."""
    if shutil.which(f"clang-{major}"):
        return f"clang-{major}", None
    older = [m for m in range(major - 1, 15, -1) if shutil.which(f"clang-{m}")]
    if older and shutil.which(f"llc-{major}"):
        return f"clang-{older[0]}", f"llc-{major}"
    return None


def program_sizes(path: Path) -> dict[str, int]:
    """Program name -> 8-byte instruction slots of it plus the .text functions of the object."""
    from elftools.elf.elffile import ELFFile
    with open(path, "rb") as f:
        elf = ELFFile(f)
        text = elf.get_section_by_name(".text")
        text_size = text["sh_size"] // 8 if text is not None else 0
        out = {}
        for sym in elf.get_section_by_name(".symtab").iter_symbols():
            if sym["st_info"]["type"] != "STT_FUNC" or not isinstance(sym["st_shndx"], int):
                continue
            if elf.get_section(sym["st_shndx"]).name != ".text":
                out[sym.name] = sym["st_size"] // 8 + (text_size if _calls_local(elf, sym) else 0)
        return out


def _calls_local(elf, sym) -> bool:
    """True if the function makes a BPF-to-BPF call (pseudo call, src_reg 1)."""
    data = elf.get_section(sym["st_shndx"]).data()[sym["st_value"]:sym["st_value"] + sym["st_size"]]
    fmt = "<BB" if elf.little_endian else ">BB"
    for i in range(0, len(data) - 7, 8):
        code, regs = struct.unpack_from(fmt, data, i)
        src = regs >> 4 if elf.little_endian else regs & 0xF
        if code == 0x85 and src == 1:
            return True
    return False


def verified_insns(obj: Path) -> dict[str, int] | str:
    """Program name -> verified_insns, loading every program of `obj`; the error text if it does not load."""
    pin = BPFFS / f"bench_quality_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    try:
        r = subprocess.run([BPFTOOL, "prog", "loadall", str(obj), str(pin)], capture_output=True, text=True)
        if r.returncode != 0:
            return (r.stderr.strip().splitlines() or ["load failed"])[-1]
        out = {}
        for p in sorted(pin.iterdir()):
            show = json.loads(run([BPFTOOL, "-j", "prog", "show", "pinned", p]).stdout)
            out[p.name] = show["verified_insns"] if "verified_insns" in show else _fdinfo_verified_insns(p)
        return out
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def _fdinfo_verified_insns(pin: Path) -> int:
    """verified_insns from the kernel's fdinfo of the pinned program (bpftool before 7.2 does not print it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    path = ctypes.create_string_buffer(str(pin).encode())
    attr = ctypes.create_string_buffer(struct.pack("=QII", ctypes.addressof(path), 0, 0).ljust(128, b"\0"))
    fd = libc.syscall(SYS_BPF, BPF_OBJ_GET, attr, len(attr))
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"BPF_OBJ_GET {pin}")
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("verified_insns:"):
                    return int(line.split()[1])
        return -1
    finally:
        os.close(fd)


def measure(major: int, lib: str, cpu: str, tmp: Path, kernel: bool) -> list[dict]:
    chain = toolchain(major)
    if chain is None:
        print(f"LLVM {major}: no clang-{major} and no older clang with llc-{major}: skipped", file=sys.stderr)
        return []
    clang, llc = chain
    rows = []
    for name, files in programs().items():
        d = tmp / f"llvm{major}" / name
        d.mkdir(parents=True, exist_ok=True)
        for fname, src in files.items():
            (d / fname).write_text(src)
        sources = [f for f in files if f.endswith(".c") and f != "ref.c"]
        ref_src = d / ("ref.c" if "ref.c" in files else sources[0])
        bitcode = []
        for f in sources:
            bc = d / f.replace(".c", ".bc")
            run([clang, *CFLAGS, f"-mcpu={cpu}", "-emit-llvm", "-c", d / f, "-o", bc])
            bitcode.append(bc)
        ref = d / "clang.o"
        if llc is None:
            run([clang, *CFLAGS, f"-mcpu={cpu}", "-c", ref_src, "-o", ref])
        else:
            ref_bc = d / "ref.bc"
            run([clang, *CFLAGS, f"-mcpu={cpu}", "-emit-llvm", "-c", ref_src, "-o", ref_bc])
            run([llc, "-O2", "-march=bpf", f"-mcpu={cpu}", "-filetype=obj", ref_bc, "-o", ref])
        ours = d / "ours.o"
        env = dict(os.environ, BPF_LINKER_LLVM=lib, PYTHONSAFEPATH="1")
        run([sys.executable, "-m", "bpf_linker", "--cpu", cpu, "-o", ours, *bitcode], env=env)
        ref_sizes, our_sizes = program_sizes(ref), program_sizes(ours)
        ref_verified = verified_insns(ref) if kernel else {}
        our_verified = verified_insns(ours) if kernel else {}
        for prog in sorted(ref_sizes):
            rows.append({"llvm": major, "program": prog, "clang": ref_sizes[prog], "ours": our_sizes.get(prog),
                         "clang_verified": _pick(ref_verified, prog), "ours_verified": _pick(our_verified, prog)})
    return rows


def _pick(verified, prog: str):
    if isinstance(verified, str):
        return f"load failed: {verified}"
    return verified.get(prog, verified.get(prog[:15]))  # pins are named after the program


def table(rows: list[dict], kernel: bool) -> str:
    head = ["llvm", "program", "clang", "ours", "diff"] + (["clang vfy", "ours vfy", "diff"] if kernel else [])
    lines = [head]
    for r in rows:
        ours = r["ours"] if r["ours"] is not None else "-"
        diff = f"{r['ours'] - r['clang']:+d}" if r["ours"] is not None else "missing"
        line = [str(r["llvm"]), r["program"], str(r["clang"]), str(ours), diff]
        if kernel:
            cv, ov = r["clang_verified"], r["ours_verified"]
            vdiff = f"{ov - cv:+d}" if isinstance(cv, int) and isinstance(ov, int) else "?"
            line += [str(cv), str(ov), vdiff]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i != 1 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
                     for line in lines)


def main(argv=None) -> int:
    """For each libLLVM found (16, 19, 22) the generated programs are compiled to bitcode by the
    matching clang (or the newest older one), linked by bpf-linker with that libLLVM, and
    compared with clang's own object of the same code: `clang-N -c` of the single-file source,
    or `llc-N` on its bitcode where there is no clang-N. Instructions are 8-byte slots
    (ld_imm64 counts two, as the kernel counts) of the program and of the .text functions it
    calls. As root, both objects are loaded (`bpftool prog loadall` into a unique /sys/fs/bpf
    directory, removed after) and `bpftool -j prog show` gives the kernel's verified_insns
    (bpftool before 7.2 does not print it: then the program's fdinfo does).
    Prints a table and the totals; exits 1 if any program has more instructions than clang's.

    Usage: python tools/bench_quality.py [--llvm 16,19,22] [--cpu generic] [--no-kernel] [--keep DIR]
    """
    parser = argparse.ArgumentParser(description=" ".join(main.__doc__.split("\n\n")[0].split()))
    parser.add_argument("--llvm", default="16,19,22", help="libLLVM major versions to measure (default 16,19,22)")
    parser.add_argument("--cpu", default="generic", help="-mcpu for clang and llc, --cpu for the linker")
    parser.add_argument("--no-kernel", action="store_true", help="do not load the objects (no verified_insns)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it")
    args = parser.parse_args(argv)
    kernel = not args.no_kernel and os.geteuid() == 0 and os.path.exists(BPFTOOL) and BPFFS.is_dir()
    if not args.no_kernel and not kernel:
        print("not root or no bpftool/bpffs: verified_insns not measured", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_quality_") as scratch:
        tmp = Path(args.keep) if args.keep else Path(scratch)
        for major in (int(v) for v in args.llvm.split(",")):
            lib = next((p for p in LIBS.get(major, ()) if os.path.exists(p)), None)
            if lib is None:
                print(f"LLVM {major}: no libLLVM found: skipped", file=sys.stderr)
                continue
            rows += measure(major, lib, args.cpu, tmp, kernel)
    print(table(rows, kernel))
    larger = [r for r in rows if r["ours"] is None or r["ours"] > r["clang"]
              or (isinstance(r["ours_verified"], str) and not isinstance(r["clang_verified"], str))]
    clang_total = sum(r["clang"] for r in rows)
    ours_total = sum(r["ours"] or 0 for r in rows)
    summary = f"instructions: clang {clang_total}, ours {ours_total} ({ours_total / max(clang_total, 1):.3f}x)"
    if kernel:
        cv = sum(r["clang_verified"] for r in rows if isinstance(r["clang_verified"], int))
        ov = sum(r["ours_verified"] for r in rows if isinstance(r["ours_verified"], int))
        summary += f"; verified_insns: clang {cv}, ours {ov} ({ov / max(cv, 1):.3f}x)"
    print(summary)
    if larger:
        print(f"FAIL: {len(larger)} program(s) larger than clang's (or not loading where clang's does): "
              + ", ".join(f"{r['program']} (LLVM {r['llvm']})" for r in larger))
        return 1
    print(f"OK: no program larger than clang's ({len(rows)} programs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
