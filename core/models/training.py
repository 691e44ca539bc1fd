"""Train a model on assay data and evaluate it honestly: the transformer and the random-forest
baseline on the same split, metrics on held-out molecules only.

``train_and_evaluate`` is an engine job and what ``python main.py train`` runs.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.fileio import atomic_output, write_text_atomic
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress
from core.models.datasets import AssayDataset
from core.models.splits import SPLITTERS, Split, stratified_split
from core.models.transformer import EpochCallback

DEFAULT_PRETRAINED = "models/smiles-roberta-v1"
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
METRICS_FILE = "metrics.csv"
PREDICTIONS_FILE = "heldout_predictions.csv"
FINETUNE_CURVE_FILE = "finetune_curve.csv"
CURVE_COLUMNS = ["model_index", "epoch", "train_loss", "valid_metric"]


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
    batch_size: int = 32
    learning_rate: float = 2e-4
    patience: int = 5
    """Epochs without a better validation metric before a member stops early."""
    augment_probability: float = 0.0
    """Chance that a training SMILES is replaced by a random spelling each epoch."""
    dropout: float = 0.1
    """Of the transformer's head."""
    weight_decay: float = 0.01
    calibration_folds: int = 0
    """Refit the transformer this many times (on all but one fold of the training part) to
    calibrate its intervals and probabilities; 0: automatic (cross-fitted members for an
    ensemble of 3 or more, else random-forest out-of-fold residuals for regression and no
    calibration for a classifier; see :mod:`core.models.calibration_store`)."""


@dataclass(slots=True, frozen=True)
class EpochPoint:
    """One finished epoch of one ensemble member, as a training job reports it to
    ``report_partial`` (the Models area draws it on the live curves)."""

    model_index: int
    epoch: int
    train_loss: float
    valid_metric: float


