"""Command line: ``drugdesk [FILE…]`` opens the window; ``drugdesk COMMAND …`` runs without one.

This module only dispatches: each command lives in ``app/commands/<area>.py`` (``add_parser`` and
``run``), a thin layer over ``core`` that calls the same job functions the engine runs;
``app/commands/common.py`` holds what they share (exit codes, one-line errors, interrupts,
progress). A new verb: a module there, one line in :data:`COMMAND_PARSERS` and one in
:data:`COMMAND_GROUPS`, a test in ``tests/cli/``.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from app import __version__
from app.commands.common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_USAGE,
    PROG,
    ArgumentParser,
    Terminated,
    cancelled,
    fail,
    usage_error,
)

# ----------------------------------------------------------------------------------------------
# Dispatch


def _add_pretrain_parser(subparsers) -> None:
    from app.commands import pretrain

    pretrain.add_parser(subparsers)


def _add_train_parser(subparsers) -> None:
    from app.commands import models

    models.add_train_parser(subparsers)


def _add_predict_parser(subparsers) -> None:
    from app.commands import models

    models.add_predict_parser(subparsers)


def _add_update_parser(subparsers) -> None:
    from app.commands import update

    update.add_parser(subparsers)


def _add_explain_parser(subparsers) -> None:
    from app.commands import models

    models.add_explain_parser(subparsers)


def _add_suggest_parser(subparsers) -> None:
    from app.commands import suggest

    suggest.add_parser(subparsers)


def _add_structure_parser(subparsers) -> None:
    from app.commands import structure

    structure.add_parser(subparsers)


def _add_target_parser(subparsers) -> None:
    from app.commands import target

    target.add_parser(subparsers)


def _add_fold_parser(subparsers) -> None:
    from app.commands import esm

    esm.add_fold_parser(subparsers)


def _add_esmfold_weights_parser(subparsers) -> None:
    from app.commands import esm

    esm.add_weights_parser(subparsers)


def _add_power_parser(subparsers) -> None:
    from app.commands import trials

    trials.add_power_parser(subparsers)


def _add_km_parser(subparsers) -> None:
    from app.commands import trials

    trials.add_km_parser(subparsers)


def _add_de_parser(subparsers) -> None:
    from app.commands import de

    de.add_parser(subparsers)


def _add_score_parser(subparsers) -> None:
    from app.commands import score

    score.add_parser(subparsers)


def _add_project_parser(subparsers) -> None:
    from app.commands import project

    project.add_parser(subparsers)


def _add_search_parser(subparsers) -> None:
    from app.commands import search

    search.add_parser(subparsers)


def _add_props_parser(subparsers) -> None:
    from app.commands import molecules

    molecules.add_props_parser(subparsers)


def _add_conformers_parser(subparsers) -> None:
    from app.commands import molecules

    molecules.add_conformers_parser(subparsers)


COMMAND_PARSERS = {
    "props": _add_props_parser,
    "conformers": _add_conformers_parser,
    "pretrain": _add_pretrain_parser,
    "train": _add_train_parser,
    "predict": _add_predict_parser,
    "update": _add_update_parser,
    "explain": _add_explain_parser,
    "suggest": _add_suggest_parser,
    "score": _add_score_parser,
    "project": _add_project_parser,
    "search": _add_search_parser,
    "structure": _add_structure_parser,
    "target": _add_target_parser,
    "fold": _add_fold_parser,
    "esmfold-weights": _add_esmfold_weights_parser,
    "de": _add_de_parser,
    "power": _add_power_parser,
    "km": _add_km_parser,
}

# ``drugdesk --help`` lists the commands by the area of the window they belong to.
COMMAND_GROUPS = {
    "molecules": ("props", "conformers"),
    "models": ("pretrain", "train", "predict", "update", "explain", "suggest"),
    "libraries": ("score", "project", "search"),
    "proteins": ("structure", "target", "fold", "esmfold-weights"),
    "expression": ("de",),
    "trials": ("power", "km"),
}


class _HelpFormatter(argparse.HelpFormatter):
    """Every option shows its default (unless its help already says it); descriptions and
    epilogs are wrapped to the terminal but keep their own line breaks (the command list)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        lines = []
        for line in text.splitlines():
            lead = len(line) - len(line.lstrip(" "))
            # "    name  description": continuation lines start under the description.
            term = re.match(r"^\s+\S+\s{2,}", line)
            hang = len(term.group(0)) if term else (lead + 2 if lead else 0)
            lines.extend(
                textwrap.wrap(
                    line.strip(),
                    width,
                    initial_indent=indent + " " * lead,
                    subsequent_indent=indent + " " * hang,
                )
                or [""]
            )
        return "\n".join(lines)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text.lower()
            or "%(default)" in text
            or not action.option_strings
            or default is argparse.SUPPRESS
            or default is None
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return f"{text} (default: off)"
        if isinstance(default, list | tuple):
            if not default:
                return text
            default = " ".join(str(item) for item in default)
        return f"{text} (default: {default})"


