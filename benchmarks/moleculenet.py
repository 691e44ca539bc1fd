"""MoleculeNet classification benchmark: random forest on ECFP4, scaffold split, several seeds.

Reads BBBP, BACE and ClinTox from ``../shared/data/moleculenet/`` beside the repository (the
project must not copy them into its tree) and exits with status 2 when that folder is missing.

Protocol (as the reference figures in ``../shared/data/README.md``): SMILES that RDKit cannot parse
are skipped (and counted), DeepChem-style scaffold split 80/10/10 (scaffold groups sorted largest
first; deterministic, so only the forest's seed changes between the seeds), random forest of 500
trees on 2048-bit ECFP4 with ``class_weight="balanced"`` (as DeepChem's MoleculeNet random forest;
``--class-weight none`` turns it off), test ROC-AUC, mean of 3 seeds; ClinTox is the mean of its
two tasks.
``--split scaffold_balanced`` uses the seeded balanced scaffold split instead (the seed then changes
the split too).

Run::

    nice .venv/bin/python benchmarks/moleculenet.py            # all sets, seeds 0 1 2, 500 trees

With ``--transformer`` the table gains two columns on exactly the same splits and seeds: the
shipped pretrained SMILES RoBERTa fine-tuned on the train part (early stopping on the valid part;
one model per seed, the seed also seeds the fine-tuning) and ``ensemble``, the mean of the forest's
and the transformer's probabilities. ``--epochs`` bounds the fine-tuning (CPU budget)::

    nice .venv/bin/python benchmarks/moleculenet.py --transformer             # ~1 h on 2 cores
    nice .venv/bin/python benchmarks/moleculenet.py --transformer --seeds 0   # one seed

``--data-dir`` reads the three CSV files from another folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import _common
import numpy as np
import pandas as pd

from core.models.baselines import fit_baseline, predict_baseline
from core.models.featurize import parse_smiles
from core.models.metrics import compare
from core.models.splits import SPLITTERS

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "moleculenet"

# Fine-tuning settings for the transformer column: those picked on the validation parts of the
# shipped regression defaults (scripts/train_defaults.py), not re-tuned per MoleculeNet set (the
# valid part is used for early stopping only).
TRANSFORMER_SETTINGS = {
    "epochs": 40,
    "batch_size": 32,
    "learning_rate": 5e-4,
    "patience": 8,
    "augment_probability": 0.4,
    "dropout": 0.1,
}


@dataclass(slots=True, frozen=True)
class BenchmarkSet:
    name: str
    file: str
    smiles_column: str
    label_columns: tuple[str, ...]
    reference_auc: float


SETS = {
    "BBBP": BenchmarkSet("BBBP", "bbbp.csv", "smiles", ("p_np",), 0.699),
    "BACE": BenchmarkSet("BACE", "bace.csv", "mol", ("Class",), 0.867),
    "ClinTox": BenchmarkSet("ClinTox", "clintox.csv", "smiles", ("FDA_APPROVED", "CT_TOX"), 0.785),
}

TransformerPredictor = Callable[
    [list[str], np.ndarray, list[str], np.ndarray, list[str], str, int], np.ndarray
]
"""``predict_transformer(train_smiles, train_targets, valid_smiles, valid_targets, test_smiles,
task, seed) -> test_probs``.

