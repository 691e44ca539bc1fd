"""A forest plot of a Cox model: one row per term, its hazard ratio and confidence interval on a
log-scaled axis, a reference line at 1, and the numbers beside each row."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ui.trials.widgets import style_plot

_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100)
_COARSE_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
_ROW_PIXELS = 24


def log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks for a log-scaled hazard-ratio axis from ``low`` to ``high`` (ratios, not logs):
    ``(log10(value), label)`` for round values inside the range, 1 always among them."""
    inside = [t for t in _TICKS if low <= t <= high]
    if len(inside) > 9:
        inside = [t for t in _COARSE_TICKS if low <= t <= high]
    return [(math.log10(t), f"{t:g}") for t in inside]


def interval_text(hr: float, lower: float, upper: float) -> str:
    """``"0.69 (0.54–0.89)"``; bounds that could not be estimated read "n/a"."""

    def number(value: float) -> str:
        return f"{value:.2f}" if np.isfinite(value) and value > 0 else "n/a"

    return f"{number(hr)} ({number(lower)}–{number(upper)})"


class ForestPlot(pg.PlotWidget):
    """Hazard ratios with their confidence intervals, one row per Cox term (top to bottom in the
    table's order); the left axis names the terms, the right one gives ``HR (lower–upper)``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        style_plot(item)
        item.showGrid(x=True, y=False, alpha=0.25)
        item.showAxis("right")
        right = item.getAxis("right")
        right.setPen(pg.mkPen("k"))
        right.setTextPen(pg.mkPen("k"))
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        self.setTitle("Cox model: hazard ratios", color="k")
        self.setLabel("bottom", "Hazard ratio (95% CI)")
        # The axis holds log10(HR): pyqtgraph would call a range near 0 "×0.001" and rescale it.
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.setMinimumHeight(120)
        self.terms: list[str] = []
        self.interval_texts: list[str] = []
        """``HR (lower–upper)`` beside each row, top to bottom."""
        self.x_ticks: list[str] = []
        self.table = pd.DataFrame(columns=["term", "hr", "ci_lower", "ci_upper"])

    def clear_plot(self) -> None:
        self.getPlotItem().clear()
        self.terms = []
        self.interval_texts = []
        self.x_ticks = []
        for side in ("left", "right"):
            self.getAxis(side).setTicks([[]])

    def show_cox(self, cox: pd.DataFrame | None, level: int = 95) -> None:
        """Draw the rows of a Cox table (columns ``term``, ``hr``, ``ci_lower``, ``ci_upper``)."""
        self.clear_plot()
        self.setLabel("bottom", f"Hazard ratio ({level}% CI)")
        if cox is None or cox.empty:
            self.table = pd.DataFrame(columns=["term", "hr", "ci_lower", "ci_upper"])
            return
        self.table = cox[["term", "hr", "ci_lower", "ci_upper"]].reset_index(drop=True)
        n = len(self.table)
        values = self.table[["hr", "ci_lower", "ci_upper"]].to_numpy(dtype=float)
        usable = values[np.isfinite(values) & (values > 0)]
        low = min(0.5, float(usable.min()) / 1.15) if usable.size else 0.5
        high = max(2.0, float(usable.max()) * 1.15) if usable.size else 2.0
        x_low, x_high = math.log10(low), math.log10(high)

        reference = pg.InfiniteLine(
            0.0, angle=90, pen=pg.mkPen(110, 110, 110, width=1.5, style=Qt.PenStyle.DashLine)
        )
        self.addItem(reference)
        line_pen = pg.mkPen(40, 40, 40, width=2)
        for row, (hr, lower, upper) in enumerate(values):
            y = n - 1 - row
            a = math.log10(lower) if np.isfinite(lower) and lower > 0 else x_low
            b = math.log10(upper) if np.isfinite(upper) and upper > 0 else x_high
            self.plot([a, b], [y, y], pen=line_pen)
            if np.isfinite(hr) and hr > 0:
                self.plot(
                    [math.log10(hr)],
                    [y],
                    pen=None,
                    symbol="s",
                    symbolSize=10,
                    symbolPen=pg.mkPen(31, 119, 180),
                    symbolBrush=pg.mkBrush(31, 119, 180),
                )
        self.terms = [str(t) for t in self.table["term"]]
        self.getAxis("left").setTicks([[(n - 1 - i, term) for i, term in enumerate(self.terms)]])
        self.interval_texts = [interval_text(*row) for row in values]
        self.getAxis("right").setTicks(
            [[(n - 1 - i, text) for i, text in enumerate(self.interval_texts)]]
        )
        ticks = log_ticks(low, high)
        self.x_ticks = [label for _, label in ticks]
        self.getAxis("bottom").setTicks([ticks])
        self.setXRange(x_low, x_high, padding=0.02)
        self.setYRange(-0.6, n - 0.4, padding=0)

    def preferred_height(self) -> int:
        """The height that gives each row room to read (the minimum stays small: the panel
        must fit a small screen, where the plot's splitter can be dragged)."""
        return 90 + _ROW_PIXELS * max(1, len(self.terms))


__all__ = ["ForestPlot", "interval_text", "log_ticks"]
