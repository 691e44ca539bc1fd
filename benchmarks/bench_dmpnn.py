"""D-MPNN held-out check: test ROC-AUC of ``core.models.dmpnn`` on MoleculeNet scaffold splits.

Trains :func:`core.models.dmpnn.train_dmpnn` on the train part of the DeepChem-style scaffold split
80/10/10 (``core.models.splits``), stops early on the valid part, and scores the test part with
:func:`core.models.dmpnn.predict_dmpnn`, without and with RDKit 2D descriptors, over several seeds
(the split is deterministic: the seed changes the network's initialisation and batch order).

Settings are STACK.md's ``chemprop train`` command (chemprop's defaults: hidden 300, depth 3,
batch 64, Noam-like schedule; at most 40 epochs, patience 10 on the validation loss), so the
figures compare with the ones measured there through chemprop's own command line: BACE
0.749 plain (1 seed) and 0.837 ± 0.003 with descriptors (3 seeds); BBBP 0.734 with descriptors
(2 seeds). Data: ``../shared/data/moleculenet/`` beside the repository (exit status 2 without it).

Run::

    nice .venv/bin/python benchmarks/bench_dmpnn.py                      # BACE, seeds 0 1 2
    nice .venv/bin/python benchmarks/bench_dmpnn.py --sets BACE BBBP --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import moleculenet

from core.models.dmpnn import DmpnnOptions, predict_dmpnn, train_dmpnn
from core.models.metrics import compare
from core.models.splits import SPLITTERS

STACK_REFERENCE = {
    ("BACE", False): "0.749 (1 seed)",
    ("BACE", True): "0.837 ± 0.003 (3 seeds)",
    ("BBBP", True): "0.734 (2 seeds)",
}
"""Test ROC-AUC measured through ``chemprop train`` on the same split (STACK.md, 2026-12-05)."""


def run(
    name: str, seed: int, descriptors: bool, epochs: int, device: str, folder: Path
) -> dict[str, float]:
    spec = moleculenet.SETS[name]
    smiles, labels, _, _ = moleculenet.load_set(spec)
    parts = SPLITTERS["scaffold"](smiles, (0.8, 0.1, 0.1), seed)
    pick = lambda index: [smiles[i] for i in index]  # noqa: E731
    started = time.perf_counter()
    result = train_dmpnn(
        pick(parts.train),
        labels[parts.train],
        pick(parts.valid),
        labels[parts.valid],
        "classification",
        output_dir=folder,
        descriptors=descriptors,
        epochs=epochs,
        seed=seed,
        options=DmpnnOptions(patience=10),
        target_names=spec.label_columns,
        device=device,
    )
    trained = time.perf_counter() - started
    test = predict_dmpnn(folder, pick(parts.test), device=device)
    table = compare({"dmpnn": test.mean}, labels[parts.test], "classification", spec.label_columns)
    overall = "mean" if len(spec.label_columns) > 1 else spec.label_columns[0]
    auc = table[(table.metric == "roc_auc") & (table.target == overall)].value.iloc[0]
    return {
        "test": float(auc),
        "valid": result.valid_metric,
        "epoch": result.best_epochs[0],
        "epochs_run": max(p.epoch for p in result.curve),
        "seconds": trained,
        "sizes": parts.sizes(),
    }


def _mean_sd(values: list[float]) -> str:
    if len(values) > 1:
        return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"
    return f"{values[0]:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=list(moleculenet.SETS), default=["BACE"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument(
        "--features", nargs="+", choices=["plain", "descriptors"], default=["plain", "descriptors"]
    )
    args = parser.parse_args(argv)
    if not all((moleculenet.DATA_DIR / moleculenet.SETS[s].file).is_file() for s in args.sets):
        print(
            f"MoleculeNet data not found in {moleculenet.DATA_DIR} (see ../shared/data/README.md)",
            file=sys.stderr,
        )
        return 2
    import torch

    torch.set_num_threads(args.threads)
    info = _common.machine_info()
    load = _common.OtherLoad()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-dmpnn-") as scratch:
        for name in args.sets:
            for features in args.features:
                descriptors = features == "descriptors"
                runs = []
                for seed in args.seeds:
                    folder = Path(scratch) / f"{name}-{features}-{seed}"
                    runs.append(run(name, seed, descriptors, args.epochs, args.device, folder))
                    print(
                        f"{name} {features} seed {seed}: test {runs[-1]['test']:.3f}, valid "
                        f"{runs[-1]['valid']:.3f}, best epoch {runs[-1]['epoch']} of "
                        f"{runs[-1]['epochs_run']}, {runs[-1]['seconds']:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                rows.append((name, features, runs, STACK_REFERENCE.get((name, descriptors), "–")))
    sizes = rows[0][2][0]["sizes"] if rows else {}
    print(f"Command: `{_common.command_line()}`  ")
    print(
        f"Split: DeepChem-style scaffold 80/10/10 ({'/'.join(str(v) for v in sizes.values())} "
        f"for {rows[0][0] if rows else ''}); D-MPNN: chemprop defaults, at most {args.epochs} "
        f"epochs, patience 10 on the validation loss; device {args.device}, "
        f"{args.threads} torch threads  "
    )
    print(
        "Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items())
        + f", other_load_cores {load.cores():.2f}"
    )
    print()
    print(
        "| set | features | test ROC-AUC (mean ± sd; per seed) | valid ROC-AUC | best epoch "
        "(of run) | s per model | chemprop CLI (STACK.md) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, features, runs, reference in rows:
        tests = [r["test"] for r in runs]
        epochs = ", ".join(f"{r['epoch']} ({r['epochs_run']})" for r in runs)
        print(
            f"| {name} | {features} | {_mean_sd(tests)}; {', '.join(f'{v:.3f}' for v in tests)} "
            f"| {_mean_sd([r['valid'] for r in runs])} "
            f"| {epochs} "
            f"| {statistics.fmean(r['seconds'] for r in runs):.0f} | {reference} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
