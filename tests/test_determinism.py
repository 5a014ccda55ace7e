"""The same inputs and flags give byte-identical output (obj, asm, llvm-ir, llvm-bc).

Whatever the working directory, the output directory, the paths and names the inputs
are given by, and Python's string hashing (PYTHONHASHSEED=0, 1, random): sets and dicts
iterated by a pass, or a path that leaks into a module identifier, source_filename or
BTF string, would show here as a byte difference. Inputs: C in several forms (bitcode,
IR text, embedded-bitcode objects in an ar archive) with debug info and --btf, and a
no_core Rust crate whose generic, enum-laden debug info the BTF sanitizer rewrites.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

EMITS = ("obj", "asm", "llvm-ir", "llvm-bc")
C_FLAGS = ("--btf", "--export", "split_prog", "-O2")


def run_cli(args, *, cwd, seed: str, llvm: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONSAFEPATH="1", PYTHONHASHSEED=seed, BPF_LINKER_LLVM=llvm)
    return subprocess.run([sys.executable, "-m", "bpf_linker", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)


def lay_out(root: Path, files: dict[str, Path]) -> dict[str, Path]:
    """Copy each input to root/<name>; returns name -> new path."""
    root.mkdir(parents=True, exist_ok=True)
    placed = {}
    for name, src in files.items():
        placed[name] = root / name
        shutil.copyfile(src, placed[name])
    return placed


def variants(base: Path, files: dict[str, Path]):
    """(description, cwd, input args, output path, PYTHONHASHSEED) for three differently placed runs.

    1. relative paths from the inputs' own directory, output beside them, hash seed 0;
    2. absolute paths into a deeper directory with other file names, output elsewhere, seed 1;
    3. symlinks with yet other names, run from an unrelated directory, seed "random".
    """
    one = lay_out(base / "one", files)
    yield ("relative paths, seed 0", base / "one", [p.name for p in one.values()], Path("out.bin"), "0")

    deep = base / "two" / "a much" / "longer-directory.name"
    deep.mkdir(parents=True)
    two = {}
    for i, (name, src) in enumerate(files.items()):
        two[name] = deep / f"renamed-{i}-{name}"
        shutil.copyfile(src, two[name])
    out_dir = base / "two-out" / "nested"
    out_dir.mkdir(parents=True)
    yield ("absolute paths elsewhere, seed 1", base, [str(p) for p in two.values()], out_dir / "result", "1")

    links = base / "three" / "links"
    links.mkdir(parents=True)
    three = []
    for i, (name, src) in enumerate(files.items()):
        link = links / f"l{i}{Path(name).suffix}"
        link.symlink_to(one[name])
        three.append(str(link))
    cwd = base / "three" / "cwd"
    cwd.mkdir()
    yield ("symlinks from another cwd, seed random", cwd, three, base / "three" / "x.o", "random")


def check_identical(tmp_path, files: dict[str, Path], flags, llvm: str) -> None:
    """Link with every --emit in every variant; all outputs of one kind must be the same bytes."""
    jobs = []
    for emit in EMITS:
        for desc, cwd, inputs, out, seed in variants(tmp_path / emit, files):
            jobs.append((emit, desc, cwd, inputs, out, seed))

    def run(job):
        emit, desc, cwd, inputs, out, seed = job
        r = run_cli(["--emit", emit, *flags, "-o", out, *inputs], cwd=cwd, seed=seed, llvm=llvm)
        assert r.returncode == 0, f"{emit}, {desc}: {r.stderr}"
        noise = [line for line in r.stderr.splitlines() if not line.startswith("bpf-linker: warning: ")]
        assert not noise, f"{emit}, {desc}: unexpected output: {r.stderr}"
        return (Path(cwd) / out).read_bytes()

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        outputs = list(pool.map(run, jobs))
    by_emit: dict[str, list[tuple[str, bytes]]] = {}
    for (emit, desc, *_), data in zip(jobs, outputs):
        by_emit.setdefault(emit, []).append((desc, data))
    for emit, results in by_emit.items():
        (ref_desc, ref), *others = results
        for desc, data in others:
            assert data == ref, f"--emit {emit}: '{desc}' differs from '{ref_desc}'\n" + describe(emit, ref, data)


def describe(emit: str, a: bytes, b: bytes) -> str:
    if emit in ("asm", "llvm-ir"):
        diff = difflib.unified_diff(a.decode(errors="replace").splitlines(),
                                    b.decode(errors="replace").splitlines(), lineterm="", n=1)
        return "\n".join(list(diff)[:40])
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"sizes {len(a)} and {len(b)}, first difference at byte {first}"


@pytest.fixture(scope="module")
def c_inputs(cbuild, tmp_path_factory) -> dict[str, Path]:
    """The split scenario as main.c in IR text and main+helpers as bitcode/embedded objects in an archive."""
    root = tmp_path_factory.mktemp("det-c")
    main_ll = cbuild.build("split/main.c", "ll")
    helpers_obj = cbuild.build("split/helpers.c", "obj-embed")
    archive = bpfkit.make_archive(root / "libhelpers.a", [helpers_obj])
    return {"main.ll": main_ll, "libhelpers.a": archive}


def test_c_outputs_are_identical_everywhere(llvm_lib, c_inputs, tmp_path):
    check_identical(tmp_path, c_inputs, C_FLAGS, llvm_lib)


def test_c_bitcode_inputs_are_identical_everywhere(llvm_lib, cbuild, tmp_path):
    files = {"main.bc": cbuild.build("split/main.c", "bc"), "helpers.bc": cbuild.build("split/helpers.c", "bc")}
    check_identical(tmp_path, files, ("--unroll-loops", "--ignore-inline-never"), llvm_lib)


RUST_SOURCE = textwrap.dedent("""
    #![feature(no_core)]
    #![no_core]
    extern crate minicore;
    use minicore::Copy;

    pub struct Pair<A, B> { pub a: A, pub b: B }
    pub enum Shape { Empty, Point(u32), Line(u32, u64), Named { id: u16, weight: u64 } }

    #[inline(never)]
    fn area<T: Copy>(p: &Pair<T, Shape>, f: fn(T) -> u64) -> u64 {
        let base = f(p.a);
        match p.b {
            Shape::Empty => base,
            Shape::Point(x) => base + x as u64,
            Shape::Line(x, y) => base * y + x as u64,
            Shape::Named { id, weight } => base ^ weight ^ id as u64,
        }
    }

    fn widen(x: u32) -> u64 { x as u64 * 3 }
    fn narrow(x: u8) -> u64 { x as u64 + 7 }

    #[no_mangle]
    #[link_section = "classifier"]
    pub extern "C" fn rust_prog(ctx: *const u32) -> u32 {
        let len = unsafe { *ctx };
        let p = Pair { a: len, b: Shape::Line(len, 5) };
        let q = Pair { a: len as u8, b: Shape::Named { id: 3, weight: len as u64 } };
        (area(&p, widen) ^ area(&q, narrow)) as u32
    }

    #[no_mangle]
    #[link_section = "license"]
    pub static LICENSE: [u8; 4] = *b"GPL\\0";