@dataclass(slots=True)
class TrainReport:
    output_dir: Path
    split: dict
    metrics: pd.DataFrame
    """Tidy: ``model, part, target, metric, value, n, note`` (parts ``valid`` and ``test``)."""
    notes: list[str] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    """Tidy held-out predictions: ``part, row, smiles, target, measured, model, predicted, std``
    (``row``: index into the dataset). ``None`` for reports read from older model folders."""
    curve: pd.DataFrame | None = None
    """Per epoch: ``model_index, epoch, train_loss, valid_metric`` (the transformer members)."""
    cancelled: bool = False
    """Training was cancelled: the model holds the best epochs reached, the baseline was skipped."""
    task: str = ""
    target_names: tuple[str, ...] = ()
    calibration: dict | None = None
    """The card's ``"calibration"`` (method, scores, measured test coverage) or ``None``."""

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
    on_epoch: EpochCallback | None = None,
    report_partial: Callable[[EpochPoint], None] | None = None,
    keep_on_cancel: bool = False,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> TrainReport:
    """Fine-tune the transformer (and fit the baseline) on the train part, stop early on the valid
    part, and report both on valid and test. The model (and ``baseline/``) go to ``output_dir``
    with a card holding the metrics, the split and the data hash; the per-epoch curve
    (``finetune_curve.csv``), the tidy metrics (``metrics.csv``) and the held-out predictions
    (``heldout_predictions.csv``) are written beside it (see :func:`load_training_report`), and
    the applicability domain: the train part's ECFP4 fingerprints (``train_fingerprints.npy``)
    and, on the card's ``domain``, the similarity threshold chosen on the valid part
    (:mod:`core.models.domain`).

    Calibration (:mod:`core.models.calibration_store`, which says why it is done this way):
    out-of-fold predictions of the **training** part only (never valid or test), from
    cross-fitted ensemble members (3 or more: member ``k`` skips fold ``k``), from
    ``settings.calibration_folds`` refits of the transformer, or, for a single regression
    model by default, from five out-of-fold random forests as a proxy. They are written to
    ``calibration_predictions.csv``; the card's ``calibration`` holds the conformal scores (and a
    classifier's probability calibrator) and the coverage measured on the test part.

    ``on_epoch(model_index, epoch, train_loss, valid_metric)`` is called after every epoch of
    every ensemble member, on the training thread, and ``report_partial`` gets the same epoch as
    an :class:`EpochPoint` (the engine passes its partial-results callback there). With ``keep_on_cancel``, a cancel keeps the
    best epochs reached (see ``core.models.transformer.finetune``): the model is evaluated and
    saved as usual, the baseline is skipped, and the report says ``cancelled``; the job then
    returns normally (an engine that checks its cancel flag afterwards still reports the job
    cancelled, so read the folder back with :func:`load_training_report`)."""
    from core.models.baselines import fit_baseline, predict_baseline, save_baseline
    from core.models.calibration_store import assign_folds, calibration_plan
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
        epochs=settings.epochs,
        n_models=settings.n_models,
        seed=settings.seed,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        patience=settings.patience,
        augment_probability=settings.augment_probability,
        dropout=settings.dropout,
        weight_decay=settings.weight_decay,
    )
    curve: list[tuple[int, int, float, float]] = []
    source, n_folds = calibration_plan(dataset.task, settings.n_models, settings.calibration_folds)
    calibration_note = "" if source else _NO_CALIBRATION_NOTE
    folds = None
    if source is not None:
        try:
            folds = assign_folds(
                smiles[split.train],
                n_folds,
                by_scaffold=settings.split.startswith("scaffold"),
                seed=settings.seed,
            )
        except ValueError as exc:
            source, calibration_note = None, f"No calibration: {exc}."
    # Cross-fitting: member k never trains on fold k, so its predictions there are out of fold.
    member_rows = (
        [split.train[folds != k] for k in range(n_folds)] if source == "crossfit" else None
    )
    fit_end = 0.8 if settings.baseline else 0.95
    main_end = fit_end / 2 if source == "refit" else fit_end

    def record_epoch(model_index: int, epoch: int, train_loss: float, metric: float) -> None:
        curve.append((model_index, epoch, train_loss, metric))
        if on_epoch is not None:
            on_epoch(model_index, epoch, train_loss, metric)
        if report_partial is not None:
            report_partial(EpochPoint(model_index, epoch, train_loss, metric))

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
        on_epoch=record_epoch,
        keep_on_cancel=keep_on_cancel,
        member_train_idx=member_rows,
        progress=part(0.0, main_end),
        is_cancelled=is_cancelled,
    )
    cancelled = result.cancelled
    calibration_model = result.model if source == "crossfit" else None
    if source == "refit" and not cancelled:
        try:
            calibration_model = finetune(
                pretrained_dir or default_pretrained_dir(),
                list(smiles),
                dataset.targets,
                dataset.task,
                split.train,
                split.valid,
                replace(options, n_models=n_folds),
                target_names=list(dataset.target_names),
                device=device,
                member_train_idx=[split.train[folds != k] for k in range(n_folds)],
                progress=part(main_end, fit_end),
                is_cancelled=is_cancelled,
            ).model
        except JobCancelled:
            if not keep_on_cancel:
                raise
            cancelled = True
    notes = list(dataset.notes)
    if cancelled:
        notes.append(
            "Training was cancelled: the model keeps the best epochs reached; no baseline."
        )
    frames, predicted = [], []
    for part_name, rows in (("valid", split.valid), ("test", split.test)):
        prediction = predict(result.model, list(smiles[rows]), device=device)
        predicted.append(
            _tidy_predictions(
                dataset, part_name, rows, "transformer", prediction.mean, prediction.std
            )
        )
        frame = evaluate(
            dataset.targets[rows],
            prediction.mean,
            dataset.task,
            dataset.target_names,
            "transformer",
        )
        frames.append(frame.assign(part=part_name))
    baseline = None
    if settings.baseline and not cancelled:
        try:
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
        except JobCancelled:
            if not keep_on_cancel:
                raise
            cancelled = True
            notes.append(
                "Cancelled while fitting the baseline: the transformer is kept, no baseline."
            )
    if baseline is not None:
        save_baseline(baseline, output_dir / "baseline")
        for part_name, rows in (("valid", split.valid), ("test", split.test)):
            prediction = predict_baseline(baseline, list(smiles[rows]))
            predicted.append(
                _tidy_predictions(
                    dataset, part_name, rows, "rf_ecfp4", prediction.mean, prediction.std
                )
            )
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
    predictions = pd.concat(predicted, ignore_index=True)
    try:
        domain_note = _store_domain(
            output_dir, dataset, split, predictions, part(0.95, 0.99), is_cancelled
        )
    except JobCancelled:
        if not keep_on_cancel:
            raise
        cancelled = True
        domain_note = "Cancelled while storing the applicability domain: it is unknown."
    if domain_note:
        notes.append(domain_note)
    calibration = None
    if source is not None and not cancelled:
        try:
            calibration = _store_calibration(
                output_dir,
                dataset,
                split,
                folds,
                source,
                calibration_model,
                settings,
                predictions,
                device,
                is_cancelled,
            )
        except JobCancelled:
            if not keep_on_cancel:
                raise
            cancelled = True
            calibration_note = "Cancelled while calibrating: predictions get no intervals."
    elif cancelled:
        calibration_note = "Training was cancelled: no calibration."
    if calibration is not None:
        from core.models.calibration_store import describe_calibration

        calibration_note = describe_calibration(calibration)
    if calibration_note:
        notes.append(calibration_note)
    report = TrainReport(
        output_dir,
        split_info,
        metrics,
        notes,
        predictions=predictions,
        curve=pd.DataFrame(curve, columns=CURVE_COLUMNS),
        cancelled=cancelled,
        task=dataset.task,
        target_names=tuple(dataset.target_names),
        calibration=calibration,
    )
    _write_metrics_to_card(output_dir, report)
    _write_report_tables(output_dir, report)
    progress(1.0, "Trained; test metrics on held-out molecules written to the card")
    return report


