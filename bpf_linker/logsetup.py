"""Logging for the command line: `bpf-linker: <level>: <message>` on stderr (and a file).

Everything the package logs goes through the `bpf_linker` logger (passes use child
loggers named after themselves). The CLI configures it once per run with
`configure_logging()` and undoes that afterwards, so `main()` can run many times in
one process (tests do).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable, TextIO

from .options import LOG_LEVELS

#: Below DEBUG, for `--log-level trace` (use `logger.log(TRACE, ...)`).
TRACE = 5
logging.addLevelName(TRACE, "TRACE")

LOGGER_NAME = "bpf_linker"

LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

_LEVEL_WORDS = {
    logging.CRITICAL: "error",
    logging.ERROR: "error",
    logging.WARNING: "warning",
    logging.INFO: "info",
    logging.DEBUG: "debug",
    TRACE: "trace",
}


@dataclass(frozen=True)
class LogConfig:
    """How the CLI logs: a level from LOG_LEVELS and an optional extra log file."""

    level: str = "warn"
    file: str | None = None

    def __post_init__(self):
        if self.level not in LOG_LEVELS:
            from .errors import UsageError

            raise UsageError(f"invalid log level '{self.level}' (expected one of {', '.join(LOG_LEVELS)})")

    @property
    def levelno(self) -> int:
        return LEVELS[self.level]

    @property
    def show_tracebacks(self) -> bool:
        """Tracebacks are logged (at debug) only with `--log-level debug` or `trace`."""
        return self.levelno <= logging.DEBUG


class LineFormatter(logging.Formatter):
    """`bpf-linker: warning: message`, the way compilers and linkers report."""

    def __init__(self, prog: str = "bpf-linker"):
        super().__init__()
        self.prog = prog

    def format(self, record: logging.LogRecord) -> str:
        word = _LEVEL_WORDS.get(record.levelno, record.levelname.lower())
        text = f"{self.prog}: {word}: {record.getMessage()}"
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text


class LogFileHandler(logging.FileHandler):
    """The --log-file: a file that cannot be written (/dev/full, a full disk) costs one warning.

    The link's result never depends on its log: on the first failed write the handler
    warns on the console once and stops writing (no `--- Logging error ---` tracebacks).
    """

    def __init__(self, path: str, console: logging.Handler):
        super().__init__(path, mode="a", encoding="utf-8")
        self.console = console
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord | None) -> None:
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        _warn(self.console, f"cannot write log file {self.baseFilename}: {reason}; no more lines are written to it")

    def flush(self) -> None:
        if self.failed:
            return
        try:
            super().flush()
        except OSError:
            self.handleError(None)

    def close(self) -> None:
        self.flush()
        if self.failed and self.stream is not None:
            # Closing would flush the unwritable buffer again: drop it.
            try:
                os.close(self.stream.fileno())
            except OSError:
                pass
            self.stream = None
        try:
            super().close()
        except OSError:
            pass


def _warn(console: logging.Handler, message: str) -> None:
    console.handle(logging.LogRecord(LOGGER_NAME, logging.WARNING, __file__, 0, message, None, None))


class FileLineFormatter(LineFormatter):
    """Log-file lines also name the process and the step, as many links may share one file:
    `bpf-linker[1234]: info: link: message` (the pid of the command, also for its worker's lines)."""

    def __init__(self):
        super().__init__()
        self.pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        step = record.name.rpartition(".")[2] if record.name.startswith(f"{LOGGER_NAME}.passes.") else ""
        head, sep, rest = text.partition(": ")
        word, sep2, message = rest.partition(": ")
        return f"{head}[{self.pid}]: {word}: {step + ': ' if step else ''}{message}"


def configure_logging(config: LogConfig, stream: TextIO | None = None) -> Callable[[], None]:
    """Send the `bpf_linker` logger's records to `stream` (default stderr) and the log file.

    Returns a function that removes the handlers again and closes the file. A log file
    that cannot be opened or written is one warning on the console; logging goes on there.
    """
    logger = logging.getLogger(LOGGER_NAME)
    formatter = LineFormatter()
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(formatter)
    handlers.append(console)
    if config.file is not None:
        try:
            file_handler = LogFileHandler(config.file, console)
        except OSError as e:
            _warn(console, f"cannot open log file {config.file}: {e.strerror or e}; logging to stderr only")
        else:
            file_handler.setFormatter(FileLineFormatter())
            handlers.append(file_handler)

    saved = (logger.level, logger.propagate)
    logger.setLevel(config.levelno)
    logger.propagate = False
    for handler in handlers:
        logger.addHandler(handler)

    def undo() -> None:
        for handler in handlers:
            logger.removeHandler(handler)
            try:
                handler.flush()
            finally:
                if isinstance(handler, logging.FileHandler):
                    handler.close()
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    return undo
