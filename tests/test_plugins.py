"""Pass plugins: placing themselves in the flags' pipeline, entry points, --list-passes, failures, examples."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "passes"
DEFAULT = "unpack-archives,link,internalize,optimize,expand-memcpy,btf,check-undefined,codegen"


def one_llvm() -> str:
    path = bpfkit.llvm22_path() or bpfkit.llvm19_path() or bpfkit.llvm16_path()
    bpfkit.require(path is not None, "a libLLVM with the BPF target")
    return path


@pytest.fixture(scope="module")
def prog(cbuild) -> list[Path]:
    """The link-map program: main.bc, util.bc and an archive of lib_a.bc and lib_b.bc."""
    return [cbuild.build("linkmap/main.c"), cbuild.build("linkmap/util.c"),
            cbuild.archive("linkmap/liblm.a", ["linkmap/lib_a.c", "linkmap/lib_b.c"])]


def write_plugin(path: Path, body: str) -> Path:
    path.write_text("from dataclasses import dataclass\nfrom bpf_linker import Pass, PassError\n\n"
                    + textwrap.dedent(body))
    return path


def pass_class(name: str, *, where: str = "", log: str = "", fields: str = "") -> str:
    """A plugin pass that logs `name ran` at info level (so tests see that and where it ran)."""
    return textwrap.dedent(f'''
        @dataclass(frozen=True)
        class P_{name.replace("-", "_")}(Pass):
            name = "{name}"
            summary = "test pass {name}"
            {where}
            {fields}

            def run(self, module, ctx):
                ctx.logger(self.name).info("{name} ran{log}")
    ''')


def pipeline_of(*args, **kw) -> str:
    return bpfkit.run_linker("--print-pipeline", *args, **kw).stdout.strip()


def pass_blocks(text: str) -> dict[str, str]:
    """--list-passes output: pass name -> its block (the name line and the indented lines under it)."""
    return {b.split("\n", 1)[0]: b for b in re.split(r"\n(?=\S)", text.strip())}


def error_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# --------------------------------------------------------------------------- placement

def test_plugin_alone_runs_where_it_says_and_print_pipeline_shows_it(tmp_path, prog):
    plugin = write_plugin(tmp_path / "placed.py", pass_class("after-int", where='after = "internalize"')
                          + pass_class("before-cg", where='before = "codegen"')
                          + "PASSES = [P_after_int, P_before_cg]\n")
    assert pipeline_of("--load-pass-plugin", plugin) == (
        "unpack-archives,link,internalize,after-int,optimize,expand-memcpy,btf,check-undefined,before-cg,codegen")
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-o", out, *prog, "--log-level", "info", llvm=one_llvm())
    ran = [line for line in r.stderr.splitlines() if " ran" in line]
    assert ran == ["bpf-linker: info: after-int ran", "bpf-linker: info: before-cg ran"], r.stderr
    pipeline = re.search(r"info: pipeline: (\S+)", r.stderr).group(1)
    assert pipeline.index("internalize,after-int,optimize") and pipeline.index("before-cg,codegen")
    assert bpfkit.elf_symbols(out)["map_prog"] == ("STB_GLOBAL", "STT_FUNC", "tc")


def test_passes_placed_at_one_anchor_run_in_load_order(tmp_path):
    a = write_plugin(tmp_path / "a.py", pass_class("a1", where='after = "link"') + pass_class(
        "a2", where='after = "link"') + "PASSES = [P_a1, P_a2]\n")
    b = write_plugin(tmp_path / "b.py", pass_class("b1", where='after = "link"\n            before = "optimize"')
                     + "PASSES = [P_b1]\n")
    assert pipeline_of("--load-pass-plugin", a, "--load-pass-plugin", b).startswith(
        "unpack-archives,link,a1,a2,b1,internalize,optimize")


def test_placement_follows_the_flags_pipeline(tmp_path):
    plugin = write_plugin(tmp_path / "u.py", pass_class("after-unroll", where='after = "unroll-loops"')
                          + "PASSES = [P_after_unroll]\n")
    assert ",unroll-loops,after-unroll," in pipeline_of("--load-pass-plugin", plugin, "--unroll-loops")
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "--print-pipeline", check=False)
    assert r.returncode == 1
    assert error_line(r) == (
        f"bpf-linker: error: {plugin}: pass 'after-unroll' runs after 'unroll-loops', which is not in this "
        f"pipeline ({DEFAULT})")


def test_a_plugin_that_runs_nowhere_is_an_error(tmp_path, prog):
    plugin = write_plugin(tmp_path / "nowhere.py", pass_class("nowhere") + "PASSES = [P_nowhere]\n")
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-o", tmp_path / "x.o", *prog, check=False)
    assert r.returncode == 1 and not (tmp_path / "x.o").exists()
    assert error_line(r) == (f"bpf-linker: error: {plugin}: pass 'nowhere' does not say where it runs: set "
                             '`after = "PASS"` or `before = "PASS"` in its class, or name it in a -p pipeline')
    # Named in -p it runs; with -p, a plugin whose passes the pipeline does not name is an error.
    assert pipeline_of("--load-pass-plugin", plugin, "-p", "link,nowhere,codegen") == "link,nowhere,codegen"
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-p", "link,codegen", "--print-pipeline", check=False)
    assert r.returncode == 1
    assert error_line(r) == (f"bpf-linker: error: {plugin}: none of the plugin's passes (nowhere) is in the -p "
                             "pipeline; name one there, or drop -p to let them place themselves")


def test_missing_plugin_file_is_an_error_even_without_p(tmp_path, prog):
    missing = tmp_path / "nope.py"
    r = bpfkit.run_linker("--load-pass-plugin", missing, "-o", tmp_path / "x.o", *prog, check=False)
    assert r.returncode == 1
    assert error_line(r).startswith(f"bpf-linker: error: {missing}: pass plugin not found (no such file")


def test_printed_pipeline_replays_with_p(tmp_path, prog):
    """What --print-pipeline shows is what runs: -p with it gives the same bytes."""
    plugin = write_plugin(tmp_path / "placed.py", pass_class("after-int", where='after = "internalize"')
                          + "PASSES = [P_after_int]\n")
    spec = pipeline_of("--load-pass-plugin", plugin, "--no-btf")
    one, two = tmp_path / "one.o", tmp_path / "two.o"
    bpfkit.run_linker("--load-pass-plugin", plugin, "--no-btf", "-o", one, *prog, llvm=one_llvm())
    bpfkit.run_linker("--load-pass-plugin", plugin, "-p", spec, "-o", two, *prog, llvm=one_llvm())
    assert one.read_bytes() == two.read_bytes()


# --------------------------------------------------------------------------- entry points

def install_entry_point_package(tmp_path: Path) -> Path:
    """A package registering passes under the entry-point group bpf_linker.passes, installed by
    pip (`pip install --target SITE`): its module and its .dist-info with entry_points.txt.

    pip builds it with setuptools offline when `wheel` is installed, else in an isolated
    build environment (which needs the package index); without either, the same layout pip
    writes is made by hand (the test then says so in its output)."""
    project = tmp_path / "bpf-ep-demo"
    pkg = project / "bpf_ep_demo"
    pkg.mkdir(parents=True)
    write_plugin(pkg / "__init__.py", pass_class("ep-demo", where='after = "internalize"')
                 + pass_class("ep-manual") + "PASSES = [P_ep_demo, P_ep_manual]\n")
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "bpf-ep-demo"
        version = "1.0"

        [project.entry-points."bpf_linker.passes"]
        ep-demo = "bpf_ep_demo:PASSES"
    """))
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", "--target",
           str(site), str(project)]
    for extra in (["--no-build-isolation", "--no-index"], []):
        r = subprocess.run(pip[:4] + extra + pip[4:], capture_output=True, text=True, timeout=300)
        if r.returncode == 0 and (site / "bpf_ep_demo-1.0.dist-info" / "entry_points.txt").is_file():
            return site
    print("pip could not build the package here; writing its installed layout by hand")
    (site / "bpf_ep_demo").mkdir(parents=True, exist_ok=True)
    (site / "bpf_ep_demo" / "__init__.py").write_text((pkg / "__init__.py").read_text())
    info = site / "bpf_ep_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bpf-ep-demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[bpf_linker.passes]\nep-demo = bpf_ep_demo:PASSES\n")
    (info / "RECORD").write_text("")
    return site