def _command_summaries() -> dict[str, str]:
    """Each command's one-line help, as its own parser states it."""
    subparsers = _command_parser()._subparsers._group_actions[0]
    # A help string is a %-format ("95%% CI"): shown here as the user reads it.
    return {
        action.dest: (action.help or "").replace("%%", "%")
        for action in subparsers._choices_actions
    }


def _commands_epilog() -> str:
    summaries = _command_summaries()
    width = max(len(name) for name in COMMAND_PARSERS)
    lines = ["commands (run without a window; drugdesk COMMAND --help for each):"]
    for group, names in COMMAND_GROUPS.items():
        lines.append(f"  {group}:")
        for name in names:
            lines.append(f"    {name:<{width}}  {summaries.get(name, '(unavailable)')}")
    return "\n".join(lines)


def _command_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="DrugDesk command-line tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in COMMAND_PARSERS.items():
        try:
            add(subparsers)
        except Exception as error:  # one broken command must not take the others down
            logging.getLogger(__name__).warning("command %s is unavailable: %s", name, error)
    for sub in subparsers.choices.values():
        sub.epilog = f"{sub.epilog}\n\n{EXIT_CODES_HELP}" if sub.epilog else EXIT_CODES_HELP
        sub.formatter_class = _HelpFormatter
    return parser


