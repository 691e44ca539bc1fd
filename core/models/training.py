"""Train a model on assay data and evaluate it honestly: the transformer and the random-forest
baseline on the same split, metrics on held-out molecules only.

``train_and_evaluate`` is an engine job and what ``python main.py train`` runs.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.jobs import CancelCheck, ProgressCallback, check_cancelled, no_progress
from core.models.datasets import AssayDataset
from core.models.splits import SPLITTERS, Split, stratified_split

DEFAULT_PRETRAINED = "models/smiles-roberta-v1"
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(slots=True, frozen=True)
class TrainSettings:
    split: str = "scaffold"
    """``scaffold`` (DeepChem-style), ``scaffold_balanced``, ``random`` or ``stratified``."""
    seed: int = 0
    epochs: int = 30
    n_models: int = 1
    """Transformer ensemble size (seeds ``seed…seed+n-1``): predictions get a standard deviation."""
    baseline: bool = True
    """Also train the random forest on ECFP4 on the same split and report it side by side."""
    n_trees: int = 500


@dataclass(slots=True)
class TrainReport:
    output_dir: Path
    split: dict
    metrics: pd.DataFrame
    """Tidy: ``model, part, target, metric, value, n, note`` (parts ``valid`` and ``test``)."""
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """``{"valid": {model: {metric: value}}, "test": {...}, "split": {...}}`` (target means)."""
        summary: dict = {"split": self.split, "notes": self.notes}
        for part in ("valid", "test"):
            rows = self.metrics[(self.metrics["part"] == part) & (self.metrics["target"] == "mean")]
            if rows.empty:  # single target: no mean rows
                rows = self.metrics[self.metrics["part"] == part]
            summary[part] = {
                model: {
                    r.metric: (
                        None
                        if r.value is None or (isinstance(r.value, float) and math.isnan(r.value))
                        else float(r.value)
                    )
                    for r in group.itertuples()
                }
                for model, group in rows.groupby("model", sort=False)
            }
        return summary


def make_split(dataset: AssayDataset, kind: str, seed: int) -> Split:
    if kind == "stratified":
        if dataset.task != "classification" or len(dataset.target_names) != 1:
            raise ValueError("A stratified split needs one classification target.")
        return stratified_split(dataset.targets[:, 0], SPLIT_FRACTIONS, seed)
    try:
        splitter = SPLITTERS[kind]
    except KeyError:
        raise ValueError(
            f"Unknown split '{kind}': choose {', '.join(sorted(SPLITTERS))}."
        ) from None
    return splitter(list(dataset.smiles), SPLIT_FRACTIONS, seed)


def default_pretrained_dir() -> Path:
    from resources import resource_path

    return resource_path(DEFAULT_PRETRAINED)


def train_and_evaluate(
    dataset: AssayDataset,
    output_dir: str | os.PathLike,
    settings: TrainSettings | None = None,
    pretrained_dir: str | os.PathLike | None = None,
    *,
    device: str | None = None,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> TrainReport:
    """Fine-tune the transformer (and fit the baseline) on the train part, stop early on the valid
    part, and report both on valid and test. The model (and ``baseline/``) go to ``output_dir``
    with a card holding the metrics, the split and the data hash."""
    from core.models.baselines import fit_baseline, predict_baseline, save_baseline
    from core.models.metrics import evaluate
    from core.models.transformer import FinetuneOptions, finetune, predict

    settings = settings or TrainSettings()
    output_dir = Path(output_dir)
    split = make_split(dataset, settings.split, settings.seed)
    smiles = np.asarray(dataset.smiles, dtype=object)
    split_info = {
        "kind": settings.split,
        "seed": settings.seed,
        "sizes": [len(split.train), len(split.valid), len(split.test)],
    }
    progress(0.0, f"Split {settings.split}: {split_info['sizes']}")

    def part(fraction_from: float, fraction_to: float) -> ProgressCallback:
        return lambda f, m="": progress(
            fraction_from + (fraction_to - fraction_from) * max(0.0, f), m
        )

    options = FinetuneOptions(
        epochs=settings.epochs, n_models=settings.n_models, seed=settings.seed
    )
    result = finetune(
        pretrained_dir or default_pretrained_dir(),
        list(smiles),
        dataset.targets,
        dataset.task,
        split.train,
        split.valid,
        options,
        target_names=list(dataset.target_names),
        output_dir=output_dir,
        split=split_info,
        smiles_column=dataset.smiles_column,
        data_hash=dataset.data_hash,
        name=output_dir.name,
        device=device,
        progress=part(0.0, 0.8 if settings.baseline else 0.95),
        is_cancelled=is_cancelled,
    )
    frames = []
    for part_name, rows in (("valid", split.valid), ("test", split.test)):
        prediction = predict(result.model, list(smiles[rows]), device=device)
        frame = evaluate(
            dataset.targets[rows],
            prediction.mean,
            dataset.task,
            dataset.target_names,
            "transformer",
        )
        frames.append(frame.assign(part=part_name))
    if settings.baseline:
        check_cancelled(is_cancelled)
        baseline = fit_baseline(
            list(smiles[split.train]),
            dataset.targets[split.train],
            dataset.task,
            target_names=list(dataset.target_names),
            n_trees=settings.n_trees,
            class_weight="balanced" if dataset.task == "classification" else None,
            seed=settings.seed,
            progress=part(0.8, 0.95),
            is_cancelled=is_cancelled,
        )
        save_baseline(baseline, output_dir / "baseline")
        for part_name, rows in (("valid", split.valid), ("test", split.test)):
            prediction = predict_baseline(baseline, list(smiles[rows]))
            frame = evaluate(
                dataset.targets[rows],
                prediction.mean,
                dataset.task,
                dataset.target_names,
                "rf_ecfp4",
            )
            frames.append(frame.assign(part=part_name))
    metrics = pd.concat(frames, ignore_index=True)
    metrics = _with_target_means(metrics)
    report = TrainReport(output_dir, split_info, metrics, list(dataset.notes))
    _write_metrics_to_card(output_dir, report)
    progress(1.0, "Trained; test metrics on held-out molecules written to the card")
    return report


def _with_target_means(metrics: pd.DataFrame) -> pd.DataFrame:
    if metrics["target"].nunique() <= 1:
        return metrics
    means = (
        metrics.groupby(["model", "part", "metric"], sort=False)["value"]
        .mean()
        .reset_index()
        .assign(target="mean")
    )
    return pd.concat([metrics, means], ignore_index=True)


def _write_metrics_to_card(output_dir: Path, report: TrainReport) -> None:
    card_path = output_dir / "card.json"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    summary = report.as_json()
    card["metrics"] = {"valid": summary["valid"], "test": summary["test"]}
    card["split"] = report.split
    temporary = card_path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(card, indent=2), encoding="utf-8")
    os.replace(temporary, card_path)