Fine-tune on the train part (``train_targets``: n_train × T, NaN = missing), stop early on the
valid part, and return the test part's probabilities of class 1 (n_test × T).
"""


def finetuned_transformer(
    pretrained: str | Path | None = None,
    settings: dict | None = None,
    device: str | None = None,
) -> TransformerPredictor:
    """The :data:`TransformerPredictor` that fine-tunes the shipped pretrained SMILES RoBERTa."""
    from core.models.training import default_pretrained_dir
    from core.models.transformer import FinetuneOptions, finetune, load_model, predict

    base = load_model(pretrained or default_pretrained_dir(), "cpu")
    options = {**TRANSFORMER_SETTINGS, **(settings or {})}

    def predict_transformer(
        train: list[str],
        train_y: np.ndarray,
        valid: list[str],
        valid_y: np.ndarray,
        test: list[str],
        task: str,
        seed: int,
    ) -> np.ndarray:
        smiles = list(train) + list(valid)
        targets = np.vstack([train_y, valid_y])
        started = time.perf_counter()
        result = finetune(
            base,
            smiles,
            targets,
            task,
            np.arange(len(train)),
            np.arange(len(train), len(smiles)),
            FinetuneOptions(seed=seed, n_models=1, **options),
            device=device,
        )
        print(
            f"  transformer seed {seed}: valid ROC-AUC {result.valid_metric:.3f}, best epoch "
            f"{result.epochs[0]}, {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        return predict(result.model, list(test), device=device).mean

    return predict_transformer


@dataclass(slots=True)
class SetResult:
    name: str
    n_rows: int
    n_skipped: int
    sizes: dict[str, int] = field(default_factory=dict)
    auc: dict[str, list[float]] = field(default_factory=dict)  # model -> test ROC-AUC per seed
    seconds: float = 0.0


def load_set(spec: BenchmarkSet) -> tuple[list[str], np.ndarray, int, int]:
    """The parseable SMILES, their labels (n × T), the number of rows and of skipped SMILES."""
    table = pd.read_csv(DATA_DIR / spec.file)
    smiles = table[spec.smiles_column].astype(str).tolist()
    labels = table[list(spec.label_columns)].to_numpy(dtype=float)
    ok = np.array([parse_smiles(s) is not None for s in smiles])
    return (
        [s for s, keep in zip(smiles, ok, strict=True) if keep],
        labels[ok],
        len(smiles),
        int((~ok).sum()),
    )


def run_benchmark(
    sets: Sequence[str] = tuple(SETS),
    seeds: Sequence[int] = (0, 1, 2),
    n_trees: int = 500,
    n_jobs: int = 1,
    split: str = "scaffold",
    class_weight: str | None = "balanced",
    predict_transformer: TransformerPredictor | None = None,
) -> list[SetResult]:
    """Run every set and seed; return test ROC-AUC per model and seed.

    Hook for the transformer (to be filled in by the transformer work): pass
    ``predict_transformer`` (see :data:`TransformerPredictor`) and the results gain a
    ``"transformer"`` column and an ``"ensemble"`` column (mean of the forest's and the
    transformer's probabilities), on exactly the same split and seeds as the forest.
    """
    results = []
    for name in sets:
        spec = SETS[name]
        started = time.perf_counter()
        smiles, labels, n_rows, n_skipped = load_set(spec)
        result = SetResult(name, n_rows, n_skipped)
        for seed in seeds:
            parts = SPLITTERS[split](smiles, (0.8, 0.1, 0.1), seed)
            result.sizes = parts.sizes()
            train = [smiles[i] for i in parts.train]
            valid = [smiles[i] for i in parts.valid]
            test = [smiles[i] for i in parts.test]
            model = fit_baseline(
                train,
                labels[parts.train],
                "classification",
                target_names=spec.label_columns,
                n_trees=n_trees,
                seed=seed,
                n_jobs=n_jobs,
                class_weight=class_weight,
            )
            predictions = {"rf_ecfp4": predict_baseline(model, test).mean}
            # --- transformer hook: the transformer work plugs in here --------------------------
            if predict_transformer is not None:
                probs = np.asarray(
                    predict_transformer(
                        train,
                        labels[parts.train],
                        valid,
                        labels[parts.valid],
                        test,
                        "classification",
                        seed,
                    ),
                    dtype=float,
                ).reshape(len(test), -1)
                predictions["transformer"] = probs
                predictions["ensemble"] = (predictions["rf_ecfp4"] + probs) / 2
            # ------------------------------------------------------------------------------------
            table = compare(predictions, labels[parts.test], "classification", spec.label_columns)
            overall = "mean" if len(spec.label_columns) > 1 else spec.label_columns[0]
            rows = table[(table.metric == "roc_auc") & (table.target == overall)]
            for model_name, value in zip(rows.model, rows.value, strict=True):
                result.auc.setdefault(model_name, []).append(float(value))
            print(
                f"{name} seed {seed}: "
                + ", ".join(f"{m} {v[-1]:.3f}" for m, v in result.auc.items()),
                file=sys.stderr,
                flush=True,
            )
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results


def _mean_sd(values: list[float]) -> str:
    if len(values) > 1:
        return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"
    return f"{values[0]:.3f}"


def markdown(
    results: list[SetResult],
    command: str,
    info: dict[str, str],
    split: str,
    class_weight: str | None,
) -> str:
    models = list(dict.fromkeys(m for r in results for m in r.auc))
    lines = [
        "## MoleculeNet: test ROC-AUC, scaffold split 80/10/10",
        "",
        f"Command: `{command}`  ",
        f"Split: `{split}`; forest class_weight: `{class_weight}`; data: `{DATA_DIR}`  ",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        "| set | rows | skipped SMILES | train/valid/test | "
        + " | ".join(f"{m} (mean ± sd; per seed)" for m in models)
        + " | reference RF | time |",
        "|---|---|---|---|" + "---|" * len(models) + "---|---|",
    ]
    for r in results:
        sizes = f"{r.sizes['train']}/{r.sizes['valid']}/{r.sizes['test']}"
        cells = [f"{_mean_sd(r.auc[m])}; {', '.join(f'{v:.3f}' for v in r.auc[m])}" for m in models]
        ref = SETS[r.name].reference_auc
        lines.append(
            f"| {r.name} | {r.n_rows} | {r.n_skipped} | {sizes} | "
            + " | ".join(cells)
            + f" | {ref:.3f} | {r.seconds:.0f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--split", choices=["scaffold", "scaffold_balanced"], default="scaffold")
    parser.add_argument("--class-weight", choices=["balanced", "none"], default="balanced")
    parser.add_argument(
        "--transformer",
        action="store_true",
        help="add the fine-tuned transformer and the transformer+forest ensemble columns",
    )
    parser.add_argument("--epochs", type=int, help="most fine-tuning epochs (default 40)")
    parser.add_argument("--device", help="torch device for the transformer (default: auto)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--data-dir", type=Path, help="folder with the CSV files")
    args = parser.parse_args(argv)
    global DATA_DIR
    if args.data_dir is not None:
        DATA_DIR = args.data_dir.resolve()
    if not DATA_DIR.is_dir() or not all((DATA_DIR / SETS[s].file).is_file() for s in args.sets):
        print(
            f"MoleculeNet data not found in {DATA_DIR} (expected bbbp.csv, bace.csv, clintox.csv "
            "in ../shared/data/moleculenet/ beside the repository; see ../shared/data/README.md).",
            file=sys.stderr,
        )
        return 2
    info = _common.machine_info()
    load = _common.OtherLoad()
    class_weight = None if args.class_weight == "none" else args.class_weight
    predict_transformer = None
    if args.transformer:
        import torch

        torch.set_num_threads(args.threads)
        settings = {"epochs": args.epochs} if args.epochs else None
        predict_transformer = finetuned_transformer(settings=settings, device=args.device)
        info["transformer"] = ", ".join(
            f"{k} {v}" for k, v in {**TRANSFORMER_SETTINGS, **(settings or {})}.items()
        )
    results = run_benchmark(
        args.sets,
        args.seeds,
        args.trees,
        args.n_jobs,
        args.split,
        class_weight,
        predict_transformer=predict_transformer,
    )
    info["other_load_cores"] = f"{load.cores():.2f}"
    command = "python benchmarks/moleculenet.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(markdown(results, command.strip(), info, args.split, class_weight))
    return 0


if __name__ == "__main__":
    sys.exit(main())
