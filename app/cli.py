"""Command line: ``drugdesk [FILE…]`` opens the window; ``drugdesk COMMAND …`` runs without one.

Commands are thin layers over ``core``: they call the same job functions the engine runs, with a
progress callback that prints to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app import __version__

PROG = "drugdesk"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, with 'python main.py' shown as the program when run that way."""


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
        sys.stderr.write(f"\r{percent}{message[:70]:<70}")
        if fraction >= 1.0:
            sys.stderr.write("\n")
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
        return _fail("props", str(exc))
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
        return _fail("props", str(exc))
    print(f"{library.summary()}; wrote {args.output}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------
# conformers


def _add_conformers_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "conformers",
        help="generate 3D conformer ensembles (ETKDGv3 + MMFF94) and write them to SDF",
        description=(
            "Embed up to N conformers per molecule with RDKit's ETKDGv3 (seeded), optimise them "
            "with MMFF94 (UFF when MMFF has no parameters), drop near-duplicates by heavy-atom "
            "RMSD and write them lowest energy first: 3D coordinates with hydrogens, tags name, "
            "conformer, energy_kcal_mol, force_field, smiles. Input: one SMILES or a compound "
            "file (.smi, .csv, .tsv, .sdf, .xlsx)."
        ),
    )
    parser.add_argument("input", help="a SMILES string or a compound file")
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
        return _fail("conformers", "--n must be at least 1")
    try:
        suffix = "." + conformer_format(args.output)
    except ValueError as exc:
        return _fail("conformers", str(exc))
    try:
        options = ConformerOptions(
            n_conformers=args.n,
            seed=args.seed,
            rms_threshold=args.rms,
            time_limit_s=args.time_limit,
        )
    except ValueError as exc:
        return _fail("conformers", str(exc))
    try:
        records = read_conformer_inputs(args.input)
        if suffix != ".sdf" and len(records) != 1:
            return _fail(
                "conformers", f"{suffix} holds one molecule; {len(records)} given: write .sdf"
            )
        results = generate_for_records(
            records, options, progress=_terminal_progress(sys.stderr.isatty())
        )
        ensembles = [r.ensemble for r in results if r.ensemble is not None]
        if suffix == ".sdf":
            written = write_sdf(ensembles, args.output)
        elif ensembles:
            written = write_conformers(ensembles[0], args.output)
        else:
            written = 0
    except (LibraryReadError, ExportError) as exc:
        return _fail("conformers", str(exc))
    for result in results:
        if result.error:
            print(f"{result.name}: {result.error}", file=sys.stderr)
        elif result.ensemble is not None and result.ensemble.timed_out:
            print(f"{result.name}: {result.ensemble.message}", file=sys.stderr)
    failed = sum(1 for r in results if r.ensemble is None)
    print(
        f"Wrote {written} conformers of {len(ensembles)} molecules to {args.output}"
        + (f"; {failed} failed" if failed else ""),
        file=sys.stderr,
    )
    return 0 if ensembles else 1


def _fail(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 2


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
    "de": _add_de_parser,
    "power": _add_power_parser,
    "km": _add_km_parser,
    "props": _add_props_parser,
    "conformers": _add_conformers_parser,
    "pretrain": _add_pretrain_parser,
    "train": _add_train_parser,
    "predict": _add_predict_parser,
    "explain": _add_explain_parser,
    "structure": _add_structure_parser,
    "score": _add_score_parser,
    "project": _add_project_parser,
}


def _command_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog=PROG, description="DrugDesk command-line tools.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in COMMAND_PARSERS.items():
        try:
            add(subparsers)
        except Exception as error:  # one broken command must not take the others down
            logging.getLogger(__name__).warning("command %s is unavailable: %s", name, error)
    return parser


def _gui_parser() -> argparse.ArgumentParser:
    commands = "\n".join(f"  {name:<10} python main.py {name} --help" for name in COMMAND_PARSERS)
    parser = _ArgumentParser(
        prog=PROG,
        description="DrugDesk: a desktop workbench for AI-assisted early drug discovery. "
        "Without a command, opens the main window (and the given compound files).",
        epilog=f"commands (run without a window):\n{commands}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        args = _command_parser().parse_args(argv)
        setup_logging(logging.WARNING)
        return args.handler(args)
    args = _gui_parser().parse_args(argv)
    setup_logging(getattr(logging, args.log_level))
    from app.gui import run_gui

    return run_gui(files=args.files, screenshot=args.screenshot, area=args.area)
