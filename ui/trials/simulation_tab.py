"""The Simulation tab: Monte Carlo of a time-to-event trial with interim analyses, in the engine."""

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
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.trials import TrialDataError
from core.trials.data import export_table
from core.trials.design import DesignResult
from core.trials.simulation import (
    SimulationDesign,
    SimulationResult,
    design_from_fractions,
    equal_fractions,
    simulate_trials,
)
from ui.trials.units import amount, set_unit, singular, unit_combo, with_unit
from ui.trials.widgets import (
    PLOT_FILTER,
    TABLE_FILTER,
    export_plot,
    result_view,
    show_table,
    style_plot,
)

if TYPE_CHECKING:
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext


def _double(value, low, high, decimals=3, step=0.1):
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _int(value, low, high, step=1):
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class SimulationTab(QWidget):
    """The inputs of a simulated trial on the left; the probability of success, the looks and
    the plots on the right.

    Signals
    -------
    inputs_changed()
        An input was changed: the project keeps the simulation's inputs.
    """

    inputs_changed = Signal()

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = context.engine
        self.notifier = context.notifier
        self.job: JobHandle | None = None  # the running simulation
        self.result: SimulationResult | None = None

        self.n_total = _int(370, 4, 1_000_000, 10)
        self.max_events = _int(247, 2, 1_000_000, 10)
        self.hr = _double(0.7, 0.01, 20, 3, 0.05)
        self.median = _double(12.0, 0.01, 1e4, 2, 1)
        self.accrual_rate = _double(370 / 24, 0.001, 1e6, 3, 1)
        self.ratio = _double(1.0, 0.01, 100, 2, 0.5)
        self.dropout = _double(0.0, 0.0, 0.99, 3, 0.05)
        self.dropout_time = _double(12.0, 0.01, 1e4, 2, 1)
        self.looks = _int(2, 1, 10)
        self.fractions = QLineEdit("0.5, 1")
        self.fractions.setToolTip("Information fractions (events / final events) of the analyses")
        self.boundary = QComboBox()
        for text, key in (
            ("O'Brien–Fleming", "obf"),
            ("Pocock", "pocock"),
            ("None (fixed z at every look)", "none"),
        ):
            self.boundary.addItem(text, key)
        self.alpha = _double(0.05, 0.0001, 0.5, 4, 0.005)
        self.n_sims = _int(2000, 10, 1_000_000, 500)
        self.seed = _int(1, 0, 2**31 - 1)
        self.unit = unit_combo("months")
        self.unit.setToolTip("The unit of the median, dropout time, accrual rate and durations")
        self.looks.valueChanged.connect(
            lambda n: self.fractions.setText(", ".join(f"{f:.3g}" for f in equal_fractions(n)))
        )

        form = QFormLayout()
        for label, widget in (
            ("Time unit", self.unit),
            ("Patients (total)", self.n_total),
            ("Events at the final analysis", self.max_events),
            ("Hazard ratio (true)", self.hr),
            ("Control median", self.median),
            ("Accrual rate (patients / time)", self.accrual_rate),
            ("Allocation ratio n₂/n₁", self.ratio),
            ("Dropout fraction", self.dropout),
            ("… by time", self.dropout_time),
            ("Analyses", self.looks),
            ("Information fractions", self.fractions),
            ("Efficacy boundary", self.boundary),
            ("Alpha (two-sided)", self.alpha),
            ("Simulated trials", self.n_sims),
            ("Random seed", self.seed),
        ):
            form.addRow(label, widget)
        self.form = form
        self.run_button = QPushButton("Run simulation")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        inputs = QGroupBox("Trial to simulate (time to event)")
        left = QVBoxLayout(inputs)
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addStretch(1)
        inputs_scroll = QScrollArea()  # 15 rows: they scroll on a short screen
        inputs_scroll.setWidget(inputs)
        inputs_scroll.setWidgetResizable(True)
        inputs_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        inputs_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inputs_scroll.setMinimumWidth(inputs.minimumSizeHint().width() + 16)
        self.inputs_scroll = inputs_scroll

        self.summary = QLabel("Run a simulation to see the probability of success.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.looks_view, self.looks_model = result_view(self)
        self.looks_view.setMaximumHeight(170)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground("w")
        self.bounds_plot = self.plots.addPlot(row=0, col=0)
        self.bounds_plot.setTitle("Boundaries and simulated Z paths", color="k")
        self.bounds_plot.setLabel("bottom", "Information fraction")
        self.bounds_plot.setLabel("left", "Log-rank Z (positive favours arm 2)")
        style_plot(self.bounds_plot)
        self.duration_plot = self.plots.addPlot(row=0, col=1)
        self.duration_plot.setTitle("Trial duration", color="k")
        style_plot(self.duration_plot)
        self.duration_plot.setLabel("bottom", with_unit("Duration", "months"))
        self.duration_plot.setLabel("left", "Simulated trials")
        export_plot_button = QPushButton("Export plots…")
        export_plot_button.clicked.connect(self._export_plot)
        export_table_button = QPushButton("Export results…")
        export_table_button.clicked.connect(self._export_table)
        export_buttons = QHBoxLayout()
        export_buttons.addStretch(1)
        export_buttons.addWidget(export_plot_button)
        export_buttons.addWidget(export_table_button)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.summary)
        right_layout.addWidget(self.looks_view)
        right_layout.addWidget(self.plots, 1)
        right_layout.addLayout(export_buttons)
        splitter = QSplitter()
        splitter.addWidget(inputs_scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([360, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.unit.currentIndexChanged.connect(self._on_unit_changed)
        self._on_unit_changed()
        for box in self._numbers().values():
            box.valueChanged.connect(self.inputs_changed)
        for combo in (self.boundary, self.unit):
            combo.currentIndexChanged.connect(self.inputs_changed)
        self.fractions.editingFinished.connect(self.inputs_changed)
        self._defaults = self.inputs()

    # ------------------------------------------------------------------------------------------
    # What a project keeps

    def _numbers(self) -> dict:
        """The number inputs by the name a project keeps them under (``looks`` first: setting
        it rewrites the fractions)."""
        return {
            "looks": self.looks, "n_total": self.n_total, "max_events": self.max_events,
            "hr": self.hr, "median": self.median, "accrual_rate": self.accrual_rate,
            "ratio": self.ratio, "dropout": self.dropout, "dropout_time": self.dropout_time,
            "alpha": self.alpha, "n_sims": self.n_sims, "seed": self.seed,
        }  # fmt: skip

    def inputs(self) -> dict:
        """Every input (JSON)."""
        return {
            "unit": self.time_unit(),
            "boundary": self.boundary.currentData(),
            "fractions": self.fractions.text(),
            "values": {name: box.value() for name, box in self._numbers().items()},
        }

    def apply_inputs(self, inputs: object) -> list[str]:
        """Put back what :meth:`inputs` gave (from a project: anything off is skipped, one
        line each). Signals nothing."""
        if not isinstance(inputs, dict):
            return ["the simulation's inputs are not readable"] if inputs is not None else []
        problems: list[str] = []
        widgets = [self.boundary, self.unit, self.fractions, *self._numbers().values()]
        for widget in widgets:
            widget.blockSignals(True)
        try:
            unit = inputs.get("unit")
            set_unit(self.unit, unit if isinstance(unit, str) else "")
            boundary = self.boundary.findData(inputs.get("boundary"))
            if boundary >= 0:
                self.boundary.setCurrentIndex(boundary)
            values = inputs.get("values")
            values = values if isinstance(values, dict) else {}
            for name, box in self._numbers().items():
                value = values.get(name)
                if value is None:
                    continue
                integer = isinstance(box, QSpinBox)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"the simulation's {name} is not a number ({value!r})")
                elif not (
                    math.isfinite(value)
                    and box.minimum() <= value <= box.maximum()
                    and (not integer or float(value).is_integer())
                ):
                    problems.append(f"the simulation's {name} is out of range ({value!r})")
                else:
                    box.setValue(int(value) if integer else float(value))
            fractions = inputs.get("fractions")
            if isinstance(fractions, str):
                self.fractions.setText(fractions[:500])
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._on_unit_changed()
        return problems

    def reset(self) -> None:
        """The inputs of a new tab, no result shown."""
        self.cancel()
        self.job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.apply_inputs(self._defaults)
        self.result = None
        self.progress.setValue(0)
        self.summary.setText("Run a simulation to see the probability of success.")
        show_table(self.looks_model, None)
        self.bounds_plot.clear()
        self.duration_plot.clear()

    # ------------------------------------------------------------------------------------------

    def time_unit(self) -> str:
        """The unit of the times and rates of the inputs ("months", …)."""
        return self.unit.currentData()

    def _on_unit_changed(self) -> None:
        unit = self.time_unit()
        for box in (self.median, self.dropout_time):
            box.setSuffix(f" {unit}")
        label = self.form.labelForField(self.accrual_rate)
        label.setText(f"Accrual rate (patients per {singular(unit)})")
        self.duration_plot.setLabel("bottom", with_unit("Trial duration", unit))
        if self.result is not None:
            self.summary.setText(self._summary_text(self.result))

    def take_design(self, result: DesignResult, unit: str | None = None) -> None:
        """Fill the inputs from a time-to-event design of the Design tab (whose times are in
        ``unit``)."""
        if unit:
            set_unit(self.unit, unit)
        d = result.details
        self.n_total.setValue(result.total)
        self.max_events.setValue(int(result.events or 2))
        self.hr.setValue(d["hr"])
        self.median.setValue(d["median_control"])
        self.ratio.setValue(result.ratio)
        accrual = d["accrual"] or 1.0
        self.accrual_rate.setValue(result.total / accrual)
        self.alpha.setValue(result.alpha)

    def simulation_design(self) -> SimulationDesign:
        design = SimulationDesign(
            n_total=self.n_total.value(),
            max_events=self.max_events.value(),
            hr=self.hr.value(),
            median_control=self.median.value(),
            accrual_rate=self.accrual_rate.value(),
            ratio=self.ratio.value(),
            dropout=self.dropout.value(),
            dropout_time=self.dropout_time.value(),
            fractions=design_from_fractions(self.fractions.text()),
            boundary=self.boundary.currentData(),
            alpha=self.alpha.value(),
        )
        design.check()
        return design

    def run(self) -> JobHandle | None:
        try:
            design = self.simulation_design()
        except TrialDataError as exc:
            self._error(str(exc))
            return None
        # A newer run supersedes the running one (the engine cancels it: same key); forgotten
        # first, so nothing it still reports reaches the tab.
        self.job = None
        handle = self.engine.submit(
            simulate_trials,
            design,
            self.n_sims.value(),
            self.seed.value(),
            title=f"Simulate {self.n_sims.value()} trials",
            key="trials-simulation",
        )
        self.job = handle
        # Bound methods: Qt drops these connections if the tab goes before the job ends.
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.summary.setText("Simulating…")
        return handle

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _done(self) -> bool:
        """End the running simulation when it sent the signal; False for a superseded one."""
        if self.job is None or self.sender() is not self.job:
            return False
        self.job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        return True

    def _on_progress(self, fraction: float, message: str) -> None:
        if self.job is not None and self.sender() is self.job and fraction >= 0:
            self.progress.setValue(int(100 * fraction))

    def _on_failed(self, message: str) -> None:
        if self._done():
            self.summary.setText("Simulation failed.")
            self._error(message)

    def _on_cancelled(self) -> None:
        if self._done():
            self.progress.setValue(0)
            self.summary.setText("Simulation cancelled.")

    def _on_finished(self, result: SimulationResult) -> None:
        if self._done():
            self.progress.setValue(100)
            self.show_result(result)

    def show_result(self, result: SimulationResult) -> None:
        self.result = result
        design = result.design
        self.summary.setText(self._summary_text(result))
        show_table(self.looks_model, self.looks_table())
        self.bounds_plot.clear()
        t = np.asarray(design.fractions)
        z = result.z_statistics
        rng = np.random.default_rng(0)
        for row in rng.choice(len(z), size=min(60, len(z)), replace=False):
            seen = ~np.isnan(z[row])
            self.bounds_plot.plot(
                np.append(0.0, t[seen]),
                np.append(0.0, z[row][seen]),
                pen=pg.mkPen(120, 120, 120, 60),
            )
        red = pg.mkPen(214, 39, 40, width=2.5)
        self.bounds_plot.plot(t, result.bounds, pen=red, symbol="o", symbolBrush=(214, 39, 40))
        self.bounds_plot.plot(t, -result.bounds, pen=red, symbol="o", symbolBrush=(214, 39, 40))
        self.bounds_plot.setXRange(0, 1.02, padding=0)
        self.duration_plot.clear()
        counts, edges = np.histogram(result.durations, bins=30)
        self.duration_plot.plot(
            edges, counts, stepMode="center", fillLevel=0, brush=(31, 119, 180, 150)
        )

    def _summary_text(self, result: SimulationResult) -> str:
        design = result.design
        duration = amount(result.expected_duration, self.time_unit(), 4)
        return (
            f"<b>Probability of success {result.prob_success:.3f}</b> "
            f"(± {result.mc_error:.3f} Monte Carlo SE; crossing either boundary "
            f"{result.rejection_rate:.3f}; from the boundary integrals {result.analytic_power:.3f})"
            f"<br>Expected patients {result.expected_n:.1f} of {design.n_total}; expected duration "
            f"{duration}; expected events {result.expected_events:.1f} ({result.n_sims} trials)"
        )

    def looks_table(self) -> pd.DataFrame:
        result = self.result
        if result is None:
            return pd.DataFrame()
        t = np.asarray(result.design.fractions)
        return pd.DataFrame(
            {
                "look": np.arange(1, len(t) + 1),
                "information_fraction": t,
                "events": np.ceil(t * result.design.max_events).astype(int),
                "z_bound": result.bounds,
                "stop_probability": result.stop_probabilities,
                "cumulative_stop": np.cumsum(result.stop_probabilities),
            }
        )

    def _error(self, message: str) -> None:
        self.notifier.show_error(message)

    def _export_plot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots", "simulation.png", PLOT_FILTER)
        if path:
            try:
                export_plot(self.plots.ci, path)
            except TrialDataError as exc:
                self._error(str(exc))

    def _export_table(self) -> None:
        if self.result is None:
            self._error("Run a simulation first")
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Export results", "simulation.csv", TABLE_FILTER
        )
        if not path:
            return
        summary = pd.DataFrame([{"look": "overall", **self.result.summary()}])
        table = pd.concat([self.looks_table().astype({"look": str}), summary], ignore_index=True)
        try:
            export_table(table, path)
        except (TrialDataError, OSError) as exc:
            self._error(str(exc))
