"""pyqtgraph views of the Gene expression panel. They draw numbers computed in ``core.expression``;
nothing here reads files or runs tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QStyledItemDelegate, QWidget

PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip
UP, DOWN, NOT_SIGNIFICANT = (214, 39, 40), (31, 119, 180), (170, 170, 170)
HIGHLIGHT = (255, 200, 0)


def make_plot(title: str, x_label: str, y_label: str, legend: bool = False) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, color="#333", size="10pt")
    item.setLabel("bottom", x_label)
    item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.2)
    if legend:
        item.addLegend(
            offset=(-5, 5), brush=pg.mkBrush(255, 255, 255, 215), labelTextSize="8pt", verSpacing=-6
        )
    widget.setMinimumHeight(150)
    widget.setMinimumWidth(200)
    return widget


def bar_chart(
    widget: pg.PlotWidget, labels: list[str], values: np.ndarray, flagged: np.ndarray
) -> None:
    """Bars per sample; flagged samples in red. Tick labels only when they fit."""
    widget.clear()
    x = np.arange(len(values))
    brushes = [pg.mkBrush(*(UP if f else DOWN)) for f in flagged]
    widget.addItem(
        pg.BarGraphItem(x=x, height=np.asarray(values, float), width=0.8, brushes=brushes)
    )
    axis = widget.getPlotItem().getAxis("bottom")
    if len(labels) <= 40:
        axis.setTicks([[(i, label) for i, label in enumerate(labels)]])
    else:
        axis.setTicks(None)
    widget.getPlotItem().enableAutoRange()


def _elide(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def colour_for(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


class HeatMap(pg.GraphicsLayoutWidget):
    """A matrix as an image with a colour bar; row and column labels when they fit."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.plot = self.addPlot(title=title)
        self.plot.setTitle(title, color="#333", size="10pt")
        self.plot.invertY(True)
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(colorMap=pg.colormap.get("CET-D1"), interactive=False, width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot)
        self.setMinimumHeight(200)

    def set_matrix(
        self,
        matrix: np.ndarray,
        row_labels: list[str],
        column_labels: list[str],
        levels: tuple[float, float] | None = None,
        colour_map: str = "CET-D1",
        column_groups: list[str] | None = None,
    ) -> None:
        """Draw ``matrix`` (rows × columns). ``column_groups``: a group name per column (columns
        sorted by group); the axis then names each group at its centre and lines separate them."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.size == 0:
            self.image.clear()
            return
        if levels is None:
            finite = matrix[np.isfinite(matrix)]
            bound = float(np.max(np.abs(finite))) if finite.size else 1.0
            levels = (-bound, bound)
        self.bar.setColorMap(pg.colormap.get(colour_map))
        self.image.setImage(np.nan_to_num(matrix), autoLevels=False)
        self.bar.setLevels(levels)
        left, bottom = self.plot.getAxis("left"), self.plot.getAxis("bottom")
        left.setTicks(
            [[(i + 0.5, s) for i, s in enumerate(row_labels)]] if len(row_labels) <= 60 else None
        )
        for line in getattr(self, "_group_lines", []):
            self.plot.removeItem(line)
        self._group_lines = []
        if column_groups:
            groups = np.asarray(column_groups, dtype=object)
            starts = [0, *np.flatnonzero(groups[1:] != groups[:-1]) + 1]
            ends = [*starts[1:], len(groups)]
            # Name only groups wide enough for a label; narrow ones would overlap their neighbours.
            ticks = [
                ((a + b) / 2, _elide(str(groups[a]), 16))
                for a, b in zip(starts, ends, strict=True)
                if (b - a) >= 0.1 * len(groups)
            ]
            bottom.setTicks([ticks])
            for start in starts[1:]:
                line = pg.InfiniteLine(pos=start, angle=90, pen=pg.mkPen((0, 0, 0), width=2))
                self.plot.addItem(line)
                self._group_lines.append(line)
        else:
            bottom.setTicks(
                [[(i + 0.5, s) for i, s in enumerate(column_labels)]]
                if len(column_labels) <= 30
                else None
            )
        self.plot.setRange(xRange=(0, matrix.shape[1]), yRange=(0, matrix.shape[0]), padding=0)


NOT_SIGNIFICANT_CODE, UP_CODE, DOWN_CODE = 0, 1, 2
CATEGORY_COLOURS = {NOT_SIGNIFICANT_CODE: NOT_SIGNIFICANT, UP_CODE: UP, DOWN_CODE: DOWN}


class GenePlot(pg.PlotWidget):
    """A scatter of genes (volcano or MA) that reports clicks and can highlight one gene.

    One scatter item per category (not significant, up, down), each with one brush: pyqtgraph
    styles 30,000 individually coloured points in about half a second, too slow for thresholds
    that recolour while the user types.
    """

    gene_clicked = Signal(int)  # position in the result table

    def __init__(self, title: str, x_label: str, y_label: str, parent=None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.setTitle(title, color="#333", size="10pt")
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        item.showGrid(x=True, y=True, alpha=0.2)
        self.setMinimumHeight(180)
        self.setMinimumWidth(220)
        self.layers: dict[int, pg.ScatterPlotItem] = {}
        for code, colour in CATEGORY_COLOURS.items():
            layer = pg.ScatterPlotItem(
                size=5, pen=None, brush=pg.mkBrush(*colour), hoverable=True, tip=self._tip
            )
            layer.setZValue(1 if code == NOT_SIGNIFICANT_CODE else 2)
            layer.sigClicked.connect(self._on_clicked)
            self.layers[code] = layer
            self.addItem(layer)
        self.highlight = pg.ScatterPlotItem(
            size=14, pen=pg.mkPen(HIGHLIGHT, width=2.5), brush=pg.mkBrush(0, 0, 0, 0)
        )
        self.highlight.setZValue(10)
        self.label = pg.TextItem(color=(40, 40, 40), anchor=(0, 1))
        self.label.setZValue(11)
        self.lines: list[pg.InfiniteLine] = []
        self.addItem(self.highlight)
        self.addItem(self.label)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._genes: list[str] = []

    def _tip(self, x, y, data) -> str:
        if isinstance(data, (int, np.integer)) and 0 <= data < len(self._genes):
            return f"{self._genes[int(data)]}\nx = {x:.3g}, y = {y:.3g}"
        return f"x = {x:.3g}, y = {y:.3g}"

    def set_points(
        self, x: np.ndarray, y: np.ndarray, genes: list[str], categories: np.ndarray
    ) -> None:
        """Genes at (x, y); ``categories``: 0 not significant, 1 up, 2 down (NaN points hidden)."""
        self._x, self._y, self._genes = np.asarray(x, float), np.asarray(y, float), genes
        self.set_categories(categories)
        self.highlight.clear()
        self.label.setText("")

    def set_categories(self, categories: np.ndarray) -> None:
        categories = np.asarray(categories)
        ok = np.isfinite(self._x) & np.isfinite(self._y)
        if len(categories) != len(ok):
            categories = np.zeros(len(ok), dtype=np.int8)
        for code, layer in self.layers.items():
            positions = np.flatnonzero(ok & (categories == code))
            layer.setData(x=self._x[positions], y=self._y[positions], data=positions)

    def set_lines(self, vertical: list[float], horizontal: list[float]) -> None:
        for line in self.lines:
            self.removeItem(line)
        pen = pg.mkPen((90, 90, 90), width=1, style=Qt.PenStyle.DashLine)
        self.lines = [pg.InfiniteLine(pos=v, angle=90, pen=pen) for v in vertical]
        self.lines += [pg.InfiniteLine(pos=h, angle=0, pen=pen) for h in horizontal]
        for line in self.lines:
            self.addItem(line)

    def show_gene(self, position: int | None) -> None:
        if position is None or not 0 <= position < len(self._x):
            self.highlight.clear()
            self.label.setText("")
            return
        x, y = self._x[position], self._y[position]
        if not (np.isfinite(x) and np.isfinite(y)):
            self.highlight.clear()
            self.label.setText("")
            return
        self.highlight.setData(x=[x], y=[y])
        self.label.setText(self._genes[position])
        self.label.setPos(x, y)

    def _on_clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.gene_clicked.emit(int(points[0].data()))


def significance_categories(table: pd.DataFrame, padj: float, min_abs_fc: float) -> np.ndarray:
    """Per gene: 1 significant up, 2 significant down, 0 otherwise."""
    p = table["padj"].to_numpy(dtype=np.float64)
    fc = table["log2fc"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        significant = (p < padj) & (np.abs(fc) >= min_abs_fc)
    categories = np.zeros(len(table), dtype=np.int8)
    categories[significant & (fc > 0)] = UP_CODE
    categories[significant & (fc < 0)] = DOWN_CODE
    return categories


class PValueDelegate(QStyledItemDelegate):
    """Shows small numbers (p-values) as 3.2e-68 instead of the model's fixed 0.000000."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        from ui.models.dataframe_model import RawValueRole

        value = index.data(RawValueRole)
        if isinstance(value, float):
            option.text = f"{value:.3g}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"
