"""What every command shares: exit codes, one-line errors, interrupts, terminal progress.

A command (``app/commands/<area>.py``) parses its options, calls ``core``, and reports through
these: :func:`fail` (exit 1, bad data) or :func:`usage_error` (exit 2, a wrong option), one line
``drugdesk <command>: error: …``; :func:`cancelled` for Ctrl+C (130) and SIGTERM (143);
:func:`terminal_progress` for a progress line on stderr. ``app/cli.py`` only dispatches.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PROG = "drugdesk"

# Exit codes of every command (documented in ``drugdesk --help``).
EXIT_OK = 0
EXIT_ERROR = 1
"""Bad data, an unreadable file, a failed job."""
EXIT_USAGE = 2
"""A wrong command line: argparse's errors and option values out of range."""
EXIT_INTERRUPTED = 130
"""Ctrl+C (SIGINT): 128 + 2, what a shell reports for a process ended by SIGINT."""
EXIT_TERMINATED = 143
"""SIGTERM (``kill PID``): 128 + 15."""
EXIT_BROKEN_PIPE = 141
"""The reader of our standard output went away (``drugdesk … | head -1``): 128 + SIGPIPE, the
code a shell reports for ``cat`` in the same place, so ``set -o pipefail`` sees it the same way."""

EXIT_CODES_HELP = (
    "exit codes: 0 success; 1 error (bad data, unreadable file, failed job); 2 usage (a wrong "
    "option or value); 130 interrupted (Ctrl+C); 143 terminated (SIGTERM); 141 output pipe "
    "closed (e.g. | head)"
)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread the way Ctrl+C raises ``KeyboardInterrupt``, so that one
    path stops workers, removes half-written files and reports it."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``drugdesk <verb>: error: …``, with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        end_progress_line()
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Whether a progress line (ending in "\r…", no newline yet) is open on stderr: a message printed
# after it starts on a new line instead of being glued to "45.0% Processed …".
_progress_line_open = False


def end_progress_line() -> None:
    global _progress_line_open
    if _progress_line_open:
        sys.stderr.write("\n")
        _progress_line_open = False


def terminal_progress(enabled: bool) -> Callable[[float, str], None]:
    last = [0.0]

    def report(fraction: float, message: str = "") -> None:
        if not enabled:
            return
        now = time.monotonic()
        if now - last[0] < 0.5 and fraction < 1.0:
            return
        last[0] = now
        percent = f"{fraction * 100:5.1f}% " if fraction >= 0 else ""
        global _progress_line_open
        sys.stderr.write(f"\r{percent}{message[:70]:<70}")
        _progress_line_open = True
        if fraction >= 1.0:
            sys.stderr.write("\n")
            _progress_line_open = False
        sys.stderr.flush()

    return report


def fail(command: str, message: str, code: int = EXIT_ERROR) -> int:
    """Print ``drugdesk <command>: error: <message>`` (one line) and return ``code`` (1: a data
    error, an unreadable file, a failed job)."""
    end_progress_line()
    text = " ".join(str(message).split())  # one line, whatever the exception's text held
    print(f"{PROG} {command}: error: {text}", file=sys.stderr)
    return code


def usage_error(command: str, message: str) -> int:
    """:func:`fail` with exit code 2: the command line itself is wrong (an option's value)."""
    return fail(command, message, EXIT_USAGE)


def cancelled(command: str, interrupt: BaseException, what: str = "nothing written") -> int:
    """Report Ctrl+C or SIGTERM in one line and return 130 or 143."""
    end_progress_line()
    print(f"{PROG} {command}: cancelled, {what}", file=sys.stderr)
    return interrupt_exit_code(interrupt)


def interrupt_exit_code(interrupt: BaseException) -> int:
    """143 for SIGTERM (:class:`Terminated`), 130 for Ctrl+C."""
    return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED


class GracefulCancel:
    """Ctrl+C and SIGTERM as a cancel flag, for commands whose job stops cleanly between steps
    and keeps what it has (``pretrain``'s best checkpoint). A second signal stops at once.

    Use as a context manager in the main thread; pass :meth:`is_set` as the job's
    ``is_cancelled``. ``interrupt`` then holds the exception the signal stands for.
    """

    def __init__(self) -> None:
        self.interrupt: KeyboardInterrupt | None = None
        self._previous: dict[int, object] = {}

    def is_set(self) -> bool:
        return self.interrupt is not None

    def _on_signal(self, signum, frame) -> None:
        interrupt = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.interrupt is not None:
            raise interrupt  # asked twice: stop now
        self.interrupt = interrupt
        end_progress_line()
        print(f"{PROG}: stopping after the current step (again to stop at once)", file=sys.stderr)

    def __enter__(self) -> GracefulCancel:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, previous in self._previous.items():
            if previous is not None:
                signal.signal(signum, previous)


def output_over_input(output: Path, inputs: Iterable[Path | str | None]) -> str | None:
    """The message refusing ``output`` when it is one of ``inputs`` (the same file, also through a
    link), else ``None``: writing it would replace the data being read."""
    from core.fileio import OutputError, refuse_output_over_input

    try:
        refuse_output_over_input(output, [Path(i) for i in inputs if i is not None and str(i)])
    except OutputError as error:
        return str(error)
    return None


def os_error_text(error: OSError) -> str:
    """An :class:`OSError` in words: the file and the reason, no error number."""
    from core.fileio import OutputError, describe_write_error

    if isinstance(error, OutputError) or not getattr(error, "filename", None):
        return str(error)
    return f"{error.filename}: {describe_write_error(error)}"
