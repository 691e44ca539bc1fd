"""``drugdesk suggest``: what to make next from a compound library, by expected improvement (or an
upper confidence bound) under a model's uncertainty, as a diverse batch (``core.models.suggest``)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

# As core.models.suggest names them; spelt here so that ``drugdesk --help`` imports no numpy.
OBJECTIVES = ("maximize", "minimize")
STRATEGIES = ("ei", "ucb")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "suggest",
        help="pick the library molecules to make next: expected improvement, diverse batch",
        description=(
            "Predict LIBRARY with MODEL_DIR, score each molecule by expected improvement over the "
            "best known measured value (or by an upper confidence bound), and pick a diverse "
            "batch among the top candidates: each pick at least --batch-diversity apart (ECFP4 "
            "Tanimoto distance) from the others. The model must give a standard deviation: a "
            "transformer ensemble (train --ensemble 2 or more) or a random forest folder (a "
            "trained model's baseline/). The best known value is the best of the measurements "
            "the model folder keeps (its held-out molecules), of --measured, or --best-known. "
            "Writes one row per pick: suggest_rank, row (position in LIBRARY, 0 = first), name, "
            "smiles, predicted, std, lower and upper (predicted -/+ 1.645 std), acquisition, "
            "similarity_to_best, nearest_pick_similarity and why."
        ),
    )
    parser.add_argument("model_dir", type=Path, help="a model folder that gives a std")
    parser.add_argument("library", type=Path, help="candidates (.smi, .csv, .tsv, .sdf, .xlsx)")
    parser.add_argument("--smiles-col", help="LIBRARY's SMILES column (detected if omitted)")
    parser.add_argument("--n", type=int, default=20, help="how many molecules to pick")
    parser.add_argument(
        "--objective", choices=OBJECTIVES, default="maximize", help="larger or smaller is better"
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="ei",
        help="ei: expected improvement over the best known; ucb: mean + kappa std",
    )
    parser.add_argument(
        "--batch-diversity",
        type=float,
        default=0.4,
        metavar="D",
        help="least Tanimoto distance (ECFP4) between two picks; 0 = pure ranking",
    )
    parser.add_argument("--kappa", type=float, default=2.0, help="standard deviations of ucb")
    parser.add_argument(
        "--pool-factor",
        type=int,
        default=5,
        metavar="K",
        help="the batch is picked among the top K x N by acquisition",
    )
    parser.add_argument("--target", help="the model's target to optimise (default: its first)")
    parser.add_argument(
        "--best-known", type=float, metavar="VALUE", help="the best measured value so far"
    )
    parser.add_argument(
        "--measured",
        type=Path,
        metavar="FILE",
        help="table of measured molecules (SMILES + the target column): the best of them is the "
        "value to improve on, and they are not suggested again",
    )
    parser.add_argument(
        "--measured-col", help="--measured's value column (default: the model's target name)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="picks table (.csv/.tsv/.xlsx/.sdf)"
    )
    parser.set_defaults(handler=run)


def _option_problem(args: argparse.Namespace) -> str | None:
    """The first option out of range, in words naming the option."""
    checks = (
        (args.n >= 1, f"--n must be at least 1, not {args.n}"),
        (
            0.0 <= args.batch_diversity <= 1.0,
            "--batch-diversity is a Tanimoto distance: between 0 and 1, "
            f"not {args.batch_diversity}",
        ),
        (
            math.isfinite(args.kappa) and args.kappa >= 0,
            f"--kappa must be 0 or more, not {args.kappa}",
        ),
        (args.pool_factor >= 1, f"--pool-factor must be at least 1, not {args.pool_factor}"),
        (
            args.best_known is None or math.isfinite(args.best_known),
            f"--best-known must be a number, not {args.best_known}",
        ),
    )
    return next((message for ok, message in checks if not ok), None)


def _settings(args: argparse.Namespace):
    from core.models.suggest import SuggestSettings

    return SuggestSettings(
        n=args.n,
        objective=args.objective,
        strategy=args.strategy,
        batch_diversity=args.batch_diversity,
        kappa=args.kappa,
        pool_factor=args.pool_factor,
    )


def _read_library(path: Path, smiles_column: str | None) -> tuple[list[str], list[str]]:
    from core.chem.readers import ReadOptions, iter_record_chunks

    smiles, names = [], []
    for chunk in iter_record_chunks(path, ReadOptions(smiles_column=smiles_column)):
        for record in chunk:
            # A record the reader could not read has no structure: it is never picked.
            smiles.append(record.text if record.error is None else "")
            names.append(record.name)
    return smiles, names


def _read_measured(path: Path, column: str, task: str):
    from core.models.datasets import load_assay_table
    from core.models.suggest import KnownMeasurements

    dataset = load_assay_table(path, None, [column], task, min_molecules=1)
    return KnownMeasurements(
        dataset.smiles, tuple(float(v) for v in dataset.targets[:, 0]), f"measured in {path.name}"
    )


def run(args: argparse.Namespace) -> int:
    from app.commands.common import (
        cancelled,
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.chem.export import ExportError, export_format, export_table
    from core.chem.readers import LibraryReadError
    from core.models.suggest import NoBestKnown, model_targets, suggest_for_library

    if problem := _option_problem(args):
        return usage_error("suggest", problem)
    settings = _settings(args)
    try:
        export_format(args.output)
    except ValueError as exc:
        return usage_error("suggest", str(exc))
    if refused := output_over_input(args.output, [args.library, args.measured]):
        return usage_error("suggest", refused)
    progress = terminal_progress(sys.stderr.isatty())
    try:
        task, targets = model_targets(args.model_dir)
        if args.target is not None and args.target not in targets:
            return fail(
                "suggest",
                f"{args.model_dir} has no target {args.target!r}; its targets: "
                f"{', '.join(targets)}",
            )
        target = args.target or targets[0]
        known = None
        if args.measured is not None:
            known = _read_measured(args.measured, args.measured_col or target, task)
        smiles, names = _read_library(args.library, args.smiles_col)
        if not smiles:
            return fail("suggest", f"{args.library}: no molecules to pick from")
        from core.modelhost import shared_host

        result = suggest_for_library(
            args.model_dir,
            smiles,
            names,
            settings,
            target=target,
            best_value=args.best_known,
            known=known,
            model_host=shared_host(),
            progress=progress,
        )
        export_table(result.picks, args.output, smiles_column="smiles")
    except NoBestKnown:
        return fail(
            "suggest",
            f"{args.model_dir} keeps no measured values to improve on: give --best-known VALUE "
            "or --measured FILE, or use --strategy ucb",
        )
    except (LibraryReadError, ValueError, ExportError) as exc:
        return fail("suggest", str(exc))
    except OSError as exc:
        return fail("suggest", os_error_text(exc))
    except KeyboardInterrupt as interrupt:
        return cancelled("suggest", interrupt)
    print(f"{result.summary()}; wrote {args.output}", file=sys.stderr)
    return 0
