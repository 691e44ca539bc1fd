"""``drugdesk score``: rank a compound file by a desirability profile (and models) into a hit list."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commands.cluster_options import (
    add_cluster_arguments,
    cluster_spec,
    print_note,
    run_on_cluster,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score and rank a compound file by a desirability profile; write the hit list",
        description=(
            "Read INPUT, compute properties (as 'props' does), predictions of the given models, "
            "and a desirability score 0–1 per molecule by the profile; write every input row: "
            "first the ranked rows, best first, with the columns rank (1..n), score, name, "
            "canonical_smiles, duplicate_of, problem and every column the profile used (and its "
            "desirability d_<column>); then rows repeating a molecule listed earlier (same "
            "InChIKey; duplicate_of names its first copy, whose values they share; not ranked "
            "again), then valid molecules lacking a value the profile needs, then invalid rows "
            "(problem says why). Unranked rows have an empty rank. --ranked-only or --top N "
            "write the ranked rows only. An .html report shows the best 100 ranked rows."
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
    parser.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="write only the best N ranked rows (implies --ranked-only)",
    )
    parser.add_argument(
        "--ranked-only",
        action="store_true",
        help="write the ranked rows only (no repeats, invalid rows or rows missing a value)",
    )
    parser.add_argument("--workers", type=int, help="processes for reading (default: all cores)")
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="OUT.csv, .tsv, .sdf, .xlsx or .html"
    )
    add_cluster_arguments(
        parser,
        same="the hit list is the same (a transformer's predictions to within float rounding: "
        "the workers batch other molecules together)",
        paths_note="The workers load the --model folders themselves (and admet-ai with "
        "--admet, which must be installed on them): a folder must be on this machine "
        "(local:N) or on a path every worker shares, named the same there.",
    )
    parser.set_defaults(handler=run)


def _profile(text: str):
    from core.hitlist.desirability import load_profile
    from core.hitlist.presets import PRESETS, preset

    if text in PRESETS:
        return preset(text)
    if _names_a_file(text):
        return load_profile(text)
    return preset(text)  # raises with the list of presets


def _names_a_file(text: str) -> bool:
    """Whether ``--profile`` names a file (a .json name or an existing file), not a preset."""
    try:
        return Path(text).suffix.lower() == ".json" or Path(text).exists()
    except (OSError, ValueError):  # a name too long for the file system
        return False


PROBLEM_COLUMN = "problem"


def output_rows(
    table,
    profile_columns,
    computed_columns=(),
    top: int | None = None,
    ranked_only: bool = False,
):
    """The rows ``score`` writes, in order: ranked (best first), repeats of an earlier molecule,
    valid rows lacking a value the profile needs, invalid rows; with a ``problem`` column saying
    why a row is not ranked and an empty (``<NA>``) rank for them. A repeat takes its first
    copy's ``computed_columns`` (those computed from the structure, and the score), so that the
    two rows agree to the last digit. ``top`` or ``ranked_only``: the ranked rows only (at most
    ``top``)."""
    import numpy as np
    import pandas as pd

    from core.chem.library import DUPLICATE_COLUMN
    from core.hitlist.scoring import RANK_COLUMN, ranked

    hits = ranked(table, top)
    if top is not None or ranked_only:
        return hits.assign(**{PROBLEM_COLUMN: ""})
    rank = table[RANK_COLUMN].to_numpy()
    valid = table["valid"].to_numpy(dtype=bool, na_value=False)
    repeat = np.zeros(len(table), dtype=bool)
    if DUPLICATE_COLUMN in table.columns:
        first = table[DUPLICATE_COLUMN].astype(object)
        repeat = (first.notna() & (first != "")).to_numpy() & valid & ~(rank > 0)
    unscored = valid & ~repeat & ~(rank > 0)
    problem = pd.Series("", index=table.index, dtype=object)
    if DUPLICATE_COLUMN in table.columns:
        problem[repeat] = "repeats " + table.loc[repeat, DUPLICATE_COLUMN].astype(str)
    lacking = [c for c in profile_columns if c in table.columns]
    for index in table.index[unscored]:
        missing = [c for c in lacking if pd.isna(table.at[index, c])]
        problem[index] = "no value for " + ", ".join(missing) if missing else "no score"
    errors = table["error"] if "error" in table.columns else pd.Series("", index=table.index)
    problem[~valid] = [str(e) or "invalid" for e in errors[~valid]]
    table = table.assign(**{PROBLEM_COLUMN: problem})
    if repeat.any() and "inchikey" in table.columns:
        keys = table["inchikey"].where(valid)
        first = keys.dropna().drop_duplicates(keep="first")
        source = pd.Series(first.index, index=first.to_numpy())
        rows_from = source.loc[keys[repeat].to_numpy()].to_numpy()
        for column in computed_columns:
            if column in table.columns and column != RANK_COLUMN:  # column by column: dtypes
                table.loc[repeat, column] = table.loc[rows_from, column].to_numpy()
    parts = [
        table.loc[hits.index],
        table[repeat],
        table[unscored],
        table[~valid],
    ]
    rows = pd.concat(parts)
    rows[RANK_COLUMN] = rows[RANK_COLUMN].where(rows[RANK_COLUMN] > 0).astype("Int64")
    return rows


def _score_on_cluster(args: argparse.Namespace, request, read):
    """``score --cluster``: the records described and predicted by a Dask cluster's workers
    (``core.hitlist.cluster_score``); returns ``(library, scoring result)`` or an exit code."""
    from app.commands.common import terminal_progress
    from core.chem.readers import LibraryReadError
    from core.hitlist.cluster_score import score_on_cluster

    spec = cluster_spec("score", args)
    if isinstance(spec, int):
        return spec

    def job(client):
        done = score_on_cluster(
            client,
            args.input,
            args.output,
            request,
            read,
            partition_size=args.partition_size,
            ship_records=args.cluster_ship_records,
            progress=terminal_progress(sys.stderr.isatty()),
            note=print_note,
        )
        return done.library, done.scoring

    return run_on_cluster("score", spec, job, (LibraryReadError, ValueError))


def run(args: argparse.Namespace) -> int:
    from app.commands.common import (
        end_progress_line,
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.chem.export import ExportError
    from core.chem.library import DUPLICATE_COLUMN, LoadOptions, load_library
    from core.chem.properties import PROFILE_COLUMNS, PROPERTY_COLUMNS
    from core.chem.readers import LibraryReadError, ReadOptions
    from core.hitlist.desirability import ProfileError
    from core.hitlist.presets import PRESETS
    from core.hitlist.report import export_hit_list, hit_list_format
    from core.hitlist.scoring import ScoringRequest, score_library

    try:
        hit_list_format(args.output)
    except ValueError as exc:
        return usage_error("score", str(exc))
    if args.top is not None and args.top < 1:
        return usage_error("score", "--top must be at least 1")
    if args.workers is not None and args.workers < 0:
        return usage_error("score", "--workers must be 0 (one per core) or more")
    profile_file = None if args.profile in PRESETS else args.profile
    if refused := output_over_input(args.output, [args.input, profile_file]):
        return usage_error("score", refused)
    try:
        profile = _profile(args.profile)
    except ProfileError as exc:  # a file that cannot be read is an error; a wrong name, usage
        return (fail if _names_a_file(args.profile) else usage_error)("score", str(exc))
    progress = terminal_progress(sys.stderr.isatty())
    request = ScoringRequest(profile, tuple(args.models), admet=args.admet)
    read = ReadOptions(smiles_column=args.smiles_col)
    if args.cluster is not None:
        scored = _score_on_cluster(args, request, read)
        if isinstance(scored, int):
            return scored
        library, result = scored
    else:
        try:
            library = load_library(
                args.input, LoadOptions(read=read, workers=args.workers), progress=progress
            )
            result = score_library(library.table, request, progress=progress)
        except (LibraryReadError, ValueError) as exc:
            return fail("score", str(exc))
        except OSError as exc:
            return fail("score", os_error_text(exc))
    table = library.table.drop(columns=list(result.columns.columns), errors="ignore")
    table = table.join(result.columns)
    lead = ["rank", "score", "name", "canonical_smiles"]
    flags = [DUPLICATE_COLUMN, PROBLEM_COLUMN]
    used = [c for c in profile.columns if c in table.columns and c not in lead]
    used_std = [f"{c}_std" for c in used if f"{c}_std" in table.columns]
    desirability = [c for c in result.columns.columns if str(c).startswith("d_")]
    predicted = [
        c for c in result.columns.columns if c not in (*lead, *used, *used_std, *desirability)
    ]
    computed = ["canonical_smiles", *PROPERTY_COLUMNS, *PROFILE_COLUMNS]
    computed += [c for c in result.columns.columns if c not in computed]
    rows = output_rows(table, profile.columns, computed, args.top, args.ranked_only)
    order = lead + flags + used + used_std + desirability + predicted
    rest = [c for c in rows.columns if c not in order]
    rows = rows[[c for c in order if c in rows.columns] + rest]
    hits = rows[rows["rank"].notna()] if "rank" in rows.columns else rows
    invalid = table[~table["valid"]]
    unscored = table[table["valid"] & table["score"].isna()]
    # A report shows a hit list: its ranked rows (the best 100); a table keeps every row.
    written = hits if hit_list_format(args.output) == "html" else rows
    try:
        export_hit_list(
            written, args.output, profile, result.model_cards, title=f"Hit list: {args.input.name}"
        )
    except ExportError as exc:
        return fail("score", str(exc))
    except OSError as exc:
        return fail("score", os_error_text(exc))
    end_progress_line()
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
        f"({len(invalid):,} invalid) by '{profile.name}'; wrote {len(written):,} rows "
        f"({len(hits):,} ranked) to {args.output}",
        file=sys.stderr,
    )
    return 0
