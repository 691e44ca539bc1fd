"""Where the per-molecule time of library loading goes: cProfile of ``process_records``.

Runs ``core.chem.library.process_records`` (the function each worker process runs) on a slice of
MOSES SMILES in this process under cProfile and prints the functions with the most time of their
own, then the share of the main steps. Not a benchmark with a baseline: a diagnostic to read when
``bench_library_loading.py`` looks slow.

Run from the repository root::

    python benchmarks/profile_process_records.py --n 2000
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time

import _common

# Steps of process_records, named by the function whose cumulative time measures them.
STEPS = (
    ("parse (MolFromSmiles + SanitizeMol)", "parse_record"),
    ("standardise (Standardizer.standardize)", "standardize"),
    ("  of which the charge check that skips the reionizer and uncharger", "_may_hold_charges"),
    ("canonical SMILES (MolToSmiles)", "MolToSmiles"),
    ("InChIKey (MolToInchiKey)", "MolToInchiKey"),
    ("properties (compute_properties), where present", "compute_properties"),
    ("  of which QED.properties (MW, logP, TPSA, QED's own alert SMARTS)", "properties"),
    ("profile columns (profile_values), where present", "profile_values"),
    ("row values (library_values.row_values), where present", "row_values"),
    ("  of which the pattern screen (alerts and QED's alerts at once)", "screen_patterns"),
    ("    of which its pattern fingerprint (PatternFingerprint)", "fingerprint_words"),
    ("    of which reading the atoms for the atom screen (molecule_graph)", "molecule_graph"),
    ("  of which QED properties but its alert count (copy_properties)", "copy_properties"),
    (
        "  of which QED's alert count (qed_alert_count, screened, Brenk/NIH twins shared)",
        "qed_alert_count",
    ),
    ("  of which structural alerts (find_alerts), where present", "find_alerts"),
    ("  of which structural alerts (match_alerts), where present", "match_alerts"),
    ("  of which SA score (descriptors.sa_score)", "sa_score"),
    ("    of which its stereocentre count (chiral_center_count)", "chiral_center_count"),
    (
        "  of which SA score (sascorer.calculateScore), in code before sa_score did its steps",
        "calculateScore",
    ),
)


def _forget_molecules() -> None:
    """Empty the per-process cache of molecules met before, where there is one: each timed run
    describes every molecule, as a first load of the file would."""
    try:
        from core.chem.library_values import clear_cache
    except ImportError:
        return
    clear_cache()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="molecules to profile")
    parser.add_argument("--top", type=int, default=20, help="functions to list")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        smiles = _common.moses_smiles(args.n)
    except _common.MissingDataError as exc:
        print(f"profile_process_records: {exc}", file=sys.stderr)
        return 2
    from core.chem.library import process_records
    from core.chem.readers import RawRecord

    records = [RawRecord(index=i, name=f"mol{i + 1}", text=s) for i, s in enumerate(smiles)]
    process_records(records[:20])  # build the standardiser and warm up outside the profile

    _forget_molecules()
    start = time.perf_counter()
    process_records(records)
    plain = time.perf_counter() - start

    _forget_molecules()
    profiler = cProfile.Profile()
    profiler.enable()
    process_records(records)
    profiler.disable()

    stats = pstats.Stats(profiler)
    total = stats.total_tt
    cumulative: dict[str, float] = {}
    for (_, _, name), (_, _, _, ct, _) in stats.stats.items():
        # Built-ins are named "<built-in method rdkit.Chem.rdmolfiles.MolToSmiles>".
        if name.startswith("<built-in method "):
            name = name.removesuffix(">").rsplit(".", 1)[-1]
        cumulative[name] = cumulative.get(name, 0.0) + ct

    print(f"### process_records profile, {args.n:,} MOSES molecules")
    print()
    print(f"- Command: `{_common.command_line()}`")
    print(
        f"- Without profiler: {plain:.2f} s ({args.n / plain:,.0f} molecules/s, "
        f"{1000 * plain / args.n:.2f} ms/molecule); under cProfile {total:.2f} s"
    )
    print()
    print("| step | cumulative s | share |")
    print("|---|---:|---:|")
    for label, name in STEPS:
        if name not in cumulative:
            continue
        seconds = cumulative[name]
        print(f"| {label} | {seconds:.2f} | {100 * seconds / total:.0f}% |")
    print()
    print(
        "RDKit's Boost.Python functions are invisible to cProfile: their time is the own time "
        "(tottime) of the Python function that calls them."
    )
    print()
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(args.top)
    body = buffer.getvalue()
    print("```")
    print(body[body.index("ncalls") :].rstrip() if "ncalls" in body else body.rstrip())
    print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
