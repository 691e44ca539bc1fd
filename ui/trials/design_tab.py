"""The Design tab: sample size and power for two proportions, two means or time to event.

The formulas take microseconds (the t-test power curve a few milliseconds), so results follow the
inputs directly on the GUI thread.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.trials import TrialDataError
from core.trials.data import export_table
from core.trials.design import DesignResult, design, power_curve
from ui.trials.widgets import PLOT_FILTER, TABLE_FILTER, export_plot, style_plot

_METHODS = {
    "binary": [("Pooled variance (Fleiss, no CC)", "pooled"), ("Arcsine (statsmodels)", "arcsine")],
    "continuous": [("t-test (statsmodels)", "t"), ("Normal approximation", "normal")],
    "survival": [("Schoenfeld", "schoenfeld"), ("Freedman", "freedman")],
}


def _spin(value: float, low: float, high: float, decimals: int = 3, step: float = 0.01):
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    return box


class DesignTab(QWidget):
    """Inputs on the left, the answer and a power curve on the right.

    Signals
    -------
    use_in_simulation(result)
        The user wants to simulate this (time-to-event) design.
    """

    use_in_simulation = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result: DesignResult | None = None
        self.endpoint = QComboBox()
        for text, key in (
            ("Two proportions (binary)", "binary"),
            ("Two means (continuous)", "continuous"),
            ("Time to event (survival)", "survival"),
        ):
            self.endpoint.addItem(text, key)
        self.method = QComboBox()
        self.p1 = _spin(0.5, 0.0, 1.0)
        self.p2 = _spin(0.3, 0.0, 1.0)
        self.delta = _spin(5.0, -1e6, 1e6, 3, 0.5)
        self.sd = _spin(10.0, 0.0, 1e6, 3, 0.5)
        self.hr = _spin(0.7, 0.01, 20.0, 3, 0.05)
        self.median = _spin(12.0, 0.01, 1e4, 2, 1.0)
        self.accrual = _spin(24.0, 0.0, 1e4, 2, 1.0)
        self.follow_up = _spin(12.0, 0.0, 1e4, 2, 1.0)
        self.alpha = _spin(0.05, 0.0, 1.0, 4, 0.005)
        self.power = _spin(0.8, 0.0, 1.0, 3, 0.05)
        self.ratio = _spin(1.0, 0.01, 100.0, 2, 0.5)
        self.dropout = _spin(0.0, 0.0, 0.99, 3, 0.05)

        self.pages = QStackedWidget()
        for rows in (
            (("p₁ (control)", self.p1), ("p₂ (experimental)", self.p2)),
            (("Difference in means δ", self.delta), ("Standard deviation σ", self.sd)),
            (
                ("Hazard ratio", self.hr),
                ("Control median", self.median),
                ("Accrual duration", self.accrual),
                ("Follow-up after last entry", self.follow_up),
            ),
        ):
            page = QWidget()
            form = QFormLayout(page)
            form.setContentsMargins(0, 0, 0, 0)
            for label, widget in rows:
                form.addRow(label, widget)
            self.pages.addWidget(page)

        common = QFormLayout()
        common.addRow("Endpoint", self.endpoint)
        common.addRow("Method", self.method)
        common.addRow("Alpha (two-sided)", self.alpha)
        common.addRow("Power", self.power)
        common.addRow("Allocation ratio n₂/n₁", self.ratio)
        common.addRow("Dropout fraction", self.dropout)
        inputs = QGroupBox("Design")
        box = QVBoxLayout(inputs)
        box.addLayout(common)
        box.addWidget(self.pages)
        box.addStretch(1)

        self.answer = QLabel()
        self.answer.setObjectName("designAnswer")
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.curve = pg.PlotWidget(background="w")
        self.curve.setLabel("left", "Power")
        self.curve.setLabel("bottom", "Total patients enrolled")
        style_plot(self.curve.getPlotItem())
        self.curve.setTitle("Power curve", color="k")
        self.curve.setYRange(0, 1, padding=0.02)
        export_plot_button = QPushButton("Export plot…")
        export_plot_button.clicked.connect(self._export_plot)
        export_table_button = QPushButton("Export curve table…")
        export_table_button.clicked.connect(self._export_table)
        self.simulate_button = QPushButton("Simulate this design")
        self.simulate_button.setToolTip("Copy patients, events and effect to the Simulation tab")
        self.simulate_button.clicked.connect(self._on_simulate_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(export_plot_button)
        buttons.addWidget(export_table_button)
        buttons.addStretch(1)
        buttons.addWidget(self.simulate_button)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.answer)
        right_layout.addWidget(self.curve, 1)
        right_layout.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(inputs)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.endpoint.currentIndexChanged.connect(self._on_endpoint_changed)
        self.method.currentIndexChanged.connect(self.recompute)
        for box_ in (
            self.p1, self.p2, self.delta, self.sd, self.hr, self.median, self.accrual,
            self.follow_up, self.alpha, self.power, self.ratio, self.dropout,
        ):  # fmt: skip
            box_.valueChanged.connect(self.recompute)
        self._on_endpoint_changed()

    def parameters(self) -> dict:
        endpoint = self.endpoint.currentData()
        common = {
            "alpha": self.alpha.value(),
            "power": self.power.value(),
            "ratio": self.ratio.value(),
            "dropout": self.dropout.value(),
            "method": self.method.currentData(),
        }
        if endpoint == "binary":
            return {"p1": self.p1.value(), "p2": self.p2.value(), **common}
        if endpoint == "continuous":
            return {"delta": self.delta.value(), "sd": self.sd.value(), **common}
        return {
            "hr": self.hr.value(),
            "median_control": self.median.value(),
            "accrual": self.accrual.value(),
            "follow_up": self.follow_up.value(),
            **common,
        }

    def _on_endpoint_changed(self) -> None:
        endpoint = self.endpoint.currentData()
        self.pages.setCurrentIndex(self.endpoint.currentIndex())
        self.method.blockSignals(True)
        self.method.clear()
        for text, key in _METHODS[endpoint]:
            self.method.addItem(text, key)
        self.method.blockSignals(False)
        self.simulate_button.setEnabled(endpoint == "survival")
        self.recompute()

    def recompute(self) -> None:
        self.curve.clear()
        try:
            self.result = design(self.endpoint.currentData(), **self.parameters())
        except TrialDataError as exc:
            self.result = None
            self.answer.setText(f"<span style='color:#b00020'>{exc}</span>")
            return
        result = self.result
        lines = [
            f"<b>{result.n_per_arm[0]} + {result.n_per_arm[1]} = {result.total} patients</b> "
            f"(arm 1 + arm 2)"
        ]
        if result.events is not None:
            lines.append(
                f"<b>{result.events} events</b> ({result.method.capitalize()}); chance of an event "
                f"by the end: {result.details['p_event']:.3f}"
            )
        if result.dropout:
            lines.append(f"inflated for {100 * result.dropout:g}% dropout")
        lines.append(
            "<span style='color:#555'>"
            + json.dumps({k: v for k, v in result.to_dict().items() if k != "details"})
            + "</span>"
        )
        self.answer.setText("<br>".join(lines))
        frame = self.curve_table()
        self.curve.plot(
            frame["total"].to_numpy(),
            frame["power"].to_numpy(),
            pen=pg.mkPen(31, 119, 180, width=2),
        )
        self.curve.plot(
            [result.total],
            [float(power_curve(result, np.array([result.total]))[0])],
            pen=None,
            symbol="o",
            symbolBrush=pg.mkBrush(214, 39, 40),
        )
        line = pg.InfiniteLine(
            result.power, angle=0, pen=pg.mkPen(120, 120, 120, style=Qt.PenStyle.DashLine)
        )
        self.curve.addItem(line)

    def curve_table(self) -> pd.DataFrame:
        """Power against total patients, from a tenth to twice the design's size."""
        if self.result is None:
            return pd.DataFrame(columns=["total", "power"])
        total = self.result.total
        totals = np.unique(np.linspace(max(4, total * 0.1), total * 2, 120).round())
        return pd.DataFrame({"total": totals, "power": power_curve(self.result, totals)})

    def _on_simulate_clicked(self) -> None:
        if self.result is not None and self.result.endpoint == "survival":
            self.use_in_simulation.emit(self.result)

    def _export_plot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export power curve", "power_curve.png", PLOT_FILTER
        )
        if path:
            self._report(lambda: export_plot(self.curve.getPlotItem(), path))

    def _export_table(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export power curve", "power_curve.csv", TABLE_FILTER
        )
        if path:
            self._report(lambda: export_table(self.curve_table(), path))

    def _report(self, action) -> None:
        try:
            action()
        except (TrialDataError, OSError) as exc:
            window = self.window()
            if hasattr(window, "show_error"):
                window.show_error(str(exc))
            else:
                self.answer.setText(f"<span style='color:#b00020'>{exc}</span>")
