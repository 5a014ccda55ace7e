"""Test helpers: build BPF fixtures with clang, run the linker, inspect ELF/BTF, load and run programs."""

from __future__ import annotations

import glob
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
C_DIR = TESTS_DIR / "c"
BPFFS = Path("/sys/fs/bpf")
ETH_HLEN = 14

CLANG = "clang-16"
LLVM_AR = "llvm-ar-16"
LLVM_OBJDUMP = "llvm-objdump-16"
BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
REQUIRE_ALL_ENV = "BPF_LINKER_REQUIRE_ALL"

CLANG_BPF_FLAGS = ("-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu")
FORM_FLAGS = {
    "bc": ("-emit-llvm", "-c"),
    "ll": ("-S", "-emit-llvm"),
    "obj-embed": ("-fembed-bitcode", "-c"),
    "obj": ("-c",),
}


# --------------------------------------------------------------------------- requirements

def require(cond: bool, what: str) -> None:
    """Skip the test when `cond` is false, or fail it when BPF_LINKER_REQUIRE_ALL=1 (CI)."""
    if cond:
        return
    if os.environ.get(REQUIRE_ALL_ENV) == "1":
        pytest.fail(f"requirement missing: {what}", pytrace=False)
    pytest.skip(what)


def have_clang() -> bool:
    return all(shutil.which(t) for t in (CLANG, LLVM_AR, LLVM_OBJDUMP))


def have_rustc() -> bool:
    """rustc on PATH that knows the bpfel-unknown-none target."""
    rustc = shutil.which("rustc")
    if not rustc:
        return False
    r = subprocess.run([rustc, "--print", "target-list"], capture_output=True, text=True)
    return r.returncode == 0 and "bpfel-unknown-none" in r.stdout.split()


_kernel_bpf: bool | None = None


def have_kernel_bpf() -> bool:
    """Root, bpftool, and a bpffs at /sys/fs/bpf (mounted here if missing)."""
    global _kernel_bpf
    if _kernel_bpf is None:
        _kernel_bpf = _probe_kernel_bpf()
    return _kernel_bpf


def _bpffs_mounted() -> bool:
    try:
        with open("/proc/self/mounts") as f:
            return any(line.split()[1:3] == [str(BPFFS), "bpf"] for line in f)
    except OSError:
        return False


def _probe_kernel_bpf() -> bool:
    if os.geteuid() != 0 or not os.path.exists(BPFTOOL) or not BPFFS.is_dir():
        return False
    if not _bpffs_mounted():
        subprocess.run(["mount", "-t", "bpf", "bpf", str(BPFFS)], capture_output=True)
    return _bpffs_mounted()


def llvm16_path() -> str | None:
    for p in ("/usr/lib/x86_64-linux-gnu/libLLVM-16.so.1", "/usr/lib/llvm-16/lib/libLLVM.so"):
        if os.path.exists(p):
            return p
    return None


def rustc_sysroot() -> str | None:
    rustc = shutil.which("rustc")
    if not rustc:
        return None
    r = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def llvm22_path() -> str | None:
    p = "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1"
    if os.path.exists(p):
        return p
    sysroot = rustc_sysroot()
    if sysroot:
        # libLLVM.so.22.1-rust-<ver>-stable is the library; libLLVM-22-rust-*.so is a linker script.
        hits = sorted(glob.glob(os.path.join(sysroot, "lib", "libLLVM.so.22*-rust-*")))
        if hits:
            return hits[0]
    return None


def llvm19_path() -> str | None:
    return next((p for p in ("/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1", "/usr/lib/llvm-19/lib/libLLVM.so.1")
                 if os.path.exists(p)), None)


LLVM_LIBS = {"llvm16": llvm16_path, "llvm19": llvm19_path, "llvm22": llvm22_path}


# --------------------------------------------------------------------------- running tools

