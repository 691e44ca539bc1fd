"""``drugdesk search``: the molecules of a compound file most similar to a query, or those that
contain a substructure (the Hit-list Find tab's searches, without a window)."""

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
from app.commands.common import fail, os_error_text, output_over_input, terminal_progress
from app.commands.common import usage_error as _usage_error

DEFAULT_TOP_K = 50
OUTPUT_COLUMNS = ["row", "name", "smiles", "similarity"]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "search",
        help="find the molecules of a compound file similar to a SMILES or containing a SMARTS",
        description=(
            "Read LIBRARY (.smi/.txt, .csv, .tsv, .sdf, .xlsx) and write one row per hit with "
            "the columns row (the record's 0-based position in LIBRARY, as 'props' numbers its "
            "rows), name, smiles (as read; RDKit's SMILES for SDF records) and similarity. "
            "--similar: Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits, as RDKit "
            "computes them, of the molecules as written: no standardisation), best first, ties in "
            "file order; --threshold keeps those at or above it, --top-k the best K (both: the "
            f"best K at or above it; neither: --top-k {DEFAULT_TOP_K}). --substructure: the "
            "molecules containing the SMARTS pattern, in file order, similarity left empty. "
            "Records without a readable structure are never hits."
        ),
    )
    parser.add_argument("library", type=Path, help="compound file to search")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--similar", metavar="SMILES", help="query molecule (quote it in the shell)")
    query.add_argument("--substructure", metavar="SMARTS", help="substructure pattern")
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="with --similar: keep molecules with similarity at or above T (0-1)",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        metavar="K",
        help=f"with --similar: keep the K most similar (default {DEFAULT_TOP_K} without "
        "--threshold)",
    )
    parser.add_argument(
        "--output", "-o", type=Path, required=True, help="output file (.csv, .tsv, .xlsx or .sdf)"
    )
    parser.add_argument("--smiles-col", help="column holding SMILES (tables; detected if omitted)")
    parser.add_argument("--name-col", help="column holding names (tables; detected if omitted)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes for fingerprinting (default: one per core; 1 = no extra processes)",
    )
    add_cluster_arguments(parser, same="the hits are the same, in the same order")
    parser.set_defaults(handler=run)


def usage_error(message: str) -> int:
    return _usage_error("search", message)


def run(args: argparse.Namespace) -> int:
    from core.chem.export import ExportError, export_format
    from core.chem.readers import LibraryReadError
    from core.chem.search import SearchError, parse_query, parse_smarts

    try:
        export_format(args.output)
    except ValueError as exc:
        return usage_error(str(exc))
    if refused := output_over_input(args.output, [args.library]):
        return usage_error(refused)
    top_k, threshold = args.top_k, args.threshold
    try:
        if args.substructure is not None:
            if top_k is not None or threshold is not None:
                return usage_error("--threshold and --top-k go with --similar, not --substructure")
            parse_smarts(args.substructure)
        else:
            if top_k is not None and top_k < 1:
                return usage_error(f"--top-k must be at least 1, not {top_k}")
            if threshold is not None and not 0.0 <= threshold <= 1.0:
                return usage_error(f"--threshold must lie between 0 and 1, not {threshold}")
            if top_k is None and threshold is None:
                top_k = DEFAULT_TOP_K
            parse_query(args.similar)  # a typo is reported before the library is read
    except SearchError as exc:
        return usage_error(str(exc))
    if args.cluster is not None:
        return _run_on_cluster(args, top_k, threshold)
    progress = terminal_progress(sys.stderr.isatty())
    try:
        names, smiles = read_library(args)
        if args.substructure is not None:
            table, summary, n_read = _substructure_hits(names, smiles, args.substructure, progress)
        else:
            table, summary, n_read = _similar_hits(
                names, smiles, args.similar, top_k, threshold, args.workers, progress
            )
        _write(table, args.output)
    except (LibraryReadError, ExportError, SearchError) as exc:
        return fail("search", str(exc))
    except OSError as exc:  # a worker process that crashed, a file that went away
        return fail("search", os_error_text(exc))
    _report(summary, len(smiles), n_read, args.output)
    return 0


