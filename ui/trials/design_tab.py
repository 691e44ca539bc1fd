"""The Design tab: sample size and power for two proportions, two means or time to event.

The formulas take microseconds (the t-test power curve a few milliseconds), so results follow the
inputs directly on the GUI thread. The answer reads as a sentence ("To detect a hazard ratio of
0.70 … enrol 372 patients") over a table of every number of the design.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

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
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.trials import TrialDataError
from core.trials.data import export_table
from core.trials.design import DesignResult, design, power_curve
from core.trials.km_design import DAYS_PER_UNIT, DesignInputs, convert_time
from ui.trials.units import amount, set_unit, unit_combo
from ui.trials.widgets import (
    PLOT_FILTER,
    TABLE_FILTER,
    export_plot,
    result_view,
    show_table,
    style_plot,
)

if TYPE_CHECKING:
    from ui.workbench import Notifier

_METHODS = {
    "binary": [("Pooled variance (Fleiss, no CC)", "pooled"), ("Arcsine (statsmodels)", "arcsine")],
    "continuous": [("t-test (statsmodels)", "t"), ("Normal approximation", "normal")],
    "survival": [("Schoenfeld", "schoenfeld"), ("Freedman", "freedman")],
}
_METHOD_NAMES = {key: text for methods in _METHODS.values() for text, key in methods}


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%"


def design_sentence(result: DesignResult, unit: str = "months") -> str:
    """The design as one sentence (HTML, the key numbers in bold), ``unit``: the time unit of a
    time-to-event design's median, accrual and follow-up."""
    d = result.details
    if result.endpoint == "binary":
        effect = (
            f"a proportion of {_percent(d['p2'])} in arm 2 (experimental) against "
            f"{_percent(d['p1'])} in arm 1 (control)"
        )
    elif result.endpoint == "continuous":
        effect = (
            f"a difference in means of {d['delta']:g} (standard deviation {d['sd']:g}, "
            f"standardised effect d = {d['cohens_d']:.2f})"
        )
    else:
        effect = f"a hazard ratio of {d['hr']:.3g}"
        if "median_control" in d and "event_rate" in d:
            effect += f" (control median {amount(d['median_control'], unit, 6)})"
        elif "median_control" in d:
            effect += (
                f" (control median {amount(d['median_control'], unit, 6)}; accrual over "
                f"{amount(d['accrual'], unit, 6)}, then {amount(d['follow_up'], unit, 6)} of follow-up)"
            )
    text = (
        f"To detect {effect} with {_percent(result.power)} power at a two-sided α of "
        f"{result.alpha:g}"
    )
    if result.events is not None:
        text += f", the trial needs <b>{result.events} events</b>"
        if result.n_per_arm is not None:
            chance = (
                f"an event rate of {_percent(d['p_event'])} (given)"
                if "event_rate" in d
                else f"a {_percent(d['p_event'])} chance of an event by the end"
            )
            text += f"; with {chance}, it enrols <b>{result.total} patients</b>"
    else:
        text += f", enrol <b>{result.total} patients</b>"
    if result.n_per_arm is not None:
        n1, n2 = result.n_per_arm
        text += f": {n1} in arm 1 and {n2} in arm 2"
        if result.dropout:
            text += f", allowing for {_percent(result.dropout)} dropout"
    return text + "."


def design_table(result: DesignResult, unit: str = "months") -> pd.DataFrame:
    """Every number of the design, one row each: columns ``Quantity`` and ``Value`` (text)."""
    d = result.details
    rows: list[tuple[str, str]] = []
    if result.n_per_arm is not None:
        rows += [
            ("Patients, arm 1 (control)", f"{result.n_per_arm[0]}"),
            ("Patients, arm 2 (experimental)", f"{result.n_per_arm[1]}"),
            ("Patients in total", f"{result.total}"),
        ]
    if result.events is not None:
        rows.append(("Events needed", f"{result.events}"))
        if "p_event" in d:
            label = "Event rate (given)" if "event_rate" in d else "Chance of an event by the end"
            rows.append((label, f"{d['p_event']:.3f}"))
    if result.endpoint == "binary":
        rows += [("p₁ (control)", f"{d['p1']:g}"), ("p₂ (experimental)", f"{d['p2']:g}")]
    elif result.endpoint == "continuous":
        rows += [
            ("Difference in means δ", f"{d['delta']:g}"),
            ("Standard deviation σ", f"{d['sd']:g}"),
            ("Standardised effect d", f"{d['cohens_d']:.3f}"),
        ]
    else:
        rows.append(("Hazard ratio", f"{d['hr']:g}"))
        for key, label in (
            ("median_control", "Control median"),
            ("accrual", "Accrual duration"),
            ("follow_up", "Follow-up after accrual"),
        ):
            if key in d:
                rows.append((label, amount(d[key], unit, 6)))
    rows += [
        ("Alpha (two-sided)", f"{result.alpha:g}"),
        ("Power", f"{result.power:g}"),
        ("Allocation ratio n₂/n₁", f"{result.ratio:g}"),
        ("Dropout", _percent(result.dropout)),
        ("Method", _METHOD_NAMES.get(result.method, result.method)),
    ]
    return pd.DataFrame(rows, columns=["Quantity", "Value"])


