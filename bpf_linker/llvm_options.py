"""Check --cpu, --cpu-features and --llvm-args against what the loaded LLVM knows.

LLVM itself is lenient in ways that hide mistakes: an unknown CPU or feature only
prints a warning and is ignored, `LLVMParseCommandLineOptions` ignores unknown options
without a word, and a bad option value is printed to stderr while the link goes on
with the default. So the linker asks the loaded LLVM, once, what it knows:

* the BPF CPUs and features: creating a target machine for CPU "help" makes LLVM
  print its CPU/feature table to stderr;
* the registered command-line options: `--help-list-hidden` prints them all to stdout
  and then calls exit().

Both happen in a throwaway process (a fresh interpreter: the exit() must not run this
process's atexit handlers) with stdout and stderr on pipes, so nothing reaches the
user's terminal and the exit cannot end the link. The parsed tables are cached in
`${XDG_CACHE_HOME:-~/.cache}/bpf-linker/`, one JSON file per library (keyed by its real
path, mtime and size), written atomically, so later links read a small file instead.

Option *values* are checked by trial-parsing the user's --llvm-args in another
throwaway process, where LLVM reports a bad value ("'abc' value invalid for uint
argument!") on stderr; the real parse in the link then sees only valid options. A
name `--help-list-hidden` does not show (LLVM's `cl::ReallyHidden` options) is
probed the same way before it is called unknown: a registered option rejects a
junk value or a missing value, an unknown one stays silent.

Costs, measured on a 2-CPU machine with LLVM 16 and 22 (a whole link takes ~0.5 s):
nothing for the default `--cpu generic` without features or --llvm-args; ~1 ms (the
cache file) for another CPU or features; 12-25 ms more with --llvm-args (the trial
parse's fork); ~0.3 s once per library and cache, to print and parse the tables.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from .errors import UsageError

log = logging.getLogger("bpf_linker.llvm-options")

CACHE_FORMAT = 1
PROBE_TIMEOUT = 60.0  # seconds; LLVM printing a table never takes this long
# Options that make LLVM print its help or version and exit the process.
_FORBIDDEN = ("help", "help-hidden", "help-list", "help-list-hidden", "h", "version")
_MARK = b"\n@@bpf-linker-probe-mark@@\n"
_JUNK_VALUE = "\x01bpf-linker-probe\x01"


@dataclass(frozen=True)
class Known:
    """What one libLLVM knows: BPF CPUs and features, and its options (name -> takes a value)."""

    cpus: tuple[str, ...]
    features: tuple[str, ...]
    options: dict[str, bool]


def validate(library, options) -> None:
    """Raise UsageError for an option, CPU or feature the loaded LLVM would ignore or reject."""
    cpu, features, llvm_args = options.cpu, options.cpu_features or "", tuple(options.llvm_args)
    if cpu in (None, "generic") and not features and not llvm_args:
        return  # the default: every LLVM knows it, and checking it should cost nothing
    known = known_to(library)
    if cpu is not None:
        _check_cpu(library, known, cpu)
    _check_features(library, known, features)
    if llvm_args:
        _check_llvm_args(library, known, llvm_args)


# --- CPU and features ----------------------------------------------------------


def _check_cpu(library, known: Known, cpu: str) -> None:
    if cpu in known.cpus:
        return
    raise UsageError(f"unknown --cpu '{cpu}' for LLVM {library.major}'s BPF backend"
                     f"{_did_you_mean(cpu, known.cpus, '')} (known: {', '.join(known.cpus)})")


def _check_features(library, known: Known, features: str) -> None:
    # LLVM splits on commas and drops empty items; each must be +name or -name (a bare
    # name is silently taken as -name: a trap worth an error).
    for item in features.split(","):
        if not item:
            continue
        sign, name = item[0], item[1:]
        if sign not in "+-":
            hint = f" (write +{item} to enable it or -{item} to disable it)" if item in known.features else ""
            raise UsageError(f"--cpu-features: '{item}' must start with '+' or '-'{hint}")
        if name not in known.features:
            raise UsageError(f"--cpu-features: unknown feature '{item}' for LLVM {library.major}'s BPF backend"
                             f"{_did_you_mean(name, known.features, sign)} "
                             f"(known: {', '.join(known.features)})")


# --- --llvm-args --------------------------------------------------------------


def _option_name(arg: str) -> str:
    """`--name=value` / `-name` -> `name` (LLVM accepts one or two dashes for every option)."""
    body = arg[2:] if arg.startswith("--") else arg[1:]
    return body.split("=", 1)[0]


def _dashes(name: str) -> str:
    return "-" if len(name) == 1 else "--"


def _check_llvm_args(library, known: Known, args: tuple[str, ...]) -> None:
    unlisted: list[tuple[str, str]] = []  # (arg, name) not in --help-list-hidden
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("@"):
            raise UsageError(f"--llvm-args: '{arg}': response files are not supported")
        if not arg.startswith("-") or arg in ("-", "--"):
            raise UsageError(f"--llvm-args: '{arg}' is not an LLVM option (LLVM options start with '-')")
        name = _option_name(arg)
        if name in _FORBIDDEN:
            raise UsageError(f"--llvm-args: '{arg}' is not allowed (LLVM would print and exit)")
        if name in known.options:
            # `-name value` (two list items) is how LLVM also spells a required value.
            if known.options[name] and "=" not in arg and i < len(args):
                i += 1
        else:
            unlisted.append((arg, name))
    found, messages = _trial_parse(library, args, [name for _, name in unlisted])
    for arg, name in unlisted:
        if name not in found:
            raise UsageError(f"--llvm-args: unknown LLVM option '{arg.split('=', 1)[0]}'"
                             f"{_did_you_mean(name, known.options, None)}")
    if messages:
        raise UsageError(f"--llvm-args: {_explain(messages[0], args)}")


_FOR_THE = re.compile(r"^\S+: for the (-{1,2})(\S+) option: (.*)$")


def _explain(message: str, args: tuple[str, ...]) -> str:
    """LLVM's "bpf-linker: for the --x option: msg" -> "LLVM rejects '--x=v': msg"."""
    m = _FOR_THE.match(message)
    if m:
        name, detail = m.group(2), m.group(3)
        for arg in args:
            if arg.startswith("-") and _option_name(arg) == name:
                return f"LLVM rejects '{arg}': {detail}"
        return f"LLVM rejects {m.group(1)}{name}: {detail}"
    return f"LLVM rejects the options: {message}"


