"""--cpu, --cpu-features and --llvm-args are checked against what the loaded LLVM knows.

LLVM ignores an unknown CPU or feature with a warning, ignores unknown options without
a word and prints bad option values to stderr; the linker turns each into one
`bpf-linker: error:` line (status 1, no output) before any LLVM work, and never lets
LLVM print to the user's terminal. The tables LLVM is asked for are cached per library
under $XDG_CACHE_HOME/bpf-linker.
"""

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

import bpfkit
from bpf_linker import llvm_options

pytestmark = [pytest.mark.requires_clang, pytest.mark.requires_llvm]

SOURCE = textwrap.dedent("""
    #include <linux/bpf.h>
    #include <bpf/bpf_helpers.h>
    SEC("tc") int prog(struct __sk_buff *skb) { return skb->len + 1; }
    char LICENSE[] SEC("license") = "GPL";
""")


@pytest.fixture(scope="module")
def prog_bc(tmp_path_factory):
    d = tmp_path_factory.mktemp("validation")
    src = d / "prog.c"
    src.write_text(SOURCE)
    return bpfkit.compile_c(src, d / "prog.bc")


@pytest.fixture(autouse=True)
def cache_home(tmp_path_factory, monkeypatch):
    """A private cache, shared by the tests of this module (so most of them run warm)."""
    home = tmp_path_factory.getbasetemp() / "validation-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def major_of(llvm_lib: str) -> int:
    """The major version in the library's file name (libLLVM-16.so.1, libLLVM.so.19.1, ...)."""
    m = re.search(r"libLLVM[-.](?:so\.)?(\d+)", os.path.basename(os.path.realpath(llvm_lib)))
    assert m, llvm_lib
    return int(m.group(1))


def link(llvm_lib, prog_bc, tmp_path, *flags):
    out = tmp_path / "out.o"
    if out.exists():
        out.unlink()  # left by an earlier link of the same test
    r = bpfkit.run_linker("-o", out, prog_bc, *flags, llvm=llvm_lib, check=False)
    return r, out


def fails_with(r, out, expected: str) -> None:
    """Status 1, stderr is exactly the one expected error line, no output file."""
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines() == [f"bpf-linker: error: {expected}"], r.stderr
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out.o.")]


def succeeds(r, out) -> None:
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr  # LLVM printed nothing (no ignored-CPU warnings, no tables)
    assert out.read_bytes()[:4] == b"\x7fELF"


# --- --cpu ----------------------------------------------------------------------


def test_unknown_cpu(llvm_lib, prog_bc, tmp_path):
    r, out = link(llvm_lib, prog_bc, tmp_path, "--cpu", "v9")
    assert r.returncode == 1
    line, = r.stderr.splitlines()
    assert line.startswith("bpf-linker: error: unknown --cpu 'v9' for LLVM ")
    assert "(known: generic, probe, v1, v2, v3" in line
    assert not out.exists()


def test_cpu_near_miss_is_suggested(llvm_lib, prog_bc, tmp_path):
    r, out = link(llvm_lib, prog_bc, tmp_path, "--cpu", "V3")
    assert r.returncode == 1 and "(did you mean v3?)" in r.stderr, r.stderr


def test_cpu_v4_follows_the_loaded_llvm(llvm_lib, prog_bc, tmp_path):
    """v4 arrived in LLVM 18: asked of LLVM, not hard-coded."""
    r, out = link(llvm_lib, prog_bc, tmp_path, "--cpu", "v4")
    if major_of(llvm_lib) == 16:
        assert r.returncode == 1 and "unknown --cpu 'v4' for LLVM 16" in r.stderr, r.stderr
    else:
        succeeds(r, out)


@pytest.mark.parametrize("cpu", ["generic", "v1", "v2", "v3", "probe"])
def test_known_cpus_link_without_noise(llvm_lib, prog_bc, tmp_path, cpu):
    succeeds(*link(llvm_lib, prog_bc, tmp_path, "--cpu", cpu))


# --- --cpu-features -------------------------------------------------------------


def test_known_features_link(llvm_lib, prog_bc, tmp_path):
    succeeds(*link(llvm_lib, prog_bc, tmp_path, "--cpu", "v2", "--cpu-features=+alu32,-dwarfris,"))


def test_unknown_feature_with_suggestion(llvm_lib, prog_bc, tmp_path):
    r, out = link(llvm_lib, prog_bc, tmp_path, "--cpu-features", "+alu32,+dwarfri")
    assert r.returncode == 1
    line, = r.stderr.splitlines()
    assert line.startswith("bpf-linker: error: --cpu-features: unknown feature '+dwarfri' for LLVM ")
    assert "(did you mean +dwarfris?)" in line and "(known: " in line and "alu32" in line
    assert not out.exists()


