"""The pass-author API without cffi (bindings wrappers, in process) and bpf_linker.link()'s plain form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bpfkit
from bpf_linker.bindings import Context, Module, Opcode, load_llvm

ROOT = Path(__file__).resolve().parents[1]

IR = b"""
target triple = "bpfel"
@knob = constant i32 5, section ".rodata", align 4
@table = global [4 x i8] zeroinitializer
declare i32 @ext(i32)
define internal i32 @helper(i32 %x) #0 {
entry:
  %y = mul i32 %x, 3
  ret i32 %y
}
define i32 @unused(i32 %x) {
  ret i32 %x
}
define i32 @prog(ptr %ctx) section "tc" {
entry:
  %v = load volatile i32, ptr @knob, align 4
  %c = icmp eq i32 %v, 0
  br i1 %c, label %zero, label %other
zero:
  %h = call i32 @helper(i32 %v)
  ret i32 %h
other:
  %e = call i32 @ext(i32 %v)
  ret i32 %e
}
attributes #0 = { noinline nounwind "target-cpu"="v3" }
"""


@pytest.fixture(scope="module")
def library():
    bpfkit.require(any(f() for f in bpfkit.LLVM_LIBS.values()), "a libLLVM with the BPF target")
    return load_llvm()


@pytest.fixture
def module(library):
    return Module.parse_ir(Context(library), IR, "api.ll")


def test_iterating_blocks_instructions_calls(module):
    prog = module.get_function("prog")
    assert [b.name for b in prog.blocks()] == ["entry", "zero", "other"]
    entry = prog.blocks()[0]
    assert [i.opcode_name for i in entry] == ["load", "icmp", "br"]
    assert [i.opcode for i in prog.instructions()][-1] == Opcode.RET
    assert [b.name for b in entry.terminator.successors()] == ["zero", "other"]
    calls = [i for i in prog.instructions() if i.opcode == Opcode.CALL]
    assert [c.callee.name for c in calls] == ["helper", "ext"]
    load = next(prog.instructions())
    assert calls[0].arguments == [load] and load.is_volatile and load.alignment == 4
    assert load.operand(0) == module.get_global("knob") and load.function == prog
    assert str(load.type) == "i32" and load.next.opcode_name == "icmp" and load.previous is None
    assert sorted(u.opcode_name for u in load.users()) == ["call", "call", "icmp"]
    assert prog.arguments()[0].name == "ctx" and str(prog.value_type) == "i32 (ptr)"


def test_symbol_properties_have_setters(module):
    knob, table, helper = module.get_global("knob"), module.get_global("table"), module.get_function("helper")
    assert (knob.section, knob.alignment, knob.global_constant, knob.initializer.constant_int) == (".rodata", 4, True, 5)
    assert str(table.value_type) == "[4 x i8]" and table.value_type.size == 4 and table.value_type.length == 4
    table.section = ".data.custom"
    table.alignment = 8
    table.linkage = "internal"
    table.global_constant = True
    table.initializer = module.const_string(b"abc")
    helper.linkage = "external"
    helper.visibility = "hidden"
    text = module.to_ir()
    assert '@table = internal constant [4 x i8] c"abc\\00", section ".data.custom", align 8' in text
    assert re.search(r"define hidden i32 @helper\(", text)
    assert module.get_function("prog").section == "tc" and helper.section == ""
    assert helper.is_function and not helper.is_declaration and module.get_function("ext").is_declaration
    assert module.verify() is None
    with pytest.raises(ValueError, match="unknown linkage 'inner'"):
        helper.linkage = "inner"
    with pytest.raises(ValueError, match="power of two"):
        table.alignment = 3


def test_attributes_by_name(module):
    helper, prog = module.get_function("helper"), module.get_function("prog")
    assert helper.attributes() == {"noinline": True, "nounwind": True, "target-cpu": "v3"}
    helper.remove_attribute("noinline")
    helper.add_attribute("alwaysinline")
    helper.add_attribute("target-cpu", "v4")
    helper.add_attribute("my-note", "x")
    assert helper.attributes() == {"alwaysinline": True, "nounwind": True, "target-cpu": "v4", "my-note": "x"}
    prog.add_attribute("align", 8, index=0)
    prog.add_attribute("noundef", index=0)
    assert prog.attributes(0) == {"align": 8, "noundef": True}
    assert prog.has_attribute("noundef", index=0) and prog.attribute("align", index=0) == 8
    assert "define i32 @prog(ptr noundef align 8 %ctx)" in module.to_ir()
    assert module.verify() is None
    with pytest.raises(ValueError, match="only functions"):
        module.get_global("knob").attributes()


def test_uses_replacing_erasing_deleting(module):
    prog, knob = module.get_function("prog"), module.get_global("knob")
    (load,) = knob.users()
    seven = module.const_int(32, 7)
    call = [i for i in prog.instructions() if i.callee is not None and i.callee.name == "helper"][0]
    (use,) = [u for u in load.use_sites() if u.user == call]
    use.set(seven)
    assert "call i32 @helper(i32 7)" in module.to_ir() and len(load.users()) == 2
    with pytest.raises(ValueError, match="still has uses"):
        load.erase()
    load.replace_with(module.const_int(32, 0))
    assert not knob.has_uses() and "load" not in str(prog)
    with pytest.raises(ValueError, match="cannot delete function 'helper': it still has uses"):
        module.get_function("helper").delete()
    module.get_function("unused").delete()
    assert module.get_function("unused") is None and module.verify() is None


def test_adding_globals_constants_and_running_llvm_passes(module):
    greeting = module.add_global("greeting", initializer=module.const_string("hi"), section=".rodata.str",
                                 constant=True, linkage="private")
    counter = module.add_global("counter", module.int_type(64), initializer=module.const_int(64, -1))
    assert str(greeting.value_type) == "[3 x i8]" and counter.initializer.constant_sint == -1
    assert module.get_global_value("counter") == counter
    with pytest.raises(ValueError, match="already has a global named 'counter'"):
        module.add_global("counter", module.int_type(8))
    with pytest.raises(ValueError, match="256 does not fit in i8"):
        module.const_int(8, 256)
    module.run_passes("globaldce")
    assert module.get_global("greeting") is None and module.get_global("counter") is not None


def test_debug_locations(library, cbuild):
    bc = cbuild.build("linkmap/lib_b.c")
    module = Module.parse_bitcode(Context(library), bc.read_bytes(), bc.name)
    f = module.get_function("lib_count")
    assert (Path(f.debug_location.filename).name, f.debug_location.line) == ("lib_b.c", 11)
    # bpf_map_lookup_elem(&counts, &key): a helper is called through a constant address, not a function
    lines = {i.debug_location.line for i in f.instructions() if i.opcode == Opcode.CALL and i.callee is None}
    assert lines == {13}
    located = [i.debug_location for i in f.instructions() if i.debug_location and i.debug_location.column]
    assert located and all(Path(loc.filename).name == "lib_b.c" for loc in located)
    assert re.fullmatch(r".*lib_b\.c:\d+:\d+", str(located[0]))
    assert module.get_global("counts").debug_location.line == 9


def test_opcodes_match_the_c_api():
    header = next((p for p in sorted(Path("/usr/lib").glob("llvm-*/include/llvm-c/Core.h"), reverse=True)), None)
    bpfkit.require(header is not None, "llvm-c/Core.h")
    enum = re.search(r"typedef enum \{(.*?)\} LLVMOpcode;", header.read_text(), re.S).group(1)
    values = {int(v) for v in re.findall(r"LLVM\w+\s*=\s*(\d+)", enum)}
    assert values <= {int(op) for op in Opcode}


def test_no_cffi_outside_bindings():
    """Passes, examples and tests reach LLVM only through the wrappers."""
    offenders = []
    files = [*ROOT.glob("passes/*.py"), *ROOT.glob("examples/**/*.py"), *ROOT.glob("tests/*.py"),
             *(ROOT / "README.md",), *ROOT.glob("docs/*.md")]
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\blib\.LLVM\w*\(|\bffi\.(cast|new|NULL|string)", line) and "re.search" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


# --------------------------------------------------------------------------- bpf_linker.link()

@pytest.fixture(scope="module")
def inputs(cbuild):
    return [cbuild.build("linkmap/main.c"), cbuild.build("linkmap/util.c"),
            cbuild.archive("linkmap/liblm.a", ["linkmap/lib_a.c", "linkmap/lib_b.c"])]


@pytest.mark.requires_clang
def test_link_plain_keywords_and_short_repr(tmp_path, inputs, library):
    import bpf_linker

    out = tmp_path / "out.o"
    result = bpf_linker.link(inputs, out, unroll_loops=True, export=["util_mix"])
    assert out.read_bytes() == result.outputs["obj"]
    assert bpfkit.elf_symbols(out)["util_mix"][0] == "STB_GLOBAL"
    assert re.fullmatch(r"<LinkResult obj \d+ bytes; \d+ passes; 0 errors, 0 warnings>", repr(result)), repr(result)
    assert "unroll-loops" in result.pipeline
    ir = bpf_linker.link([str(p) for p in inputs], emit="llvm-ir")
    assert list(ir.outputs) == ["llvm-ir"] and re.search(rb"^define .*@map_prog\(", ir.outputs["llvm-ir"], re.M)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'unrol_loops' \(did you mean unroll_loops\?\)"):
        bpf_linker.link(inputs, out, unrol_loops=True)
    options = bpf_linker.LinkOptions(inputs=tuple(map(str, inputs)), output="")
    assert bpf_linker.link(options, bpf_linker.build_pipeline(options)).outputs["obj"][:4] == b"\x7fELF"


@pytest.mark.requires_clang
def test_links_in_one_process_give_the_cli_bytes(tmp_path, inputs, library):
    import bpf_linker

    variants = [{}, {"unroll_loops": True, "export": ["util_mix"]}, {"cpu": "v3", "btf": False}]
    flags = [[], ["--unroll-loops", "--export", "util_mix"], ["--cpu", "v3", "--no-btf"]]
    api = [bpf_linker.link(inputs, tmp_path / f"api{i}.o", **kw).outputs["obj"] for i, kw in enumerate(variants)]
    for i, args in enumerate(flags):
        out = tmp_path / f"cli{i}.o"
        bpfkit.run_linker("-o", out, *args, *inputs, llvm=library.path)
        assert out.read_bytes() == api[i], flags[i]
    assert len(set(api)) == 3


@pytest.mark.requires_clang
def test_debugging_options_and_plugins_through_the_api(tmp_path, inputs, library, capfd):
    """What the CLI flags do, as link() keywords: a placed plugin, --dump-dir, --print-map, --print-changed."""
    import bpf_linker

    plugin = tmp_path / "tag.py"
    plugin.write_text(
        "from dataclasses import dataclass\nfrom bpf_linker import Pass\n\n"
        "@dataclass(frozen=True)\nclass Tag(Pass):\n    name = 'tag'\n    after = 'internalize'\n\n"
        "    def run(self, module, ctx):\n"
        "        module.get_function('map_prog').add_attribute('tagged-by', 'api-test')\n\n"
        "PASSES = [Tag]\n")
    dump, map_file = tmp_path / "dump", tmp_path / "out.map"
    result = bpf_linker.link(inputs, tmp_path / "out.o", pass_plugins=[str(plugin)], dump_dir=str(dump),
                             print_map=str(map_file), print_changed="diff-quiet")
    assert ",internalize,tag,optimize," in result.pipeline
    assert '"tagged-by"="api-test"' in (dump / "04-tag.ll").read_text()
    assert '"tagged-by"' not in (dump / "03-internalize.ll").read_text()
    assert re.search(r"^  map_prog\s+tc\s+\d+\s+global\s+func\s+\S*linkmap__main\.bc$", map_file.read_text(), re.M)
    assert "; *** IR Dump After tag (diff) ***" in capfd.readouterr().err