def _did_you_mean(word: str, choices, sign: str | None) -> str:
    """" (did you mean X?)" for the nearest choices (difflib), or "" if none is near."""
    choices = list(choices)
    same_case = [c for c in choices if c.lower() == word.lower()]
    if same_case:
        close = same_case[:1]
    else:
        scored = []
        for choice in choices:
            matcher = difflib.SequenceMatcher(None, word, choice)
            if matcher.real_quick_ratio() >= 0.75 and matcher.quick_ratio() >= 0.75:
                scored.append((matcher.ratio(), choice))
        scored = sorted((s for s in scored if s[0] >= 0.75), key=lambda s: (-s[0], s[1]))
        # The best match, and any tied with it: a list of near misses is noise.
        close = [c for score, c in scored[:3] if score >= scored[0][0] - 1e-9] if scored else []
    if not close:
        return ""
    spelled = [(f"{_dashes(c)}{c}" if sign is None else f"{sign}{c}") for c in close]
    listing = spelled[0] if len(spelled) == 1 else f"{', '.join(spelled[:-1])} or {spelled[-1]}"
    return f" (did you mean {listing}?)"


def _trial_parse(library, args: tuple[str, ...], probe_names: list[str]) -> tuple[set[str], list[str]]:
    """Parse `args` in a throwaway process; return (probe_names LLVM knows, LLVM's error lines).

    For each probed name LLVM first parses `--name=<junk>` and then a bare `--name`
    (last on the line): a registered option rejects one of them (bad value, value
    required), an unregistered one is ignored silently.
    """
    from .bindings import set_command_line

    def task():
        for name in probe_names:
            set_command_line(library, [f"--{name}={_JUNK_VALUE}"])
            set_command_line(library, [f"--{name}"])
            os.write(2, _MARK)
        set_command_line(library, list(args))
        os.write(2, _MARK)

    status, _, err = _in_grandchild(task)
    sections = err.split(_MARK)
    if status != 0 or len(sections) != len(probe_names) + 2:
        raise UsageError(f"--llvm-args: LLVM failed while checking the options "
                         f"({_describe_status(status)}): {_first_line(err)}")
    found = {name for name, text in zip(probe_names, sections) if text.strip()}
    messages = [line.strip() for line in sections[len(probe_names)].decode("utf-8", "replace").splitlines()
                if line.strip()]
    return found, messages


