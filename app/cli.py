"""Command line: ``drugdesk [FILE…]`` opens the window; ``drugdesk COMMAND …`` runs without one.

Commands are thin layers over ``core``: they call the same job functions the engine runs, with a
progress callback that prints to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from app import __version__

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


class _ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``drugdesk <verb>: error: …``, with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _end_progress_line()
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Whether a progress line (ending in "\r…", no newline yet) is open on stderr: a message printed
# after it starts on a new line instead of being glued to "45.0% Processed …".
_progress_line_open = False


def _end_progress_line() -> None:
    global _progress_line_open
    if _progress_line_open:
        sys.stderr.write("\n")
        _progress_line_open = False


def _terminal_progress(enabled: bool) -> Callable[[float, str], None]:
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


# ----------------------------------------------------------------------------------------------
# props


def _add_props_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "props",
        help="compute identifiers and properties for every record of a compound file",
        description=(
            "Read a compound file (.smi/.txt, .csv, .tsv, .sdf, .xlsx), standardise each molecule "
            "(RDKit MolStandardize: cleanup, largest fragment, neutralise) and write one row per "
            "input record, in input order, with the columns name, smiles, canonical_smiles, "
            "inchikey, mw, clogp, tpsa, hbd, hba, rotb, qed, formula, sa_score, fsp3, "
            "lipinski_violations, alerts, valid, error. Records that fail are "
            "kept with valid=False and the reason in error."
        ),
    )
    parser.add_argument("input", type=Path, help="compound file to read")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output file (.csv, .tsv, .xlsx or .sdf)"
    )
    parser.add_argument("--smiles-col", help="column holding SMILES (tables; detected if omitted)")
    parser.add_argument("--name-col", help="column holding names (tables; detected if omitted)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="worker processes (default: one per core; 1 = no extra processes)",
    )
    parser.add_argument(
        "--tautomers",
        action="store_true",
        help="also replace each molecule by its canonical tautomer (slow)",
    )
    parser.add_argument(
        "--no-standardize",
        action="store_true",
        help="skip standardisation (properties of the molecule as written)",
    )
    parser.set_defaults(handler=_run_props)


def _run_props(args: argparse.Namespace) -> int:
    from core.chem.export import ExportError, export_format, export_table
    from core.chem.library import LoadOptions, load_library, props_table
    from core.chem.readers import LibraryReadError, ReadOptions
    from core.chem.standardize import StandardizeOptions

    try:
        export_format(args.output)
    except ValueError as exc:
        return usage_error("props", str(exc))
    if refused := output_over_input(args.output, [args.input]):
        return usage_error("props", refused)
    if args.no_standardize:
        standardize = StandardizeOptions(cleanup=False, largest_fragment=False, neutralize=False)
    else:
        standardize = StandardizeOptions(canonical_tautomer=args.tautomers)
    options = LoadOptions(
        read=ReadOptions(smiles_column=args.smiles_col, name_column=args.name_col),
        standardize=standardize,
        workers=max(0, args.workers),
    )
    try:
        library = load_library(
            args.input, options, progress=_terminal_progress(sys.stderr.isatty())
        )
        export_table(props_table(library), args.output)
    except (LibraryReadError, ExportError) as exc:
        return fail("props", str(exc))
    except OSError as exc:  # a worker process that crashed, a file that went away
        return fail("props", os_error_text(exc))
    print(f"{library.summary()}; wrote {args.output}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------
# conformers


def _add_conformers_parser(subparsers) -> None:
    from core.chem.conformers import MAX_ATOMS_WITH_HYDROGENS, MAX_HEAVY_ATOMS

    parser = subparsers.add_parser(
        "conformers",
        help="generate 3D conformer ensembles (ETKDGv3 + MMFF94) and write them to SDF",
        description=(
            "Embed up to N conformers per molecule with RDKit's ETKDGv3 (seeded), optimise them "
            "with MMFF94 (UFF when MMFF has no parameters), drop near-duplicates by heavy-atom "
            "RMSD and write them lowest energy first: 3D coordinates with hydrogens, tags name, "
            "conformer, energy_kcal_mol, force_field, smiles. Input: one SMILES or a compound "
            "file (.smi, .csv, .tsv, .sdf, .xlsx): an existing file is read as a file, anything "
            "else must parse as a SMILES. Molecules with more than "
            f"{MAX_HEAVY_ATOMS} heavy atoms or {MAX_ATOMS_WITH_HYDROGENS} atoms with hydrogens are "
            "refused, each with a message (embedding them needs gigabytes of memory)."
        ),
    )
    parser.add_argument("input", help="a compound file, or a SMILES (quote it in the shell)")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output .sdf (.pdb/.xyz for one molecule)"
    )
    parser.add_argument("--n", type=int, default=10, help="conformers per molecule (default 10)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--rms", type=float, default=0.5, help="RMSD pruning threshold in Å (default 0.5)"
    )
    parser.add_argument(
        "--time-limit", type=float, default=30.0, help="seconds per molecule (default 30)"
    )
    parser.set_defaults(handler=_run_conformers)


def _run_conformers(args: argparse.Namespace) -> int:
    from core.chem.conformers import (
        ConformerOptions,
        conformer_format,
        generate_for_records,
        read_conformer_inputs,
        write_conformers,
        write_sdf,
    )
    from core.chem.export import ExportError
    from core.chem.readers import LibraryReadError

    if args.n < 1:
        return usage_error("conformers", "--n must be at least 1")
    try:
        suffix = "." + conformer_format(args.output)
    except ValueError as exc:
        return usage_error("conformers", str(exc))
    try:
        options = ConformerOptions(
            n_conformers=args.n,
            seed=args.seed,
            rms_threshold=args.rms,
            time_limit_s=args.time_limit,
        )
    except ValueError as exc:
        return usage_error("conformers", str(exc))
    if refused := output_over_input(args.output, [args.input]):
        return usage_error("conformers", refused)
    try:
        records = read_conformer_inputs(args.input)
        if suffix != ".sdf" and len(records) != 1:
            return usage_error(
                "conformers", f"{suffix} holds one molecule; {len(records)} given: write .sdf"
            )
        results = generate_for_records(
            records, options, progress=_terminal_progress(sys.stderr.isatty())
        )
        ensembles = [r.ensemble for r in results if r.ensemble is not None]
        if suffix == ".sdf":
            written = write_sdf(ensembles, args.output) if ensembles else 0
        elif ensembles:
            written = write_conformers(ensembles[0], args.output)
        else:
            written = 0
    except (LibraryReadError, ExportError) as exc:
        return fail("conformers", str(exc))
    except OSError as exc:
        return fail("conformers", os_error_text(exc))
    _end_progress_line()
    if not ensembles and len(results) == 1:  # one molecule: its reason is the error line
        reason = results[0].error.rstrip(". ") or "no conformer"
        return fail("conformers", f"{results[0].name}: {reason}; nothing written")
    for result in results:
        if result.error:
            print(f"{result.name}: {result.error}", file=sys.stderr)
        elif result.ensemble is not None and result.ensemble.timed_out:
            print(f"{result.name}: {result.ensemble.message}", file=sys.stderr)
    failed = sum(1 for r in results if r.ensemble is None)
    if not ensembles:
        return fail(
            "conformers",
            f"no conformers for any of the {len(results)} molecules; nothing written",
        )
    print(
        f"Wrote {written} conformers of {len(ensembles)} molecules to {args.output}"
        + (f"; {failed} failed" if failed else ""),
        file=sys.stderr,
    )
    return 0


def fail(command: str, message: str, code: int = EXIT_ERROR) -> int:
    """Print ``drugdesk <command>: error: <message>`` (one line) and return ``code`` (1: a data
    error, an unreadable file, a failed job)."""
    _end_progress_line()
    text = " ".join(str(message).split())  # one line, whatever the exception's text held
    print(f"{PROG} {command}: error: {text}", file=sys.stderr)
    return code


def usage_error(command: str, message: str) -> int:
    """:func:`fail` with exit code 2: the command line itself is wrong (an option's value)."""
    return fail(command, message, EXIT_USAGE)


_fail = fail  # the older name, for callers written before the split


def cancelled(command: str, interrupt: BaseException, what: str = "nothing written") -> int:
    """Report Ctrl+C or SIGTERM in one line and return 130 or 143."""
    _end_progress_line()
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
        _end_progress_line()
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


def _add_explain_parser(subparsers) -> None:
    from app.commands import models

    models.add_explain_parser(subparsers)


def _add_structure_parser(subparsers) -> None:
    from app.commands import structure

    structure.add_parser(subparsers)


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


COMMAND_PARSERS = {
    "props": _add_props_parser,
    "conformers": _add_conformers_parser,
    "pretrain": _add_pretrain_parser,
    "train": _add_train_parser,
    "predict": _add_predict_parser,
    "explain": _add_explain_parser,
    "score": _add_score_parser,
    "project": _add_project_parser,
    "structure": _add_structure_parser,
    "de": _add_de_parser,
    "power": _add_power_parser,
    "km": _add_km_parser,
}

# ``drugdesk --help`` lists the commands by the area of the window they belong to.
COMMAND_GROUPS = {
    "molecules": ("props", "conformers"),
    "models": ("pretrain", "train", "predict", "explain"),
    "libraries": ("score", "project"),
    "proteins": ("structure",),
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
    parser = _ArgumentParser(prog=PROG, description="DrugDesk command-line tools.")
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
    parser = _ArgumentParser(
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
