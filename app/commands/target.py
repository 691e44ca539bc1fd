"""``drugdesk target SYMBOL``: a gene's protein, its PDB entries and AlphaFold model.

A thin layer over :func:`core.targets.lookup_target` (UniProt, RCSB Search and Data APIs,
AlphaFold DB; answers cached on disk). ``--json`` prints one JSON object; without it, a short table.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "target",
        help="look up a gene's protein: UniProt entry, PDB entries with ligands, AlphaFold model",
        description=(
            "Look up gene SYMBOL (for example FTL or EGFR) in UniProt (reviewed entry first), "
            "list the PDB entries holding its protein (RCSB Search API, best resolution first) "
            "with method, resolution and bound ligands (RCSB Data API; buffer and "
            "crystallisation additives such as SO4, GOL, EDO are set apart from drug-like "
            "ligands) and name its AlphaFold DB model. Answers are cached for a week in "
            "DrugDesk's data folder. Services: DRUGDESK_UNIPROT_URL, DRUGDESK_RCSB_SEARCH_URL, "
            "DRUGDESK_RCSB_DATA_URL, DRUGDESK_ALPHAFOLD_API_URL."
        ),
    )
    parser.add_argument("symbol", help="gene symbol, for example FTL")
    parser.add_argument(
        "--organism", type=int, default=9606, help="NCBI taxon id (9606 human, 10090 mouse)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--max-entries", type=int, default=50, help="PDB entries listed at most")
    parser.add_argument(
        "--refresh", action="store_true", help="ask the services again, not the cache"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.commands.common import fail, terminal_progress, usage_error
    from core.targets import GENE_SYMBOL, TargetLookupError, lookup_target

    if not GENE_SYMBOL.match(args.symbol.strip()):
        return usage_error(
            "target",
            f"{args.symbol!r} is not a gene symbol (letters, digits, '-', for example FTL)",
        )
    if args.organism <= 0:
        return usage_error("target", "--organism takes an NCBI taxon id such as 9606 (human)")
    if not 1 <= args.max_entries <= 1000:
        return usage_error("target", "--max-entries must lie between 1 and 1000")
    try:
        info = lookup_target(
            args.symbol,
            args.organism,
            refresh=args.refresh,
            max_entries=args.max_entries,
            progress=terminal_progress(sys.stderr.isatty()),
        )
    except TargetLookupError as exc:
        return fail("target", str(exc))
    if args.json:
        json.dump(info.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(info))
    return 0


def format_table(info) -> str:
    """The lookup as a short readable text: the entry, the AlphaFold model, one line per PDB entry."""
    from core.targets import organism_label

    lines = [
        f"{info.gene} ({organism_label(info.organism)}): {info.accession} {info.name}"
        + (f", {info.length} residues" if info.length else "")
    ]
    af = info.alphafold
    if af is None:
        lines.append("AlphaFold DB: no model")
    else:
        details = [f"v{af.version}" if af.version else "", f"mean pLDDT {af.mean_plddt:.1f}"
                   if af.mean_plddt is not None else ""]  # fmt: skip
        extra = ", ".join(d for d in details if d)
        lines.append(f"AlphaFold DB: {af.entry_id}" + (f" ({extra})" if extra else ""))
    if not info.pdb_entries:
        lines.append("PDB: no entries")
        return "\n".join(lines) + "\n"
    shown = len(info.pdb_entries)
    lines.append(f"PDB entries ({shown} of {info.pdb_total}, best resolution first):")
    lines.append(f"  {'id':<5} {'res (Å)':>7}  {'method':<20} {'drug-like ligands':<24} additives")
    for entry in info.pdb_entries:
        resolution = f"{entry.resolution:.2f}" if entry.resolution is not None else "-"
        drug = ", ".join(ligand.id for ligand in entry.drug_like_ligands) or "-"
        additives = (
            ", ".join(ligand.id for ligand in entry.ligands if ligand.kind != "drug-like") or "-"
        )
        method = entry.method.lower() or "-"
        lines.append(f"  {entry.id:<5} {resolution:>7}  {method[:20]:<20} {drug:<24} {additives}")
    return "\n".join(lines) + "\n"
