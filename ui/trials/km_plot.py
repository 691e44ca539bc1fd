"""Kaplan–Meier curves with confidence bands, censoring marks, a legend and numbers at risk."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

from core.trials.survival import KMCurve, SurvivalResult
from ui.trials.units import UNKNOWN_UNIT, amount, with_unit
from ui.trials.widgets import arm_color

TIME_TITLE = "Follow-up time"


def step_arrays(times: np.ndarray, values: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    """x, y of a right-continuous step function drawn as line segments up to ``end``."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    x = np.repeat(np.append(times, max(end, times[-1])), 2)[1:-1]
    y = np.repeat(values, 2)
    return x, y


class KaplanMeierView(pg.GraphicsLayoutWidget):
    """Two linked plots in one layout (exported together): the curves, and under them a
    numbers-at-risk table drawn as text at the same time points as the x axis."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setLabel("left", "Survival probability")
        self.plot.setLabel("bottom", with_unit(TIME_TITLE, UNKNOWN_UNIT))
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setYRange(0, 1.02, padding=0)
        self.plot.setMouseEnabled(x=True, y=False)
        # Bottom left: the curves start at 1 on the left and fall to the right, so that corner
        # is the one they leave free.
        self.legend = self.plot.addLegend(offset=(10, -10), labelTextColor="k")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 220))
        self.plot.setTitle("Kaplan–Meier estimate", color="k")
        self.risk = self.addPlot(row=1, col=0)
        self.risk.setXLink(self.plot)
        self.risk.setMouseEnabled(x=False, y=False)
        self.risk.hideButtons()
        self.risk.setMenuEnabled(False)
        self.risk.getAxis("bottom").setStyle(showValues=False)
        self.risk.getAxis("bottom").setTicks([[]])
        self.risk.setTitle("Number at risk", color="k", size="9pt")
        self.ci.layout.setRowStretchFactor(0, 4)
        self.ci.layout.setRowStretchFactor(1, 1)
        for item in (self.plot, self.risk):
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                axis.setPen(pg.mkPen("k"))
                axis.setTextPen(pg.mkPen("k"))
        self.plot.getAxis("left").setWidth(70)
        # Follow-up of 2,000 days reads as 2000, not "2 (×1000) days".
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.risk.getAxis("left").setWidth(70)
        self.result: SurvivalResult | None = None
        self.unit = UNKNOWN_UNIT

    def clear_curves(self) -> None:
        self.plot.clear()
        self.legend.clear()
        self.risk.clear()
        self.result = None

    def show_result(self, result: SurvivalResult, unit: str | None = None) -> None:
        """Draw ``result``; ``unit`` is the time column's unit ("days"; ``""``: not known;
        ``None``: keep the last one)."""
        self.clear_curves()
        self.result = result
        if unit is not None:
            self.unit = unit
        end = float(max(c.times[-1] for c in result.curves))
        for index, curve in enumerate(result.curves):
            self._add_curve(index, curve, result.group_column)
        self.plot.setLabel("bottom", with_unit(TIME_TITLE, self.unit))
        self.plot.setXRange(0, end, padding=0.02)
        self._draw_at_risk(result)

    def _add_curve(self, index: int, curve: KMCurve, group_column: str) -> None:
        r, g, b = arm_color(index)
        x, y = step_arrays(curve.times, curve.survival, curve.times[-1])
        _, low = step_arrays(curve.times, np.nan_to_num(curve.lower, nan=0.0), curve.times[-1])
        _, high = step_arrays(curve.times, np.nan_to_num(curve.upper, nan=1.0), curve.times[-1])
        lower = pg.PlotCurveItem(x, low, pen=pg.mkPen(r, g, b, 60))
        upper = pg.PlotCurveItem(x, high, pen=pg.mkPen(r, g, b, 60))
        band = pg.FillBetweenItem(lower, upper, brush=pg.mkBrush(r, g, b, 45))
        self.plot.addItem(lower)
        self.plot.addItem(upper)
        self.plot.addItem(band)
        median = "not reached" if np.isnan(curve.median) else amount(curve.median, self.unit, 6)
        name = f"{group_column}={curve.group} (n={curve.n}, events={curve.events}, median {median})"
        self.plot.plot(x, y, pen=pg.mkPen(r, g, b, width=2.5), name=name)
        if curve.censor_times.size:
            at = np.searchsorted(curve.times, curve.censor_times, side="right") - 1
            marks = curve.survival[np.clip(at, 0, len(curve.survival) - 1)]
            self.plot.plot(
                curve.censor_times,
                marks,
                pen=None,
                symbol="+",
                symbolSize=7,
                symbolPen=pg.mkPen(r, g, b, width=1.2),
                symbolBrush=None,
            )

    def _draw_at_risk(self, result: SurvivalResult) -> None:
        table = result.at_risk
        groups = list(table.index)
        n = len(groups)
        font = QFont()
        font.setPointSize(8)
        for row, group in enumerate(groups):
            r, g, b = arm_color(row)
            y = n - row - 0.5
            for t, count in table.loc[group].items():
                # The first column starts at the axis: anchor it by its left edge.
                anchor = (0.0, 0.5) if float(t) == 0 else (0.5, 0.5)
                text = pg.TextItem(str(int(count)), color=QColor(r, g, b), anchor=anchor)
                text.setFont(font)
                text.setPos(float(t), y)
                self.risk.addItem(text)
        ticks = [(n - row - 0.5, str(group)) for row, group in enumerate(groups)]
        self.risk.getAxis("left").setTicks([ticks])
        self.risk.setYRange(0, n, padding=0.05)
        self.risk.setFixedHeight(38 + 20 * n)
        # The time points of the table become the ticks of the KM plot's axis.
        self.plot.getAxis("bottom").setTicks([[(float(t), f"{float(t):g}") for t in table.columns]])

    def at_risk_texts(self) -> list[str]:
        """The numbers shown under the plot (for tests)."""
        return [item.toPlainText() for item in self.risk.items if isinstance(item, pg.TextItem)]

    def set_unit(self, unit: str) -> None:
        """Name the time axis (and the medians in the legend) in ``unit``."""
        self.unit = unit
        if self.result is not None:
            self.show_result(self.result)
        else:
            self.plot.setLabel("bottom", with_unit(TIME_TITLE, unit))


__all__ = ["KaplanMeierView", "step_arrays"]
