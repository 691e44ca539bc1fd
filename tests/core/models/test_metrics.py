"""Metrics equal scikit-learn's and SciPy's, skip missing labels, and never crash on one class."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from core.models.metrics import compare, evaluate

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0], dtype=float)
P = np.array([0.1, 0.6, 0.7, 0.4, 0.2, 0.9, 0.3, 0.55, 0.8, 0.45])


def _value(table, metric, target=None):
    rows = table[table.metric == metric]
    if target is not None:
        rows = rows[rows.target == target]
    assert len(rows) == 1
    return rows.value.iloc[0]


def test_classification_equals_sklearn():
    table = evaluate(Y, P, "classification", ["active"])
    assert list(table.columns) == ["model", "target", "metric", "value", "n", "note"]
    assert _value(table, "roc_auc") == pytest.approx(roc_auc_score(Y, P))
    assert _value(table, "pr_auc") == pytest.approx(average_precision_score(Y, P))
    assert _value(table, "accuracy") == pytest.approx(accuracy_score(Y, P >= 0.5))
    assert (table.n == 10).all() and (table.note == "").all()


def test_regression_equals_sklearn_and_scipy():
    y = np.array([1.0, 2.5, 3.0, 4.2, 5.1, 6.0])
    p = np.array([1.2, 2.0, 3.3, 4.0, 5.5, 5.7])
    table = evaluate(y, p, "regression")
    assert _value(table, "rmse") == pytest.approx(np.sqrt(mean_squared_error(y, p)))
    assert _value(table, "mae") == pytest.approx(mean_absolute_error(y, p))
    assert _value(table, "r2") == pytest.approx(r2_score(y, p))
    assert _value(table, "spearman") == pytest.approx(spearmanr(y, p).statistic)


def test_missing_labels_and_missing_predictions_are_left_out():
    y = np.column_stack([Y, Y[::-1]])
    p = np.column_stack([P, P])
    y[:2, 0] = np.nan
    p[9, 1] = np.nan
    table = evaluate(y, p, "classification", ["a", "b"])
    assert _value(table, "roc_auc", "a") == pytest.approx(roc_auc_score(Y[2:], P[2:]))
    assert _value(table, "roc_auc", "b") == pytest.approx(roc_auc_score(Y[::-1][:9], P[:9]))
    b = table[table.target == "b"]
    assert (b.n == 9).all()
    assert b.note.str.contains("1 labelled rows without a prediction").all()


def test_one_class_gives_nan_with_a_reason():
    y = np.column_stack([np.ones(5), [0, 1, 0, 1, 1]])
    p = np.full((5, 2), 0.7)
    table = evaluate(y, p, "classification", ["only_ones", "ok"])
    auc = table[(table.target == "only_ones") & (table.metric == "roc_auc")].iloc[0]
    assert np.isnan(auc.value) and "only class 1" in auc.note
    assert _value(table, "accuracy", "only_ones") == 1.0  # still defined
    assert _value(table, "roc_auc", "ok") == 0.5
    constant = evaluate([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], "regression")
    spearman = constant[constant.metric == "spearman"].iloc[0]
    assert np.isnan(spearman.value) and "constant" in spearman.note


def test_compare_puts_models_side_by_side():
    y = np.column_stack([Y, Y[::-1]])
    models = {"transformer": np.column_stack([P, P]), "rf_ecfp4": np.column_stack([P[::-1], P])}
    table = compare(models, y, "classification", ["a", "b"])
    wide = table.pivot_table(index=["target", "metric"], columns="model", values="value")
    assert set(wide.columns) == {"transformer", "rf_ecfp4"}
    mean = wide.loc[("mean", "roc_auc"), "transformer"]
    assert mean == pytest.approx((roc_auc_score(Y, P) + roc_auc_score(Y[::-1], P)) / 2)
    assert len(table) == 2 * (2 + 1) * 3  # models × (targets + mean) × metrics


def test_errors():
    with pytest.raises(ValueError, match="task must be"):
        evaluate(Y, P, "ranking")
    with pytest.raises(ValueError, match="shape"):
        evaluate(Y, P[:5], "classification")
    with pytest.raises(ValueError, match="must be 0 or 1"):
        evaluate(Y * 2, P, "classification")