""")


@pytest.fixture(scope="module")
def rust_inputs(tmp_path_factory) -> dict[str, Path]:
    bpfkit.require(bpfkit.have_rustc(), "rustc with the bpfel-unknown-none target")
    root = tmp_path_factory.mktemp("det-rust")
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    base = ["rustc", "--target", "bpfel-unknown-none", "-C", "panic=abort", "-C", "overflow-checks=off",
            "-C", "opt-level=2", "-g"]
    bpfkit.run_tool([*base, bpfkit.TESTS_DIR / "rust" / "minicore.rs", "--crate-type=rlib",
                     "--crate-name", "minicore", "-o", root / "libminicore.rlib"], cwd=root, env=env)
    src = root / "shapes.rs"
    src.write_text(RUST_SOURCE)
    bpfkit.run_tool([*base, src, "--crate-type=lib", "--emit=llvm-bc", "-L", root, "-o", root / "shapes.bc"],
                    cwd=root, env=env)
    return {"shapes.bc": root / "shapes.bc", "libminicore.rlib": root / "libminicore.rlib"}


def test_rust_outputs_are_identical_everywhere(rust_inputs, tmp_path):
    llvm22 = bpfkit.LLVM_LIBS["llvm22"]()
    bpfkit.require(llvm22 is not None, "libLLVM 22 (reads rustc's bitcode)")
    check_identical(tmp_path, rust_inputs, ("--btf", "--export", "rust_prog"), llvm22)


def test_repeated_links_in_one_process_match_the_cli(cbuild, tmp_path):
    """The API, in-process (no fork) and twice in a row, gives the CLI's bytes: no state leaks between links."""
    llvm = bpfkit.LLVM_LIBS["llvm22"]() or bpfkit.LLVM_LIBS["llvm16"]()
    inputs = [cbuild.build("split/main.c", "bc"), cbuild.build("split/helpers.c", "bc")]
    cli_out = tmp_path / "cli.o"
    r = run_cli(["--btf", "-o", cli_out, *inputs], cwd=tmp_path, seed="0", llvm=llvm)
    assert r.returncode == 0, r.stderr
    script = textwrap.dedent(f"""
        from bpf_linker import LinkOptions, link
        for i in range(3):
            link(LinkOptions(inputs={tuple(map(str, inputs))!r}, output=f"api{{i}}.o", btf=True), isolate=False)
    """)
    env = dict(os.environ, PYTHONSAFEPATH="1", BPF_LINKER_LLVM=llvm)
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for i in range(3):
        assert (tmp_path / f"api{i}.o").read_bytes() == cli_out.read_bytes(), f"in-process link {i} differs"


