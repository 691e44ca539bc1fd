"""pyqtgraph views of the Gene expression panel. They draw numbers computed in ``core.expression``;
nothing here reads files or runs tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
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


STRIP_HEIGHT = 1.0  # the group strip above a heat map, in matrix rows
STRIP_GAP = 0.25
TOP_LABELS = 10  # genes named on a volcano plot
# Where a gene's name may go, tried in order, as TextItem anchors: right and above the point,
# left and above, right and below, left and below, centred above, centred below.
LABEL_SIDES = ((0.0, 1.0), (1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.5, 1.0), (0.5, 0.0))
_LABEL_GAP = {0.0: 3.0, 1.0: -3.0, 0.5: 0.0}  # pixels between a point and its name


def _elide(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def colour_for(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


class HeatMap(pg.GraphicsLayoutWidget):
    """A matrix as an image with a colour bar; row and column labels when they fit.

    Signals
    -------
    rows_fit_changed(rows)
        After a resize: how many labelled rows now fit (see :meth:`rows_that_fit`).
    """

    rows_fit_changed = Signal(int)

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
        # The colour of each sample's group, in a strip above the matrix.
        self.strip = pg.ImageItem(axisOrder="row-major")
        self.strip.hide()
        self.plot.addItem(self.strip)
        small = QFont()
        small.setPointSizeF(max(6.5, small.pointSizeF() - 1.5))
        self.plot.getAxis("left").setStyle(tickFont=small)
        self.plot.getAxis("bottom").setStyle(tickFont=small)
        self._line_height = QFontMetrics(small).height()
        self._rows_fit = -1
        self.plot.getViewBox().sigResized.connect(self._on_view_resized)
        self.setMinimumHeight(200)

    def rows_that_fit(self) -> int:
        """How many matrix rows the plot can show with a legible label each, below a group
        strip (0 before the plot has a size)."""
        height = self.plot.getViewBox().height()
        if height <= 0:
            return 0
        return max(0, int(height // self._line_height) - 1)

    def _on_view_resized(self, *_args) -> None:
        rows = self.rows_that_fit()
        if rows != self._rows_fit:
            self._rows_fit = rows
            self.rows_fit_changed.emit(rows)

    def set_matrix(
        self,
        matrix: np.ndarray,
        row_labels: list[str],
        column_labels: list[str],
        levels: tuple[float, float] | None = None,
        colour_map: str = "CET-D1",
        column_groups: list[str] | None = None,
        group_colours: dict[str, tuple[int, int, int]] | None = None,
    ) -> None:
        """Draw ``matrix`` (rows × columns).

        ``column_groups``: a group name per column (columns sorted by group); lines separate the
        groups, and the axis names each group wide enough for its name, unless ``column_labels``
        are given (they are shown when they fit). ``group_colours``: a colour per group, drawn as
        a strip above the matrix so that every group, however narrow, can be told apart (the
        panel names the colours beside the heat map).
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        self.strip.clear()
        self.strip.hide()
        if matrix.size == 0:
            self.image.clear()
            for line in getattr(self, "_group_lines", []):
                self.plot.removeItem(line)
            self._group_lines = []
            self.plot.getAxis("left").setTicks(None)
            self.plot.getAxis("bottom").setTicks(None)
            return
        if levels is None:
            finite = matrix[np.isfinite(matrix)]
            bound = float(np.max(np.abs(finite))) if finite.size else 1.0
            levels = (-bound, bound)
        self.bar.setColorMap(pg.colormap.get(colour_map))
        self.image.setImage(np.nan_to_num(matrix), autoLevels=False)
        self.bar.setLevels(levels)
        left, bottom = self.plot.getAxis("left"), self.plot.getAxis("bottom")
        row_ticks = (
            [(i + 0.5, s) for i, s in enumerate(row_labels)] if len(row_labels) <= 60 else []
        )
        for line in getattr(self, "_group_lines", []):
            self.plot.removeItem(line)
        self._group_lines = []
        top = 0.0
        sample_ticks = (
            [(i + 0.5, s) for i, s in enumerate(column_labels)]
            if column_labels and len(column_labels) <= 30
            else None
        )
        if column_groups:
            groups = np.asarray(column_groups, dtype=object)
            starts = [0, *np.flatnonzero(groups[1:] != groups[:-1]) + 1]
            ends = [*starts[1:], len(groups)]
            if sample_ticks is None and not group_colours:
                # Name only groups wide enough for a label; narrow ones would overlap their
                # neighbours (with colours, the strip and the panel's key name them all).
                sample_ticks = [
                    ((a + b) / 2, _elide(str(groups[a]), 16))
                    for a, b in zip(starts, ends, strict=True)
                    if (b - a) >= 0.1 * len(groups)
                ]
            for start in starts[1:]:
                line = pg.InfiniteLine(pos=start, angle=90, pen=pg.mkPen((0, 0, 0), width=2))
                self.plot.addItem(line)
                self._group_lines.append(line)
            if group_colours:
                grey = (200, 200, 200)
                rgb = np.array([[group_colours.get(str(g), grey) for g in groups]], dtype=np.ubyte)
                # One matrix row high, above row 0 (the y axis points down), with a small gap.
                self.strip.setImage(rgb, levels=(0, 255))
                self.strip.setRect(QRectF(0, -STRIP_HEIGHT - STRIP_GAP, len(groups), STRIP_HEIGHT))
                self.strip.show()
                top = -STRIP_HEIGHT - STRIP_GAP
                row_ticks.insert(0, (-STRIP_GAP - STRIP_HEIGHT / 2, "group"))
        left.setTicks([row_ticks] if row_ticks else None)
        if sample_ticks is None and column_groups:
            sample_ticks = []  # column numbers would mean nothing under grouped columns
        bottom.setTicks([sample_ticks] if sample_ticks is not None else None)
        self.plot.setRange(xRange=(0, matrix.shape[1]), yRange=(top, matrix.shape[0]), padding=0)


