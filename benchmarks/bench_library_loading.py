"""Library loading throughput: ``core.chem.library.load_library`` against a plain RDKit loop.

Both do the same work per molecule: parse, standardise (Cleanup → FragmentParent → Uncharger →
sanitise), canonical SMILES, InChIKey, MW, cLogP, TPSA, HBD, HBA, rotatable bonds and QED.

* **baseline**: a single-threaded loop over ``--baseline-n`` of the SMILES (every k-th, so that
  the sample spans the file) that calls RDKit's functions one by one, exactly as a script would (a new ``Uncharger`` per molecule; RDKit's log
  turned off, as the pipeline does, so that both pay the same for warnings).
* **pipeline**: ``load_library`` on a ``.smi`` file of the first ``--n`` SMILES with ``--workers``
  processes (default: one per core), timed from the call to the returned ``Library`` (file
  reading, worker start-up, duplicate search and DataFrame assembly included).
* **pipeline, 1 process** (``--single-n``, default 2,000): ``load_library`` with ``workers=1`` on
  the first molecules of the baseline's sample, which separates the per-molecule savings from the
  gain of using several processes.
* **interleaved, 1 process** (``--interleaved-n``, default 2,000 of the baseline's sample): the
  plain loop and ``process_records`` (what each worker process runs per task) in alternating
  blocks of 100 molecules, each timed by this process's CPU time: on a machine shared with other
  work, both sides see the same load, so this per-process ratio moves least from run to run.

When ``load_library`` computes more columns than these (the library "profile": formula, SA
score, Fsp3, rule-of-five violations, structural alerts), the baseline computes them too, the plain
way (``--baseline-extras auto``, the default), so that both still do the same work; columns it has
no recipe for are listed in the output as work the baseline does not do.

The script then checks that the pipeline gives the baseline's canonical SMILES, InChIKey, validity
and every property, bit for bit, on the overlapping molecules, and exits 1 on any mismatch.

SMILES: the MOSES training set from the ``molsets`` package (``pip install --no-deps molsets``).

Run from the repository root::

    nice python benchmarks/bench_library_loading.py            # 100,000 molecules, several minutes
    python benchmarks/bench_library_loading.py --n 5000 --baseline-n 500   # a quick look
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams
from rdkit.Chem.MolStandardize import rdMolStandardize

# Fields compared between the baseline and the pipeline, in the order ``NaiveLoop`` returns them.
FIELDS = ("canonical_smiles", "inchikey", "mw", "clogp", "tpsa", "hbd", "hba", "rotb", "qed")
# Library columns beyond FIELDS that the baseline knows how to compute the plain way.
EXTRA_FIELDS = ("formula", "sa_score", "fsp3", "lipinski_violations", "alerts")
INTEGER_FIELDS = frozenset({"hbd", "hba", "rotb", "lipinski_violations"})
# Columns of the library table that are not computed chemistry.
BOOKKEEPING_COLUMNS = frozenset({"name", "smiles", "valid", "error", "duplicate_of"})
ALERT_CATALOGS = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH")


class NaiveLoop:
    """Everything the pipeline computes for one SMILES, with RDKit's calls one after another.

    Called with a SMILES, returns a tuple of :data:`FIELDS` then ``extras``, or ``None`` when
    RDKit fails (the pipeline marks such records invalid; the comparison checks that).
    """

    def __init__(self, extras: tuple[str, ...] = ()) -> None:
        self.extras = extras
        self._sascorer = None
        self._catalog = None
        if "sa_score" in extras:
            # The way RDKit's documentation shows: Contrib is not a package.
            sys.path.append(os.path.join(RDConfig.RDContribDir, "SA_Score"))
            import sascorer

            self._sascorer = sascorer
        if "alerts" in extras:
            params = FilterCatalogParams()
            for name in ALERT_CATALOGS:
                params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
            self._catalog = FilterCatalog(params)  # once, as any script would

    def __call__(self, smiles: str) -> tuple | None:
        try:
            mol = Chem.MolFromSmiles(smiles)
            if mol is None:
                return None
            mol = rdMolStandardize.Cleanup(mol)
            mol = rdMolStandardize.FragmentParent(mol)
            mol = rdMolStandardize.Uncharger().uncharge(mol)
            Chem.SanitizeMol(mol)
            row = (
                Chem.MolToSmiles(mol),
                Chem.MolToInchiKey(mol),
                Descriptors.MolWt(mol),
                Crippen.MolLogP(mol),
                rdMolDescriptors.CalcTPSA(mol),
                Lipinski.NumHDonors(mol),
                Lipinski.NumHAcceptors(mol),
                Descriptors.NumRotatableBonds(mol),
                QED.qed(mol),
            )
            if self.extras:
                row += tuple(self._extra(name, mol, row) for name in self.extras)
            return row
        except Exception:
            return None

    def _extra(self, name: str, mol: Chem.Mol, row: tuple) -> object:
        if name == "formula":
            return rdMolDescriptors.CalcMolFormula(mol)
        if name == "sa_score":
            return self._sascorer.calculateScore(mol)
        if name == "fsp3":
            return rdMolDescriptors.CalcFractionCSP3(mol)
        if name == "lipinski_violations":
            mw, clogp, _, hbd, hba = row[2:7]
            return (mw > 500) + (clogp > 5) + (hbd > 5) + (hba > 10)
        if name == "alerts":
            return frozenset(entry.GetDescription() for entry in self._catalog.GetMatches(mol))
        raise ValueError(name)


def pipeline_columns() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Extra columns ``load_library`` computes: those the baseline can match, and the others."""
    from core.chem.library import LIBRARY_COLUMNS

    computed = [c for c in LIBRARY_COLUMNS if c not in BOOKKEEPING_COLUMNS and c not in FIELDS]
    known = tuple(c for c in EXTRA_FIELDS if c in computed)
    unknown = tuple(c for c in computed if c not in EXTRA_FIELDS)
    return known, unknown