def run_tool(cmd, *, cwd=None, env=None, what=None) -> subprocess.CompletedProcess:
    """Run a tool; a non-zero exit raises AssertionError with its output."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=env)
    if r.returncode != 0:
        raise AssertionError(
            f"{what or cmd[0]} failed (exit {r.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}")
    return r


def run_linker(*args, llvm: str | None = None, check: bool = True, cwd=None) -> subprocess.CompletedProcess:
    """Run `python -m bpf_linker ARGS` in a subprocess (BPF_LINKER_LLVM=llvm when given).

    PYTHONSAFEPATH keeps `-m` from putting the working directory (often the checkout
    root, where a bare `passes` would import) on sys.path: the installed package runs.
    """
    env = dict(os.environ)
    if llvm is not None:
        env["BPF_LINKER_LLVM"] = str(llvm)
    env["PYTHONSAFEPATH"] = "1"
    cmd = [sys.executable, "-m", "bpf_linker", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if check and r.returncode != 0:
        pytest.fail(f"bpf-linker failed (exit {r.returncode}): {' '.join(cmd[1:])}\n"
                    f"--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}", pytrace=False)
    return r


def compile_c(src, out, *, form: str = "bc", clang: str = CLANG, opt: str = "-O2", extra=()) -> Path:
    """Compile one C file for BPF: form bc | ll | obj-embed (ELF with .llvmbc) | obj."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [clang, *CLANG_BPF_FLAGS, opt, *FORM_FLAGS[form], *extra, str(src), "-o", str(out)]
    run_tool(cmd, what=clang)
    return out


def make_archive(out, members) -> Path:
    out = Path(out)
    if out.exists():
        out.unlink()
    run_tool([LLVM_AR, "rcs", out, *members], what=LLVM_AR)
    return out


FORM_SUFFIX = {"bc": ".bc", "ll": ".ll", "obj-embed": ".embed.o", "obj": ".o"}


class FixtureBuilder:
    """Compiles the C fixtures under tests/c into one directory, each (file, form) once.

    Names are relative to tests/c: build("split/main.c", "bc"), ref("split") for the
    single-file reference object, archive("split/libhelpers.a", ["split/helpers.c"]).
    """

    def __init__(self, root):
        self.root = Path(root)
        self._done: dict[tuple, Path] = {}

    def build(self, rel: str, form: str = "bc", *, clang: str = CLANG, extra=()) -> Path:
        key = (rel, form, clang, tuple(extra))
        if key not in self._done:
            stem = rel.replace("/", "__").removesuffix(".c")
            tag = "" if (clang, tuple(extra)) == (CLANG, ()) else f".{len(self._done)}"
            out = self.root / f"{stem}{tag}{FORM_SUFFIX[form]}"
            self._done[key] = compile_c(C_DIR / rel, out, form=form, clang=clang, extra=extra)
        return self._done[key]

    def inputs(self, scenario: str, files, form: str = "bc") -> list[Path]:
        return [self.build(f"{scenario}/{f}", form) for f in files]

    def ref(self, scenario: str) -> Path:
        """The single-file reference object: tests/c/<scenario>/ref.c compiled by clang -c."""
        return self.build(f"{scenario}/ref.c", "obj")

    def archive(self, name: str, rels, form: str = "bc") -> Path:
        key = ("archive", name, tuple(rels), form)
        if key not in self._done:
            members = [self.build(r, form) for r in rels]
            self._done[key] = make_archive(self.root / name.replace("/", "__"), members)
        return self._done[key]


def libbpf_link(out, objs) -> Path:
    """Link ELF objects with libbpf's static linker (`bpftool gen object`)."""
    run_tool([BPFTOOL, "gen", "object", out, *objs], what="bpftool gen object")
    return Path(out)


def disasm(path, *, relocs: bool = True) -> str:
    cmd = [LLVM_OBJDUMP, "-d", *(["-r"] if relocs else []), str(path)]
    return run_tool(cmd, what=LLVM_OBJDUMP).stdout


def btf_dump(path) -> str:
    return run_tool([BPFTOOL, "btf", "dump", "file", path], what="bpftool btf dump").stdout


# --------------------------------------------------------------------------- kernel

def packet(payload: bytes = b"", size: int = 64) -> bytes:
    """A test packet: payload padded with zeros to `size` (at least ETH_HLEN) bytes."""
    size = max(size, len(payload), ETH_HLEN)
    return payload + b"\0" * (size - len(payload))


