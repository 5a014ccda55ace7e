"""Run a link in a forked child so an LLVM abort or segfault becomes an error, not a dead process.

The child reports progress ("parsing a.bc", "running pass 'codegen'") and finally its
result or error over a pipe; its stderr goes to a temporary file that the parent
replays, so LLVM's own messages (fatal errors, ignored-feature warnings) can be read.
A fork also gives each link fresh process-global LLVM options.

Kept cheap: the parent's objects are frozen for the child's garbage collector (no
copy-on-write of the parent's heap), and once the child has sent its outcome its exit
is collected in the background instead of being waited for.
"""

from __future__ import annotations

import faulthandler
import gc
import importlib
import os
import pickle
import re
import signal
import sys
import tempfile
import threading
import traceback

from .errors import BpfLinkerError, LLVMError

FATAL_PREFIX = "bpf-linker: error: LLVM fatal error: "
# LLVM's crash reporter output: noise for users, kept for --log-level debug.
_CRASH_NOISE = re.compile(r"^(PLEASE submit a bug report|Stack dump:|\s*#?\d+ 0x[0-9a-f]+|\s*[0-9]+\.\s|"
                          r"Program arguments:|LLVM ERROR:)")


class _Reporter:
    def __init__(self, stream):
        self.stream = stream

    def send(self, *message) -> None:
        pickle.dump(message, self.stream, protocol=pickle.HIGHEST_PROTOCOL)
        self.stream.flush()

    def progress(self, step: str) -> None:
        self.send("progress", step)


def _error_payload(error: BaseException):
    """What the parent needs to raise the same error: class, message, attributes."""
    if isinstance(error, BpfLinkerError):
        cls = type(error)
        try:
            attributes = pickle.loads(pickle.dumps(vars(error)))
        except Exception:
            attributes = {}
        return ("error", (cls.__module__, cls.__qualname__), str(error), attributes, None)
    return ("error", None, f"{type(error).__name__}: {error}", {}, traceback.format_exc())


def _rebuild_error(where, message: str, attributes: dict) -> BpfLinkerError:
    try:
        cls = getattr(importlib.import_module(where[0]), where[1])
    except (ImportError, AttributeError):
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, BpfLinkerError)):
        cls = BpfLinkerError
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(attributes)
    return error


class InternalError(Exception):
    """A bug in the child (not a user error); `trace` holds the child's traceback."""

    def __init__(self, message: str, trace: str = ""):
        super().__init__(message)
        self.trace = trace


# The parent's ends of the `alive` pipes of links in flight (threads may run several): a
# worker closes them all, or a worker could keep another link's pipe open.
_parent_ends: set[int] = set()


def _die_with_parent(alive_fd: int) -> None:
    """In the worker: default SIGTERM/SIGHUP, and an exit as soon as the parent dies.

    The parent turns SIGTERM into an exception that kills the worker; if the parent is
    killed outright, its end of the `alive` pipe closes and a watchdog thread here ends the
    worker, so no link outlives its command. (Like prctl(PR_SET_PDEATHSIG), without
    importing ctypes, ~4 ms, into every worker; cffi releases the GIL during LLVM calls,
    so the watchdog runs while LLVM works.)
    """
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)

    def watch():
        try:
            while os.read(alive_fd, 64):
                pass
        except OSError:
            pass
        os._exit(1)  # EOF: every copy of the parent's end is closed, the parent is gone

    threading.Thread(target=watch, name="bpf-linker-parent-watch", daemon=True).start()