@dataclass(slots=True)
class Timing:
    label: str
    n: int
    wall_s: float
    cpu_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.n / self.wall_s if self.wall_s > 0 else float("nan")


def _cpu_split() -> tuple[float, float]:
    """CPU seconds of this process and of its waited-for children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _cpu_seconds() -> float:
    return sum(_cpu_split())


def run_baseline(smiles: list[str], extras: tuple[str, ...]) -> tuple[Timing, list[tuple | None]]:
    RDLogger.DisableLog("rdApp.*")
    naive = NaiveLoop(extras)
    other = _common.OtherLoad()
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    rows = [naive(text) for text in smiles]
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    timing = Timing("baseline: plain RDKit loop, 1 thread", len(smiles), wall, cpu)
    timing.notes.append(f"other processes used {other.cores():.2f} cores meanwhile")
    return timing, rows


@dataclass(slots=True)
class Interleaved:
    """CPU seconds of the plain loop and of ``process_records`` on the same molecules, measured in
    alternating blocks so that both see the same load from other processes."""

    n: int
    block: int
    plain_cpu_s: float
    ours_cpu_s: float
    other_cores: float

    @property
    def ratio(self) -> float:
        return self.plain_cpu_s / self.ours_cpu_s


def run_interleaved(
    smiles: list[str], warm_up: list[str], extras: tuple[str, ...], block: int = 100
) -> tuple[Interleaved, object, list[tuple | None]]:
    """The plain loop and ``process_records`` (what each worker process runs) over ``smiles`` in
    alternating blocks of ``block`` molecules, timed by this process's CPU time. Both are warmed
    up first on ``warm_up`` (RDKit's catalog, the alert screen, the SA-score table), and the row
    cache is emptied after, so that no molecule is described from it."""
    from core.chem.library import assemble_library, process_records
    from core.chem.library_values import clear_cache
    from core.chem.readers import RawRecord

    RDLogger.DisableLog("rdApp.*")
    naive = NaiveLoop(extras)
    for text in warm_up:
        naive(text)
    process_records([RawRecord(index=i, name="", text=t) for i, t in enumerate(warm_up)])
    clear_cache()
    records = [RawRecord(index=i, name=f"mol{i + 1}", text=t) for i, t in enumerate(smiles)]
    plain_cpu = ours_cpu = 0.0
    rows: list[tuple | None] = []
    results = []
    other = _common.OtherLoad()
    for start in range(0, len(smiles), block):
        t0 = time.process_time()
        rows += [naive(text) for text in smiles[start : start + block]]
        t1 = time.process_time()
        results.append(process_records(records[start : start + block]))
        t2 = time.process_time()
        plain_cpu += t1 - t0
        ours_cpu += t2 - t1
    timing = Interleaved(len(smiles), block, plain_cpu, ours_cpu, other.cores())
    return timing, assemble_library(results), rows


def run_pipeline(path: Path, n: int, workers: int, label: str):
    from core.chem.library import LoadOptions, load_library

    try:
        # Molecules met in an earlier run of this process would be described from the cache.
        from core.chem.library_values import clear_cache
    except ImportError:  # older code, without the cache
        pass
    else:
        clear_cache()

    events: list[tuple[float, str]] = []

    def progress(fraction: float, message: str = "") -> None:
        events.append((time.perf_counter(), message))

    other = _common.OtherLoad()
    (own0, children0), t0 = _cpu_split(), time.perf_counter()
    library = load_library(path, LoadOptions(workers=workers), progress=progress)
    t_end = time.perf_counter()
    own1, children1 = _cpu_split()
    wall, cpu = t_end - t0, (own1 - own0) + (children1 - children0)
    if library.n_records != n:
        raise RuntimeError(f"load_library returned {library.n_records:,} rows, expected {n:,}")
    timing = Timing(label, n, wall, cpu)
    processed = [t for t, message in events if message.startswith("Processed")]
    assembly = [t for t, message in events if message.startswith("Finding duplicates")]
    if processed:
        timing.notes.append(f"first batch back after {processed[0] - t0:.2f} s")
    if assembly:
        timing.notes.append(f"duplicates + DataFrame assembly {t_end - assembly[0]:.2f} s")
    if children1 > children0:
        timing.notes.append(
            f"CPU {own1 - own0:.1f} s in this process (reading, task pickling, results), "
            f"{children1 - children0:.1f} s in workers"
        )
    timing.notes.append(f"{library.n_valid:,} valid, {library.n_duplicates:,} duplicates")
    timing.notes.append(f"other processes used {other.cores():.2f} cores meanwhile")
    return timing, library


# Tolerance for the second, looser count: float differences in the last bits only (another
# summation order over the atoms), not a different molecule or a different formula.
REL_TOL = 1e-12


def _same(a: object, b: object, rel_tol: float = 0.0) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        if rel_tol:
            return math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol)
    return a == b


def _alert_names(text: str) -> frozenset[str]:
    """The entry descriptions of an ``alerts`` cell (``catalog:name`` joined by ``;``)."""
    return frozenset(label.split(":", 1)[-1] for label in text.split(";") if label)


@dataclass(slots=True)
class Comparison:
    label: str
    compared: int
    mismatched: int = 0
    """Molecules where any field differs at all (floats compared bit for bit)."""
    mismatched_beyond_tol: int = 0
    """Molecules where a field differs by more than ``REL_TOL`` (strings and integers exactly)."""
    per_field: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


def compare(
    label: str,
    library,
    baseline_rows: list[tuple | None],
    extras: tuple[str, ...],
    rows: list[int] | None = None,
) -> Comparison:
    """Compare rows ``rows`` of ``library`` (default: the first ones) with the baseline's results."""
    names = FIELDS + extras
    table = library.table
    columns = {name: table[name].tolist() for name in (*names, "valid", "smiles")}
    result = Comparison(label, len(baseline_rows))
    result.per_field = dict.fromkeys(("valid", *names), 0)
    rows = rows if rows is not None else list(range(len(baseline_rows)))
    for i, expected in zip(rows, baseline_rows, strict=True):
        differing: list[tuple[str, object, object]] = []
        beyond_tol = False
        if bool(columns["valid"][i]) != (expected is not None):
            differing.append(("valid", columns["valid"][i], expected is not None))
            beyond_tol = True
        elif expected is not None:
            for name, value in zip(names, expected, strict=True):
                got = columns[name][i]
                if name in INTEGER_FIELDS:
                    got = int(got)
                elif name == "alerts":
                    got = _alert_names(got)
                if not _same(got, value):
                    differing.append((name, got, value))
                    beyond_tol |= not _same(got, value, REL_TOL)
        for name, _, _ in differing:
            result.per_field[name] += 1
        if differing:
            result.mismatched += 1
            result.mismatched_beyond_tol += beyond_tol
            if len(result.examples) < 5:
                detail = ", ".join(
                    f"{name}: pipeline {got!r} vs baseline {value!r}"
                    for name, got, value in differing
                )
                result.examples.append(f"row {i} {columns['smiles'][i]}: {detail}")
    return result


def markdown(
    args,
    info,
    timings: dict[str, Timing],
    checks: list[Comparison],
    interleaved: Interleaved | None = None,
) -> str:
    base = timings["baseline"]
    lines = [
        "### Library loading (parse + standardise + properties)",
        "",
        f"- Command: `{_common.command_line()}`",
        _common.machine_markdown(info),
        f"- Data: first {args.n:,} SMILES of MOSES `train.csv.gz`; baseline on "
        f"{args.baseline_n:,} of them (every {args.n // args.baseline_n}th, spread over the "
        f"file); 1-process pipeline on the first {args.single_n:,} of the baseline's",
        "- Work per molecule in both: parse, standardise, canonical SMILES, InChIKey, "
        + ", ".join(FIELDS[2:] + args.extras),
    ]
    if args.unknown:
        lines.append(
            "- **Not in the baseline** (load_library computes them, the baseline does not, so the "
            "ratios below flatter the baseline): " + ", ".join(args.unknown)
        )
    lines += [
        "",
        "| run | molecules | wall s | molecules/s | CPU s | CPU ms/molecule | vs baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for timing in timings.values():
        ratio = timing.rate / base.rate
        lines.append(
            f"| {timing.label} | {timing.n:,} | {timing.wall_s:.1f} | {timing.rate:,.0f} | "
            f"{timing.cpu_s:.1f} | {1000 * timing.cpu_s / timing.n:.2f} | {ratio:.2f}× |"
        )
    lines.append("")
    for timing in timings.values():
        if timing.notes:
            lines.append(f"- {timing.label}: " + "; ".join(timing.notes))
    workers = args.workers or os.cpu_count() or 1
    if "single" in timings:
        lines.append(
            f"- **Per process** (same work on one core each): load_library, workers=1, "
            f"{timings['single'].rate / base.rate:.2f}× the plain loop"
        )
    if "pipeline" in timings:
        ratio = timings["pipeline"].rate / base.rate
        million = 1_000_000 / timings["pipeline"].rate / 60
        lines.append(
            f"- **On {workers} cores** (load_library, workers={workers}, against the plain loop "
            f"on one): {ratio:.2f}×, {ratio / workers:.2f}× per core; a million molecules at "
            f"this rate: {million:.0f} min"
        )
    if interleaved is not None:
        lines.append(
            f"- **Per process, interleaved** (the plain loop and `process_records`, what each "
            f"worker runs, in alternating blocks of {interleaved.block} of the same "
            f"{interleaved.n:,} molecules, CPU time of this one process): plain loop "
            f"{1000 * interleaved.plain_cpu_s / interleaved.n:.2f} ms/molecule, ours "
            f"{1000 * interleaved.ours_cpu_s / interleaved.n:.2f} ms/molecule: "
            f"**{interleaved.ratio:.2f}×**; other processes used "
            f"{interleaved.other_cores:.2f} cores meanwhile"
        )
    if "single" in timings and "pipeline" in timings:
        scaling = timings["pipeline"].rate / timings["single"].rate
        lines.append(
            f"- Parallel scaling, {timings['pipeline'].label} vs 1 process: {scaling:.2f}× "
            f"(ideal {workers}×)"
        )
    for check in checks:
        lines.append(
            f"- Identical results check, {check.label} vs baseline on {check.compared:,} "
            f"molecules: **{check.mismatched} mismatches** (bit for bit); "
            f"{check.mismatched_beyond_tol} beyond a relative tolerance of {REL_TOL:g}"
        )
        if check.mismatched:
            fields_text = ", ".join(f"{k} {v}" for k, v in check.per_field.items() if v)
            lines.append(f"  - differing fields: {fields_text}")
            lines.extend(f"  - e.g. {example}" for example in check.examples[:3])
    load1, _, _ = os.getloadavg()
    lines.append(f"- Load average (1 min) at the end: {load1:.2f}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="molecules for the pipeline")
    parser.add_argument(
        "--baseline-n", type=int, default=10_000, help="molecules for the plain RDKit loop"
    )
    parser.add_argument(
        "--single-n",
        type=int,
        default=None,
        help="molecules for the 1-process pipeline run (default: 2000, at most --baseline-n; 0 skips it)",
    )
    parser.add_argument(
        "--interleaved-n",
        type=int,
        default=2000,
        help="molecules of the baseline's sample for the interleaved per-process comparison "
        "(plain loop and process_records in alternating blocks; 0 skips it)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="pipeline processes (default 0: one per core)"
    )
    parser.add_argument(
        "--baseline-extras",
        choices=("auto", "none"),
        default="auto",
        help="auto: the baseline also computes the extra library columns load_library computes "
        "(formula, sa_score, fsp3, lipinski_violations, alerts); none: only the 9 basic fields",
    )
    args = parser.parse_args(argv)
    if args.single_n is None:
        args.single_n = min(2000, args.baseline_n)
    if not 0 < args.baseline_n <= args.n or not 0 <= args.single_n <= args.n:
        parser.error("need 0 < --baseline-n <= --n and 0 <= --single-n <= --n")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = _common.machine_info()
    try:
        smiles = _common.moses_smiles(args.n)
    except _common.MissingDataError as exc:
        print(f"bench_library_loading: {exc}", file=sys.stderr)
        return 2
    workers = args.workers or os.cpu_count() or 1
    known, unknown = pipeline_columns()
    extras = known if args.baseline_extras == "auto" else ()
    args.extras, args.unknown = extras, tuple(c for c in known + unknown if c not in extras)
    timings: dict[str, Timing] = {}
    checks: list[Comparison] = []
    with tempfile.TemporaryDirectory(prefix="drugdesk-bench-") as tmp:
        full_path = _common.write_smi(smiles, Path(tmp) / f"moses_{args.n}.smi")

        print(f"baseline: plain RDKit loop over {args.baseline_n:,} SMILES …", file=sys.stderr)
        # Molecules differ in cost along the file (about ±6% between 1,000-molecule slices), so
        # the baseline takes a sample spread over all of it, not the first ones.
        sample = list(range(0, args.n, args.n // args.baseline_n))[: args.baseline_n]
        baseline_smiles = [smiles[i] for i in sample]
        timings["baseline"], baseline_rows = run_baseline(baseline_smiles, extras)
        print(f"  {timings['baseline'].rate:,.0f} molecules/s", file=sys.stderr)

        interleaved = None
        if args.interleaved_n:
            count = min(args.interleaved_n, args.baseline_n)
            print(f"interleaved, 1 process, {count:,} SMILES …", file=sys.stderr)
            # Warmed up on molecules outside the sample (the first ones after the sample's first).
            sampled = set(sample)
            warm_up = [smiles[i] for i in range(len(smiles)) if i not in sampled][:100]
            interleaved, together, rows = run_interleaved(baseline_smiles[:count], warm_up, extras)
            print(f"  {interleaved.ratio:.2f}×", file=sys.stderr)
            checks.append(compare("process_records (interleaved)", together, rows, extras))
            del together

        if args.single_n:
            subset = _common.write_smi(baseline_smiles[: args.single_n], Path(tmp) / "subset.smi")
            print(f"pipeline, 1 process, {args.single_n:,} SMILES …", file=sys.stderr)
            timings["single"], single = run_pipeline(
                subset, args.single_n, 1, "load_library, workers=1"
            )
            print(f"  {timings['single'].rate:,.0f} molecules/s", file=sys.stderr)
            overlap = min(args.single_n, args.baseline_n)
            checks.append(
                compare("load_library workers=1", single, baseline_rows[:overlap], extras)
            )
            del single

        print(f"pipeline, {workers} processes, {args.n:,} SMILES …", file=sys.stderr)
        timings["pipeline"], library = run_pipeline(
            full_path, args.n, workers, f"load_library, workers={workers}"
        )
        print(f"  {timings['pipeline'].rate:,.0f} molecules/s", file=sys.stderr)
        checks.append(
            compare(f"load_library workers={workers}", library, baseline_rows, extras, sample)
        )

    for check in checks:
        if check.mismatched:
            print(f"{check.label}: mismatches per field {check.per_field}", file=sys.stderr)
            for line in check.examples:
                print(f"  mismatch: {line}", file=sys.stderr)
    print(markdown(args, info, timings, checks, interleaved))
    # The contract is bit-identical results; any difference fails the run.
    return 1 if any(check.mismatched for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
