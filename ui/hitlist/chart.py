"""Scatter of any two columns coloured by a third, and a histogram, linked with the table: they
show the rows the table shows (its filters and search), and a click selects a row.

Colours follow viridis, a perceptually uniform map that reads in grey and with colour-vision
deficiencies; a colour bar under the scatter gives its scale. Axes are titled with units
(:func:`ui.hitlist.titles.axis_title`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.hitlist.titles import axis_title

# Above this many points the scatter shows a fixed random sample (drawing every point of a
# million-row library would stall the window); the label says so.
MAX_POINTS = 20_000
NONE = "(none)"
COLOUR_MAP = "viridis"
COLOUR_STEPS = 64


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    series = table[column]
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _parentless_plot_objects(plot_widget) -> list[QObject]:
    """The Qt objects pyqtgraph makes for a plot without a Qt parent: its context menus and their
    widget groups. Python owns them, so Python's cycle collector destroys them, in whichever thread
    it happens to run; Qt objects must be destroyed on the thread they live in. (pyqtgraph
    internals, read defensively: a version without them gives fewer objects, not an error.)
    Takes a ``PlotWidget`` or a ``PlotItem`` (a colour bar is one)."""
    plot = plot_widget.getPlotItem() if hasattr(plot_widget, "getPlotItem") else plot_widget
    view_box = plot.getViewBox() if hasattr(plot, "getViewBox") else None
    view_menu = getattr(view_box, "menu", None)
    candidates = [getattr(plot, "ctrlMenu", None), getattr(plot, "stateGroup", None), view_menu]
    candidates += list(getattr(view_menu, "widgetGroups", None) or [])
    return [obj for obj in candidates if isinstance(obj, QObject) and obj.parent() is None]


def _delete_now(objects: list[QObject]) -> None:
    for obj in objects:
        if shiboken6.isValid(obj):
            shiboken6.delete(obj)
    objects.clear()


def _set_axis_title(axis, title: str) -> None:
    """Title an axis and keep its numbers as they are: pyqtgraph otherwise rescales an axis
    spanning 0–1 by 1000 (0.5 shown as 500) even with its SI prefixes turned off."""
    axis.setLabel(title, siPrefixEnableRanges=())
    axis.enableAutoSIPrefix(False)


class ChartView(QWidget):
    points_clicked = Signal(object)  # numpy array of table positions

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table: pd.DataFrame | None = None
        self.rows: np.ndarray | None = None
        """Table positions the table shows (its filter); ``None``: every row."""
        self.x_box, self.y_box, self.colour_box, self.histogram_box = (
            QComboBox() for _ in range(4)
        )
        for box in (self.x_box, self.y_box, self.colour_box, self.histogram_box):
            # Titles can be long ("Human Intestinal Absorption (probability)"): the boxes
            # shrink to the panel rather than widen it.
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(6)
            box.currentIndexChanged.connect(self.redraw)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        axes = QHBoxLayout()
        axes.addWidget(self.x_box, 1)
        axes.addWidget(QLabel("vs"))
        axes.addWidget(self.y_box, 1)
        form.addRow("X / Y", axes)
        form.addRow("Colour", self.colour_box)
        # Parented now although laid out only when the plots are built (first show): a closed
        # panel's widgets are then freed by Qt on the GUI thread, not by Python's collector.
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        self._layout = QVBoxLayout(self)
        self._layout.addLayout(form)
        self.histogram_form = QFormLayout()
        self._layout.addLayout(self.histogram_form)  # the plots go around it when first shown
        self.histogram_form.addRow("Histogram", self.histogram_box)
        # The plots are made on first show: importing pyqtgraph costs a quarter of a second of
        # start-up, and most sessions never open the chart.
        self.scatter_widget = self.scatter = self.selected = self.histogram_widget = None
        self.colour_bar = None
        self._positions = np.zeros(0, dtype=np.int64)
        self._xy = np.zeros((0, 2))
        self._selected_positions = np.zeros(0, dtype=np.int64)
        self._dirty = False

    def numeric_columns(self) -> list[str]:
        if self.table is None:
            return []
        return [
            str(c)
            for c in self.table.columns
            if pd.api.types.is_numeric_dtype(self.table[c].dtype)
            and not pd.api.types.is_bool_dtype(self.table[c].dtype)
        ]

    def _build_plots(self) -> None:
        import pyqtgraph as pg

        self.scatter_widget = pg.PlotWidget(background="w")
        self.scatter_widget.setMinimumHeight(220)
        self.scatter = pg.ScatterPlotItem(size=7, pen=None, hoverable=False)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.selected = pg.ScatterPlotItem(
            size=12, pen=pg.mkPen("#d62728", width=2), brush=None, symbol="o"
        )
        self.scatter_widget.addItem(self.scatter)
        self.scatter_widget.addItem(self.selected)
        # The colour scale, under the x axis (the panel is narrow, a bar at the side would
        # take the plot's width).
        self.colour_bar = pg.ColorBarItem(
            values=(0.0, 1.0),
            colorMap=pg.colormap.get(COLOUR_MAP),
            interactive=False,
            orientation="horizontal",
            width=12,
            colorMapMenu=False,
        )
        self.colour_bar.setImageItem([], insert_in=self.scatter_widget.getPlotItem())
        self.colour_bar.hide()
        self.histogram_widget = pg.PlotWidget(background="w")
        self.histogram_widget.setMinimumHeight(150)
        # Deleted with the chart (on the GUI thread, when Qt deletes a closed tab), not later by
        # Python's collector on some other thread.
        parentless = [
            obj
            for widget in (self.scatter_widget, self.histogram_widget, self.colour_bar)
            for obj in _parentless_plot_objects(widget)
        ]
        self.destroyed.connect(lambda *_: _delete_now(parentless))
        self._layout.insertWidget(1, self.scatter_widget, 3)
        self._layout.insertWidget(2, self.note)
        self._layout.addWidget(self.histogram_widget, 2)

    def showEvent(self, event) -> None:
        if self.scatter_widget is None:
            self._build_plots()
        super().showEvent(event)
        if self._dirty:
            self.redraw()

    def set_table(self, table: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        """Offer the table's columns; the plot itself is drawn when the chart is visible.
        ``rows``: the table positions shown (``None``: all)."""
        self.table = table
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        columns = self.numeric_columns()
        defaults = {
            self.x_box: "mw",
            self.y_box: "clogp",
            self.colour_box: "score" if "score" in columns else NONE,
            self.histogram_box: "score" if "score" in columns else "qed",
        }
        for box, default in defaults.items():
            current = box.currentData() or default
            if box is self.colour_box and "score" in columns and current == NONE:
                current = "score"
            box.blockSignals(True)
            box.clear()
            if box is self.colour_box:
                box.addItem("(none)", NONE)
            for column in columns:
                box.addItem(axis_title(column), column)
                box.setItemData(box.count() - 1, column, Qt.ItemDataRole.ToolTipRole)
            index = box.findData(current)
            box.setCurrentIndex(index if index >= 0 else 0)
            box.blockSignals(False)
        self.redraw()

    def set_rows(self, rows: np.ndarray | None) -> None:
        """Show only these table positions (the table's filter); ``None``: every row."""
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.redraw()

    def redraw(self, *_args) -> None:
        if self.table is None or not self.x_box.currentData() or not self.y_box.currentData():
            return
        if not self.isVisible() or self.scatter_widget is None:  # ~0.1 s: only when looked at
            self._dirty = True
            return
        self._dirty = False
        import pyqtgraph as pg

        table = self.table
        x_name, y_name = self.x_box.currentData(), self.y_box.currentData()
        x, y = _numbers(table, x_name), _numbers(table, y_name)
        shown = np.arange(len(table)) if self.rows is None else np.sort(self.rows)
        shown = shown[shown < len(table)]
        positions = shown[~np.isnan(x[shown]) & ~np.isnan(y[shown])]
        sampled = len(positions) > MAX_POINTS
        if sampled:
            positions = np.sort(
                np.random.default_rng(0).choice(positions, MAX_POINTS, replace=False)
            )
        self._positions = positions
        self._xy = np.column_stack([x[positions], y[positions]])
        colour_name = self.colour_box.currentData()
        brushes = None
        if colour_name and colour_name != NONE:
            values = _numbers(table, colour_name)[positions]
            brushes, (low, high) = self._brushes(values)
            self.colour_bar.setLevels((low, high))
            _set_axis_title(self.colour_bar.getAxis("bottom"), axis_title(colour_name))
            self.colour_bar.show()
        else:
            self.colour_bar.hide()
        self.scatter.setData(
            x=self._xy[:, 0],
            y=self._xy[:, 1],
            brush=brushes if brushes is not None else pg.mkBrush(31, 119, 180, 170),
            pen=pg.mkPen(255, 255, 255, 150, width=0.5),
        )
        plot = self.scatter_widget.getPlotItem()
        _set_axis_title(plot.getAxis("bottom"), axis_title(x_name))
        _set_axis_title(plot.getAxis("left"), axis_title(y_name))
        filtered = self.rows is not None and len(shown) < len(table)
        if filtered:
            note = f"{len(positions):,} of the {len(shown):,} molecules the table shows"
        else:
            note = f"{len(positions):,} molecules"
        missing = len(shown) - len(positions) if not sampled else 0
        if missing:
            note += f" ({missing:,} without both values)"
        if sampled:
            note += f" (a random sample of {MAX_POINTS:,})"
        if colour_name and colour_name != NONE:
            note += "; grey: no colour value"
        self.note.setText(note + ". Click a point to select its row.")
        self.set_selected(self._selected_positions)
        self._draw_histogram(shown)

    @staticmethod
    def _brushes(values: np.ndarray) -> tuple[list, tuple[float, float]]:
        import pyqtgraph as pg

        finite = values[~np.isnan(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high <= low:
            high = low + 1.0
        span = high - low
        lookup = pg.colormap.get(COLOUR_MAP).getLookupTable(nPts=COLOUR_STEPS, alpha=False)
        brushes = [pg.mkBrush(*lookup[i], 220) for i in range(COLOUR_STEPS)]
        grey = pg.mkBrush(170, 170, 170, 120)
        top = COLOUR_STEPS - 1
        index = np.clip(np.nan_to_num((values - low) / span * top).round(), 0, top)
        return [
            grey if np.isnan(v) else brushes[int(i)] for v, i in zip(values, index, strict=True)
        ], (low, high)

    def _draw_histogram(self, shown: np.ndarray) -> None:
        import pyqtgraph as pg

        self.histogram_widget.clear()
        name = self.histogram_box.currentData()
        if self.table is None or not name:
            return
        values = _numbers(self.table, name)[shown]
        values = values[~np.isnan(values)]
        if values.size == 0:
            return
        counts, edges = np.histogram(values, bins=min(50, max(5, int(np.sqrt(values.size)))))
        self.histogram_widget.addItem(
            pg.BarGraphItem(
                x0=edges[:-1], x1=edges[1:], height=counts, brush=pg.mkBrush(59, 82, 139, 200)
            )
        )
        plot = self.histogram_widget.getPlotItem()
        _set_axis_title(plot.getAxis("bottom"), axis_title(name))
        _set_axis_title(plot.getAxis("left"), "Molecules (count)")

    def set_selected(self, positions) -> None:
        """Ring the points of the table's selected rows."""
        self._selected_positions = np.asarray(positions, dtype=np.int64)
        if self.selected is None:
            return
        if len(self._positions) == 0 or len(self._selected_positions) == 0:
            self.selected.setData(x=[], y=[])
            return
        shown = np.isin(self._positions, self._selected_positions)
        self.selected.setData(x=self._xy[shown, 0], y=self._xy[shown, 1])

    def _on_clicked(self, _item, points, _event=None) -> None:
        positions = np.array([self._positions[p.index()] for p in points], dtype=np.int64)
        if len(positions):
            self.points_clicked.emit(positions[:1])