def run_with_site(site, *args, check=True):
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONSAFEPATH="1", BPF_LINKER_LLVM=one_llvm())
    r = subprocess.run([sys.executable, "-m", "bpf_linker", *map(str, args)], capture_output=True, text=True,
                       env=env)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_entry_point_package(tmp_path, prog):
    site = install_entry_point_package(tmp_path)
    # Registered: usable by name in -p, listed with its provider; placed only when loaded.
    assert run_with_site(site, "--print-pipeline").stdout.strip() == DEFAULT
    blocks = pass_blocks(run_with_site(site, "--list-passes").stdout)
    for name in ("ep-demo", "ep-manual"):
        assert "    provided by: installed package, entry point ep-demo = bpf_ep_demo:PASSES" in blocks[name]
    assert "    runs: after internalize (its own placement) with --load-pass-plugin" in blocks["ep-demo"]
    assert run_with_site(site, "--load-pass-plugin", "ep-demo", "--print-pipeline").stdout.strip() == (
        "unpack-archives,link,internalize,ep-demo,optimize,expand-memcpy,btf,check-undefined,codegen")
    out = tmp_path / "out.o"
    r = run_with_site(site, "-p", "unpack-archives,link,internalize,ep-manual,optimize,codegen",
                      "-o", out, *prog, "--log-level", "info")
    assert "bpf-linker: info: ep-manual ran" in r.stderr.splitlines()
    assert "map_prog" in bpfkit.elf_symbols(out)
    r = run_with_site(site, "--load-pass-plugin", "ep-dmo", "--print-pipeline", check=False)
    assert r.returncode == 1
    assert error_line(r) == ("bpf-linker: error: ep-dmo: pass plugin not found (no such file; installed plugins, "
                             "group bpf_linker.passes: ep-demo)")


