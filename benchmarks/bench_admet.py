"""ADMET predictions: DrugDesk's ``predict_admet`` against admet-ai's own ``ADMETModel.predict``,
same molecules, same process, same torch threads, values compared.

Sides (each warmed up on 32 molecules first, then timed in interleaved rounds, median kept; the
old way only in the first round):

- admet-ai ``predict`` as DrugDesk called it before (``include_physchem=True``, its default: also
  RDKit properties and PAINS/Brenk/NIH alerts, which DrugDesk does not show);
- admet-ai ``predict`` on its best settings for the same output (``include_physchem=False``,
  ``num_workers=0``: admet-ai's advice for a CPU): the headline baseline;
- DrugDesk ``predict_admet`` (each molecule featurised once, the ten models in one batched pass,
  vectorised percentiles).

Both sides run in this process with torch's default threads (``--threads`` sets them for both); the
RDKit and featurisation steps of both are single-threaded Python. CPU seconds are reported beside
wall seconds (CPU / wall = cores used). A stage profile (``--profile``) splits each side's time:
parsing, RDKit physchem, featurisation (admet-ai: once per model, ten times), forward passes,
percentiles.

    python benchmarks/bench_admet.py [--moses 500] [--chembl 250] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from importlib.metadata import version
from pathlib import Path

import _common
import numpy as np
import pandas as pd
import torch

from core.hitlist import admet
from core.hitlist.admet import admet_frame, endpoints, predict_admet


def chembl_smiles(n: int) -> list[str]:
    """The first ``n`` compounds of RDKit's ``CHEMBL2321810.smi`` (1017 drug-like molecules)."""
    import rdkit

    path = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
    if not path.is_file():
        raise _common.MissingDataError(f"{path} not found (it ships with RDKit's wheel)")
    smiles = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[0].lower() != "smiles":
            smiles.append(parts[0])
    return smiles[:n]


class _Quiet(contextlib.ExitStack):
    """admet-ai prints Lightning progress bars it does not let one turn off."""

    def __enter__(self):
        super().__enter__()
        self.enter_context(contextlib.redirect_stdout(io.StringIO()))
        self.enter_context(contextlib.redirect_stderr(io.StringIO()))
        return self


def admet_ai_predict(model, smiles: list[str], physchem: bool) -> pd.DataFrame:
    model.include_physchem = physchem
    with _Quiet():
        return model.predict(smiles=smiles)