def test_feature_without_sign_is_refused(llvm_lib, prog_bc, tmp_path):
    # LLVM would silently take a bare 'alu32' as '-alu32'.
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--cpu-features", "alu32"),
               "--cpu-features: 'alu32' must start with '+' or '-' (write +alu32 to enable it or -alu32 to disable it)")


@pytest.mark.parametrize("feature", ["+help", "+cpuhelp"])
def test_feature_help_does_not_print_llvm_tables(llvm_lib, prog_bc, tmp_path, feature):
    r, out = link(llvm_lib, prog_bc, tmp_path, "--cpu-features", feature)
    assert r.returncode == 1 and "unknown feature" in r.stderr
    assert "Available" not in r.stderr


# --- --llvm-args ------------------------------------------------------------------


def test_unknown_llvm_option_suggests_the_nearest(llvm_lib, prog_bc, tmp_path):
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--llvm-args=--unrol-threshold=10"),
               "--llvm-args: unknown LLVM option '--unrol-threshold' (did you mean --unroll-threshold?)")


def test_unknown_llvm_option_without_near_names(llvm_lib, prog_bc, tmp_path):
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--llvm-args=-xyzzy-plugh"),
               "--llvm-args: unknown LLVM option '-xyzzy-plugh'")


@pytest.mark.parametrize("arg, message", [
    ("--unroll-threshold=abc", "LLVM rejects '--unroll-threshold=abc': 'abc' value invalid for uint argument!"),
    ("--unroll-threshold=-1", "LLVM rejects '--unroll-threshold=-1': '-1' value invalid for uint argument!"),
    ("--unroll-threshold", "LLVM rejects '--unroll-threshold': requires a value!"),
    ("--unroll-runtime=maybe",
     "LLVM rejects '--unroll-runtime=maybe': 'maybe' is invalid value for boolean argument! Try 0 or 1"),
])
def test_values_llvm_rejects_are_our_error(llvm_lib, prog_bc, tmp_path, arg, message):
    fails_with(*link(llvm_lib, prog_bc, tmp_path, f"--llvm-args={arg}"), f"--llvm-args: {message}")


@pytest.mark.parametrize("arg", ["--help", "-help-list-hidden", "--version", "-h"])
def test_printing_and_exiting_options_are_refused(llvm_lib, prog_bc, tmp_path, arg):
    fails_with(*link(llvm_lib, prog_bc, tmp_path, f"--llvm-args={arg}"),
               f"--llvm-args: '{arg}' is not allowed (LLVM would print and exit)")


def test_positional_and_response_file_arguments_are_refused(llvm_lib, prog_bc, tmp_path):
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--llvm-args=--unroll-runtime,stray"),
               "--llvm-args: 'stray' is not an LLVM option (LLVM options start with '-')")
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--llvm-args=@opts.txt"),
               "--llvm-args: '@opts.txt': response files are not supported")


@pytest.mark.parametrize("args", [
    "--unroll-threshold=100,--unroll-runtime",
    "-unroll-threshold,100",  # LLVM's `-opt value` spelling, as two items
    "-unroll-runtime=false,--x86-asm-syntax=intel",
    # Registered but cl::ReallyHidden: absent from --help-list-hidden, still known to LLVM.
    "--hwasan-max-lifetimes-for-alloca=3",
])
def test_valid_llvm_args_link_without_noise(llvm_lib, prog_bc, tmp_path, args):
    succeeds(*link(llvm_lib, prog_bc, tmp_path, f"--llvm-args={args}"))


def test_options_differ_between_llvm_versions(prog_bc, tmp_path):
    """--bpf-stack-size is an LLVM 17+ option: unknown to 16, accepted by 22."""
    llvm16, llvm22 = bpfkit.LLVM_LIBS["llvm16"](), bpfkit.LLVM_LIBS["llvm22"]()
    bpfkit.require(llvm16 is not None and llvm22 is not None, "libLLVM 16 and 22")
    fails_with(*link(llvm16, prog_bc, tmp_path, "--llvm-args=--bpf-stack-size=1024"),
               "--llvm-args: unknown LLVM option '--bpf-stack-size'")
    succeeds(*link(llvm22, prog_bc, tmp_path, "--llvm-args=--bpf-stack-size=1024"))


# --- the cache ----------------------------------------------------------------------