def prog_run(obj_path, prog_name: str | None = None, data: bytes = b"\0" * 64, repeat: int = 1) -> int:
    """Load every program of an object (bpftool prog loadall), run one once, return its r0.

    `prog_name` is the program's function name; required when the object has several.
    Pins live in a unique directory under /sys/fs/bpf, removed whatever happens.
    A load failure raises AssertionError carrying bpftool's stderr (the verifier log).
    """
    if len(data) < ETH_HLEN:
        raise ValueError(f"data_in must be at least {ETH_HLEN} bytes (ETH_HLEN), got {len(data)}")
    pin_dir = BPFFS / f"bpfkit_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="bpfkit_") as tmp:
        data_file = Path(tmp) / "data_in.bin"
        data_file.write_bytes(data)
        try:
            load = subprocess.run([BPFTOOL, "prog", "loadall", str(obj_path), str(pin_dir)],
                                  capture_output=True, text=True)
            if load.returncode != 0:
                raise AssertionError(
                    f"bpftool prog loadall {obj_path} failed (exit {load.returncode}); "
                    f"verifier/libbpf log:\n{load.stderr}\n{load.stdout}")
            pins = sorted(p.name for p in pin_dir.iterdir()) if pin_dir.is_dir() else []
            if prog_name is None:
                if len(pins) != 1:
                    raise AssertionError(f"{obj_path}: expected one program, pinned {pins}; pass prog_name")
                pin = pin_dir / pins[0]
            else:
                if prog_name not in pins:
                    raise AssertionError(f"{obj_path}: no program {prog_name!r}, pinned {pins}")
                pin = pin_dir / prog_name
            run = subprocess.run([BPFTOOL, "prog", "run", "pinned", str(pin), "data_in", str(data_file),
                                  "repeat", str(repeat)], capture_output=True, text=True)
            if run.returncode != 0:
                raise AssertionError(f"bpftool prog run failed (exit {run.returncode}):\n{run.stderr}\n{run.stdout}")
            for line in (run.stdout + run.stderr).splitlines():
                if line.strip().startswith("Return value:"):
                    return int(line.split(":", 1)[1].split(",", 1)[0].strip())
            raise AssertionError(f"no 'Return value:' in bpftool output:\n{run.stdout}\n{run.stderr}")
        finally:
            shutil.rmtree(pin_dir, ignore_errors=True)
            if pin_dir.exists():
                subprocess.run(["rm", "-rf", str(pin_dir)], capture_output=True)


# --------------------------------------------------------------------------- ELF inspection

def _elf(path):
    from elftools.elf.elffile import ELFFile
    f = open(path, "rb")
    return f, ELFFile(f)


def _shndx_name(elf, shndx) -> str:
    if isinstance(shndx, int):
        return elf.get_section(shndx).name
    return shndx  # 'SHN_UNDEF', 'SHN_ABS', 'SHN_COMMON'


def elf_symbols(path) -> dict[str, tuple[str, str, str]]:
    """name -> (bind, type, section name or SHN_*), e.g. ('STB_GLOBAL', 'STT_NOTYPE', 'SHN_UNDEF')."""
    f, elf = _elf(path)
    with f:
        symtab = elf.get_section_by_name(".symtab")
        out = {}
        for sym in symtab.iter_symbols() if symtab else ():
            if not sym.name or sym["st_info"]["type"] in ("STT_SECTION", "STT_FILE"):
                continue
            out[sym.name] = (sym["st_info"]["bind"], sym["st_info"]["type"], _shndx_name(elf, sym["st_shndx"]))
        return out


def elf_sections(path) -> dict[str, dict]:
    """name -> {'type', 'flags', 'size'}."""
    f, elf = _elf(path)
    with f:
        return {s.name: {"type": s["sh_type"], "flags": s["sh_flags"], "size": s["sh_size"]}
                for s in elf.iter_sections() if s.name}


def elf_section_data(path, name) -> bytes | None:
    f, elf = _elf(path)
    with f:
        s = elf.get_section_by_name(name)
        return None if s is None else s.data()


SHF_EXECINSTR = 0x4
BPF_CALL_OP = 0x85
BPF_EXIT_OP = 0x95


def _insns(data: bytes, big_endian: bool):
    fmt = ">BBhi" if big_endian else "<BBhi"
    i = 0
    while i + 8 <= len(data):
        code, regs, off, imm = struct.unpack_from(fmt, data, i)
        src = (regs >> 4) if not big_endian else (regs & 0xF)
        yield i, code, src, off, imm
        i += 16 if code == 0x18 else 8  # ld_imm64 takes two slots


