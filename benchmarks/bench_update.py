"""Learning from new measurements: warm start against training from scratch.

RDKit's CHEMBL2321810 potency set (1,017 compounds, pIC50 ``Act``) stands in for a project: a
model is trained (``train``'s own function, scaffold split, the shipped pretrained
``smiles-roberta-v1``, a few epochs on the CPU) on a seeded random 70% of the molecules; the other
30% then arrive as new measurements and ``core.models.update.update_model`` (what
``drugdesk update`` runs) warm-starts it with ``compare=True``, so the same split also gets a
transformer fine-tuned from scratch and a refitted random forest. Prints the seconds and the test
RMSE (the updated test part: old held-out molecules plus the new ones placed there) of the warm
start, from scratch, the forest, the predictor the update chose, and the old model unchanged, as
a Markdown section.

    python benchmarks/bench_update.py [--epochs 3] [--trees 200] [--fraction 0.7] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import pandas as pd
import rdkit

DATA = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"


def potency_set() -> pd.DataFrame:
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "name"]
    )
    activity = pd.read_csv(DATA / "CHEMBL2321810_act.csv").rename(columns={"Name": "name"})
    return smiles.merge(activity, on="name").reset_index(drop=True)


def rmse(measured: np.ndarray, predicted: np.ndarray) -> float:
    keep = ~np.isnan(measured) & ~np.isnan(predicted)
    return math.sqrt(float(np.mean((measured[keep] - predicted[keep]) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the first training")
    parser.add_argument("--trees", type=int, default=200, help="trees of the random forests")
    parser.add_argument("--fraction", type=float, default=0.7, help="share trained on first")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from core.models.datasets import load_assay_table
    from core.models.training import TrainSettings, train_and_evaluate
    from core.models.transformer import predict
    from core.models.update import update_model

    info = _common.machine_info()
    load = _common.OtherLoad()
    table = potency_set()
    order = np.random.default_rng(args.seed).permutation(len(table))
    n_old = round(args.fraction * len(table))
    with tempfile.TemporaryDirectory(prefix="bench-update-") as folder:
        root = Path(folder)
        old_csv, new_csv = root / "old.csv", root / "new.csv"
        table.iloc[np.sort(order[:n_old])].to_csv(old_csv, index=False)
        table.iloc[np.sort(order[n_old:])].to_csv(new_csv, index=False)
        dataset = load_assay_table(old_csv, "smiles", ["Act"], "regression")
        started = time.perf_counter()
        first = train_and_evaluate(
            dataset,
            root / "potency-first",
            TrainSettings(split="scaffold", seed=args.seed, epochs=args.epochs, n_trees=args.trees),
            device="cpu",
        )
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        report = update_model(
            root / "potency-first",
            old_csv,
            new_csv,
            root / "potency-updated",
            compare=True,
            n_trees=args.trees,
            device="cpu",
        )
        update_seconds = time.perf_counter() - started
        # The old model, not updated, on the updated test part: what updating bought.
        data = pd.read_csv(root / "potency-updated" / "training_data.csv")
        test = data[data["part"] == "test"]
        unchanged = predict(root / "potency-first", test["smiles"].tolist(), device="cpu").mean
        unchanged_rmse = rmse(test["Act"].to_numpy(), unchanged[:, 0])
        new_test = test[test["origin"] == "new"]
        warm_card = json.loads((root / "potency-updated" / "card.json").read_text())
        card_split = first.split
    summary = report.as_json()
    reading = report.reading

    print(
        "## Learning from new measurements (issue 15, part 6): warm start against scratch on "
        f"CHEMBL2321810 ({info['date']})\n"
    )
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- torch on the CPU; {first_seconds + update_seconds:.0f} s in all; other processes "
        f"used {load.cores():.2f} cores"
    )
    print(
        f"- First model: {n_old} molecules (seeded random {args.fraction:.0%}), scaffold split "
        f"{card_split['sizes']}, {args.epochs} epochs from `smiles-roberta-v1`, "
        f"{first_seconds:.0f} s; update: {reading.new_rows} new rows, {reading.added} added "
        f"(joined by scaffold: {reading.joined}; new scaffolds: {reading.new_scaffold}), "
        f"updated split {summary['split']['sizes']}, {len(new_test)} new molecules in the test "
        "part; best epochs of the warm start "
        f"{warm_card['best_epochs']} of {warm_card['options']['epochs']} (0: the old weights "
        f"kept), learning rate {warm_card['options']['learning_rate']:g}\n"
    )
    print("| model | seconds | test RMSE (updated test part) |")
    print("|---|---:|---:|")
    rows = [
        ("warm start (update)", summary["warm_start"]["seconds"], summary["warm_start"]["test"]),
        ("from scratch, same split", summary["scratch"]["seconds"], summary["scratch"]["test"]),
        ("random forest (ECFP4), refitted", None, summary["rf_ecfp4"]["test"]),
    ]
    if summary["chosen"]["test"]:
        # What the updated model predicts with, chosen on the new valid part only.
        chosen = f"chosen: {summary['chosen']['predictor']}"
        rows.append((chosen, None, summary["chosen"]["test"]))
    for name, seconds, metrics in rows:
        shown = "–" if seconds is None else f"{seconds:.0f}"
        print(f"| {name} | {shown} | {metrics['rmse']:.3f} |")
    print(f"| first model, not updated | – | {unchanged_rmse:.3f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