def _spin(value: float, low: float, high: float, decimals: int = 3, step: float = 0.01):
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    # Wide ranges (±1e6) would ask for room for their longest number; 110 px shows the values
    # people type, "24.00 months" included.
    box.setMinimumWidth(110)
    return box


class DesignTab(QWidget):
    """Inputs on the left, the answer and a power curve on the right.

    Signals
    -------
    use_in_simulation(result)
        The user wants to simulate this (time-to-event) design.
    inputs_changed()
        An input was changed (by the user, or filled from a Kaplan–Meier result): the project
        keeps the design.
    """

    use_in_simulation = Signal(object)
    inputs_changed = Signal()

    def __init__(self, notifier: Notifier | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notifier = notifier  # None: a failed export is said under the answer instead
        self.result: DesignResult | None = None
        self.endpoint = QComboBox()
        for text, key in (
            ("Two proportions (binary)", "binary"),
            ("Two means (continuous)", "continuous"),
            ("Time to event (survival)", "survival"),
        ):
            self.endpoint.addItem(text, key)
        self.method = QComboBox()
        for combo in (self.endpoint, self.method):  # long names are read in the open list
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self.p1 = _spin(0.5, 0.0, 1.0)
        self.p2 = _spin(0.3, 0.0, 1.0)
        self.delta = _spin(5.0, -1e6, 1e6, 3, 0.5)
        self.sd = _spin(10.0, 0.0, 1e6, 3, 0.5)
        self.hr = _spin(0.7, 0.01, 20.0, 3, 0.05)
        self.median = _spin(12.0, 0.01, 1e4, 2, 1.0)
        self.accrual = _spin(24.0, 0.0, 1e4, 2, 1.0)
        self.follow_up = _spin(12.0, 0.0, 1e4, 2, 1.0)
        self.event_rate = _spin(0.0, 0.0, 1.0, 3, 0.05)
        # 0 is "not given": the chance of an event is computed from median, accrual, follow-up.
        self.event_rate.setSpecialValueText("computed")
        self.event_rate.setToolTip(
            "Share of patients with an event by the end of the study (events / patients of an "
            "earlier trial); when given, it replaces the chance computed from the control "
            "median, accrual and follow-up (0: computed)"
        )
        self.edited = False  # the user made (or filled) this design: the campaign reports it
        self.alpha = _spin(0.05, 0.0, 1.0, 4, 0.005)
        self.power = _spin(0.8, 0.0, 1.0, 3, 0.05)
        self.ratio = _spin(1.0, 0.01, 100.0, 2, 0.5)
        self.dropout = _spin(0.0, 0.0, 0.99, 3, 0.05)
        self.unit = unit_combo("months")
        self.unit.setToolTip("The unit of the control median, accrual and follow-up")

        # One form (its fields line up); the rows of the other endpoints are hidden.
        form = QFormLayout()
        for label, widget in (
            ("Endpoint", self.endpoint),
            ("Method", self.method),
            ("Alpha (two-sided)", self.alpha),
            ("Power", self.power),
            ("Allocation ratio n₂/n₁", self.ratio),
            ("Dropout fraction", self.dropout),
        ):
            form.addRow(label, widget)
        self._endpoint_rows = {
            "binary": (("p₁ (control)", self.p1), ("p₂ (experimental)", self.p2)),
            "continuous": (
                ("Difference in means δ", self.delta),
                ("Standard deviation σ", self.sd),
            ),
            "survival": (
                ("Hazard ratio", self.hr),
                ("Time unit", self.unit),
                ("Control median", self.median),
                ("Accrual duration", self.accrual),
                ("Follow-up after accrual", self.follow_up),
                ("Event rate (events / patients)", self.event_rate),
            ),
        }
        for rows in self._endpoint_rows.values():
            for label, widget in rows:
                form.addRow(label, widget)
        self.form = form
        inputs = QGroupBox("Design")
        box = QVBoxLayout(inputs)
        box.addLayout(form)
        box.addStretch(1)
        inputs_scroll = QScrollArea()  # the form scrolls on a short screen
        inputs_scroll.setWidget(inputs)
        inputs_scroll.setWidgetResizable(True)
        inputs_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        inputs_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inputs_scroll.setMinimumWidth(inputs.minimumSizeHint().width() + 16)

        self.answer = QLabel()
        self.answer.setObjectName("designAnswer")
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.answer.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.table_view, self.table_model = result_view(self)
        self.table_view.verticalHeader().hide()
        self.table_view.setMinimumWidth(150)
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
        # The numbers beside the power curve.
        results = QSplitter()
        results.addWidget(self.table_view)
        results.addWidget(self.curve)
        results.setChildrenCollapsible(False)
        results.setStretchFactor(0, 0)
        results.setStretchFactor(1, 1)
        results.setSizes([330, 500])
        self.curve.setMinimumWidth(200)
        right_layout.addWidget(results, 1)
        right_layout.addLayout(buttons)
        splitter = QSplitter()
        splitter.addWidget(inputs_scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.endpoint.currentIndexChanged.connect(self._on_endpoint_changed)
        self.method.currentIndexChanged.connect(self.recompute)
        self.unit.currentIndexChanged.connect(self._on_unit_changed)
        for box_ in self._spins().values():
            box_.valueChanged.connect(self.recompute)
        self._on_unit_changed()
        self._on_endpoint_changed()
        # After the first computation: from now on a change is the user's.
        for combo in (self.endpoint, self.method, self.unit):
            combo.currentIndexChanged.connect(self._on_input_changed)
        for box_ in self._spins().values():
            box_.valueChanged.connect(self._on_input_changed)
        self._defaults = self.inputs()

    def _spins(self) -> dict[str, QDoubleSpinBox]:
        """The number inputs by the name a project keeps them under."""
        return {
            "p1": self.p1, "p2": self.p2, "delta": self.delta, "sd": self.sd, "hr": self.hr,
            "median": self.median, "accrual": self.accrual, "follow_up": self.follow_up,
            "event_rate": self.event_rate, "alpha": self.alpha, "power": self.power,
            "ratio": self.ratio, "dropout": self.dropout,
        }  # fmt: skip

    def _on_input_changed(self, *_args) -> None:
        self.edited = True
        self.inputs_changed.emit()

    # ------------------------------------------------------------------------------------------
    # What a project keeps

    def inputs(self) -> dict:
        """Every input (JSON): endpoint, method, time unit, the numbers, whether edited."""
        return {
            "endpoint": self.endpoint.currentData(),
            "method": self.method.currentData(),
            "unit": self.time_unit(),
            "values": {name: box_.value() for name, box_ in self._spins().items()},
            "edited": self.edited,
        }

    def apply_inputs(self, inputs: object) -> list[str]:
        """Put back what :meth:`inputs` gave (from a project: anything may be off, and is
        skipped); one line per input that could not be. Signals nothing."""
        problems: list[str] = []
        if not isinstance(inputs, dict):
            return ["the design's inputs are not readable"] if inputs is not None else []
        widgets = [self.endpoint, self.method, self.unit, *self._spins().values()]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            endpoint = self.endpoint.findData(inputs.get("endpoint"))
            if endpoint >= 0:
                self.endpoint.setCurrentIndex(endpoint)
            self._fill_methods()
            method = self.method.findData(inputs.get("method"))
            if method >= 0:
                self.method.setCurrentIndex(method)
            set_unit(self.unit, inputs.get("unit") if isinstance(inputs.get("unit"), str) else "")
            values = inputs.get("values")
            values = values if isinstance(values, dict) else {}
            for name, box_ in self._spins().items():
                value = values.get(name)
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"the design's {name} is not a number ({value!r})")
                elif not (math.isfinite(value) and box_.minimum() <= value <= box_.maximum()):
                    problems.append(f"the design's {name} is out of range ({value!r})")
                else:
                    box_.setValue(float(value))
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self.edited = inputs.get("edited") is True
        self._show_endpoint_rows()
        self._on_unit_changed()
        self.recompute()
        return problems

    def reset(self) -> None:
        """The inputs of a new design tab."""
        self.apply_inputs(self._defaults)

    def take_km(self, inputs: DesignInputs, data_unit: str) -> str:
        """Fill the time-to-event inputs from a Kaplan–Meier result (``core.trials.km_design``)
        whose times are in ``data_unit`` (``""``: not known); returns a line saying what was
        filled and what was left as it was."""
        said: list[str] = []
        widgets = [self.endpoint, self.method, self.unit, *self._spins().values()]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            self.endpoint.setCurrentIndex(self.endpoint.findData("survival"))
            if self.method.findData("schoenfeld") < 0:
                self._fill_methods()
            old_unit = self.time_unit()
            if data_unit in DAYS_PER_UNIT and data_unit != old_unit:
                # Accrual and follow-up keep their meaning in the data's unit.
                for box_ in (self.accrual, self.follow_up):
                    box_.setValue(convert_time(box_.value(), old_unit, data_unit))
                set_unit(self.unit, data_unit)
            unit = self.time_unit()
            if inputs.median is not None:
                self.median.setValue(inputs.median)
                said.append(f"control median {amount(inputs.median, unit, 4)} ({inputs.control})")
            else:
                said.append(
                    f"the control arm ({inputs.control}) has no median (its curve stays above "
                    f"0.5): median left at {amount(self.median.value(), unit, 4)}"
                )
            if inputs.patients:
                self.event_rate.setValue(round(inputs.event_rate, 3))
                said.append(
                    f"event rate {inputs.event_rate:.3f} ({inputs.events} events / "
                    f"{inputs.patients} patients)"
                )
            if inputs.accrual is not None:
                self.accrual.setValue(inputs.accrual)
                said.append(
                    f"accrual {amount(inputs.accrual, unit, 4)} (first to last "
                    f"{inputs.entry_column})"
                )
            else:
                said.append(
                    f"accrual left at {amount(self.accrual.value(), unit, 4)}: "
                    f"{inputs.accrual_note}"
                )
            if not data_unit:
                said.append(f"the data's time unit is not given: times taken as {unit}")
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._show_endpoint_rows()
        self._on_unit_changed()
        self.recompute()
        self._on_input_changed()
        return "Design filled from Kaplan–Meier: " + "; ".join(said) + "."

    def time_unit(self) -> str:
        """The unit of the time-to-event inputs ("months", …)."""
        return self.unit.currentData()

    def set_time_unit(self, unit: str) -> None:
        set_unit(self.unit, unit)

    def _on_unit_changed(self) -> None:
        suffix = f" {self.time_unit()}"
        for box_ in (self.median, self.accrual, self.follow_up):
            box_.setSuffix(suffix)
        if self.result is not None:
            self.recompute()

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
            "event_rate": self.event_rate.value() or None,
            **common,
        }

    def _on_endpoint_changed(self) -> None:
        self._show_endpoint_rows()
        self._fill_methods()
        self.recompute()

    def _show_endpoint_rows(self) -> None:
        endpoint = self.endpoint.currentData()
        for key, rows in self._endpoint_rows.items():
            for _, widget in rows:
                self.form.setRowVisible(widget, key == endpoint)
        self.simulate_button.setEnabled(endpoint == "survival")

    def _fill_methods(self) -> None:
        blocked = self.method.blockSignals(True)
        self.method.clear()
        for text, key in _METHODS[self.endpoint.currentData()]:
            self.method.addItem(text, key)
        self.method.blockSignals(blocked)

    def recompute(self) -> None:
        self.curve.clear()
        try:
            self.result = design(self.endpoint.currentData(), **self.parameters())
        except TrialDataError as exc:
            self.result = None
            self.answer.setText(f"<span style='color:#b00020'>{exc}</span>")
            show_table(self.table_model, None)
            return
        result = self.result
        unit = self.time_unit()
        self.answer.setText(design_sentence(result, unit))
        show_table(self.table_model, design_table(result, unit))
        if result.n_per_arm is None:  # events only: no patients to plot power against
            return
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
        if self.result is None or self.result.total is None:
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
            if self.notifier is not None:
                self.notifier.show_error(str(exc))
            else:
                self.answer.setText(f"<span style='color:#b00020'>{exc}</span>")