_NO_CALIBRATION_NOTE = (
    "No calibration: a single classifier has no out-of-fold probabilities (train an ensemble of "
    "3 or more, or ask for calibration folds, to get calibrated probabilities and prediction sets)."
)


def _store_calibration(
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    folds: np.ndarray,
    source: str,
    model: object,
    settings: TrainSettings,
    predictions: pd.DataFrame,
    device: str | None,
    is_cancelled: CancelCheck | None,
) -> dict | None:
    """Predict every training-part row out of fold, fit the calibration on those predictions,
    measure it on the test part and store it (card ``calibration``, ``calibration_predictions.csv``).
    Returns the stored summary (``None`` when the folder has no card)."""
    from core.models.calibration_store import (
        OOF_FILE,
        evaluate_calibration,
        fit_calibration,
        store_calibration,
    )

    if not (output_dir / "card.json").is_file():
        return None
    smiles = np.asarray(dataset.smiles, dtype=object)
    n_folds = int(folds.max()) + 1
    train = np.asarray(split.train, dtype=np.int64)
    oof = np.full((len(train), len(dataset.target_names)), np.nan)
    if source == "rf_proxy":
        from core.models.baselines import fit_baseline, predict_baseline
        from core.models.calibration_store import PROXY_TREES

        for k in range(n_folds):
            check_cancelled(is_cancelled)
            fitted = fit_baseline(
                list(smiles[train[folds != k]]),
                dataset.targets[train[folds != k]],
                dataset.task,
                target_names=list(dataset.target_names),
                n_trees=min(settings.n_trees, PROXY_TREES),
                seed=settings.seed,
                is_cancelled=is_cancelled,
            )
            oof[folds == k] = predict_baseline(fitted, list(smiles[train[folds == k]])).mean
    else:
        from core.models.transformer import LoadedModel, predict

        for k, member in enumerate(model.members):
            # Only the member that left fold k out predicts it.
            single = LoadedModel(model.kind, model.tokenizer, model.config, model.card, [member],
                                 model.device)  # fmt: skip
            rows = train[folds == k]
            if len(rows):
                oof[folds == k] = predict(
                    single, list(smiles[rows]), device=device, is_cancelled=is_cancelled
                ).mean
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "part": "train",
                    "row": train,
                    "fold": folds,
                    "smiles": smiles[train],
                    "target": name,
                    "measured": dataset.targets[train, t],
                    "predicted": oof[:, t],
                }
            )
            for t, name in enumerate(dataset.target_names)
        ],
        ignore_index=True,
    )
    summary = fit_calibration(
        frame,
        dataset.task,
        list(dataset.target_names),
        source=source,
        folds=n_folds,
        fold_kind="scaffold" if settings.split.startswith("scaffold") else "random",
    )
    test = predictions[(predictions["part"] == "test") & (predictions["model"] == "transformer")]
    evaluate_calibration(summary, test)
    store_calibration(output_dir, summary)
    _write_csv(frame, output_dir / OOF_FILE)
    return summary