def kill_and_reap(pid: int) -> None:
    """SIGKILL a child and collect it (no zombie); a child already gone is fine."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def run_isolated(work, log):
    """Run `work(progress)` in a forked child; return its result or raise its error.

    `progress(step)` records what the child is doing, for the crash message.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    alive_r, alive_w = os.pipe()  # the parent holds alive_w until the child is done
    _parent_ends.add(alive_w)
    err_file = tempfile.TemporaryFile(prefix="bpf-linker-stderr-")
    # The child's garbage collector would touch (and so copy) every page of the parent's
    # objects; frozen, it leaves them alone.
    gc.freeze()
    try:
        pid = os.fork()
    except OSError as e:
        gc.unfreeze()
        _parent_ends.discard(alive_w)
        for fd in (read_fd, write_fd, alive_r, alive_w):
            os.close(fd)
        err_file.close()
        raise BpfLinkerError(f"cannot start the link's worker process: {e.strerror} (fork failed; "
                             "BPF_LINKER_IN_PROCESS=1 links in this process)") from None
    if pid == 0:  # child
        status = 0
        try:
            for fd in list(_parent_ends):  # ours, and those of links running in other threads
                os.close(fd)
            _die_with_parent(alive_r)
            faulthandler.disable()  # the parent reports the crash, in one line
            os.close(read_fd)
            os.dup2(err_file.fileno(), 2)
            with os.fdopen(write_fd, "wb") as stream:
                reporter = _Reporter(stream)
                try:
                    outcome = ("result", work(reporter.progress))
                except BaseException as e:  # everything goes back to the parent
                    outcome = _error_payload(e)
                sys.stderr.flush()  # all of stderr is in err_file before the parent sees the outcome
                reporter.send(*outcome)
        except BaseException:
            status = 3
        finally:
            sys.stderr.flush()
            os._exit(status)

    gc.unfreeze()
    os.close(write_fd)
    os.close(alive_r)
    step, outcome = "starting", None
    try:
        with os.fdopen(read_fd, "rb") as stream:
            while True:
                try:
                    message = pickle.load(stream)
                except EOFError:
                    break
                except Exception:  # truncated by a crash mid-message
                    break
                if message[0] == "progress":
                    step = message[1]
                else:
                    outcome = message
        if outcome is None:  # crashed: its exit status says how
            _, wait_status = os.waitpid(pid, 0)
        else:  # done: its exit (unmapping libLLVM, a few ms) need not be waited for
            _reap_later(pid)
        err_file.seek(0)
        captured = err_file.read().decode("utf-8", errors="replace")
    except BaseException:  # Ctrl-C while waiting: take the child down with us, leave no zombie
        kill_and_reap(pid)
        raise
    finally:
        err_file.close()
        _parent_ends.discard(alive_w)
        os.close(alive_w)  # the child is done (or killed): its watchdog may end it now
    crashed = outcome is None
    fatal = _replay_stderr(captured, log, crashed)

    if outcome is not None and outcome[0] == "result":
        return outcome[1]
    if outcome is not None:
        _, where, message, attributes, trace = outcome
        if where is None:
            raise InternalError(message, trace)
        raise _rebuild_error(where, message, attributes)
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        try:
            why = signal.Signals(sig).name
        except ValueError:
            why = f"signal {sig}"
        reason = fatal or f"{why} ({signal.strsignal(sig) or 'killed'})"
    else:
        reason = fatal or f"exit status {os.WEXITSTATUS(wait_status)}"
    raise LLVMError(f"LLVM crashed while {step}: {reason}", (captured,))


def _reap_later(pid: int) -> None:
    """Collect the exit status of a child that has sent its outcome, in the background.

    Not a daemon thread: the interpreter waits for it at exit, so the worker never outlives
    the command (and its CPU time and memory count as the command's, as wait4 reports them)
    while the two processes' exits still overlap.
    """
    threading.Thread(target=_reap, args=(pid,), name="bpf-linker-reap").start()


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _replay_stderr(captured: str, log, crashed: bool) -> str | None:
    """Copy the child's stderr to ours, minus crash-report noise; return LLVM's fatal message, if any.

    After a crash only our own log lines are replayed: the rest is the crash report.
    """
    fatal = None
    keep = []
    for line in captured.splitlines():
        if line.startswith(FATAL_PREFIX):
            fatal = line[len(FATAL_PREFIX):]
        elif _CRASH_NOISE.match(line) or (crashed and not line.startswith("bpf-linker: ")):
            log.debug("%s", line)
        else:
            keep.append(line)
    if keep:
        sys.stderr.write("\n".join(keep) + "\n")
        sys.stderr.flush()
    return fatal