# --- asking LLVM, once per library ------------------------------------------------


_memo: dict[str, Known] = {}


def known_to(library) -> Known:
    """The CPUs, features and options of `library`: from memory, the cache file, or LLVM."""
    key = _cache_key(library.path)
    if key in _memo:
        return _memo[key]
    path = _cache_file(key)
    known = _read_cache(path, library) if path else None
    if known is None:
        start = time.monotonic()
        known = _ask_llvm(library)
        log.debug("asked LLVM %s for its CPUs, features and options in %.0f ms", library.path,
                  (time.monotonic() - start) * 1000)
        if path:
            _write_cache(path, library, known)
    _memo[key] = known
    return known


def _ask_llvm(library) -> Known:
    """Print LLVM's tables in a fresh interpreter (fork+exec), or else in a forked grandchild.

    `--help-list-hidden` ends with exit(), which in a *forked* copy of this process would
    also run whatever C atexit handlers the process registered (found by fuzzing under
    libFuzzer, whose atexit hook reported every such exit as a crash); a fresh
    interpreter has none. The fork is the fallback for when no interpreter can be run.
    """
    status, out, err = _tables_in_new_process(library)
    if status is None:
        status, out, err = _in_grandchild(lambda: print_tables(library))
    table = err.split(_MARK)[0].decode("utf-8", "replace")
    cpus, features = _parse_table(table)
    options = _parse_options(out.decode("utf-8", "replace"))
    if status != 0 or not cpus or not options:
        from .errors import LLVMError

        raise LLVMError(f"cannot ask {library.path} for its CPUs and options "
                        f"({_describe_status(status)}): {_first_line(err)}")
    return Known(cpus=cpus, features=features, options=options)


def print_tables(library) -> None:
    """CPU/feature table on stderr, a mark, every option on stdout; ends the process (exit(0))."""
    from .bindings import TargetMachine, set_command_line

    TargetMachine.create(library, "bpf", "help", "")  # prints the CPU/feature table on stderr
    os.write(2, _MARK)
    set_command_line(library, ["--help-list-hidden"])  # prints every option on stdout, then exit(0)
    os._exit(4)  # not reached


_PRINT_TABLES = (
    "import os, sys\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', os.getcwd())]\n"
    "from bpf_linker.bindings import load_llvm\n"
    "from bpf_linker.llvm_options import print_tables\n"
    "print_tables(load_llvm(sys.argv[1]))\n"
)