# --------------------------------------------------------------------------- --list-passes

def test_list_passes(tmp_path):
    plugin = write_plugin(tmp_path / "mine.py", pass_class("mine", where='before = "codegen"',
                                                           fields="limit: int = 7\n            tags: tuple[str, ...] = ()")
                          + "PASSES = [P_mine]\n")
    text = bpfkit.run_linker("--list-passes", "--load-pass-plugin", plugin).stdout
    blocks = pass_blocks(text)
    assert {"link", "internalize", "optimize", "codegen", "llvm", "defsym", "unroll-loops", "mine"} <= set(blocks)
    assert blocks["optimize"].splitlines()[1:] == [
        "    post-link optimization (auto: full default<Ox> only for unoptimized inputs)",
        "    runs: #4 of 9 in this pipeline (after internalize, before expand-memcpy)",
        '    options: level: str = 2; mode: str = auto; pipeline: str = ""',
        "    provided by: built-in bpf_linker.passes.optimize"]
    assert "    runs: with --unroll-loops" in blocks["unroll-loops"]
    assert "    runs: with --defsym (after link)" in blocks["defsym"]
    assert "    runs: only when named in a -p pipeline" in blocks["llvm"]
    assert blocks["mine"].splitlines()[1:] == [
        "    test pass mine",
        "    runs: #8 of 9 in this pipeline (after check-undefined, before codegen)",
        "    options: limit: int = 7; tags: tuple[str, ...] = ()",
        f"    provided by: plugin file {plugin}"]


# --------------------------------------------------------------------------- plugin failures (issue 10.6)