def cache_files(home):
    d = home / "bpf-linker"
    return sorted(d.iterdir()) if d.is_dir() else []


def test_cache_is_written_once_and_reused(llvm_lib, prog_bc, tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    out = tmp_path / "out.o"
    r = bpfkit.run_linker("-o", out, prog_bc, "--cpu", "v3", "--log-level", "debug", llvm=llvm_lib)
    assert "asked LLVM" in r.stderr
    files = cache_files(home)
    assert len(files) == 1 and files[0].suffix == ".json", files  # no temporary files left
    data = json.loads(files[0].read_text())
    assert data["library"] == os.path.realpath(llvm_lib)
    assert "v3" in data["cpus"] and "alu32" in data["features"]
    assert data["options"]["unroll-threshold"] is True and data["options"]["unroll-runtime"] is False
    r = bpfkit.run_linker("-o", out, prog_bc, "--cpu", "v3", "--log-level", "debug", llvm=llvm_lib)
    assert "asked LLVM" not in r.stderr
    assert cache_files(home) == files


def test_default_flags_do_not_touch_the_cache(llvm_lib, prog_bc, tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    succeeds(*link(llvm_lib, prog_bc, tmp_path))
    # The validation cache (bpf-linker/llvm-*.json) is untouched; start-up keeps its own
    # compiled declarations in bpf-linker-startup.
    assert not (home / "bpf-linker").exists()


def test_corrupt_cache_is_replaced(llvm_lib, prog_bc, tmp_path, monkeypatch):
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    succeeds(*link(llvm_lib, prog_bc, tmp_path, "--cpu", "v2"))
    cache, = cache_files(home)
    cache.write_text('{"format": 1, "cpus": [')
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--cpu", "v7"), link_error_v7(llvm_lib))
    assert json.loads(cache.read_text())["cpus"]


def link_error_v7(llvm_lib):
    major = major_of(llvm_lib)
    known = "generic, probe, v1, v2, v3" + ("" if major == 16 else ", v4")
    return f"unknown --cpu 'v7' for LLVM {major}'s BPF backend (known: {known})"


def test_unwritable_cache_still_validates(llvm_lib, prog_bc, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    succeeds(*link(llvm_lib, prog_bc, tmp_path, "--cpu", "v3", "--llvm-args=--unroll-threshold=7"))
    fails_with(*link(llvm_lib, prog_bc, tmp_path, "--cpu", "v7"), link_error_v7(llvm_lib))


def test_api_users_get_usage_errors(llvm_lib, prog_bc, tmp_path, monkeypatch):
    from bpf_linker import LinkOptions, UsageError, link as api_link

    monkeypatch.setenv("BPF_LINKER_LLVM", llvm_lib)
    out = tmp_path / "out.o"
    with pytest.raises(UsageError, match=r"unknown LLVM option '--unrol-threshold' \(did you mean"):
        api_link(LinkOptions(inputs=(str(prog_bc),), output=str(out), llvm_args=("--unrol-threshold=1",)))
    assert not out.exists()


# --- parsing LLVM's listings (no LLVM needed) ------------------------------------------

HELP_LIST = """\
USAGE: bpf-linker [options]

OPTIONS:
  -W                                                  - Alias for --no-warn
  --unroll-threshold=<uint>                           - The cost threshold for loop unrolling
  --unroll-runtime                                    - Unroll loops with run-time trip counts
  --x86-asm-syntax=<value>                            - Choose style of code to emit:
    =att                                              -   Emit AT&T-style assembly
    =intel                                            -   Emit Intel-style assembly
  Mode of the RegBankSelect pass
      --regbankselect-fast                            - Run the Fast mode (default mapping)
  --sve-tail-folding=<string>                         - Control the use of vectorisation:
                                                        disabled    No loop types will vectorize
                                                        -leading-dash continuation text
"""

CPU_TABLE = """\
Available CPUs for this target:

  generic - Select the generic processor.
  v1      - Select the v1 processor.

Available features for this target:

  alu32    - Enable ALU32 instructions.
  dwarfris - Disable MCAsmInfo DwarfUsesRelocationsAcrossSections.

Use +feature to enable a feature, or -feature to disable it.
For example, llc -mcpu=mycpu -mattr=+feature1,-feature2
"""


def test_parse_help_list():
    assert llvm_options._parse_options(HELP_LIST) == {
        "W": False, "unroll-threshold": True, "unroll-runtime": False, "x86-asm-syntax": True,
        "regbankselect-fast": False, "sve-tail-folding": True,
    }


def test_parse_cpu_table():
    assert llvm_options._parse_table(CPU_TABLE) == (("generic", "v1"), ("alu32", "dwarfris"))


# --- property: whatever --llvm-args/--cpu/--cpu-features say, one clean answer ------------------

VALIDATE_HARNESS = r"""
import json, sys
from bpf_linker import llvm_options
from bpf_linker.bindings import load_llvm
from bpf_linker.errors import UsageError
from bpf_linker.options import LinkOptions

library = load_llvm()
results = []
for cpu, features, args in json.load(open(sys.argv[1])):
    try:
        llvm_options.validate(library, LinkOptions(inputs=("x",), output="y", cpu=cpu, cpu_features=features,
                                                   llvm_args=tuple(args)))
        results.append(["ok", ""])
    except UsageError as e:
        results.append(["usage", str(e)])
    except BaseException as e:
        results.append(["other", f"{type(e).__name__}: {e}"])
json.dump(results, sys.stdout)
"""

OPTION_WORDS = ["unroll-threshold", "unroll-runtime", "x86-asm-syntax", "bpf-expand-memcpy-in-order",
                "help", "help-list-hidden", "version", "print-options", "debug-pass", "regbankselect-fast",
                "hwasan-max-lifetimes-for-alloca", "cold-callsite-rel-freq", "unrol-threshold", "W", "h"]


def test_any_option_text_gets_one_clean_answer(llvm_lib, tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    dashes = st.sampled_from(["", "-", "--", "---", "@"])
    name = st.one_of(st.sampled_from(OPTION_WORDS), st.text(min_size=0, max_size=12))
    value = st.one_of(st.none(), st.sampled_from(["", "0", "1", "abc", "-1", "4294967296", "true", "intel", "="]),
                      st.text(max_size=6))
    arg = st.builds(lambda d, n, v: d + n + ("" if v is None else "=" + v), dashes, name, value)
    arg = arg.filter(lambda a: "\0" not in a)
    cpu = st.one_of(st.sampled_from(["generic", "v1", "v3", "v4", "probe", "help", "V2", ""]), st.text(max_size=5))
    features = st.one_of(st.sampled_from(["", "+alu32", "-dwarfris,+alu32", "alu32", "+help", "+cpuhelp", ",,",
                                          "+alu32,+bogus"]), st.text(max_size=8))
    cases = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cpu.filter(lambda c: "\0" not in c), features.filter(lambda f: "\0" not in f),
           st.lists(arg, max_size=3))
    def collect(c, f, a):
        cases.append((c, f, a))

    collect()
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps(cases))
    env = dict(os.environ, PYTHONSAFEPATH="1", BPF_LINKER_LLVM=llvm_lib, XDG_CACHE_HOME=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", VALIDATE_HARNESS, spec], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", f"LLVM (or we) printed: {r.stderr[:2000]}"
    for (c, f, a), (outcome, message) in zip(cases, json.loads(r.stdout)):
        assert outcome in ("ok", "usage"), (c, f, a, message)
        if outcome == "usage":
            assert message and "\n" not in message, (c, f, a, message)
        else:  # nothing LLVM would ignore or choke on got through
            assert c in ("generic", "v1", "v3", "v4", "probe") and "help" not in f, (c, f, a)
            assert all(x.startswith("-") and not x.lstrip("-").startswith(("help", "version")) for x in a), a


ATEXIT_HARNESS = r"""
import ctypes, os, sys
from bpf_linker import llvm_options
from bpf_linker.bindings import load_llvm
from bpf_linker.options import LinkOptions

marker = sys.argv[1]

@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def on_exit(_arg):
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")

ctypes.CDLL(None).__cxa_atexit(on_exit, None, None)  # what atexit() does (glibc does not export it)
library = load_llvm()
llvm_options.validate(library, LinkOptions(inputs=("x",), output="y", cpu="v3", llvm_args=("--unroll-threshold=5",)))
sys.stdout.flush()
os._exit(0)  # this process's own exit must not run the handler either (Python is finalized by then)
"""


def test_asking_llvm_runs_no_atexit_handler_of_ours(llvm_lib, tmp_path):
    """--help-list-hidden calls exit(): that must not happen in a copy of this process.

    Under atheris, libFuzzer's atexit hook took each such exit for a crash of the fuzz target.
    """
    marker = tmp_path / "atexit-ran"
    env = dict(os.environ, PYTHONSAFEPATH="1", BPF_LINKER_LLVM=llvm_lib, XDG_CACHE_HOME=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-c", ATEXIT_HARNESS, marker], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert not marker.exists(), f"the atexit handler ran in process {marker.read_text().split()}"