def _tables_in_new_process(library) -> tuple[int | None, bytes, bytes]:
    """(status, stdout, stderr) of print_tables in a new interpreter; status None if none could run."""
    if not sys.executable:
        return None, b"", b""
    env = dict(os.environ, PYTHONSAFEPATH="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and p != os.getcwd())
    try:
        r = subprocess.run([sys.executable, "-c", _PRINT_TABLES, library.path], env=env, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("cannot run %s to ask LLVM: %s", sys.executable, e)
        return None, b"", b""
    if r.returncode != 0 and b"Traceback" in r.stderr:  # the interpreter could not import us
        log.debug("asking LLVM in a new interpreter failed: %s", r.stderr.decode("utf-8", "replace"))
        return None, b"", b""
    return r.returncode, r.stdout, r.stderr


_TABLE_ENTRY = re.compile(r"^\s+(\S+)\s+- ")
# `  --name=<uint>  - desc`, `  -W  - Alias...`, and literal options listed under a heading
# (`      --regbankselect-fast  - ...`); enum values (`    =att`) and wrapped text are not names.
_OPTION_LINE = re.compile(r"^ {2,8}(-{1,2})([^\s=<>]+)(=<[^>]*>)?(?:\s|$)")


def _parse_table(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cpus: list[str] = []
    features: list[str] = []
    into = None
    for line in text.splitlines():
        if line.startswith("Available CPUs"):
            into = cpus
        elif line.startswith("Available features"):
            into = features
        elif line.startswith("Use +feature"):
            into = None
        elif into is not None:
            m = _TABLE_ENTRY.match(line)
            if m:
                into.append(m.group(1))
    return tuple(cpus), tuple(features)


def _parse_options(text: str) -> dict[str, bool]:
    options: dict[str, bool] = {}
    for line in text.splitlines():
        m = _OPTION_LINE.match(line)
        if m:
            options[m.group(2)] = bool(m.group(3))
    return options


# --- the throwaway process ----------------------------------------------------------


def _in_grandchild(task) -> tuple[int, bytes, bytes]:
    """Run `task()` in a forked process with stdout and stderr on pipes.

    Returns (status, stdout, stderr); status is the exit code, or -signal. `task` may end
    the process itself (LLVM's --help-list-hidden calls exit(0)); if it returns, the
    process exits 0. It is killed after PROBE_TIMEOUT seconds.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the grandchild: never returns
        code = 0
        try:
            os.close(out_r)
            os.close(err_r)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            task()
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    deadline = time.monotonic() + PROBE_TIMEOUT
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                break
            for key, _ in sel.select(remaining):
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    os.close(out_r)
    os.close(err_r)
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(wait_status):
        status = -os.WTERMSIG(wait_status)
    else:
        status = os.WEXITSTATUS(wait_status)
    return status, b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _describe_status(status: int) -> str:
    if status < 0:
        try:
            return signal.Signals(-status).name
        except ValueError:
            return f"signal {-status}"
    return f"exit status {status}"


def _first_line(data: bytes) -> str:
    for line in data.replace(_MARK, b"\n").decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return "no output"


# --- the cache file ---------------------------------------------------------------


def _cache_key(library_path: str) -> str:
    real = os.path.realpath(library_path)
    try:
        st = os.stat(real)
        stamp = f"{st.st_mtime_ns}:{st.st_size}"
    except OSError:
        stamp = "?"
    return hashlib.sha256(f"{CACHE_FORMAT}\0{real}\0{stamp}".encode()).hexdigest()[:24]


def cache_dir() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not home or home == "~":
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "bpf-linker")


def _cache_file(key: str) -> str | None:
    directory = cache_dir()
    return os.path.join(directory, f"llvm-{key}.json") if directory else None


def _read_cache(path: str, library) -> Known | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != CACHE_FORMAT or data.get("library") != os.path.realpath(library.path):
            return None
        cpus, features, options = data["cpus"], data["features"], data["options"]
        if not (isinstance(cpus, list) and isinstance(features, list) and isinstance(options, dict)
                and cpus and options and all(isinstance(x, str) for x in cpus + features)):
            return None
        return Known(cpus=tuple(cpus), features=tuple(features),
                     options={str(k): bool(v) for k, v in options.items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write_cache(path: str, library, known: Known) -> None:
    """Write atomically (temporary file + rename); a cache that cannot be written is skipped."""
    data = {"format": CACHE_FORMAT, "library": os.path.realpath(library.path),
            "version": list(library.version), "cpus": list(known.cpus),
            "features": list(known.features), "options": known.options}
    directory = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".llvm-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        log.debug("cannot write the LLVM options cache %s: %s", path, e)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
