"""The link map (-M, --print-map FILE) and -y/--trace-symbol, on a two-file program plus an archive."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bpfkit

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]


@pytest.fixture(scope="module")
def files(cbuild) -> dict[str, Path]:
    return {"main": cbuild.build("linkmap/main.c"), "util": cbuild.build("linkmap/util.c"),
            "lib": cbuild.archive("linkmap/liblm.a", ["linkmap/lib_a.c", "linkmap/lib_b.c"])}


def member(files, name: str) -> str:
    return f"{files['lib']}(linkmap__{name}.bc)"


def sections(text: str) -> dict[str, list[list[str]]]:
    """The map's parts: heading -> rows split on whitespace (tables without their header row)."""
    out: dict[str, list[list[str]]] = {}
    for part in text.strip().split("\n\n")[1:]:
        heading, *rows = part.splitlines()
        if rows and rows[0].split()[0] in ("symbol", "program"):
            rows = rows[1:]
        out[heading.split(" (")[0].rstrip(":")] = [row.split() for row in rows if row.strip() != "(none)"]
    return out


def test_link_map_names_the_input_of_every_symbol(tmp_path, files, llvm_lib):
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-M", "-o", out, files["main"], files["util"], files["lib"], llvm=llvm_lib)
    text = r.stdout
    assert text.startswith(f"Link map of {out} (bpf-linker ")
    parts = sections(text)
    assert [row[0] for row in parts["Inputs"]] == [str(files["main"]), str(files["util"]),
                                                   member(files, "lib_a"), member(files, "lib_b")]
    symbols = {row[0]: (row[1], int(row[2]), row[3], row[4], " ".join(row[5:])) for row in parts["Output symbols"]}
    elf = {name: value for name, value in bpfkit.elf_symbols(out).items()
           if not re.match(r"LBB\d+_\d+$", name)}  # LLVM 16's branch labels are not in the map
    assert set(symbols) == set(elf)  # every output symbol, nothing else
    for name, (section, _size, binding, _type, _origin) in symbols.items():
        assert (f"STB_{binding.upper()}", section) == (elf[name][0], elf[name][2])
    origins = {name: value[4] for name, value in symbols.items()}
    assert origins == {
        "map_prog": str(files["main"]), "twice": str(files["main"]), "LICENSE": str(files["main"]),
        "util_mix": str(files["util"]), "counter": str(files["util"]),
        "lib_count": member(files, "lib_b"), "counts": member(files, "lib_b"),
    }
    assert symbols["map_prog"][:4] == ("tc", symbols["map_prog"][1], "global", "func")
    assert symbols["counter"][:4] == (".bss", 4, "global", "object")
    assert symbols["util_mix"][2] == "local" and symbols["counts"][0] == ".maps"
    assert parts["Internalized"] == [["lib_add", member(files, "lib_a")], ["lib_count", member(files, "lib_b")],
                                     ["unused_fn", str(files["util"])], ["util_mix", str(files["util"])]]
    assert parts["Removed"] == [["lib_add", "function", member(files, "lib_a")],
                                ["unused_fn", "function", str(files["util"])]]
    (program,) = parts["Programs"]
    from bpf_linker.objinfo import read_object

    (counted,) = read_object(out.read_bytes()).programs
    sizes = {name: value[1] // 8 for name, value in symbols.items()}
    assert program == ["map_prog", "tc", str(counted.instructions), str(sizes["map_prog"]),
                       "lib_count,", "twice,", "util_mix"]
    assert counted.instructions == sizes["map_prog"] + sizes["lib_count"] + sizes["twice"] + sizes["util_mix"]


def test_print_map_file_and_trace_symbol(tmp_path, files):
    out, map_file = tmp_path / "out.o", tmp_path / "out.map"
    r = bpfkit.run_linker("--print-map", map_file, "-y", "counter", "--trace-symbol", "lib_count", "-y", "nope",
                          "-o", out, files["main"], files["util"], files["lib"])
    assert r.stdout == ""
    assert map_file.read_text().startswith(f"Link map of {out} ")
    assert "  counts     .maps" in map_file.read_text()
    assert r.stderr.splitlines() == [
        f"{files['main']}: reference to counter",
        f"{files['main']}: reference to lib_count",
        f"{files['util']}: definition of counter",
        f"{member(files, 'lib_b')}: definition of lib_count",
        "bpf-linker: warning: -y nope: no input defines or references 'nope'",
    ]


def test_link_map_of_ir_output_and_stdout_conflict(tmp_path, files):
    r = bpfkit.run_linker("-M", "--emit", "llvm-ir", "-o", tmp_path / "out.ll", files["main"], files["util"],
                          files["lib"])
    parts = sections(r.stdout)
    symbols = {row[0]: row for row in parts["Output symbols"]}
    assert symbols["map_prog"][1:5] == ["tc", "-", "global", "function"]
    assert symbols["counter"][1:5] == ["-", "4", "global", "variable"]
    assert re.search(r"no object emitted", r.stdout)
    r = bpfkit.run_linker("-M", "-o", "-", files["main"], check=False)
    assert r.returncode != 0 and "-M (or --print-map -) and -o - both write to standard output" in r.stderr
