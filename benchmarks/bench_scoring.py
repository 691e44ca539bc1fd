"""Scoring throughput: DrugDesk's pipeline (load_library on all cores, then one batched
``score_library`` with a fine-tuned transformer and the CNS MPO profile) against a plain
per-molecule loop doing the same work (parse, standardise, properties, alerts, one model forward
per molecule, pKa estimate, desirability), in the same run, on the same molecules.

The model is the shipped pretrained encoder with a regression head fine-tuned for one epoch on
RDKit's CHEMBL2321810 potency set (the benchmark measures speed, not accuracy).

    python benchmarks/bench_scoring.py [--n 20000] [--baseline-n 1000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import pandas as pd
import rdkit

from core.chem.library import LoadOptions, load_library, process_records
from core.chem.readers import RawRecord
from core.chem.standardize import StandardizeOptions
from core.hitlist.desirability import score_table
from core.hitlist.pka import estimate_basic_pka
from core.hitlist.presets import CNS_MPO
from core.hitlist.scoring import ScoringRequest, score_library
from core.models import transformer as tf

SHIPPED = _common.ROOT / "resources" / "models" / "smiles-roberta-v1"


def potency_model(folder: Path) -> Path:
    data = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    smiles = pd.read_csv(
        data / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    table = smiles.merge(pd.read_csv(data / "CHEMBL2321810_act.csv"), on="Name").head(300)
    options = tf.FinetuneOptions(epochs=1, device="cpu")
    tf.finetune(
        SHIPPED,
        table["smiles"].tolist(),
        table["Act"].to_numpy()[:, None],
        "regression",
        np.arange(250),
        np.arange(250, 300),
        options,
        target_names=["pIC50"],
        output_dir=folder,
    )
    return folder


def plain_loop(smiles: list[str], model: tf.LoadedModel) -> pd.DataFrame:
    """One molecule at a time: what a first script would do."""
    rows = []
    options = StandardizeOptions()
    for i, text in enumerate(smiles):
        described = process_records([RawRecord(i, str(i), text)], options)
        row = {name: values[0] for name, values in described.items() if name != "extra"}
        if row["valid"]:
            row["pIC50"] = float(tf.predict(model, [row["canonical_smiles"]]).mean[0, 0])
            from rdkit import Chem

            row["basic_pka"] = estimate_basic_pka(Chem.MolFromSmiles(row["canonical_smiles"]))
        rows.append(row)
    table = pd.DataFrame(rows)
    table["score"] = score_table(table, CNS_MPO).score
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--baseline-n", type=int, default=1_000)
    args = parser.parse_args()
    info = _common.machine_info()
    smiles = _common.moses_smiles(args.n)
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        print("fine-tuning a small model…", file=sys.stderr)
        model_dir = potency_model(work / "model")
        model = tf.load_model(model_dir, "cpu")
        path = _common.write_smi(smiles, work / "library.smi")

        load = _common.OtherLoad()
        start = time.perf_counter()
        baseline = plain_loop(smiles[: args.baseline_n], model)
        baseline_s = time.perf_counter() - start
        baseline_other = load.cores()

        load = _common.OtherLoad()
        start = time.perf_counter()
        library = load_library(path, LoadOptions())
        loaded_s = time.perf_counter() - start
        result = score_library(library.table, ScoringRequest(CNS_MPO, (model_dir,)))
        ours_s = time.perf_counter() - start
        ours_other = load.cores()

    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    table_mb = (
        library.table.memory_usage(deep=True).sum() / 1e6
        + result.columns.memory_usage(deep=True).sum() / 1e6
    )
    # The same molecules must score the same (the plain loop predicts one at a time).
    ours_scores = result.columns["score"].to_numpy()[: args.baseline_n]
    same = np.allclose(ours_scores, baseline["score"].to_numpy(), equal_nan=True, atol=1e-5)
    baseline_rate = args.baseline_n / baseline_s
    ours_rate = args.n / ours_s
    print("### Scoring throughput (properties + alerts + transformer + CNS MPO)\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(f"- Data: first {args.n:,} MOSES SMILES; the plain loop on the first {args.baseline_n:,}")
    print(f"- Scores equal to the plain loop's on the shared molecules: {same}")
    print(
        f"- Other processes used {baseline_other:.2f} cores during the loop and "
        f"{ours_other:.2f} during the pipeline\n"
    )
    print("| run | molecules | wall s | molecules/s | vs loop |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| plain per-molecule loop | {args.baseline_n:,} | {baseline_s:.1f} | {baseline_rate:.0f} | 1.00× |"
    )
    print(
        f"| load_library + score_library | {args.n:,} | {ours_s:.1f} (load {loaded_s:.1f}) | "
        f"{ours_rate:.0f} | {ours_rate / baseline_rate:.2f}× |"
    )
    print(
        f"\n- Memory: peak RSS {rss_gib:.2f} GiB; the scored table takes {table_mb:.0f} MB "
        f"({table_mb / args.n * 1e6 / 1e3:.1f} kB per molecule, so about "
        f"{table_mb / args.n * 1e6 / 1e3:.1f} GB per million)"
    )


if __name__ == "__main__":
    main()
