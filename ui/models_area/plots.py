"""pyqtgraph views of the Models panel: live training curves and held-out evaluation plots.

They only draw what they are given (numbers computed in ``core``); nothing here trains or reads
files.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

MODEL_COLOURS = {"transformer": (31, 119, 180), "rf_ecfp4": (255, 127, 14)}
MODEL_TITLES = {"transformer": "SMILES transformer", "rf_ecfp4": "Random forest (ECFP4)"}
MEMBER_COLOURS = [
    (31, 119, 180),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
]


def _plot(title: str, x_label: str, y_label: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, color="#333", size="10pt")
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    for axis in ("left", "bottom"):
        item.getAxis(axis).enableAutoSIPrefix(False)
    item.addLegend(offset=(-10, 10))
    widget.setMinimumHeight(160)
    return widget


class TrainingCurves(QWidget):
    """Training loss and validation metric per epoch, one line per ensemble member."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Training loss", "epoch", "loss")
        self.metric_plot = _plot("Validation metric", "epoch", "")
        self.hint = QLabel("Train a model to watch its learning curves here.")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.metric_plot, 1)
        self._points: dict[int, list[tuple[int, float, float]]] = {}
        self._items: dict[int, tuple] = {}

    def clear(self, metric_name: str = "") -> None:
        self.loss_plot.clear()
        self.metric_plot.clear()
        self._points.clear()
        self._items.clear()
        self.set_metric_name(metric_name)

    def set_metric_name(self, metric_name: str) -> None:
        self.metric_plot.getPlotItem().setLabel("left", metric_name)
        self.metric_plot.getPlotItem().setTitle(
            f"Validation {metric_name}" if metric_name else "Validation metric",
            color="#333",
            size="10pt",
        )

    def n_points(self) -> int:
        return sum(len(points) for points in self._points.values())

    def add_point(self, member: int, epoch: int, train_loss: float, valid_metric: float) -> None:
        points = self._points.setdefault(member, [])
        points.append((epoch, train_loss, valid_metric))
        if member not in self._items:
            colour = MEMBER_COLOURS[member % len(MEMBER_COLOURS)]
            pen = pg.mkPen(colour, width=2)
            name = f"model {member + 1}"
            self._items[member] = (
                self.loss_plot.plot([], [], pen=pen, symbol="o", symbolSize=5, name=name,
                                    symbolBrush=colour),
                self.metric_plot.plot([], [], pen=pen, symbol="o", symbolSize=5, name=name,
                                      symbolBrush=colour),
            )  # fmt: skip
        epochs = np.array([p[0] for p in points], dtype=float)
        losses = np.array([p[1] for p in points], dtype=float)
        metrics = np.array([p[2] for p in points], dtype=float)
        loss_item, metric_item = self._items[member]
        loss_item.setData(epochs, losses)
        finite = np.isfinite(metrics)
        metric_item.setData(epochs[finite], metrics[finite])
        self.hint.hide()

    def set_curve(self, curve: pd.DataFrame | None, metric_name: str) -> None:
        """Show a finished run's curve (``model_index, epoch, train_loss, valid_metric``)."""
        self.clear(metric_name)
        if curve is None or curve.empty:
            self.hint.setText("No learning curve was saved with this model.")
            self.hint.show()
            return
        for row in curve.itertuples(index=False):
            self.add_point(
                int(row.model_index), int(row.epoch), float(row.train_loss), float(row.valid_metric)
            )


CALIBRATION_COLOURS = {"uncalibrated": (127, 127, 127), "calibrated": (44, 160, 44)}
CALIBRATION_TITLES = {
    "observed": "Observed",
    "uncalibrated": "Model",
    "calibrated": "Calibrated",
}


