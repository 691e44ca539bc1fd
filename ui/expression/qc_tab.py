"""The QC tab of the Gene expression panel: library sizes, genes detected, sample correlation,
a PCA coloured by the condition, and the outliers flagged (``core.expression.qc``)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from ui.expression.plots import HeatMap, bar_chart, colour_for, make_plot
from ui.expression.widgets import colour_key, table_view
from ui.tables.dataframe_model import ColumnSpec, DataFrameModel

QC_COLUMNS = [
    ColumnSpec("sample", "Sample"),
    ColumnSpec("library_size", "Library size", "float", 0),
    ColumnSpec("genes_detected", "Genes detected", "int"),
    ColumnSpec("median_correlation", "Median r", "float", 3),
    ColumnSpec("outlier", "Outlier", "bool"),
    ColumnSpec("outlier_reason", "Why"),
]


class QCTab(QWidget):
    """Four QC plots beside the per-sample table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library_plot = make_plot("Library size", "sample", "total")
        self.detected_plot = make_plot("Genes detected", "sample", "genes > 0")
        self.correlation_map = HeatMap("Sample correlation")
        self.pca_plot = make_plot("PCA", "PC1", "PC2")
        # A colour key under the plot, not pyqtgraph's legend: ten cell types would cover the
        # points.
        self.pca_legend = QLabel("")
        self.pca_legend.setWordWrap(True)
        self.pca_legend.setTextFormat(Qt.TextFormat.RichText)
        self.qc_label = QLabel("")
        self.qc_label.setWordWrap(True)
        self.qc_model = DataFrameModel()
        self.qc_model.set_columns(QC_COLUMNS)
        self.qc_view = table_view(self.qc_model)
        grid = QGridLayout()
        grid.addWidget(self.library_plot, 0, 0)
        grid.addWidget(self.detected_plot, 0, 1)
        grid.addWidget(self.correlation_map, 1, 0)
        pca_box = QWidget()
        pca_layout = QVBoxLayout(pca_box)
        pca_layout.setContentsMargins(0, 0, 0, 0)
        pca_layout.addWidget(self.pca_plot, 1)
        pca_layout.addWidget(self.pca_legend)
        grid.addWidget(pca_box, 1, 1)
        plots = QWidget()
        plots.setLayout(grid)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.qc_label)
        side_layout.addWidget(self.qc_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(plots)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 420])
        QVBoxLayout(self).addWidget(splitter)

    def show_qc(self, prepared, condition: str) -> None:
        """Draw the QC of ``prepared`` (a ``PreparedExpression``), the PCA coloured by the
        ``condition`` column."""
        qc = prepared.qc
        table = qc.table
        labels = [str(s) for s in table["sample"]]
        flagged = table["outlier"].to_numpy()
        bar_chart(self.library_plot, labels, table["library_size"].to_numpy(), flagged)
        bar_chart(self.detected_plot, labels, table["genes_detected"].to_numpy(), flagged)
        self.correlation_map.set_matrix(
            qc.correlation.to_numpy(), labels, labels,
            levels=(float(np.nanmin(qc.correlation.to_numpy())), 1.0), colour_map="viridis",
        )  # fmt: skip
        self.qc_model.set_frame(table.reset_index(drop=True))
        outliers = qc.outliers
        text = (
            f"Outliers flagged: {', '.join(outliers[:10])}" + (" …" if len(outliers) > 10 else "")
            if outliers
            else "No outlier samples flagged."
        )
        self.qc_label.setText(" ".join([text, *qc.notes]))
        self.draw_pca(prepared, condition)

    def clear(self) -> None:
        """No data: empty plots and table."""
        for plot in (self.library_plot, self.detected_plot, self.pca_plot):
            plot.clear()
        self.correlation_map.set_matrix(np.zeros((0, 0)), [], [])
        self.qc_model.set_frame(None)
        self.qc_label.setText("")
        self.pca_legend.setText("")

    def draw_pca(self, prepared, condition: str) -> None:
        """The samples on their first two principal components, a colour per level of the
        ``condition`` column; outliers ringed. Nothing when ``prepared`` is None."""
        plot = self.pca_plot
        plot.clear()
        self.pca_legend.setText("")
        if prepared is None:
            return
        qc = prepared.qc
        x = qc.table["pc1"].to_numpy()
        y = qc.table["pc2"].to_numpy()
        ev1, ev2 = qc.explained_variance
        item = plot.getPlotItem()
        item.setLabel("bottom", f"PC1 ({ev1:.0%})")
        item.setLabel("left", f"PC2 ({ev2:.0%})")
        samples = prepared.data.samples
        size = 6 if len(x) > 100 else 10
        key = []
        if condition and condition in samples.columns:
            labels = samples[condition].astype(str).to_numpy()
            for i, level in enumerate(sorted(set(labels))):
                mask = labels == level
                key.append(colour_key([(level, colour_for(i))]))
                plot.addItem(
                    pg.ScatterPlotItem(
                        x=x[mask], y=y[mask], size=size, pen=None,
                        brush=pg.mkBrush(*colour_for(i)), name=level,
                    )
                )  # fmt: skip
        else:
            plot.addItem(pg.ScatterPlotItem(x=x, y=y, size=size, brush=pg.mkBrush(*colour_for(0))))
        flagged = qc.table["outlier"].to_numpy()
        if flagged.any():
            key.append('<span style="color: rgb(214,39,40);">&#9711;</span>&nbsp;outlier')
            plot.addItem(
                pg.ScatterPlotItem(
                    x=x[flagged], y=y[flagged], size=size + 8,
                    pen=pg.mkPen((214, 39, 40), width=2), brush=pg.mkBrush(0, 0, 0, 0),
                    name="outlier",
                )
            )  # fmt: skip
        self.pca_legend.setText(" &nbsp; ".join(key))  # entries wrap only between each other
