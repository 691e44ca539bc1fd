"""``drugdesk props`` and ``drugdesk conformers``: the Molecules verbs (properties of every record
of a compound file; 3D conformer ensembles)."""

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
from app.commands.common import (
    end_progress_line,
    fail,
    os_error_text,
    output_over_input,
    terminal_progress,
    usage_error,
)

# ----------------------------------------------------------------------------------------------
# props


def add_props_parser(subparsers) -> None:
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
    add_cluster_arguments(parser)
    parser.set_defaults(handler=run_props)


def run_props(args: argparse.Namespace) -> int:
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
    if args.cluster is not None:
        return _run_props_on_cluster(args, options)
    try:
        library = load_library(args.input, options, progress=terminal_progress(sys.stderr.isatty()))
        export_table(props_table(library), args.output)
    except (LibraryReadError, ExportError) as exc:
        return fail("props", str(exc))
    except OSError as exc:  # a worker process that crashed, a file that went away
        return fail("props", os_error_text(exc))
    print(f"{library.summary()}; wrote {args.output}", file=sys.stderr)
    return 0


def _run_props_on_cluster(args: argparse.Namespace, options) -> int:
    """``props --cluster``: the same table, computed by a Dask cluster's workers."""
    from core.chem.cluster_props import props_on_cluster
    from core.chem.export import ExportError, check_xlsx_rows
    from core.chem.readers import LibraryReadError, estimate_record_count

    spec = cluster_spec("props", args)
    if isinstance(spec, int):
        return spec
    try:  # a workbook cannot hold the file's rows: said before a cluster starts
        check_xlsx_rows(args.output, estimate_record_count(args.input) or 0, estimated=True)
    except ExportError as exc:
        return fail("props", str(exc))
    show = sys.stderr.isatty()

    def job(client):
        return props_on_cluster(
            client,
            args.input,
            args.output,
            options,
            partition_size=args.partition_size,
            ship_records=args.cluster_ship_records,
            progress=terminal_progress(show),
            note=print_note,
        )

    result = run_on_cluster("props", spec, job, (LibraryReadError, ExportError))
    if isinstance(result, int):
        return result
    if not show:
        print(f"{result.n_parts} parts done on {spec}", file=sys.stderr)
    print(f"{result.summary}; wrote {args.output}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------
# conformers


def add_conformers_parser(subparsers) -> None:
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
    parser.set_defaults(handler=run_conformers)


def run_conformers(args: argparse.Namespace) -> int:
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
            records, options, progress=terminal_progress(sys.stderr.isatty())
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
    end_progress_line()
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
