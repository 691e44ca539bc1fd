"""Small shared pieces of the trials panel: an editable table model, result tables, plot export."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from core.fileio import OutputError, atomic_path
from core.trials import TrialDataError
from core.trials.data import set_cell
from ui.tables.dataframe_model import ColumnSpec, DataFrameModel, configure_table_view

PALETTE = (
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
"""Arm colours (matplotlib's tab10: distinguishable and familiar from papers)."""

PLOT_FILTER = "PNG image (*.png);;SVG vector image (*.svg)"
TABLE_FILTER = "CSV (*.csv);;Excel workbook (*.xlsx);;Tab-separated (*.tsv)"


def arm_color(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def style_plot(item) -> None:
    """Dark axes and text on a white plot (pyqtgraph's default grey is faint on white)."""
    import pyqtgraph as pg

    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen("k"))
        axis.setTextPen(pg.mkPen("k"))
    item.showGrid(x=True, y=True, alpha=0.25)


def typed_specs(frame: pd.DataFrame, types: dict[str, str]) -> list[ColumnSpec]:
    """Columns of the data table, each header showing the column's type under its name."""
    from ui.tables.dataframe_model import infer_kind

    specs = []
    for position, name in enumerate(frame.columns):
        kind = types.get(str(name), "")
        specs.append(
            ColumnSpec(
                key=name,
                title=f"{name}\n{kind}" if kind else str(name),
                kind=infer_kind(frame.dtypes.iloc[position]),
                tooltip=f"{name}: {kind}; change it with 'Set type'",
            )
        )
    return specs


class EditableFrameModel(DataFrameModel):
    """The shared :class:`DataFrameModel` with cells editable: each edit goes through
    :func:`core.trials.data.set_cell`, which parses the text to the column's type.

    Signals
    -------
    frame_edited(frame)
        After an accepted edit, with the new frame.
    edit_failed(message)
        When the text does not fit the column's type (the cell keeps its value).
    """

    frame_edited = Signal(object)
    edit_failed = Signal(str)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid():
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if role == Qt.ItemDataRole.EditRole:
            return super().data(index, Qt.ItemDataRole.DisplayRole)
        return super().data(index, role)

    def setData(
        self,
        index: QModelIndex | QPersistentModelIndex,
        value,
        role: int = Qt.ItemDataRole.EditRole,
    ) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        key = self.columns()[index.column()].key
        position = self.source_row(index.row())
        try:
            frame = set_cell(self.frame(), position, str(key), "" if value is None else str(value))
        except TrialDataError as exc:
            self.edit_failed.emit(str(exc))
            return False
        self.set_frame(frame)
        self.frame_edited.emit(frame)
        return True


def result_view(parent=None) -> tuple[QTableView, DataFrameModel]:
    """A read-only table view over a fresh :class:`DataFrameModel`, columns sized to contents."""
    model = DataFrameModel(parent=parent)
    view = QTableView(parent)
    view.setModel(model)
    configure_table_view(view)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view, model


def float_specs(frame: pd.DataFrame, decimals: dict[str, int] | None = None) -> list[ColumnSpec]:
    """Column specs for a result table: floats with sensible decimals (p-values in 4)."""
    decimals = decimals or {}
    specs = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_float_dtype(dtype):
            digits = decimals.get(str(name), 4 if str(name) == "p" or "_p" in str(name) else 3)
            specs.append(ColumnSpec(key=name, kind="float", decimals=digits))
        elif pd.api.types.is_integer_dtype(dtype):
            specs.append(ColumnSpec(key=name, kind="int"))
        else:
            specs.append(ColumnSpec(key=name))
    return specs


def format_p(value: float) -> str:
    """A p-value as people read it: 0.0034, 1.2e-10."""
    if pd.isna(value):
        return ""
    return f"{value:.2e}" if value < 1e-4 else f"{value:.4f}"


def show_table(model: DataFrameModel, frame: pd.DataFrame | None, **decimals: int) -> None:
    """Show a result table; p-value columns (``p``, ``*_p``) as text so tiny ones stay readable."""
    if frame is None:
        frame = pd.DataFrame()
    p_columns = [c for c in frame.columns if str(c) == "p" or str(c).endswith("_p")]
    if p_columns:
        frame = frame.assign(**{str(c): frame[c].map(format_p) for c in p_columns})
    model.set_columns(float_specs(frame, decimals))
    model.set_frame(frame)


def export_plot(item, path: str | os.PathLike, width: int = 1600) -> Path:
    """Write a pyqtgraph item (PlotItem, GraphicsLayout) to .png or .svg, atomically."""
    import pyqtgraph.exporters as exporters

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise TrialDataError(
            f"Cannot export a plot to '{suffix or path.name}': choose .png or .svg"
        )
    try:
        # The temporary name keeps the suffix: Qt's image writer picks the format by it.
        with atomic_path(path) as temporary:
            if suffix == ".png":
                exporter = exporters.ImageExporter(item)
                exporter.parameters()["width"] = width
                exporter.export(str(temporary))
            else:
                _write_svg(item, temporary)
            if temporary.stat().st_size == 0:  # Qt reports a failed save by a return value only
                raise OutputError.about(path, "the plot could not be drawn into the file")
    except OSError as exc:  # OutputError: "Cannot write <path>: <reason>"
        raise TrialDataError(str(exc)) from exc
    return path


def _write_svg(item, path: Path) -> None:
    """Render ``item``'s part of its scene through ``QSvgGenerator``.

    pyqtgraph 0.14's ``SVGExporter`` fails on the SVG that Qt 6.11 writes ("not enough values to
    unpack" while rewriting path coordinates), so the scene is drawn into the generator directly:
    vector output with the same look as the screen.
    """
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QColor, QGuiApplication, QPainter
    from PySide6.QtSvg import QSvgGenerator

    source = item.sceneBoundingRect()
    width, height = max(1, round(source.width())), max(1, round(source.height()))
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(width, height))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle("DrugDesk plot")
    # At the generator's default 72 dpi, fonts and pyqtgraph's data items scale differently from
    # the axes; drawing at the screen's resolution keeps them together.
    screen = QGuiApplication.primaryScreen()
    generator.setResolution(round(screen.logicalDotsPerInch()) if screen is not None else 96)
    painter = QPainter(generator)
    try:
        painter.fillRect(QRectF(0, 0, width, height), QColor("white"))
        item.scene().render(painter, QRectF(0, 0, width, height), source)
    finally:
        painter.end()