def _store_domain(
    output_dir: Path,
    dataset: AssayDataset,
    split: Split,
    predictions: pd.DataFrame,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> str:
    """Store the applicability domain (the train part's fingerprints, the threshold chosen on
    the valid part, the test part's check) in the model folder, so that every later prediction
    says how near its molecule is to what the model learned from. Returns a note for the report
    (``""`` when a threshold was stored)."""
    from core.models.domain import describe_domain, fit_domain

    if not (output_dir / "card.json").is_file():
        return "No applicability domain: the model folder has no card."
    summary = fit_domain(
        output_dir,
        list(dataset.smiles),
        split.train,
        split.valid,
        split.test,
        predictions,
        dataset.task,
        progress=progress,
        is_cancelled=is_cancelled,
    )
    return "" if summary.get("threshold") is not None else describe_domain(summary)


def _tidy_predictions(
    dataset: AssayDataset,
    part: str,
    rows: np.ndarray,
    model: str,
    mean: np.ndarray,
    std: np.ndarray,
) -> pd.DataFrame:
    frames = []
    rows = np.asarray(rows, dtype=np.int64)
    for t, target in enumerate(dataset.target_names):
        frames.append(
            pd.DataFrame(
                {
                    "part": part,
                    "row": rows,
                    "smiles": [dataset.smiles[i] for i in rows],
                    "target": target,
                    "measured": dataset.targets[rows, t],
                    "model": model,
                    "predicted": np.asarray(mean, dtype=float)[:, t],
                    "std": np.asarray(std, dtype=float)[:, t],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # The model folder's own tables, read back by load_training_report: written as they are.
    with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False)


def _write_report_tables(output_dir: Path, report: TrainReport) -> None:
    if not output_dir.is_dir():
        return
    _write_csv(report.metrics, output_dir / METRICS_FILE)
    if report.predictions is not None:
        _write_csv(report.predictions, output_dir / PREDICTIONS_FILE)
    if report.curve is not None:
        _write_csv(report.curve, output_dir / FINETUNE_CURVE_FILE)


def load_training_report(
    output_dir: str | os.PathLike,
    *,
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> TrainReport:
    """Read back what :func:`train_and_evaluate` wrote to a model folder: split, metrics,
    held-out predictions and the per-epoch curve (missing tables are empty or ``None``).

    Raises
    ------
    ValueError
        When the folder holds no readable ``card.json``.
    """
    del progress, is_cancelled  # a few small files: nothing to report
    output_dir = Path(output_dir)
    card_path = output_dir / "card.json"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{output_dir}: no readable card.json ({exc})") from None

    def read(name: str) -> pd.DataFrame | None:
        path = output_dir / name
        if not path.is_file():
            return None
        try:
            return pd.read_csv(path)
        except (OSError, ValueError, pd.errors.EmptyDataError):
            return None

    metrics = read(METRICS_FILE)
    if metrics is None:
        metrics = pd.DataFrame(columns=["model", "target", "metric", "value", "n", "note", "part"])
    return TrainReport(
        output_dir=output_dir,
        split=card.get("split") or {},
        metrics=metrics,
        notes=[],
        predictions=read(PREDICTIONS_FILE),
        curve=read(FINETUNE_CURVE_FILE),
        cancelled=card.get("status") == "cancelled",
        task=str(card.get("task", "")),
        target_names=tuple(card.get("target_names") or card.get("target_columns") or ()),
        calibration=card.get("calibration") if isinstance(card.get("calibration"), dict) else None,
    )


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
    if report.cancelled:
        card["status"] = "cancelled"
    write_text_atomic(card_path, json.dumps(card, indent=2))


def train_from_file(
    path: str | os.PathLike,
    smiles_column: str | None,
    target_columns: list[str] | tuple[str, ...],
    task: str,
    output_dir: str | os.PathLike,
    settings: TrainSettings | None = None,
    pretrained_dir: str | os.PathLike | None = None,
    *,
    device: str | None = None,
    on_epoch: EpochCallback | None = None,
    report_partial: Callable[[EpochPoint], None] | None = None,
    keep_on_cancel: bool = False,
    units: str = "auto",
    progress: ProgressCallback = no_progress,
    is_cancelled: CancelCheck | None = None,
) -> TrainReport:
    """Engine job: read and validate the assay table (``load_assay_table``; ``units`` says what
    a regression target's bare numbers are, as the form's "Values are" chooser), then
    :func:`train_and_evaluate` (each finished epoch goes to ``report_partial`` as an
    :class:`EpochPoint`). Bad input raises ``ValueError`` naming the file and column."""
    from core.models.datasets import load_assay_table

    progress(-1.0, f"Reading {Path(path).name}")
    dataset = load_assay_table(
        path, smiles_column, list(target_columns), task, units=units, is_cancelled=is_cancelled
    )
    report = train_and_evaluate(
        dataset,
        output_dir,
        settings,
        pretrained_dir,
        device=device,
        on_epoch=on_epoch,
        report_partial=report_partial,
        keep_on_cancel=keep_on_cancel,
        progress=progress,
        is_cancelled=is_cancelled,
    )
    report.notes[:0] = [dataset.summary()]
    return report
