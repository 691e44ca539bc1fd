"""``drugdesk score``: rank a compound file by a desirability profile (and models) into a hit list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score and rank a compound file by a desirability profile; write the hit list",
        description=(
            "Read INPUT, compute properties (as 'props' does), predictions of the given models, "
            "and a desirability score 0–1 per molecule by the profile; write the ranked list, "
            "best first, with the columns rank (1..n), score, and every column the profile used "
            "(and its desirability d_<column>). Invalid input rows are reported, not ranked."
        ),
    )
    parser.add_argument("input", type=Path, help="compound file (.smi, .csv, .tsv, .sdf, .xlsx)")
    parser.add_argument("--smiles-col", help="column holding SMILES (detected if omitted)")
    parser.add_argument(
        "--profile",
        default="oral",
        help="'oral', 'cns' (Pfizer CNS MPO) or a profile JSON file",
    )
    parser.add_argument(
        "--model",
        action="append",
        type=Path,
        default=[],
        dest="models",
        help="a fine-tuned model folder whose predictions the profile may use (repeatable)",
    )
    parser.add_argument(
        "--admet",
        action="store_true",
        help="add admet-ai's 41 ADMET predictions (admet_<endpoint>) and their percentiles among "
        "DrugBank approved drugs (admet_<endpoint>_pct); about 50 molecules/s on 2 cores",
    )
    parser.add_argument("--top", type=int, help="keep only the best N")
    parser.add_argument("--workers", type=int, help="processes for reading (default: all cores)")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="OUT.csv, .tsv, .sdf, .xlsx or .html"
    )
    parser.set_defaults(handler=run)


def _profile(text: str):
    from core.ranking.desirability import load_profile
    from core.ranking.presets import PRESETS, preset

    if text in PRESETS:
        return preset(text)
    if Path(text).suffix.lower() == ".json" or Path(text).exists():
        return load_profile(text)
    return preset(text)  # raises with the list of presets


def run(args: argparse.Namespace) -> int:
    from app.cli import _fail, _terminal_progress
    from core.chem.export import ExportError
    from core.chem.library import LoadOptions, load_library
    from core.chem.readers import LibraryReadError, ReadOptions
    from core.ranking.report import export_hit_list, hit_list_format
    from core.ranking.scoring import ScoringRequest, ranked, score_library

    progress = _terminal_progress(sys.stderr.isatty())
    try:
        hit_list_format(args.output)
        if args.top is not None and args.top < 1:
            return _fail("score", "--top must be at least 1")
        profile = _profile(args.profile)
        library = load_library(
            args.input,
            LoadOptions(read=ReadOptions(smiles_column=args.smiles_col), workers=args.workers),
            progress=progress,
        )
        result = score_library(
            library.table,
            ScoringRequest(profile, tuple(args.models), admet=args.admet),
            progress=progress,
        )
    except (LibraryReadError, ValueError, OSError) as exc:
        return _fail("score", str(exc))
    table = library.table.drop(columns=list(result.columns.columns), errors="ignore")
    table = table.join(result.columns)
    lead = ["rank", "score", "name", "canonical_smiles"]
    used = [c for c in profile.columns if c in table.columns and c not in lead]
    used_std = [f"{c}_std" for c in used if f"{c}_std" in table.columns]
    desirability = [c for c in result.columns.columns if str(c).startswith("d_")]
    predicted = [
        c for c in result.columns.columns if c not in (*lead, *used, *used_std, *desirability)
    ]
    order = lead + used + used_std + desirability + predicted
    rest = [c for c in table.columns if c not in order]
    hits = ranked(table[order + rest], args.top)
    invalid = table[~table["valid"]]
    unscored = table[table["valid"] & table["score"].isna()]
    try:
        export_hit_list(
            hits, args.output, profile, result.model_cards, title=f"Hit list: {args.input.name}"
        )
    except (ExportError, OSError) as exc:
        return _fail("score", str(exc))
    for _, row in invalid.head(10).iterrows():
        print(f"invalid: {row['name'] or '(no name)'}: {row['error']}", file=sys.stderr)
    if len(invalid) > 10:
        print(f"… and {len(invalid) - 10} more invalid rows", file=sys.stderr)
    if len(unscored):
        print(
            f"{len(unscored)} valid molecules have a missing value the profile needs and were "
            "not ranked",
            file=sys.stderr,
        )
    if result.n_duplicates:
        print(
            f"{result.n_duplicates} rows repeat a molecule listed earlier (same InChIKey) and "
            "were not ranked again",
            file=sys.stderr,
        )
    print(
        f"Ranked {int((table['rank'] > 0).sum()):,} of {len(table):,} molecules "
        f"({len(invalid):,} invalid) by '{profile.name}'; wrote {len(hits):,} to {args.output}",
        file=sys.stderr,
    )
    return 0
