"""Evaluation metrics per task, with missing labels, as tidy tables.

Each metric is computed on the rows that have both a label and a prediction. A metric that cannot
be computed (a test part with one class only, a constant prediction for Spearman, fewer than two
rows) is NaN with the reason in ``note``, never an exception: one degenerate task must not hide the
others' results.

Tidy columns: ``model, target, metric, value, n, note`` (``n``: rows used).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

CLASSIFICATION_METRICS = ("roc_auc", "pr_auc", "accuracy")
REGRESSION_METRICS = ("rmse", "mae", "r2", "spearman")
COLUMNS = ["model", "target", "metric", "value", "n", "note"]

MetricFn = Callable[[np.ndarray, np.ndarray], tuple[float, str]]
"""``fn(y_true, y_pred) -> (value, note)``; ``note`` is ``""`` unless the value is NaN."""


def _roc_auc(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return np.nan, f"only class {int(y[0])} among the labelled rows"
    return float(roc_auc_score(y, p)), ""


def _pr_auc(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    from sklearn.metrics import average_precision_score

    if len(np.unique(y)) < 2:
        return np.nan, f"only class {int(y[0])} among the labelled rows"
    return float(average_precision_score(y, p)), ""


def _accuracy(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    return float(np.mean((p >= 0.5) == (y == 1))), ""


def _rmse(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    return float(np.sqrt(np.mean((y - p) ** 2))), ""


def _mae(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    return float(np.mean(np.abs(y - p))), ""


def _r2(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    if len(y) < 2 or np.all(y == y[0]):
        return np.nan, "the labels are constant"
    return float(1.0 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)), ""


def _spearman(y: np.ndarray, p: np.ndarray) -> tuple[float, str]:
    from scipy.stats import spearmanr

    if len(y) < 2:
        return np.nan, "fewer than 2 rows"
    if np.all(y == y[0]) or np.all(p == p[0]):
        return np.nan, "labels or predictions are constant"
    return float(spearmanr(y, p).statistic), ""


METRICS: dict[str, dict[str, MetricFn]] = {
    "classification": {"roc_auc": _roc_auc, "pr_auc": _pr_auc, "accuracy": _accuracy},
    "regression": {"rmse": _rmse, "mae": _mae, "r2": _r2, "spearman": _spearman},
}


def _as_matrix(values: np.ndarray | Sequence, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{what} must be 1-D or 2-D, got shape {array.shape}")
    return array


def evaluate(
    y_true: np.ndarray | Sequence,
    y_pred: np.ndarray | Sequence,
    task: str,
    target_names: Sequence[str] | None = None,
    model: str = "model",
) -> pd.DataFrame:
    """Every metric of ``task`` for every target, as a tidy DataFrame (see the module docstring).

    Parameters
    ----------
    y_true, y_pred
        ``n`` or ``n × T`` arrays; NaN in ``y_true`` is a missing label, NaN in ``y_pred`` a
        molecule the model could not score (both left out, the latter counted in ``note``).
        Classification labels are 0/1 and predictions probabilities of class 1.
    task
        ``"classification"`` (ROC-AUC, PR-AUC as average precision, accuracy at 0.5) or
        ``"regression"`` (RMSE, MAE, R², Spearman).

    Raises
    ------
    ValueError
        Unknown task, shapes that do not match, or classification labels other than 0/1.
    """
    if task not in METRICS:
        raise ValueError(f"task must be one of {tuple(METRICS)}, got {task!r}")
    y = _as_matrix(y_true, "y_true")
    p = _as_matrix(y_pred, "y_pred")
    if y.shape != p.shape:
        raise ValueError(f"y_true has shape {y.shape} but y_pred {p.shape}")
    names = (
        list(target_names) if target_names is not None else [f"task{t}" for t in range(y.shape[1])]
    )
    if len(names) != y.shape[1]:
        raise ValueError(f"{len(names)} target names for {y.shape[1]} targets")
    rows = []
    for t, name in enumerate(names):
        labelled = ~np.isnan(y[:, t])
        unscored = int((labelled & np.isnan(p[:, t])).sum())
        keep = labelled & ~np.isnan(p[:, t])
        yt, pt = y[keep, t], p[keep, t]
        if task == "classification" and not np.isin(yt, (0.0, 1.0)).all():
            raise ValueError(f"target {name!r}: classification labels must be 0 or 1")
        for metric, fn in METRICS[task].items():
            if len(yt) == 0:
                value, note = np.nan, "no labelled rows with a prediction"
            else:
                value, note = fn(yt, pt)
            if unscored:
                extra = f"{unscored} labelled rows without a prediction left out"
                note = f"{note}; {extra}" if note else extra
            rows.append((model, name, metric, value, len(yt), note))
    return pd.DataFrame(rows, columns=COLUMNS)


def compare(
    predictions: Mapping[str, np.ndarray | Sequence],
    y_true: np.ndarray | Sequence,
    task: str,
    target_names: Sequence[str] | None = None,
    add_mean: bool = True,
) -> pd.DataFrame:
    """Several models' predictions on the same rows, side by side as one tidy DataFrame.

    Parameters
    ----------
    predictions
        ``{"transformer": p1, "rf_ecfp4": p2, "ensemble": p3}``, each shaped like ``y_true``.
    add_mean
        Also add, per model and metric, a row with ``target="mean"``: the mean over targets whose
        value is not NaN (``n`` is then the number of targets averaged), as MoleculeNet reports
        multi-task sets such as ClinTox.

    Examples
    --------
    ``compare(...).pivot_table(index=["target", "metric"], columns="model", values="value")``
    gives the wide table to print.
    """
    frames = [
        evaluate(y_true, p, task, target_names, model=name) for name, p in predictions.items()
    ]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(frames, ignore_index=True)
    if add_mean and table["target"].nunique() > 1:
        means = []
        for (model, metric), group in table.groupby(["model", "metric"], sort=False):
            values = group["value"].dropna()
            note = "" if len(values) else "no target has a value"
            mean = float(values.mean()) if len(values) else np.nan
            means.append((model, "mean", metric, mean, len(values), note))
        table = pd.concat([table, pd.DataFrame(means, columns=COLUMNS)], ignore_index=True)
    return table


def roc_points(y_true: np.ndarray | Sequence, score: np.ndarray | Sequence) -> tuple:
    """ROC curve ``(false positive rate, true positive rate, AUC)`` of one target, labelled rows
    only; ``None`` when fewer than two classes are labelled."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, p = _labelled(y_true, score)
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, _ = roc_curve(y, p)
    return fpr, tpr, float(roc_auc_score(y, p))


def pr_points(y_true: np.ndarray | Sequence, score: np.ndarray | Sequence) -> tuple:
    """Precision-recall curve ``(recall, precision, average precision)`` of one target, labelled
    rows only; ``None`` when fewer than two classes are labelled."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, p = _labelled(y_true, score)
    if len(np.unique(y)) < 2:
        return None
    precision, recall, _ = precision_recall_curve(y, p)
    return recall, precision, float(average_precision_score(y, p))


def _labelled(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(score, dtype=float)
    keep = ~np.isnan(y) & ~np.isnan(p)
    return y[keep], p[keep]


def positive_rates(y_train: np.ndarray | Sequence) -> list[float | None]:
    """The share of class 1 among each target's labelled training rows (``None`` for a target
    without labels): the card's ``train_positive_rate``, the reference a classifier's
    explanation is read against (:func:`core.models.explain.model_reference`)."""
    y = _as_matrix(y_train, "training labels")
    rates: list[float | None] = []
    for column in y.T:
        known = column[~np.isnan(column)]
        rates.append(float(known.mean()) if known.size else None)
    return rates