@pytest.mark.parametrize("body, problem", [
    ("import sys\nsys.exit(7)\n", "the pass plugin called sys.exit(7) while being imported"),
    ("import os\nos._exit(3)\n", "the pass plugin ended the process while being imported (os._exit(3) or a crash)"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
     "importing the pass plugin killed the process (SIGSEGV)"),
    ("PASSES = [42]\n", "PASSES[0] is 42, not a subclass of bpf_linker.Pass"),
    ("PASSES = 42\n", "a pass plugin must define PASSES = [PassClass, ...], not int"),
    ("PASSES = []\n", "the pass plugin lists no passes (PASSES is empty)"),
    ("raise RuntimeError('no config')\n", "cannot load pass plugin: RuntimeError: no config"),
    ("from bpf_linker import Pass\nclass NoName(Pass):\n    def run(self, m, c): pass\nPASSES = [NoName]\n",
     "PASSES[0] (NoName): name must be a pass name such as 'my-pass', not ''"),
    ("from bpf_linker import Pass\nclass NoRun(Pass):\n    name = 'no-run'\nPASSES = [NoRun]\n",
     "PASSES[0] (NoRun): pass 'no-run' defines no run(self, module, ctx)"),
], ids=["sys.exit", "os._exit", "segfault", "not-a-class", "not-a-list", "empty", "raises", "no-name", "no-run"])
def test_plugin_failures_are_one_line_naming_the_file(tmp_path, prog, body, problem):
    plugin = tmp_path / "bad.py"
    plugin.write_text(body)
    out = tmp_path / "x.o"
    for args in (("-o", out, *prog), ("--print-pipeline",), ("--list-passes",)):
        r = bpfkit.run_linker("--load-pass-plugin", plugin, *args, check=False)
        assert r.returncode == 1, (args, r.stderr)
        assert error_line(r) == f"bpf-linker: error: {plugin}: {problem}"
        assert r.stdout == ""
    assert not out.exists()


def test_plugin_looping_at_import_times_out(tmp_path, prog):
    plugin = tmp_path / "loop.py"
    plugin.write_text("while True:\n    pass\n")
    env = dict(os.environ, BPF_LINKER_PLUGIN_TIMEOUT="1.5", PYTHONSAFEPATH="1")
    r = subprocess.run([sys.executable, "-m", "bpf_linker", "--load-pass-plugin", str(plugin), "-o",
                        str(tmp_path / "x.o"), *map(str, prog)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 1
    assert error_line(r) == (f"bpf-linker: error: {plugin}: importing the pass plugin did not finish within "
                             "1.5 s (an endless loop at import?); BPF_LINKER_PLUGIN_TIMEOUT sets the limit")
    leftover = subprocess.run(["pgrep", "-f", str(plugin)], capture_output=True, text=True).stdout.split()
    assert [pid for pid in leftover if int(pid) != os.getpid()] == []


# --------------------------------------------------------------------------- README example and examples/passes

def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```python\n(# mypass\.py\n.*?)```", text, re.S)
    assert match, "README has no '# mypass.py' example"
    return match.group(1)


@pytest.mark.requires_kernel_bpf
def test_readme_example_moves_a_program_and_the_kernel_loads_it(tmp_path, prog):
    source = readme_example()
    assert ".lib" not in source and "ffi" not in source
    plugin = tmp_path / "mypass.py"
    plugin.write_text(source)
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-o", out, *prog, "--log-level", "info", llvm=one_llvm())
    assert "internalize,rename-section,optimize" in r.stderr
    symbols = bpfkit.elf_symbols(out)
    assert symbols["map_prog"] == ("STB_GLOBAL", "STT_FUNC", "classifier")
    assert "tc" not in bpfkit.elf_sections(out)
    reference = tmp_path / "ref.o"
    bpfkit.run_linker("-o", reference, *prog, llvm=one_llvm())
    packet = bytes(range(64))
    assert bpfkit.prog_run(out, "map_prog", packet) == bpfkit.prog_run(reference, "map_prog", packet)


def example_pipeline(plugin: Path, replace: str) -> str:
    """The flags' pipeline with the example placed, its pass given options (`name{...}`)."""
    spec = pipeline_of("--load-pass-plugin", plugin)
    name = replace.split("{", 1)[0]
    assert f",{name}," in f",{spec},", spec
    return ",".join(replace if part == name else part for part in spec.split(","))


def test_example_instruction_budget(tmp_path, prog):
    plugin = EXAMPLES / "insn_budget.py"
    assert pipeline_of("--load-pass-plugin", plugin).endswith(",codegen,insn-budget")
    out = tmp_path / "ok.o"
    bpfkit.run_linker("--load-pass-plugin", plugin, "-o", out, *prog, llvm=one_llvm())
    from bpf_linker.objinfo import read_object

    (program,) = read_object(out.read_bytes()).programs
    assert program.name == "map_prog" and program.instructions > 20
    tight = example_pipeline(plugin, f"insn-budget{{limit={program.instructions - 1}}}")
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-p", tight, "-o", tmp_path / "x.o", *prog,
                          llvm=one_llvm(), check=False)
    assert r.returncode == 1 and not (tmp_path / "x.o").exists()
    assert error_line(r) == (
        f"bpf-linker: error: pass 'insn-budget': program 'map_prog' (section tc) has {program.instructions} "
        f"instructions ({program.own} its own, the rest in lib_count, twice, util_mix), over the budget of "
        f"{program.instructions - 1}")
    exact = example_pipeline(plugin, f"insn-budget{{limit={program.instructions}}}")
    bpfkit.run_linker("--load-pass-plugin", plugin, "-p", exact, "-o", tmp_path / "y.o", *prog, llvm=one_llvm())


@pytest.mark.requires_kernel_bpf
def test_example_section_policy(tmp_path, prog):
    plugin = EXAMPLES / "section_policy.py"
    assert ",internalize,section-policy,optimize," in pipeline_of("--load-pass-plugin", plugin)
    out = tmp_path / "ok.o"
    bpfkit.run_linker("--load-pass-plugin", plugin, "-o", out, *prog, llvm=one_llvm())   # tc is allowed
    renamed = example_pipeline(plugin, "section-policy{rename=tc=classifier allow=classifier}")
    out2 = tmp_path / "renamed.o"
    bpfkit.run_linker("--load-pass-plugin", plugin, "-p", renamed, "-o", out2, *prog, llvm=one_llvm())
    assert bpfkit.elf_symbols(out2)["map_prog"] == ("STB_GLOBAL", "STT_FUNC", "classifier")
    packet = bytes(range(64))
    assert bpfkit.prog_run(out2, "map_prog", packet) == bpfkit.prog_run(out, "map_prog", packet)
    strict = example_pipeline(plugin, "section-policy{allow=xdp,xdp.frags}")
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-p", strict, "-o", tmp_path / "x.o", *prog,
                          llvm=one_llvm(), check=False)
    assert r.returncode == 1 and not (tmp_path / "x.o").exists()
    assert error_line(r) == ("bpf-linker: error: pass 'section-policy': program 'map_prog' is in section 'tc', "
                             "which the policy does not allow (allowed: xdp, xdp.frags)")