def timed(function, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def compare(ours: np.ndarray, theirs: pd.DataFrame, smiles: list[str]) -> dict[str, float]:
    """Largest differences between our values/percentiles and admet-ai's (rows by SMILES)."""
    frame = admet_frame(ours, pd.RangeIndex(len(smiles)))
    theirs = theirs[~theirs.index.duplicated()].reindex(smiles)
    worst_abs = worst_rel = worst_pct = 0.0
    pct_differ = values = 0
    for endpoint in endpoints():
        a = frame[endpoint.column].to_numpy()
        b = theirs[endpoint.id].to_numpy(dtype=np.float64)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            raise AssertionError(f"{endpoint.id}: readable rows differ")
        ok = ~np.isnan(b)
        diff = np.abs(a[ok] - b[ok])
        worst_abs = max(worst_abs, float(diff.max(initial=0.0)))
        worst_rel = max(
            worst_rel, float((diff / np.maximum(np.abs(b[ok]), 1e-12)).max(initial=0.0))
        )
        pa = frame[endpoint.percentile_column].to_numpy()[ok]
        pb = theirs[f"{endpoint.id}_drugbank_approved_percentile"].to_numpy(np.float64)[ok]
        worst_pct = max(worst_pct, float(np.abs(pa - pb).max(initial=0.0)))
        pct_differ += int(np.count_nonzero(pa != pb))
        values += int(ok.sum())
    return {
        "max_abs": worst_abs,
        "max_rel": worst_rel,
        "max_pct": worst_pct,
        "pct_differ": pct_differ,
        "values": values,
        "exact": float(worst_abs == 0.0),
    }


def profile_admet_ai(model, smiles: list[str]) -> dict[str, float]:
    """admet-ai's ``predict`` step by step (its own methods, in its order)."""
    from admet_ai.physchem import compute_physicochemical_properties

    stages = {}
    with _Quiet():
        t = time.perf_counter()
        mols, valid = model._filter_valid_molecules(smiles=smiles)
        stages["parse SMILES"] = time.perf_counter() - t
        t = time.perf_counter()
        physchem = compute_physicochemical_properties(all_smiles=valid, mols=mols)
        stages["RDKit physchem + PAINS/Brenk/NIH (include_physchem)"] = time.perf_counter() - t
        loader = model._build_dataloader(mols=mols)
        t = time.perf_counter()
        for _ in range(sum(len(models) for models in model.model_lists)):
            for _batch in loader:  # what each model's Trainer.predict featurises again
                pass
        featurise = time.perf_counter() - t
        t = time.perf_counter()
        task_to_preds = model._make_ensemble_predictions(data_loader=loader)
        ensembles = time.perf_counter() - t
        stages["featurise (10×: once per model)"] = featurise
        stages["Lightning Trainer + forward passes (10 models)"] = ensembles - featurise
        preds = pd.concat([physchem, pd.DataFrame(task_to_preds, index=valid)], axis=1)
        t = time.perf_counter()
        model._add_drugbank_percentiles(preds=preds, smiles=valid)
        stages["percentiles (scipy, one call per value, 52 columns)"] = time.perf_counter() - t
    return stages


def profile_ours(smiles: list[str]) -> dict[str, float]:
    ensembles = admet._load_ensembles(None)
    stages = {}
    t = time.perf_counter()
    mols = [m for m in ensembles.parse(smiles) if m is not None]
    stages["parse SMILES"] = time.perf_counter() - t
    t = time.perf_counter()
    graphs = ensembles.featurise(mols)
    stages["featurise (once)"] = time.perf_counter() - t
    t = time.perf_counter()
    values = ensembles.predict_graphs(graphs)
    stages["forward passes (10 models, one batched pass)"] = time.perf_counter() - t
    t = time.perf_counter()
    ensembles.percentiles(values)
    stages["percentiles (searchsorted, 41 columns)"] = time.perf_counter() - t
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moses", type=int, default=500, help="first N MOSES SMILES")
    parser.add_argument("--chembl", type=int, default=250, help="first N of CHEMBL2321810")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (both sides)")
    parser.add_argument("--profile", action="store_true", help="also split each side by stage")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    smiles = _common.moses_smiles(args.moses) + chembl_smiles(args.chembl)
    info = _common.machine_info()
    load_start = info["load_avg_at_start"]

    t = time.perf_counter()
    with _Quiet():
        model = admet._load_model()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    admet._load_ensembles(None)
    setup_s = time.perf_counter() - t
    warm = smiles[:32]
    admet_ai_predict(model, warm, physchem=False)
    admet_ai_predict(model, warm, physchem=True)
    predict_admet(warm)

    sides = {
        "admet-ai predict, include_physchem=False (its best settings for these columns)": [],
        "admet-ai predict, include_physchem=True (as DrugDesk called it before)": [],
        "DrugDesk predict_admet": [],
    }
    names = list(sides)
    other = _common.OtherLoad()
    ours = theirs = None
    for round_number in range(args.rounds):
        wall, cpu, theirs = timed(admet_ai_predict, model, smiles, False)
        sides[names[0]].append((wall, cpu))
        wall, cpu, ours = timed(predict_admet, smiles)
        sides[names[2]].append((wall, cpu))
        if round_number == 0:  # the old way, for reference: once is enough
            wall, cpu, _ = timed(admet_ai_predict, model, smiles, True)
            sides[names[1]].append((wall, cpu))
    other_cores = other.cores()
    load1, load5, _ = os.getloadavg()
    diff = compare(ours, theirs, smiles)

    n = len(smiles)
    print(f"### ADMET predictions: predict_admet against admet-ai's predict ({n:,} molecules)\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- torch {torch.__version__}, {torch.get_num_threads()} threads on both sides; "
        f"admet-ai {version('admet-ai')}, chemprop {version('chemprop')}"
    )
    print(
        f"- Data: first {args.moses:,} MOSES SMILES + first {args.chembl:,} of RDKit's "
        "CHEMBL2321810.smi; every side gets the same list"
    )
    print(
        f"- Loading admet-ai's models: {load_s:.1f} s (both sides share it); stacking their "
        f"weights for the batched pass: {setup_s:.2f} s (once per process, not in the timings)"
    )
    print(
        f"- Load average: {load_start} at start, {load1:.2f} (1 min), {load5:.2f} (5 min) at "
        f"the end; other processes used {other_cores:.2f} cores meanwhile"
    )
    print(
        f"- Same answers: {diff['values']:,} values, largest difference "
        f"{diff['max_abs']:.2e} absolute, {diff['max_rel']:.2e} relative; percentiles: "
        f"{diff['pct_differ']} differ, largest difference {diff['max_pct']:.3g} points\n"
    )
    baseline = np.median([w for w, _ in sides[names[0]]])
    print("| side | wall s (median) | molecules/s | CPU s | cores used | vs admet-ai best |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runs in sides.items():
        wall = float(np.median([w for w, _ in runs]))
        cpu = float(np.median([c for _, c in runs]))
        print(
            f"| {name} | {wall:.2f} | {n / wall:.0f} | {cpu:.2f} | {cpu / wall:.2f} | "
            f"{baseline / wall:.2f}× |"
        )
    ratios = sorted(
        theirs_wall / ours_wall
        for (theirs_wall, _), (ours_wall, _) in zip(sides[names[0]], sides[names[2]], strict=True)
    )
    cpu_ratio = np.median([c for _, c in sides[names[0]]]) / np.median(
        [c for _, c in sides[names[2]]]
    )
    print(
        "\nPer round (admet-ai best, then ours, back to back): wall ratio "
        + ", ".join(f"{r:.2f}×" for r in ratios)
        + f" (sorted); ratio of the median CPU seconds {cpu_ratio:.2f}×"
    )
    if args.profile:
        print("\nStages (one pass each, wall s):\n")
        print("| side | stage | s | share |")
        print("|---|---|---:|---:|")
        for side, stages in (
            ("admet-ai", profile_admet_ai(model, smiles)),
            ("DrugDesk", profile_ours(smiles)),
        ):
            total = sum(stages.values())
            for stage, seconds in stages.items():
                print(f"| {side} | {stage} | {seconds:.2f} | {100 * seconds / total:.0f} % |")
            print(f"| {side} | total | {total:.2f} | |")


if __name__ == "__main__":
    main()
