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
        "--precision",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="how the transformer models predict: auto (bf16 autocast on a GPU, float32 on the "
        "CPU), float32 (exact), or bfloat16 (about 2× faster on CPUs with AMX or AVX-512 BF16, "
        "slower on others; values within about 0.01 of float32's, see benchmarks/RESULTS.md)",
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


def _score_on_cluster(args: argparse.Namespace, request, read) -> int:
    """``score --cluster``: the records described and predicted by a Dask cluster's workers,
    the hit list streamed from their parts into the output, never joined in memory
    (``core.hitlist.cluster_score.score_to_file_on_cluster``); returns the exit code."""
    from app.commands.common import end_progress_line, terminal_progress
    from core.chem.readers import LibraryReadError
    from core.hitlist.cluster_score import score_to_file_on_cluster

    spec = cluster_spec("score", args)
    if isinstance(spec, int):
        return spec

    def job(client):
        return score_to_file_on_cluster(
            client,
            args.input,
            args.output,
            request,
            read,
            top=args.top,
            ranked_only=args.ranked_only,
            title=f"Hit list: {args.input.name}",
            partition_size=args.partition_size,
            ship_records=args.cluster_ship_records,
            progress=terminal_progress(sys.stderr.isatty()),
            note=print_note,
        )

    written = run_on_cluster("score", spec, job, (LibraryReadError, ValueError))
    if isinstance(written, int):
        return written
    end_progress_line()
    for name, error in written.invalid_examples:
        print(f"invalid: {name or '(no name)'}: {error}", file=sys.stderr)
    _print_counts(written.n_invalid, written.n_unscored, written.n_duplicates)
    print(written.describe(), file=sys.stderr)
    return 0


def _print_counts(n_invalid: int, n_unscored: int, n_duplicates: int) -> None:
    if n_invalid > 10:
        print(f"… and {n_invalid - 10} more invalid rows", file=sys.stderr)
    if n_unscored:
        print(
            f"{n_unscored} valid molecules have a missing value the profile needs and were "
            "not ranked",
            file=sys.stderr,
        )
    if n_duplicates:
        print(
            f"{n_duplicates} rows repeat a molecule listed earlier (same InChIKey) and "
            "were not ranked again",
            file=sys.stderr,
        )


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
    from core.chem.library import LoadOptions, load_library
    from core.chem.readers import LibraryReadError, ReadOptions
    from core.hitlist.desirability import ProfileError
    from core.hitlist.hit_list_file import write_hit_list
    from core.hitlist.presets import PRESETS
    from core.hitlist.report import hit_list_format
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
    request = ScoringRequest(
        profile, tuple(args.models), admet=args.admet, precision=args.precision
    )
    read = ReadOptions(smiles_column=args.smiles_col)
    if args.cluster is not None:
        return _score_on_cluster(args, request, read)
    try:
        library = load_library(
            args.input, LoadOptions(read=read, workers=args.workers), progress=progress
        )
        result = score_library(library.table, request, progress=progress)
    except (LibraryReadError, ValueError) as exc:
        return fail("score", str(exc))
    except OSError as exc:
        return fail("score", os_error_text(exc))
    try:
        written = write_hit_list(
            library.table,
            result,
            profile,
            args.output,
            top=args.top,
            ranked_only=args.ranked_only,
            title=f"Hit list: {args.input.name}",
        )
    except ExportError as exc:
        return fail("score", str(exc))
    except OSError as exc:
        return fail("score", os_error_text(exc))
    table = written.table
    invalid = table[~table["valid"]]
    end_progress_line()
    for _, row in invalid.head(10).iterrows():
        print(f"invalid: {row['name'] or '(no name)'}: {row['error']}", file=sys.stderr)
    _print_counts(len(invalid), written.n_unscored, result.n_duplicates)
    print(written.describe(), file=sys.stderr)
    return 0
