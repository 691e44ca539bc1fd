"""The Models area's calibration plot (Plots tab): nominal against observed interval coverage on
the test part for regression, reliability curves for a classifier, labelled axes, a note with
the measured 90 % coverage and its band, "no calibration" for older models, and it fits the
panel's screen budget beside the other plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.engine import InferenceEngine
from core.models.calibration import binomial_band
from core.models.training import TrainReport
from ui.models_area.panel import ModelsPanel
from ui.models_area.plots import EvaluationPlots

BUDGET_WIDTH, BUDGET_HEIGHT = 800, 540  # as tests/ui/models_area/test_models_panel.py


def _predictions(task: str, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    measured = (
        rng.integers(0, 2, n).astype(float) if task == "classification" else rng.normal(6, 1, n)
    )
    predicted = (
        rng.uniform(0, 1, n) if task == "classification" else measured + rng.normal(0, 0.5, n)
    )
    return pd.DataFrame(
        {"part": "test", "row": np.arange(n), "smiles": "CCO", "target": "y", "measured": measured,
         "model": "transformer", "predicted": predicted, "std": 0.0}
    )  # fmt: skip


def _calibration(task: str, n: int = 40) -> dict:
    band = list(binomial_band(0.9, n))
    if task == "regression":
        test = {"n": n, "nominal": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
                "observed": [0.45, 0.55, 0.7, 0.775, 0.875, 0.95], "mean_width": [1] * 6,
                "coverage_at_default": 0.875, "band": band}  # fmt: skip
    else:
        curve = {"predicted": [0.1, 0.5, 0.9], "observed": [0.2, 0.5, 0.7], "count": [10, 20, 10]}
        test = {"n": n, "coverage_at_default": 0.9, "band": band, "both_classes": 0.5,
                "reliability": {"uncalibrated": {**curve, "brier": 0.3},
                                "calibrated": {**curve, "brier": 0.2}}}  # fmt: skip
    return {"source": "crossfit", "method": "cross-fitted", "folds": 3, "fold_kind": "random",
            "n": 100, "targets": {"y": {"task": task, "n": 100, "scores": [0.1], "test": test}}}  # fmt: skip


def _labels(plots: EvaluationPlots) -> tuple[str, str]:
    item = plots.calibration_plot.getPlotItem()
    return item.getAxis("bottom").labelText, item.getAxis("left").labelText


def test_regression_shows_nominal_against_observed_coverage(qtbot):
    plots = EvaluationPlots()
    qtbot.addWidget(plots)
    plots.set_predictions(_predictions("regression"), "regression", _calibration("regression"))
    assert plots.calibration_count() == 1
    (line,) = [i for i in plots.calibration_plot.getPlotItem().listDataItems() if i.name()]
    x, y = line.getData()
    np.testing.assert_allclose(x, [50, 60, 70, 80, 90, 95])
    np.testing.assert_allclose(y, [45, 55, 70, 77.5, 87.5, 95])
    bottom, left = _labels(plots)
    assert "nominal" in bottom and "(%)" in bottom
    assert "observed" in left and "(%)" in left
    low, high = binomial_band(0.9, 40)
    assert f"the 90% interval held 88% of 40 (expected {low:.0%}–{high:.0%})" in plots.note.text()


def test_classification_shows_reliability_before_and_after_calibration(qtbot):
    plots = EvaluationPlots()
    qtbot.addWidget(plots)
    plots.set_predictions(
        _predictions("classification"), "classification", _calibration("classification")
    )
    assert plots.calibration_count() == 2
    bottom, left = _labels(plots)
    assert bottom == "predicted probability"
    assert left == "observed share of class 1"
    assert "prediction set held 90%" in plots.note.text()


def test_a_model_without_calibration_says_so(qtbot):
    plots = EvaluationPlots()
    qtbot.addWidget(plots)
    plots.set_predictions(_predictions("regression"), "regression", None)
    assert plots.calibration_count() == 0
    title = plots.calibration_plot.getPlotItem().titleLabel.text
    assert "No calibration stored" in title
    assert "no calibration stored with this model" in plots.note.text()


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine(device_preference="cpu")
    engine.start()
    yield engine
    assert engine.stop(10_000)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_plots_tab_fits_the_screen_budget_with_the_calibration_plot(
    qtbot, engine, make_area_context, tmp_path, task
):
    panel = ModelsPanel(make_area_context(engine))
    qtbot.addWidget(panel)
    panel.resize(BUDGET_WIDTH, BUDGET_HEIGHT)
    panel.show()
    qtbot.waitExposed(panel)
    # A model selected at start is read in the engine: let that land before showing ours.
    qtbot.waitUntil(lambda: panel._report_job is None, timeout=20_000)
    metrics = pd.DataFrame(columns=["model", "target", "metric", "value", "n", "note", "part"])
    report = TrainReport(
        tmp_path, {"kind": "random"}, metrics, predictions=_predictions(task), task=task,
        target_names=("y",), calibration=_calibration(task),
    )  # fmt: skip
    panel._show_report(report, tmp_path)
    panel.tabs.setCurrentWidget(panel.plots)
    qtbot.wait(20)
    hint = panel.minimumSizeHint()
    assert hint.width() <= BUDGET_WIDTH and hint.height() <= BUDGET_HEIGHT
    plot = panel.plots.calibration_plot
    assert plot.isVisible()
    assert plot.width() >= 120 and plot.height() >= 160
    assert panel.plots.calibration_count() == (2 if task == "classification" else 1)