@pytest.mark.parametrize("emit", ["obj", "asm"])
def test_output_does_not_depend_on_heap_layout(llvm_lib, cbuild, tmp_path, emit):
    """LLVM orders some BTF types by heap address; path lengths and hash seeds shift the heap.

    Before the fix (codegen in the link's own heap), about half of these runs gave an object
    whose FWD types `bpf_sock` and `bpf_flow_keys` (from `struct __sk_buff`) were swapped.
    """
    sources = {"main.bc": cbuild.build("split/main.c", "bc"), "helpers.bc": cbuild.build("split/helpers.c", "bc")}
    jobs = []
    for n in (1, 5, 10, 20, 40, 80, 120, 200):
        d = tmp_path / ("d" * n)
        placed = lay_out(d, sources)
        jobs.append((n, d, [str(p) for p in placed.values()]))

    def run(job):
        n, d, inputs = job
        r = run_cli(["--emit", emit, "--unroll-loops", "--ignore-inline-never", "-o", d / "out", *inputs],
                    cwd=tmp_path, seed=str(n), llvm=llvm_lib)
        assert r.returncode == 0, r.stderr
        return n, (d / "out").read_bytes()

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = list(pool.map(run, jobs))
    (n0, ref), *rest = results
    for n, data in rest:
        assert data == ref, f"directory name of {n} characters vs {n0}: " + describe(emit, ref, data)


# --- many links at once -------------------------------------------------------------------

N_PARALLEL = 12


