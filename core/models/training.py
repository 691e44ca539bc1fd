"""Train a model on assay data and evaluate it honestly: the transformer, chemprop's D-MPNN and
the random-forest baseline on the same split, the predictor chosen on the validation part only
(:mod:`core.models.families`), metrics on held-out molecules only.

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
    """Also train the random forest on ECFP4 on the same split and report it side by side
    (``False`` leaves ``rf`` out of ``families``)."""
    families: tuple[str, ...] = ("transformer", "rf")
    """Model families fitted on the same split and chosen among on the validation part
    (:mod:`core.models.families`): ``transformer`` (always), ``dmpnn``, ``rf``. ``train`` and the
    Models area ask for all three (``families.DEFAULT_FAMILIES``); the library default keeps the
    two families trained before the D-MPNN was wired in."""
    dmpnn_epochs: int = 50
    """Most epochs of each D-MPNN member (it stops early on the validation loss)."""
    dmpnn_descriptors: bool = False
    """Give the D-MPNN RDKit 2D descriptors too (about 0.1 s per molecule to compute)."""
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
    choice: object | None = None
    """The chosen predictor (a ``core.models.families.FamilyChoice``), ``None`` when cancelled
    or read from a folder trained before families were compared."""

    def as_json(self) -> dict:
        """``{"valid": {model: {metric: value}}, "test": {...}, "split": {...}}`` (target means)."""
        summary: dict = {"split": self.split, "notes": self.notes}
        if self.choice is not None:
            summary["chosen"] = self.choice.as_card()
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
    from core.models.families import parse_families
    from core.models.metrics import evaluate
    from core.models.transformer import FinetuneOptions, finetune, predict

    settings = settings or TrainSettings()
    families = parse_families(settings.families)
    fit_rf = settings.baseline and "rf" in families
    fit_dmpnn = "dmpnn" in families
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
    # Progress: the transformer first, then the D-MPNN (0.2), the forest (0.15), the rest.
    rf_start = 0.8 if fit_rf else 0.95
    dmpnn_start = rf_start - 0.2 if fit_dmpnn else rf_start
    fit_end = dmpnn_start
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
    # Each family's (mean, std or None) by part, for the choice and the chosen predictor.
    family_predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {
        "valid": {},
        "test": {},
    }
    for part_name, rows in (("valid", split.valid), ("test", split.test)):
        prediction = predict(result.model, list(smiles[rows]), device=device)
        family_predictions[part_name]["transformer"] = (
            prediction.mean,
            prediction.std if len(result.model.members) > 1 else None,
        )
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
    if fit_dmpnn and not cancelled:
        try:
            dmpnn_frames = _fit_dmpnn(
                dataset,
                split,
                split_info,
                output_dir,
                settings,
                device,
                part(dmpnn_start, rf_start),
                is_cancelled,
            )
        except JobCancelled:
            if not keep_on_cancel:
                raise
            cancelled = True
            notes.append("Cancelled while fitting the D-MPNN: the transformer is kept, no D-MPNN.")
        except ValueError as exc:
            # The D-MPNN refused the data (e.g. no readable molecule for its featurizer): the
            # other families still stand, and the report says why this one is missing.
            notes.append(f"No D-MPNN: {exc}.")
        else:
            for part_name, (mean, std, spread) in dmpnn_frames.items():
                rows = getattr(split, part_name)
                predicted.append(_tidy_predictions(dataset, part_name, rows, "dmpnn", mean, std))
                frame = evaluate(
                    dataset.targets[rows], mean, dataset.task, dataset.target_names, "dmpnn"
                )
                frames.append(frame.assign(part=part_name))
                family_predictions[part_name]["dmpnn"] = (mean, std if spread else None)
    baseline = None
    if fit_rf and not cancelled:
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
            family_predictions[part_name]["rf"] = (prediction.mean, prediction.std)
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
    choice = None
    if not cancelled:
        choice, chosen_frames = _choose(dataset, split, family_predictions, evaluate)
        for part_name, (prediction_rows, metric_rows) in chosen_frames.items():
            predicted.append(prediction_rows)
            frames.append(metric_rows.assign(part=part_name))
        if len(family_predictions["valid"]) > 1:
            notes.append(f"Chosen predictor: {_choice_line(choice)}.")
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
    if choice is not None and not choice.is_transformer_only and not cancelled:
        # The calibration must describe what predicts: the chosen family or mix.
        source, folds, calibration_note = _chosen_calibration_plan(
            dataset, split, settings, choice, source, folds
        )
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
                choice=choice,
                members={"transformer": len(result.model.members), "dmpnn": settings.n_models},
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
        choice=choice,
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
    *,
    choice: object | None = None,
    members: dict[str, int] | None = None,
    given: dict[str, tuple[np.ndarray, np.ndarray | None]] | None = None,
    method: str | None = None,
) -> dict | None:
    """Predict every training-part row out of fold, fit the calibration on those predictions,
    measure it on the test part and store it (card ``calibration``, ``calibration_predictions.csv``).
    Returns the stored summary (``None`` when the folder has no card).

    With a ``choice`` other than the transformer alone (``core.models.families.FamilyChoice``),
    the calibration describes the chosen predictor: ``chosen_oof`` is the weighted mean of the
    chosen families' own out-of-fold predictions, ``rf_proxy`` the forest's standing in for it
    (see :func:`_chosen_calibration_plan`), and the test check uses the chosen predictor's rows.

    Regression intervals are scaled per molecule (``core.models.calibration_store``) when the
    out-of-fold predictions have the chosen predictor's spread as a new molecule's is computed:
    the forest's trees and the families' disagreement are out of fold; a family that predicts
    with several networks (``members``: each family's count at prediction time) has no
    out-of-fold spread, so then the width is constant, as it is for ``rf_proxy``.

    ``given``: out-of-fold ``(mean, std or None)`` of the training rows for some families,
    made by the caller (an update's refits); ``method`` replaces the card's method text."""
    from core.models.calibration_store import (
        METHODS,
        OOF_FILE,
        evaluate_calibration,
        fit_calibration,
        store_calibration,
    )
    from core.models.families import CHOSEN_MODEL, combine

    if not (output_dir / "card.json").is_file():
        return None
    smiles = np.asarray(dataset.smiles, dtype=object)
    n_folds = int(folds.max()) + 1
    train = np.asarray(split.train, dtype=np.int64)

    def forest_oof() -> tuple[np.ndarray, np.ndarray]:
        from core.models.baselines import fit_baseline, predict_baseline
        from core.models.calibration_store import PROXY_TREES

        oof = np.full((len(train), len(dataset.target_names)), np.nan)
        spread = np.full_like(oof, np.nan)
        for k in range(n_folds):
            check_cancelled(is_cancelled)
            fitted = fit_baseline(
                list(smiles[train[folds != k]]),
                dataset.targets[train[folds != k]],
                dataset.task,
                target_names=list(dataset.target_names),
                n_trees=min(settings.n_trees, PROXY_TREES),
                # As the baseline is fitted, so that a chosen forest's OOF is its own.
                class_weight="balanced" if dataset.task == "classification" else None,
                seed=settings.seed,
                is_cancelled=is_cancelled,
            )
            # The trees never saw fold k: their spread there is a new molecule's spread.
            result = predict_baseline(fitted, list(smiles[train[folds == k]]))
            oof[folds == k], spread[folds == k] = result.mean, result.std
        return oof, spread

    def transformer_oof() -> np.ndarray:
        from core.models.transformer import LoadedModel, predict

        oof = np.full((len(train), len(dataset.target_names)), np.nan)
        for k, member in enumerate(model.members):
            # Only the member that left fold k out predicts it.
            single = LoadedModel(model.kind, model.tokenizer, model.config, model.card, [member],
                                 model.device)  # fmt: skip
            rows = train[folds == k]
            if len(rows):
                oof[folds == k] = predict(
                    single, list(smiles[rows]), device=device, is_cancelled=is_cancelled
                ).mean
        return oof

    def family_oof(family: str) -> tuple[np.ndarray, np.ndarray | None]:
        if given and family in given:
            return given[family]
        if family == "rf":
            return forest_oof()
        if family == "transformer":
            return transformer_oof(), None
        raise ValueError(f"no out-of-fold predictions of the {family} to calibrate with")

    mixed = choice is not None and not choice.is_transformer_only
    oof_std = None
    if source == "rf_proxy":
        oof = forest_oof()[0]  # a proxy: its spread is not the predictor's (constant width)
    else:
        families, weights = (
            (choice.families, choice.weights) if mixed else (("transformer",), (1.0,))
        )
        parts = [family_oof(family) for family in families]
        oof, spread = combine([p[0] for p in parts], [p[1] for p in parts], weights)
        counts = members or {}
        # The spread at prediction time is the same recipe only where every family's own spread
        # is out of fold here (the forest's) or absent there (a single network).
        same_recipe = all(
            std is not None or counts.get(family, 1) <= 1
            for family, (_, std) in zip(families, parts, strict=True)
        )
        has_spread = len(families) > 1 or any(std is not None for _, std in parts)
        if dataset.task == "regression" and same_recipe and has_spread:
            oof_std = spread
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
                    **({"std": oof_std[:, t]} if oof_std is not None else {}),
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
        source=source if source in METHODS else "refit",
        folds=n_folds,
        fold_kind="scaffold" if settings.split.startswith("scaffold") else "random",
    )
    if mixed:
        summary["source"] = source
        summary["predictor"] = choice.describe()
        summary["method"] = _CHOSEN_METHODS[source].format(predictor=choice.describe())
    if method:
        summary["method"] = method
    test_model = CHOSEN_MODEL if mixed else "transformer"
    test = predictions[(predictions["part"] == "test") & (predictions["model"] == test_model)]
    evaluate_calibration(summary, test)
    store_calibration(output_dir, summary)
    _write_csv(frame, output_dir / OOF_FILE)
    return summary


_CHOSEN_METHODS = {
    "chosen_oof": (
        "out-of-fold predictions of the chosen predictor ({predictor}) on the training part: "
        "each family's refits or cross-fitted members left fold k out, combined with the chosen "
        "weights"
    ),
    "rf_proxy": (
        "random-forest out-of-fold residuals on the training part, standing in for the chosen "
        "predictor's ({predictor}; a proxy: see the measured test coverage)"
    ),
}


def _chosen_calibration_plan(
    dataset: AssayDataset,
    split: Split,
    settings: TrainSettings,
    choice: object,
    source: str | None,
    folds: np.ndarray | None,
) -> tuple[str | None, np.ndarray | None, str]:
    """How to calibrate a chosen predictor other than the transformer alone: ``(source, folds,
    note)``.

    The forest's out-of-fold predictions are cheap (five forests), the transformer's exist only
    when it was cross-fitted or refitted for calibration, the D-MPNN's never (that would cost K
    more D-MPNN fits). When every chosen family has them, the calibration is the chosen
    predictor's own (``chosen_oof``); otherwise a regression falls back on the forest's residuals
    as a stated proxy, and a classifier gets no calibration (a forest's probabilities say nothing
    about another model's)."""
    from core.models.calibration_store import DEFAULT_FOLDS, assign_folds

    have = {"rf"} | ({"transformer"} if source in ("crossfit", "refit") else set())
    if set(choice.families) <= have:
        plan = "chosen_oof"
    elif dataset.task == "regression":
        plan = "rf_proxy"
    else:
        return (
            None,
            folds,
            f"No calibration: the chosen predictor ({choice.describe()}) has no out-of-fold "
            "probabilities on the training part (the D-MPNN is not refitted for that).",
        )
    if folds is None:
        smiles = np.asarray(dataset.smiles, dtype=object)
        try:
            folds = assign_folds(
                smiles[split.train],
                DEFAULT_FOLDS,
                by_scaffold=settings.split.startswith("scaffold"),
                seed=settings.seed,
            )
        except ValueError as exc:
            return None, None, f"No calibration: {exc}."
    return plan, folds, ""


def _fit_dmpnn(
    dataset: AssayDataset,
    split: Split,
    split_info: dict,
    output_dir: Path,
    settings: TrainSettings,
    device: str | None,
    progress: ProgressCallback,
    is_cancelled: CancelCheck | None,
) -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
    """Train the D-MPNN on the same train part (early stopping on the same valid part) into
    ``<output_dir>/dmpnn/`` and predict the valid and test parts: ``{part: (mean, std,
    spread)}`` (``spread``: an ensemble of more than one member)."""
    from core.models.dmpnn import DmpnnOptions, predict_dmpnn, train_dmpnn
    from core.models.families import FAMILY_FOLDERS

    smiles = np.asarray(dataset.smiles, dtype=object)
    folder = output_dir / FAMILY_FOLDERS["dmpnn"]
    options = DmpnnOptions(n_models=settings.n_models)
    train_dmpnn(
        list(smiles[split.train]),
        dataset.targets[split.train],
        list(smiles[split.valid]),
        dataset.targets[split.valid],
        dataset.task,
        output_dir=folder,
        descriptors=settings.dmpnn_descriptors,
        epochs=settings.dmpnn_epochs,
        seed=settings.seed,
        options=options,
        target_names=list(dataset.target_names),
        smiles_column=dataset.smiles_column,
        split=split_info,
        name=f"{output_dir.name}-dmpnn",
        data_hash=dataset.data_hash,
        device=device,
        progress=lambda f, m="": progress(0.9 * f if f >= 0 else f, m),
        is_cancelled=is_cancelled,
    )
    out = {}
    for part_name in ("valid", "test"):
        rows = getattr(split, part_name)
        prediction = predict_dmpnn(
            folder, list(smiles[rows]), device=device, is_cancelled=is_cancelled
        )
        out[part_name] = (prediction.mean, prediction.std, options.n_models > 1)
    progress(1.0, "D-MPNN trained")
    return out


def _choose(
    dataset: AssayDataset,
    split: Split,
    family_predictions: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]],
    evaluate: Callable,
) -> tuple[object, dict[str, tuple[pd.DataFrame, pd.DataFrame]]]:
    """Choose on the valid part only; the chosen predictor's tidy predictions and metrics by
    part (none when a single family was fitted: it is the chosen one, already reported)."""
    from core.models.families import CHOSEN_MODEL, choose_families, combine

    valid = {family: mean for family, (mean, _) in family_predictions["valid"].items()}
    choice = choose_families(valid, dataset.targets[split.valid], dataset.task)
    out: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    if len(valid) == 1:
        return choice, out
    for part_name in ("valid", "test"):
        rows = getattr(split, part_name)
        parts = family_predictions[part_name]
        mean, std = combine(
            [parts[f][0] for f in choice.families],
            [parts[f][1] for f in choice.families],
            choice.weights,
        )
        out[part_name] = (
            _tidy_predictions(dataset, part_name, rows, CHOSEN_MODEL, mean, std),
            evaluate(dataset.targets[rows], mean, dataset.task, dataset.target_names, CHOSEN_MODEL),
        )
    return choice, out


def _choice_line(choice: object) -> str:
    return f"{choice.describe()}, chosen on the validation part ({choice.why})"


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
        choice=_read_choice(output_dir, card),
    )


def _read_choice(output_dir: Path, card: dict) -> object | None:
    from core.models.families import load_choice

    try:
        return load_choice(output_dir, card)
    except ValueError:
        return None  # shown as "no choice" in a report; predict refuses it with the reason


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
    if report.choice is not None:
        card["chosen"] = report.choice.as_card()
        # What explanations show by default (core.models.explain.default_family).
        card["family"] = report.choice.main_family
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