def _func_ranges(elf) -> dict[int, list[tuple[int, int, str]]]:
    """section index -> [(start, end, function name)] from STT_FUNC symbols."""
    out: dict[int, list[tuple[int, int, str]]] = {}
    symtab = elf.get_section_by_name(".symtab")
    for sym in symtab.iter_symbols() if symtab else ():
        if sym["st_info"]["type"] == "STT_FUNC" and isinstance(sym["st_shndx"], int):
            start = sym["st_value"]
            out.setdefault(sym["st_shndx"], []).append((start, start + max(sym["st_size"], 1), sym.name))
    return out


def _func_at(ranges, idx, off) -> str | None:
    for start, end, name in ranges.get(idx, ()):
        if start <= off < end:
            return name
    return None


def bpf_calls(path) -> list[dict]:
    """Every `call` in executable sections, classified.

    kind: 'helper' (imm = helper id, no relocation), 'kfunc' (relocation against an
    undefined symbol), 'local' (a BPF-to-BPF call: relocation against a defined symbol
    or section, or a pc-relative pseudo call). 'function' is the caller.
    """
    from elftools.elf.relocation import RelocationSection
    f, elf = _elf(path)
    with f:
        big = not elf.little_endian
        relocs: dict[int, dict[int, tuple[str, str]]] = {}
        for sec in elf.iter_sections():
            if isinstance(sec, RelocationSection):
                target = sec["sh_info"]
                symtab = elf.get_section(sec["sh_link"])
                m = relocs.setdefault(target, {})
                for r in sec.iter_relocations():
                    sym = symtab.get_symbol(r["r_info_sym"])
                    name = sym.name or _shndx_name(elf, sym["st_shndx"])
                    m[r["r_offset"]] = (name, sym["st_shndx"])
        ranges = _func_ranges(elf)
        calls = []
        for idx, sec in enumerate(elf.iter_sections()):
            if not (sec["sh_flags"] & SHF_EXECINSTR) or sec["sh_type"] != "SHT_PROGBITS":
                continue
            m = relocs.get(idx, {})
            for off, code, src, joff, imm in _insns(sec.data(), big):
                if code != BPF_CALL_OP:
                    continue
                rel = m.get(off)
                if rel is not None:
                    kind = "kfunc" if rel[1] == "SHN_UNDEF" else "local"
                    target = rel[0]
                elif src == 1:
                    kind, target = "local", f"pc{imm:+d}"
                elif src == 2:
                    kind, target = "kfunc", f"btf_id {imm}"
                else:
                    kind, target = "helper", imm
                calls.append({"section": sec.name, "function": _func_at(ranges, idx, off),
                              "offset": off, "kind": kind, "target": target})
        return calls


def backward_jumps(path) -> list[dict]:
    """Jumps whose target is at or before the jump itself (i.e. loops) in executable sections."""
    f, elf = _elf(path)
    with f:
        big = not elf.little_endian
        ranges = _func_ranges(elf)
        out = []
        for idx, sec in enumerate(elf.iter_sections()):
            if not (sec["sh_flags"] & SHF_EXECINSTR) or sec["sh_type"] != "SHT_PROGBITS":
                continue
            for off, code, src, joff, imm in _insns(sec.data(), big):
                cls = code & 0x07
                if cls not in (0x05, 0x06) or code in (BPF_CALL_OP, BPF_EXIT_OP, 0x86, 0x96):
                    continue
                # BPF_JMP32|BPF_JA (gotol, cpu v4) jumps by imm; everything else by off.
                delta = imm if code == 0x06 else joff
                if delta < 0:
                    out.append({"section": sec.name, "function": _func_at(ranges, idx, off),
                                "offset": off, "delta": delta})
        return out


# --------------------------------------------------------------------------- fixture data

def _tlv(*opts: tuple[int, bytes]) -> bytes:
    return b"".join(bytes([k, len(v)]) + v for k, v in opts)