def popen_cli(args, *, cwd, llvm: str, env_extra=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONSAFEPATH="1", BPF_LINKER_LLVM=llvm, **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "bpf_linker", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(procs, timeout=300):
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results


def assert_valid_elf(path, reference: bytes) -> None:
    from elftools.elf.elffile import ELFFile

    data = path.read_bytes()
    with open(path, "rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == "EM_BPF"
        names = {s.name for s in elf.iter_sections()}
    assert "tc" in names and ".BTF" in names, names
    assert data == reference, f"{path} differs from the reference link"


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def split_inputs(cbuild):
    return [cbuild.build("split/main.c", "bc"), cbuild.archive("split/libhelpers.a", ["split/helpers.c"])]


def test_many_links_at_once_to_different_outputs(llvm_lib, split_inputs, tmp_path):
    ref = tmp_path / "ref.o"
    r = run_cli(["--btf", "-o", ref, *split_inputs], cwd=tmp_path, seed="0", llvm=llvm_lib)
    assert r.returncode == 0, r.stderr
    out_dir = tmp_path / "outs"
    out_dir.mkdir()
    procs = [popen_cli(["--btf", "-o", out_dir / f"out{i}.o", *split_inputs], cwd=tmp_path, llvm=llvm_lib)
             for i in range(N_PARALLEL)]
    for i, (code, _, err) in enumerate(finish(procs)):
        assert code == 0, f"link {i}: {err}"
        assert_valid_elf(out_dir / f"out{i}.o", ref.read_bytes())
    assert leftovers(out_dir) == []


def test_many_links_at_once_to_the_same_output(llvm_lib, split_inputs, tmp_path):
    """Last rename wins; every reader at every moment sees a complete object or none."""
    ref = tmp_path / "ref.o"
    r = run_cli(["--btf", "-o", ref, *split_inputs], cwd=tmp_path, seed="0", llvm=llvm_lib)
    assert r.returncode == 0, r.stderr
    out_dir = tmp_path / "shared"
    out_dir.mkdir()
    out = out_dir / "out.o"
    # Some links fail (a bad input) while the others write: a failure never touches the output.
    bad = tmp_path / "bad.bc"
    bad.write_bytes(b"BC\xc0\xde" + b"\x00" * 64)
    procs = []
    for i in range(N_PARALLEL):
        inputs = [*split_inputs, bad] if i % 4 == 3 else split_inputs
        procs.append(popen_cli(["--btf", "-o", out, *inputs], cwd=tmp_path, llvm=llvm_lib))
    seen = 0
    while any(p.poll() is None for p in procs):  # read the output while the links replace it
        if out.exists():
            data = out.read_bytes()
            assert data == ref.read_bytes(), "a reader saw an incomplete or different object"
            seen += 1
    for i, (code, _, err) in enumerate(finish(procs)):
        if i % 4 == 3:
            assert code == 1, err
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"bpf-linker: error: {bad}"), err
        else:
            assert code == 0, f"link {i}: {err}"
    assert_valid_elf(out, ref.read_bytes())
    assert leftovers(out_dir) == []


def test_many_cold_validations_at_once_share_one_cache(llvm_lib, split_inputs, tmp_path):
    """Every link asks LLVM (cold cache) and writes the cache atomically: one complete file, no debris."""
    cache = tmp_path / "cache"
    out_dir = tmp_path / "outs"
    out_dir.mkdir()
    flags = ["--btf", "--cpu", "v3", "--cpu-features=+alu32", "--llvm-args=--unroll-threshold=50"]
    procs = [popen_cli([*flags, "-o", out_dir / f"out{i}.o", *split_inputs], cwd=tmp_path, llvm=llvm_lib,
                       env_extra={"XDG_CACHE_HOME": str(cache)})
             for i in range(N_PARALLEL // 2)]
    results = finish(procs)
    for i, (code, _, err) in enumerate(results):
        assert code == 0 and err == "", f"link {i}: {err}"
    first = (out_dir / "out0.o").read_bytes()
    for i in range(len(procs)):
        assert_valid_elf(out_dir / f"out{i}.o", first)
    files = sorted(p.name for p in (cache / "bpf-linker").iterdir())
    assert len(files) == 1 and files[0].endswith(".json"), files