def _gui_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [FILE ...] [options]  or  {PROG} COMMAND [options]",
        description="DrugDesk: a desktop workbench for AI-assisted early drug discovery. "
        "Without a command, opens the main window (and the given compound files).",
        epilog=f"{_commands_epilog()}\n\n{EXIT_CODES_HELP}",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("files", nargs="*", type=Path, help="compound files to open")
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="OUT.png",
        help="open the window (and FILES), wait until drawn, save a picture, exit",
    )
    from app.areas import AREAS

    parser.add_argument(
        "--area",
        choices=[area.key for area in AREAS],
        help="open this work area first (libraries, models, proteins, expression, trials)",
    )
    parser.add_argument("--version", action="version", version=f"DrugDesk {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log file detail",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from app.logging_setup import setup_logging

    if argv and argv[0] in COMMAND_PARSERS:
        return _run_command(argv)
    unknown = _unknown_command(argv)
    if unknown is not None:
        sys.stderr.write(f"{PROG}: error: {unknown}\n")
        return EXIT_USAGE
    args = _gui_parser().parse_args(argv)
    setup_logging(getattr(logging, args.log_level))
    from app.gui import run_gui

    return run_gui(files=args.files, screenshot=args.screenshot, area=args.area)


def _unknown_command(argv: list[str]) -> str | None:
    """A message when the first word is neither a command nor a file to open (``drugdesk prop``
    would otherwise open the window and fail to find a file named 'prop')."""
    if not argv or argv[0].startswith("-"):
        return None
    word = argv[0]
    try:
        if Path(word).exists():
            return None
    except OSError:  # a name too long for the file system is no file
        pass
    if Path(word).suffix or os.sep in word:
        return None  # a file name: the window says it does not exist
    import difflib

    close = difflib.get_close_matches(word, list(COMMAND_PARSERS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"'{word}' is neither a command nor a file.{hint} Commands: "
        f"{', '.join(COMMAND_PARSERS)} (see {PROG} --help)"
    )


def _run_command(argv: list[str]) -> int:
    """Run one command; whatever happens, the user sees at most one line of error and a
    documented exit code (see :data:`EXIT_CODES_HELP`), never a traceback."""
    from app.logging_setup import setup_logging

    command = argv[0]
    log_path = setup_logging(logging.WARNING)
    previous = _catch_sigterm()
    ctrl_c = _CtrlCWatcher()
    ctrl_c.start()
    try:
        try:
            args, unknown = _command_parser().parse_known_args(argv)
        except SystemExit as done:  # --help (0) or a usage error (2, its one line printed)
            return done.code if isinstance(done.code, int) else EXIT_USAGE
        if unknown:  # said here so that the line names the command, as argparse's own do
            return usage_error(
                command,
                f"unrecognized arguments: {' '.join(unknown)} (see {PROG} {command} --help)",
            )
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below, not at exit
        return code
    except KeyboardInterrupt as interrupt:  # Ctrl+C, or SIGTERM through _catch_sigterm
        return cancelled(command, interrupt)
    except BrokenPipeError:
        return _stdout_closed()
    except MemoryError:
        _log_to_file(f"{PROG} {command}: out of memory")
        return fail(command, "out of memory: try a smaller input or fewer worker processes")
    except Exception as error:
        _log_to_file(f"{PROG} {' '.join(argv)} failed")
        where = f"see the log file {log_path}" if log_path else "the log file could not be written"
        first = (str(error).strip().splitlines() or [""])[0]
        return fail(command, f"unexpected {type(error).__name__}: {first} ({where})")
    finally:
        _restore_sigterm(previous)
        ctrl_c.stop()


def _log_to_file(message: str) -> None:
    """Write ``message`` and the exception being handled to the log file only: the console
    handler would print the traceback to the terminal."""
    import logging.handlers

    logger = logging.getLogger(__name__)
    record = logger.makeRecord(
        logger.name, logging.ERROR, __file__, 0, message, None, sys.exc_info()
    )
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def _stdout_closed() -> int:
    """End quietly when the reader of stdout has gone (``| head``): Python's documented recipe
    points stdout at /dev/null so that the flush at exit does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass
    return EXIT_BROKEN_PIPE


class _CtrlCWatcher:
    """Ctrl+C for a command, whatever C libraries do to SIGINT's handler.

    RDKit 2026.03 installs its own C handler for SIGINT at its first substructure search or
    embedding and leaves it there (rdkit/rdkit#9381): Python's handler never runs again, and
    Ctrl+C only sets a flag inside RDKit (``props`` on a small file ran to its end). So, for the
    command's duration, SIGINT is blocked in every thread (and in the processes the command
    starts, which inherit the mask: their parent stops them), and this thread takes it with
    ``sigtimedwait`` and hands it to the main thread's Python handler (KeyboardInterrupt, or
    :class:`GracefulCancel`'s), as the interpreter's own handler would.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_mask: set | None = None

    def start(self) -> None:
        if not hasattr(signal, "pthread_sigmask") or not hasattr(signal, "sigtimedwait"):
            return  # Windows: no signal masks (and RDKit's handler is not our problem there)
        if threading.current_thread() is not threading.main_thread():
            return
        # multiprocessing starts its resource tracker with SIGINT blocked, then *unblocks* it
        # (whatever the mask was before): start it first, so that the block below stays.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
        self._previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        # Created after the block: the thread inherits it, as sigtimedwait requires.
        self._thread = threading.Thread(target=self._run, name="DrugDesk Ctrl+C", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import _thread

        while not self._stop.is_set():
            if signal.sigtimedwait({signal.SIGINT}, 0.2) is not None:
                _thread.interrupt_main(signal.SIGINT)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous_mask)


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _catch_sigterm():
    """Turn SIGTERM into :class:`Terminated` in the main thread (returns the old handler)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _restore_sigterm(previous) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
