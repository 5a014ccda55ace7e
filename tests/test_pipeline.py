"""Pipeline text, the default pipeline built from flags, the registry and pass plugins."""

import textwrap

import pytest

from bpf_linker import LinkOptions, PipelineError, parse_pipeline, pipeline_for
from bpf_linker.registry import Registry, default_registry


def opts(**kw):
    return LinkOptions(inputs=("a.bc",), output="out.o", **kw)


def test_default_pipeline_order():
    names = [p.name for p in pipeline_for(opts()).passes]
    assert names == ["unpack-archives", "link", "internalize", "optimize", "expand-memcpy", "btf",
                     "check-undefined", "codegen"]


def test_flags_add_passes_and_options():
    spec = pipeline_for(opts(ignore_inline_never=True, unroll_loops=True, opt_level="3", emit="asm",
                             export=("a", "b"), btf=False, disable_memory_builtins=True)).spec()
    assert "ignore-noinline" in spec and "unroll-loops" in spec
    assert "optimize{level=3}" in spec
    assert "codegen{emit=asm}" in spec
    assert "internalize{export=a,b memory-builtins=false}" in spec
    assert "btf{mode=strip}" in spec


def test_spec_round_trips():
    pipeline = pipeline_for(opts(export=("x",), unroll_loops=True, opt_level="s"))
    again = parse_pipeline(pipeline.spec())
    assert again.spec() == pipeline.spec()
    assert [type(p) for p in again.passes] == [type(p) for p in pipeline.passes]


def test_quoted_llvm_pipeline_keeps_commas_and_braces():
    p = parse_pipeline('link,optimize{pipeline="default<O2>,dce" mode=full}').passes[1]
    assert p.pipeline == "default<O2>,dce" and p.mode == "full"
    assert parse_pipeline(p.spec()).passes[0].pipeline == "default<O2>,dce"


@pytest.mark.parametrize("text, message", [
    ("nonsense", "unknown pass 'nonsense'"),
    ("link{bogus=1}", "pass 'link' has no option 'bogus'"),
    ("optimize{mode=fast}", "mode must be one of"),
    ("codegen{emit=exe}", "emit must be one of"),
    ('optimize{pipeline="default<O2>}', "unterminated quote"),
    ("internalize{memory-builtins=maybe}", "takes true or false"),
    ("link,,codegen", "empty pass name"),
    ("optimize{level}", "needs a value"),
])
def test_bad_pipelines(text, message):
    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace("<", "<")):
        parse_pipeline(text)


def test_plugin_file_pass_is_usable(tmp_path):
    plugin = tmp_path / "myplugin.py"
    plugin.write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from bpf_linker import Pass

        @dataclass(frozen=True)
        class Rename(Pass):
            name = "rename-symbol"
            summary = "rename one symbol"
            old: str = ""
            new: str = ""

            def run(self, module, ctx):
                pass

        PASSES = [Rename]
    '''))
    registry = default_registry((str(plugin),))
    p = parse_pipeline("link,rename-symbol{old=a new=b}", registry).passes[1]
    assert (p.old, p.new) == ("a", "b")


def test_duplicate_pass_names_name_both_providers(tmp_path):
    plugin = tmp_path / "dup.py"
    plugin.write_text(textwrap.dedent('''
        from dataclasses import dataclass
        from bpf_linker import Pass

        @dataclass(frozen=True)
        class Link2(Pass):
            name = "link"

        PASSES = [Link2]
    '''))
    with pytest.raises(PipelineError, match=r"pass 'link' is defined twice: by bpf_linker.passes.link and by .*dup.py"):
        default_registry((str(plugin),))


def test_plugin_without_passes_list(tmp_path):
    plugin = tmp_path / "empty.py"
    plugin.write_text("x = 1\n")
    with pytest.raises(PipelineError, match="must define PASSES"):
        Registry().load_plugin_file(str(plugin))


BROKEN_PLUGIN = textwrap.dedent('''
    from dataclasses import dataclass
    from bpf_linker import Pass

    @dataclass(frozen=True)
    class Broken(Pass):
        name = "broken"
        where: str = "run"

        def llvm_args(self, ctx):
            if self.where == "llvm_args":
                raise ValueError("bad llvm_args")
            return []

        def run(self, module, ctx):
            raise ValueError("bad run")

    PASSES = [Broken]
''')


@pytest.fixture
def simple_bc(tmp_path):
    import bpfkit

    bpfkit.require(bpfkit.have_clang(), "clang-16")
    src = tmp_path / "p.c"
    src.write_text('#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n'
                   'SEC("tc") int prog(struct __sk_buff *skb) { return 1; }\n'
                   'char LICENSE[] SEC("license") = "GPL";\n')
    return bpfkit.compile_c(src, tmp_path / "p.bc")


@pytest.mark.parametrize("where", ["run", "llvm_args"])
def test_broken_plugin_pass_is_named_without_traceback(tmp_path, simple_bc, where):
    import bpfkit

    plugin = tmp_path / "broken.py"
    plugin.write_text(BROKEN_PLUGIN)
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-p", f"unpack-archives,link,broken{{where={where}}},codegen",
                          "-o", out, simple_bc, check=False)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"bpf-linker: error: pass 'broken': ValueError: bad {where}"]
    assert not out.exists()


def test_pass_error_keeps_its_pass_name_across_the_worker(tmp_path, simple_bc):
    from bpf_linker import LinkOptions, PassError, link

    plugin = tmp_path / "broken.py"
    plugin.write_text(BROKEN_PLUGIN)
    options = LinkOptions(inputs=(str(simple_bc),), output=str(tmp_path / "out.o"), pass_plugins=(str(plugin),),
                          passes="unpack-archives,link,broken,codegen")
    with pytest.raises(PassError) as caught:
        link(options)
    assert caught.value.pass_name == "broken"


def test_pipeline_without_codegen_is_an_error(tmp_path, simple_bc):
    import bpfkit

    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-p", "unpack-archives,link", "-o", out, simple_bc, check=False)
    assert r.returncode == 1
    assert "the pipeline produced no output (it has no codegen pass)" in r.stderr
    assert not out.exists()


def test_print_pipeline_sees_plugin_passes(tmp_path):
    import bpfkit

    plugin = tmp_path / "broken.py"
    plugin.write_text(BROKEN_PLUGIN)
    r = bpfkit.run_linker("--load-pass-plugin", plugin, "-p", "link,broken{where=llvm_args},codegen",
                          "--print-pipeline")
    assert r.stdout.strip() == "link,broken{where=llvm_args},codegen"


def test_instrumentation_does_not_pile_up_on_a_reused_pipeline(tmp_path, simple_bc, capfd):
    from bpf_linker import LinkOptions, link

    options = LinkOptions(inputs=(str(simple_bc),), output=str(tmp_path / "out.o"), print_after=("link",))
    pipeline = pipeline_for(options)
    for _ in range(3):
        link(options, pipeline, isolate=False)
    assert capfd.readouterr().err.count("; *** IR Dump After link ***") == 3