NOT_SIGNIFICANT_CODE, UP_CODE, DOWN_CODE = 0, 1, 2
CATEGORY_COLOURS = {NOT_SIGNIFICANT_CODE: NOT_SIGNIFICANT, UP_CODE: UP, DOWN_CODE: DOWN}


class _GeneScatter(pg.ScatterPlotItem):
    """A scatter layer that also reports a right click on a point (a left click is pyqtgraph's
    ``sigClicked``); a right click elsewhere still opens the plot's own menu."""

    def __init__(self, *args, on_right_click=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_right_click = on_right_click

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.RightButton and self.on_right_click is not None:
            points = self.pointsAt(ev.pos())
            if len(points):
                ev.accept()
                self.on_right_click(points, ev.screenPos())
                return
        super().mouseClickEvent(ev)


class GenePlot(pg.PlotWidget):
    """A scatter of genes (volcano or MA) that reports clicks and can highlight one gene.

    One scatter item per category (not significant, up, down), each with one brush: pyqtgraph
    styles 30,000 individually coloured points in about half a second, too slow for thresholds
    that recolour while the user types.
    """

    gene_clicked = Signal(int)  # position in the result table
    # A right click on a gene: its position in the result table, the click's screen position.
    gene_menu_requested = Signal(int, QPoint)

    def __init__(self, title: str, x_label: str, y_label: str, parent=None) -> None:
        super().__init__(parent, background="w")
        item = self.getPlotItem()
        item.setTitle(title, color="#333", size="10pt")
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        item.showGrid(x=True, y=True, alpha=0.2)
        self.setMinimumHeight(150)
        self.setMinimumWidth(220)
        self.layers: dict[int, pg.ScatterPlotItem] = {}
        for code, colour in CATEGORY_COLOURS.items():
            layer = _GeneScatter(
                size=5,
                pen=None,
                brush=pg.mkBrush(*colour),
                hoverable=True,
                tip=self._tip,
                on_right_click=self._on_right_clicked,
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
        self._selected: int | None = None
        # Names of the top genes beside their points: (table position, text item), best first.
        self.top_labels: list[tuple[int, pg.TextItem]] = []
        self._label_font = QFont()
        self._label_font.setPointSizeF(max(7.0, self._label_font.pointSizeF() - 1.0))
        # Placing labels needs the view's pixel scale: redo it after a zoom, pan or resize.
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(0)
        self._layout_timer.timeout.connect(self.layout_top_labels)
        view = self.getPlotItem().getViewBox()
        view.sigTransformChanged.connect(self._layout_timer.start)
        view.sigResized.connect(self._layout_timer.start)

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
        self._selected = None
        self.set_top_labels([])

    def set_top_labels(self, positions) -> None:
        """Name the genes at these table positions beside their points (most important first:
        when labels would overlap, the later one is left out)."""
        for _position, item in self.top_labels:
            self.removeItem(item)
        self.top_labels = []
        for position in positions:
            position = int(position)
            if not 0 <= position < len(self._x):
                continue
            x, y = self._x[position], self._y[position]
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
            item = pg.TextItem(self._genes[position], color=(25, 25, 25), anchor=(0, 1))
            item.setFont(self._label_font)
            item.setPos(x, y)
            item.setZValue(9)
            self.addItem(item)
            self.top_labels.append((position, item))
        self.layout_top_labels()

    def shown_top_labels(self) -> list[str]:
        """The gene names drawn now (for tests and screenshots)."""
        return [item.textItem.toPlainText() for _p, item in self.top_labels if item.isVisible()]

    def top_label_rects(self) -> list[QRectF]:
        """Scene rectangles of the labels drawn now."""
        return [item.sceneBoundingRect() for _p, item in self.top_labels if item.isVisible()]

    def layout_top_labels(self) -> None:
        """Put each label on the side of its point where it overlaps no label placed before it
        and stays inside the plot; a label with no such side is hidden (its gene's tooltip
        still names it)."""
        if not self.top_labels:
            return
        view = self.getPlotItem().getViewBox()
        area = view.sceneBoundingRect()
        placed: list[QRectF] = []
        if (
            self._selected is not None
            and self.label.isVisible()
            and self.label.textItem.toPlainText()
        ):
            placed.append(self.label.sceneBoundingRect())
        for position, item in self.top_labels:
            if position == self._selected:
                item.hide()  # the highlight names it already
                continue
            point = view.mapViewToScene(QPointF(self._x[position], self._y[position]))
            size = item.textItem.boundingRect()
            width, height = size.width(), size.height()
            chosen = None
            for ax, ay in LABEL_SIDES:
                rect = QRectF(
                    point.x() - ax * width + _LABEL_GAP[ax],
                    point.y() - ay * height,
                    width,
                    height,
                )
                if area.contains(rect) and not any(rect.intersects(r) for r in placed):
                    chosen = (ax, ay, rect)
                    break
            if chosen is None:
                item.hide()
                continue
            ax, ay, rect = chosen
            item.setAnchor((ax - _LABEL_GAP[ax] / width, ay))
            item.show()
            placed.append(rect)

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
            self._show_no_gene()
            return
        x, y = self._x[position], self._y[position]
        if not (np.isfinite(x) and np.isfinite(y)):
            self._show_no_gene()
            return
        self._selected = position
        self.highlight.setData(x=[x], y=[y])
        self.label.setText(self._genes[position])
        self.label.setPos(x, y)
        self.layout_top_labels()

    def _show_no_gene(self) -> None:
        self._selected = None
        self.highlight.clear()
        self.label.setText("")
        self.layout_top_labels()

    def _on_clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.gene_clicked.emit(int(points[0].data()))

    def _on_right_clicked(self, points, screen_pos) -> None:
        self.gene_menu_requested.emit(int(points[0].data()), screen_pos.toPoint())


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
        from ui.tables.dataframe_model import RawValueRole

        value = index.data(RawValueRole)
        if isinstance(value, float):
            option.text = f"{value:.3g}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"