def _run_on_cluster(args: argparse.Namespace, top_k: int | None, threshold: float | None) -> int:
    """``search --cluster``: every part finds its hits on a Dask worker; merged here into the
    single-machine answer (``core.chem.cluster_search``)."""
    from core.chem.cluster_search import SearchRequest, search_on_cluster
    from core.chem.export import ExportError
    from core.chem.readers import LibraryReadError, ReadOptions
    from core.chem.search import SearchError

    spec = cluster_spec("search", args)
    if isinstance(spec, int):
        return spec
    request = SearchRequest(args.similar, args.substructure, top_k, threshold)
    read = ReadOptions(smiles_column=args.smiles_col, name_column=args.name_col)

    def job(client):
        result = search_on_cluster(
            client,
            args.library,
            args.output,
            request,
            read,
            partition_size=args.partition_size,
            ship_records=args.cluster_ship_records,
            progress=terminal_progress(sys.stderr.isatty()),
            note=print_note,
            write=True,  # streamed into the output: a threshold may hit millions
        )
        return result

    result = run_on_cluster("search", spec, job, (LibraryReadError, ExportError, SearchError))
    if isinstance(result, int):
        return result
    if args.substructure is not None:
        summary = f"{result.n_hits:,} molecules contain {args.substructure}"
    else:
        best = f" (best {result.best:.3f})" if result.n_hits else ""
        summary = f"{result.n_hits:,} similar molecules{best}"
    _report(summary, result.n_records, result.n_searched, args.output)
    return 0


def _report(summary: str, n_records: int, n_searched: int, output: Path) -> None:
    unreadable = n_records - n_searched
    skipped = f" ({unreadable:,} without a readable structure)" if unreadable else ""
    print(f"{summary} among {n_records:,} records{skipped}; wrote {output}", file=sys.stderr)


def read_library(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """Names and SMILES of every record of the library, in file order ("" where a record could
    not be read; a SMILES that RDKit cannot parse is left for the index to skip)."""
    from rdkit import RDLogger

    from core.chem.cluster_search import record_search_smiles
    from core.chem.readers import ReadOptions, iter_record_chunks

    RDLogger.DisableLog("rdApp.*")
    names: list[str] = []
    smiles: list[str] = []
    options = ReadOptions(smiles_column=args.smiles_col, name_column=args.name_col)
    for chunk in iter_record_chunks(args.library, options):
        for record in chunk:
            names.append(record.name)
            smiles.append(record_search_smiles(record))
    return names, smiles


def _similar_hits(names, smiles, query, top_k, threshold, workers, progress):
    import numpy as np
    import pandas as pd

    from core.chem.search import build_fingerprint_index, similarity_search

    index = build_fingerprint_index(smiles, workers=max(0, workers) or None, progress=progress)
    hits = similarity_search(index, query, top_k=top_k, threshold=threshold)
    rows = np.asarray(hits.rows, dtype=np.int64)
    table = pd.DataFrame(
        {
            "row": rows,
            "name": [names[r] for r in rows],
            "smiles": [smiles[r] for r in rows],
            "similarity": np.asarray(hits.scores, dtype=np.float64),
        },
        columns=OUTPUT_COLUMNS,
    )
    best = f" (best {hits.scores[0]:.3f})" if len(hits) else ""
    return table, f"{len(hits):,} similar molecules{best}", len(index)


def _substructure_hits(names, smiles, smarts, progress):
    import numpy as np
    import pandas as pd

    from core.chem.search import SubstructureIndex

    index = SubstructureIndex.build(smiles, progress=progress)
    rows = index.search(smarts)
    table = pd.DataFrame(
        {
            "row": rows.astype(np.int64),
            "name": [names[r] for r in rows],
            "smiles": [smiles[r] for r in rows],
            "similarity": np.full(len(rows), np.nan),
        },
        columns=OUTPUT_COLUMNS,
    )
    return table, f"{len(rows):,} molecules contain {smarts}", len(index)


def _write(table, output: Path) -> None:
    from core.chem.export import export_table

    export_table(table, output, smiles_column="smiles")