# --------------------------------------------------------------------------- unpack-archives is the step that reads

def test_input_reading_is_a_pass_like_any_other(tmp_path, prog):
    """Passes before unpack-archives see no inputs; after it, the inputs it read (and may change them)."""
    plugin = write_plugin(tmp_path / "inputs.py", '''
        @dataclass(frozen=True)
        class Before(Pass):
            name = "count-before"
            before = "unpack-archives"

            def run(self, module, ctx):
                ctx.logger(self.name).info("inputs before: %d", len(ctx.inputs))

        @dataclass(frozen=True)
        class DropUtil(Pass):
            name = "drop-util"
            after = "unpack-archives"

            def run(self, module, ctx):
                ctx.logger(self.name).info("inputs after: %d", len(ctx.inputs))
                ctx.inputs = [i for i in ctx.inputs if "util" not in i.name]

        PASSES = [Before, DropUtil]
    ''')
    assert pipeline_of("--load-pass-plugin", plugin).startswith("count-before,unpack-archives,drop-util,link,")
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-o", tmp_path / "x.o", *prog, "--log-level", "info",
                          check=False)
    assert "bpf-linker: info: inputs before: 0" in r.stderr.splitlines()
    assert "bpf-linker: info: inputs after: 4" in r.stderr.splitlines()
    assert r.returncode == 1 and "undefined function 'util_mix'" in r.stderr  # util.bc was dropped
    r = bpfkit.run_linker("-p", "link,codegen", "-o", tmp_path / "y.o", *prog, check=False)
    assert r.returncode == 1 and not (tmp_path / "y.o").exists()
    assert error_line(r) == ("bpf-linker: error: pass 'link': the pipeline gave it no inputs (unpack-archives, "
                             "which reads them, must come first)")