class EvaluationPlots(QWidget):
    """ROC and precision-recall curves (classification) or predicted against measured
    (regression) on the held-out test molecules, per target, transformer against the baseline;
    and how well the model's stated uncertainty held on them (the calibration plot: nominal
    against observed interval coverage, or a reliability curve for a classifier)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target_combo = QComboBox()
        self.target_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.target_combo.setMinimumContentsLength(8)
        self.target_combo.currentIndexChanged.connect(self._redraw)
        self.note = QLabel("Held-out test molecules only.")
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Target:"))
        top.addWidget(self.target_combo, 1)
        self.roc_plot = _plot("ROC curve (test)", "false positive rate", "true positive rate")
        self.pr_plot = _plot("Precision-recall (test)", "recall", "precision")
        self.scatter_plot = _plot("Predicted against measured (test)", "measured", "predicted")
        self.calibration_plot = _plot("Calibration (test)", "", "")
        plots = QHBoxLayout()
        plots.addWidget(self.roc_plot, 1)
        plots.addWidget(self.pr_plot, 1)
        plots.addWidget(self.scatter_plot, 1)
        plots.addWidget(self.calibration_plot, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addLayout(plots, 1)
        self._predictions: pd.DataFrame | None = None
        self._task = ""
        self._calibration: dict | None = None
        self.set_predictions(None, "")

    def set_predictions(
        self, predictions: pd.DataFrame | None, task: str, calibration: dict | None = None
    ) -> None:
        """Show a report's tidy held-out predictions and its card's ``calibration`` (``None``:
        the model stores none, and the calibration plot says so)."""
        self._calibration = calibration if isinstance(calibration, dict) else None
        self._predictions = None
        if predictions is not None and not predictions.empty:
            self._predictions = predictions[predictions["part"] == "test"]
        self._task = task
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        if self._predictions is not None:
            self.target_combo.addItems(list(dict.fromkeys(self._predictions["target"])))
        self.target_combo.blockSignals(False)
        self.target_combo.setEnabled(self.target_combo.count() > 1)
        classification = task == "classification"
        self.roc_plot.setVisible(classification)
        self.pr_plot.setVisible(classification)
        self.scatter_plot.setVisible(not classification)
        self._redraw()

    def curve_count(self) -> int:
        """Lines and scatters drawn (for tests)."""
        plots = (self.roc_plot, self.pr_plot, self.scatter_plot)
        return sum(
            1
            for plot in plots
            for item in plot.getPlotItem().listDataItems()
            if item.name() in MODEL_TITLES.values()
        )

    def calibration_count(self) -> int:
        """Curves drawn on the calibration plot, the diagonal left out (for tests)."""
        names = set(CALIBRATION_TITLES.values())
        items = self.calibration_plot.getPlotItem().listDataItems()
        return sum(1 for item in items if item.name() in names)

    def _redraw(self) -> None:
        from core.models.metrics import pr_points, roc_points

        for plot in (self.roc_plot, self.pr_plot, self.scatter_plot, self.calibration_plot):
            plot.clear()
        if self._predictions is None or not self.target_combo.count():
            self.note.setText("Train or select a model to see its held-out test predictions.")
            self._set_calibration_title("Calibration (test)")
            return
        target = self.target_combo.currentText()
        calibration_note = self._draw_calibration(target)
        rows = self._predictions[self._predictions["target"] == target]
        notes = []
        if self._task == "classification":
            diagonal = pg.mkPen((160, 160, 160), width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
            self.roc_plot.plot([0, 1], [0, 1], pen=diagonal)
            for model, group in rows.groupby("model", sort=False):
                pen = pg.mkPen(MODEL_COLOURS.get(model, (90, 90, 90)), width=2)
                title = MODEL_TITLES.get(model, model)
                roc = roc_points(group["measured"], group["predicted"])
                pr = pr_points(group["measured"], group["predicted"])
                if roc is None or pr is None:
                    notes.append(f"{title}: the test part holds one class only")
                    continue
                self.roc_plot.plot(roc[0], roc[1], pen=pen, name=title)
                self.pr_plot.plot(pr[0], pr[1], pen=pen, name=title)
                notes.append(f"{title}: ROC-AUC {roc[2]:.3f}, PR-AUC {pr[2]:.3f}")
            n = int(rows[rows["model"] == rows["model"].iloc[0]]["measured"].notna().sum())
        else:
            low, high = math.inf, -math.inf
            for model, group in rows.groupby("model", sort=False):
                known = group.dropna(subset=["measured", "predicted"])
                colour = MODEL_COLOURS.get(model, (90, 90, 90))
                title = MODEL_TITLES.get(model, model)
                self.scatter_plot.plot(
                    known["measured"].to_numpy(float),
                    known["predicted"].to_numpy(float),
                    pen=None,
                    symbol="o",
                    symbolSize=7,
                    symbolBrush=(*colour, 170),
                    symbolPen=None,
                    name=title,
                )
                if len(known):
                    low = min(low, known["measured"].min(), known["predicted"].min())
                    high = max(high, known["measured"].max(), known["predicted"].max())
                    rmse = float(np.sqrt(np.mean((known["measured"] - known["predicted"]) ** 2)))
                    notes.append(f"{title}: RMSE {rmse:.3f}")
            if math.isfinite(low):
                line = pg.mkPen((160, 160, 160), width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
                self.scatter_plot.plot([low, high], [low, high], pen=line)
            # The target's own name (and so its unit, as the assay table gives it) on the axes.
            item = self.scatter_plot.getPlotItem()
            item.setLabel("bottom", f"measured {target}")
            item.setLabel("left", f"predicted {target}")
            n = int(rows[rows["model"] == rows["model"].iloc[0]]["measured"].notna().sum())
        if calibration_note:
            notes.append(calibration_note)
        self.note.setText(f"{n} held-out test molecules. " + "; ".join(notes))

    def _set_calibration_title(self, title: str) -> None:
        self.calibration_plot.getPlotItem().setTitle(title, color="#333", size="10pt")

    def _draw_calibration(self, target: str) -> str:
        """Draw the calibration of ``target`` (as measured on the test part at training time)
        and return a note for the line above the plots."""
        from core.models.calibration import binomial_band

        item = self.calibration_plot.getPlotItem()
        entry = ((self._calibration or {}).get("targets") or {}).get(target) or {}
        test = entry.get("test") or {}
        diagonal = pg.mkPen((160, 160, 160), width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        if self._task == "classification":
            item.setLabel("bottom", "predicted probability")
            item.setLabel("left", "observed share of class 1")
            self._set_calibration_title("Reliability (test)")
            self.calibration_plot.plot([0, 1], [0, 1], pen=diagonal)
            curves = test.get("reliability") or {}
            for key, curve in curves.items():
                colour = CALIBRATION_COLOURS.get(key, (90, 90, 90))
                self.calibration_plot.plot(
                    curve["predicted"], curve["observed"], pen=pg.mkPen(colour, width=2),
                    symbol="o", symbolSize=6, symbolBrush=colour,
                    name=CALIBRATION_TITLES.get(key, key),
                )  # fmt: skip
            self.calibration_plot.setRange(xRange=(0, 1), yRange=(0, 1))
        else:
            item.setLabel("bottom", "nominal interval coverage (%)")
            item.setLabel("left", "observed coverage on test (%)")
            self._set_calibration_title("Interval coverage (test)")
            self.calibration_plot.plot([40, 100], [40, 100], pen=diagonal)
            nominal, observed = test.get("nominal"), test.get("observed")
            if nominal and observed:
                x = np.asarray(nominal, dtype=float) * 100
                y = np.asarray([np.nan if v is None else v for v in observed], dtype=float) * 100
                # The range the observed share would fall in 95 % of the time if the model's
                # intervals were right and the test molecules exchangeable with the training ones.
                bands = np.array([binomial_band(c, int(test["n"])) for c in nominal]) * 100
                self.calibration_plot.addItem(
                    pg.ErrorBarItem(x=x, y=x, top=bands[:, 1] - x, bottom=x - bands[:, 0],
                                    beam=1.5, pen=pg.mkPen((160, 160, 160), width=1))
                )  # fmt: skip
                colour = (31, 119, 180)
                self.calibration_plot.plot(
                    x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                    symbolBrush=colour, name=CALIBRATION_TITLES["observed"],
                )  # fmt: skip
            self.calibration_plot.setRange(xRange=(40, 100), yRange=(0, 100))
        observed, band = test.get("coverage_at_default"), test.get("band")
        if self._calibration is None:
            self._set_calibration_title("No calibration stored with this model")
            return "no calibration stored with this model"
        if observed is None or not band:
            return f"calibration not measured on the test part ({entry.get('note', 'no rows')})"
        what = "interval" if self._task == "regression" else "prediction set"
        return (
            f"the 90% {what} held {observed:.0%} of {test['n']} "
            f"(expected {band[0]:.0%}–{band[1]:.0%})"
        )