# Packets each scenario is run on (data_in of BPF_PROG_TEST_RUN; at least ETH_HLEN bytes).
PACKETS: dict[str, dict[str, bytes]] = {
    "split": {
        "counting": bytes(range(64)),
        # Tag 0xAA: the kfunc branch runs and reads the last 4 bytes (nothing else does).
        "kfunc-path": packet(b"\xaa" + bytes(range(1, 30)), 60) + b"\x11\x22\x33\x44",
        "options": packet(b"\x10\x20\x30" + b"\0" * 11 + b"\x05\x03abc\x07\x00\x01\x07abcdefg\x02\x01z", 64),
        "min": b"\x01" * ETH_HLEN,                        # header only, loops exit at once
    },
    "loops": {
        "options": packet(b"\0" * 14 + _tlv((1, b"ab"), (3, b""), (7, b"x" * 15), (5, b"z")), 64),
        "counting": bytes(range(64)),
        "ones": b"\xff" * 64,
        "min": b"\x02" * ETH_HLEN,
    },
    "kfunc": {
        "counting": bytes(range(64)),
        "zeros": b"\0" * 64,
        "short": b"\x03" * 20,                              # skb->len <= 20: no kfunc call
    },
    "libbpf_rules": {
        "zeros": b"\0" * 64,
    },
}

# Which program of each scenario the packets run, and the files of its multi-file build.
SCENARIOS: dict[str, dict] = {
    "split": {"files": ["main.c", "helpers.c"], "progs": ["split_prog"]},
    "loops": {"files": ["parser.c", "util.c"], "progs": ["loops_prog", "unroll_prog"]},
    "kfunc": {"files": ["main.c", "helper.c"], "progs": ["kfunc_prog"]},
    "libbpf_rules": {"files": ["a.c", "b.c", "c.c"], "progs": ["rules_prog"]},
}


# =========================================================================== libbpf user space
# What libbpf users run against an object: `bpftool gen skeleton`, a C loader compiled
# with gcc against libbpf, the skeleton's members; and the BTF and instructions that
# decide them (DATASEC variables and their linkage, ALU32/JMP32 instruction counts).

GCC = "gcc"
LIBBPF_H = Path("/usr/include/bpf/libbpf.h")


def have_libbpf_dev() -> bool:
    """gcc and libbpf's headers (libbpf-dev), to build skeleton loaders."""
    return shutil.which(GCC) is not None and LIBBPF_H.is_file()


def gen_skeleton(obj, out, name: str = "skel") -> Path:
    """`bpftool gen skeleton OBJ name NAME > OUT`: the header libbpf users compile against."""
    r = run_tool([BPFTOOL, "gen", "skeleton", obj, "name", name], what="bpftool gen skeleton")
    out = Path(out)
    out.write_text(r.stdout)
    return out


def _split_decls(body: str) -> list[str]:
    """Split a struct body at the `;` of its top-level declarations (nested braces kept)."""
    decls, depth, cur = [], 0, []
    for ch in body:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            decls.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    return [d for d in decls if d]


def _decl_name_type(decl: str) -> tuple[str, str]:
    """'__u32 weights[4]' -> ('weights', '__u32[4]'); 'struct bpf_map *bss' -> ('bss', 'struct bpf_map *')."""
    import re
    m = re.fullmatch(r"(.*?)(\w+)\s*((?:\[\s*\w*\s*\])*)", " ".join(decl.split()), re.S)
    if m is None:
        raise ValueError(f"cannot parse skeleton member {decl!r}")
    return m.group(2), m.group(1).strip() + m.group(3).replace(" ", "")


def skeleton_layout(header, name: str = "skel") -> dict:
    """What a skeleton header declares for user space, parsed from `struct NAME { ... }`.

    {'maps': [map names], 'progs': [program names],
     'datasecs': {'bss': {'out_sum': '__u32', ...}, 'rodata': {...}, 'data_custom': {...}}}
    Datasec members keep bpftool's order; its `__padN` fillers are left out.
    """
    import re
    text = Path(header).read_text()
    start = text.find(f"struct {name} {{")
    if start < 0:
        raise AssertionError(f"{header}: no `struct {name}` (bpftool gen skeleton ... name {name})")
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            body = text[i + 1:j]
            break
    else:
        raise AssertionError(f"{header}: unbalanced `struct {name}`")
    body = re.sub(r"#ifdef __cplusplus.*?#endif[^\n]*", "", body, flags=re.S)
    layout: dict = {"maps": [], "progs": [], "datasecs": {}}
    for decl in _split_decls(body):
        m = re.fullmatch(r"struct\s*(\w*)\s*\{(.*)\}\s*\**\s*(\w+)", decl, re.S)
        if m is None:
            continue                                    # skeleton, obj
        tag, inner, member = m.groups()
        fields = [_decl_name_type(d) for d in _split_decls(inner)]
        if member in ("maps", "progs"):
            layout[member] = [n for n, _ in fields]
        elif tag == f"{name}__{member}":
            layout["datasecs"][member] = {n: t for n, t in fields if not n.startswith("__pad")}
    return layout


