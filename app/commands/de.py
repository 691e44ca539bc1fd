"""``drugdesk de``: differential expression of a counts matrix, written as a CSV/TSV/XLSX table.

A thin layer over :func:`core.expression.data.load_dataset` and :func:`core.expression.de.run_de`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "de",
        help="differential expression (PyDESeq2 or Welch's t-test) of a counts matrix",
        description=(
            "Compare two levels of a sample-sheet column and write one row per gene with the "
            "columns gene, base_mean, log2fc, pvalue, padj (log2fc = case over control; padj by "
            "Benjamini–Hochberg). COUNTS: .csv/.tsv/.xlsx with gene ids in the first column and "
            "one column per sample (samples in rows are detected too), or an AnnData .h5ad whose "
            "obs holds the condition. SHEET: a 'sample' column plus the condition column "
            "(and covariates)."
        ),
    )
    parser.add_argument("counts", type=Path, help="counts matrix (.csv, .tsv, .xlsx or .h5ad)")
    parser.add_argument("--samples", type=Path, help="sample sheet (.csv, .tsv or .xlsx)")
    parser.add_argument("--condition", required=True, help="sample-sheet column with the groups")
    parser.add_argument("--case", required=True, help="level tested (numerator of log2fc)")
    parser.add_argument(
        "--control", help="reference level (denominator); omit to compare with all other samples"
    )
    parser.add_argument(
        "--method",
        choices=["deseq2", "welch", "mannwhitney"],
        help="test (default: deseq2 for integer counts, welch otherwise)",
    )
    parser.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="sample-sheet column added to the DESeq2 design (repeat for several)",
    )
    parser.add_argument(
        "--orientation",
        choices=["auto", "genes_x_samples", "samples_x_genes"],
        default="auto",
        help="layout of the matrix (default: detected)",
    )
    parser.add_argument(
        "--all-columns",
        action="store_true",
        help="also write the test statistic (and lfc_se for DESeq2)",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help=".csv, .tsv or .xlsx")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import (
        fail,
        os_error_text,
        output_over_input,
        terminal_progress,
        usage_error,
    )
    from core.chem.export import ExportError
    from core.expression.data import ExpressionInputError, load_dataset
    from core.expression.de import RESULT_COLUMNS, DEOptions, NonIntegerCountsError, run_de
    from core.expression.export import FORMATS, export_results
    from core.jobs import JobCancelled

    if args.output.suffix.lower() not in FORMATS:
        return usage_error("de", f"--output must end in {', '.join(FORMATS)}")
    if args.counts.suffix.lower() != ".h5ad" and args.samples is None:
        return usage_error("de", "--samples SHEET is required for a counts table")
    if refused := output_over_input(args.output, [args.counts, args.samples]):
        return usage_error("de", refused)
    progress = terminal_progress(sys.stderr.isatty())
    try:
        data = load_dataset(args.counts, args.samples, args.orientation)
        method = args.method or data.default_method()
        options = DEOptions(
            condition=args.condition,
            case=args.case,
            control=args.control,
            method=method,
            covariates=tuple(args.covariate),
        )
        result = run_de(data, options, progress=progress)
    except NonIntegerCountsError as exc:
        return fail("de", f"{exc} (add --method welch)")
    except ExpressionInputError as exc:
        return fail("de", str(exc))
    except OSError as exc:
        return fail("de", os_error_text(exc))
    except JobCancelled:
        return fail("de", "cancelled")
    table = result.table
    columns = list(RESULT_COLUMNS)
    if args.all_columns:
        columns += [c for c in ("lfc_se", "stat") if c in table.columns]
    try:
        export_results(table[columns], args.output, sheet_name="Differential expression")
    except (ExportError, ValueError) as exc:
        return fail("de", str(exc))
    for note in result.notes:
        print(note, file=sys.stderr)
    significant = int((table["padj"] < 0.05).sum())
    print(
        f"{result.title()}: {len(table)} genes, {significant} with padj < 0.05; "
        f"wrote {args.output}",
        file=sys.stderr,
    )
    return 0