def build_loader(src, skeleton, out, *, extra=()) -> Path:
    """Compile a libbpf loader: `gcc -include SKELETON SRC -lbpf -lelf -lz -o OUT`."""
    out = Path(out)
    run_tool([GCC, "-O1", "-Wall", "-include", skeleton, *extra, src, "-o", out, "-lbpf", "-lelf", "-lz"],
             what="gcc (skeleton loader)")
    return out


def run_loader(exe, *args, data: bytes | None = None) -> dict:
    """Run a loader; `data` goes to a file passed as `--data FILE` first.

    The loader prints "run PROG RETVAL" lines and "NAME=VALUE" lines; returns
    {'runs': [(prog, retval), ...], 'vars': {NAME: int}}. A non-zero exit raises
    AssertionError with libbpf's messages (the verifier log on a load failure).
    """
    with tempfile.TemporaryDirectory(prefix="bpfkit_loader_") as tmp:
        cmd = [exe]
        if data is not None:
            if len(data) < ETH_HLEN:
                raise ValueError(f"data_in must be at least {ETH_HLEN} bytes, got {len(data)}")
            data_file = Path(tmp) / "data_in.bin"
            data_file.write_bytes(data)
            cmd += ["--data", data_file]
        r = run_tool([*cmd, *args], what=f"loader {Path(exe).name}")
    result: dict = {"runs": [], "vars": {}}
    for line in r.stdout.splitlines():
        if line.startswith("run "):
            _, prog, retval = line.split()
            result["runs"].append((prog, int(retval)))
        elif "=" in line:
            key, value = line.split("=", 1)
            result["vars"][key] = int(value, 0)
    return result


def btf_types(obj) -> list[dict]:
    """The object's BTF types from `bpftool -j btf dump file OBJ` (index = type id - 1)."""
    import json
    r = run_tool([BPFTOOL, "-j", "btf", "dump", "file", obj], what="bpftool btf dump")
    return json.loads(r.stdout)["types"]


def btf_datasec_vars(obj) -> dict[str, dict[str, str]]:
    """DATASEC name -> {VAR name: linkage ('global', 'static', 'extern')}."""
    types = {t["id"]: t for t in btf_types(obj)}
    out: dict[str, dict[str, str]] = {}
    for t in types.values():
        if t["kind"] == "DATASEC":
            out[t["name"]] = {types[v["type_id"]]["name"]: types[v["type_id"]]["linkage"]
                              for v in t["vars"] if types[v["type_id"]]["kind"] == "VAR"}
    return out


def btf_func_linkage(obj) -> dict[str, str]:
    """FUNC name -> linkage ('global', 'static', 'extern')."""
    return {t["name"]: t["linkage"] for t in btf_types(obj) if t["kind"] == "FUNC"}


BPF_ALU = 0x04      # 32-bit ALU class (cpu v3's ALU32; BPF_END byte swaps exist at every cpu)
BPF_JMP32 = 0x06    # 32-bit compares and jumps (cpu v3)
BPF_END_OPS = (0xD4, 0xDC)


def insn_opcodes(path) -> dict[str, list[int]]:
    """Executable section name -> the opcode byte of every instruction, in order."""
    f, elf = _elf(path)
    with f:
        return {sec.name: [code for _, code, *_ in _insns(sec.data(), not elf.little_endian)]
                for sec in elf.iter_sections()
                if sec["sh_flags"] & SHF_EXECINSTR and sec["sh_type"] == "SHT_PROGBITS"}


def cpu_v3_insns(path) -> dict[str, int]:
    """Counts of the instructions only cpu v3 has: {'alu32': class 0x04 except BPF_END, 'jmp32': class 0x06}."""
    codes = [c for ops in insn_opcodes(path).values() for c in ops]
    return {"alu32": sum(1 for c in codes if c & 0x07 == BPF_ALU and c not in BPF_END_OPS),
            "jmp32": sum(1 for c in codes if c & 0x07 == BPF_JMP32)}
