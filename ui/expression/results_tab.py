"""The Results tab of the Gene expression panel: volcano and MA plots, the result table and a heat
map of the top genes, linked (a gene picked in one is shown in all), with live thresholds.

The tab shows one group of a comparison at a time (one-vs-rest results have a group per level);
:attr:`ResultsTab.current_table` is that group's table with a ``significant`` column for the
thresholds set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.expression.plots import (
    TOP_LABELS,
    GenePlot,
    HeatMap,
    colour_for,
    significance_categories,
)
from ui.expression.widgets import colour_key, short, table_view
from ui.tables.dataframe_model import ColumnSpec, DataFrameModel, RowFilter

# The heat map shows as many top genes as it can label legibly, within these bounds.
TOP_HEATMAP_GENES = 30
MIN_HEATMAP_GENES = 8
NO_RESULT = "Run a comparison on the Data tab."

RESULT_COLUMNS = [
    ColumnSpec("gene", "Gene"),
    ColumnSpec("log2fc", "log2 FC", "float", 3, "log2 fold change, case over control"),
    ColumnSpec("base_mean", "Base mean", "float", 2, "mean normalised expression"),
    ColumnSpec("pvalue", "p-value", "float", 6),
    ColumnSpec("padj", "Adjusted p", "float", 6, "Benjamini–Hochberg"),
    ColumnSpec("significant", "Significant", "bool"),
]
EXPORT_COLUMNS = ["gene", "base_mean", "log2fc", "pvalue", "padj", "significant"]


class ResultsTab(QWidget):
    """The group shown of a comparison's result, in plots and a table.

    Signals
    -------
    group_shown(table, tested, reference)
        A group's table is shown (a new result, or another group chosen): the Ranking tab ranks
        it. ``tested`` and ``reference`` name the two sides ("rest" in one-vs-rest).
    export_requested()
        The user asked to export the rows shown.
    target_lookup_requested(gene)
        "Look up target in Proteins" was chosen on a gene (right click in a plot or the table).
    view_changed()
        A choice worth keeping in a project changed: the group shown, a threshold, the filter,
        the genes selected.
    """

    group_shown = Signal(object, str, str)
    export_requested = Signal()
    target_lookup_requested = Signal(str)
    view_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prepared = None  # core.expression.qc.PreparedExpression of the result shown
        self.result = None  # core.expression.de.DEResult
        self.current_table: pd.DataFrame | None = None
        self._selected_position: int | None = None
        self.shown_gene_menu: QMenu | None = None  # the last gene menu popped up

        self.result_title = QLabel(NO_RESULT)
        self.result_title.setWordWrap(True)
        self.group_combo = QComboBox()
        self.group_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.group_combo.setMinimumContentsLength(12)
        self.group_combo.currentTextChanged.connect(self._on_group_changed)
        self.group_label = QLabel("Group")
        self.padj_spin = QDoubleSpinBox()
        self.padj_spin.setDecimals(4)
        self.padj_spin.setRange(0.0001, 1.0)
        self.padj_spin.setSingleStep(0.01)
        self.padj_spin.setValue(0.05)
        self.fc_spin = QDoubleSpinBox()
        self.fc_spin.setDecimals(2)
        self.fc_spin.setRange(0.0, 20.0)
        self.fc_spin.setSingleStep(0.25)
        self.fc_spin.setValue(1.0)
        # Recolouring 30,000 genes takes ~0.2 s: wait until the user pauses typing or spinning.
        self._threshold_timer = QTimer(self)
        self._threshold_timer.setSingleShot(True)
        self._threshold_timer.setInterval(120)
        self._threshold_timer.timeout.connect(self._on_thresholds_changed)
        self.padj_spin.valueChanged.connect(self._threshold_timer.start)
        self.fc_spin.valueChanged.connect(self._threshold_timer.start)
        self.only_significant = QCheckBox("Only significant")
        self.only_significant.toggled.connect(self._apply_table_filter)
        self.only_significant.toggled.connect(self.view_changed)
        self.count_label = QLabel("")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the rows shown to CSV or XLSX")
        self.export_button.clicked.connect(self.export_requested)
        controls = QHBoxLayout()
        controls.addWidget(self.group_label)
        controls.addWidget(self.group_combo)
        controls.addWidget(QLabel("Adjusted p <"))
        controls.addWidget(self.padj_spin)
        controls.addWidget(QLabel("|log2 FC| ≥"))
        controls.addWidget(self.fc_spin)
        controls.addWidget(self.only_significant)
        controls.addStretch(1)
        controls.addWidget(self.export_button)

        self.volcano = GenePlot("Volcano", "log2 fold change", "−log10 adjusted p")
        self.ma_plot = GenePlot("MA plot", "log10 base mean", "log2 fold change")
        self.volcano.gene_clicked.connect(self.select_gene)
        self.ma_plot.gene_clicked.connect(self.select_gene)
        self.volcano.gene_menu_requested.connect(self._show_gene_menu)
        self.ma_plot.gene_menu_requested.connect(self._show_gene_menu)
        self.results_model = DataFrameModel()
        self.results_model.set_columns(RESULT_COLUMNS)
        self.results_view = table_view(self.results_model, ("pvalue", "padj"))
        self.results_view.selectionModel().currentRowChanged.connect(self._on_result_row_changed)
        self.results_view.selectionModel().selectionChanged.connect(self.view_changed)
        self.results_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.results_view.customContextMenuRequested.connect(self._on_table_menu_requested)
        # Every column in view without scrolling sideways: the row numbers mean nothing here.
        self.results_view.verticalHeader().hide()
        self.results_view.horizontalHeader().setDefaultSectionSize(84)
        self.results_view.setColumnWidth(self.results_model.column_index("gene"), 100)
        self.top_heatmap = HeatMap("Top genes (z-score)")
        self.top_heatmap.setMinimumHeight(150)
        self.top_heatmap.rows_fit_changed.connect(self._on_heatmap_rows_changed)
        # The colour of each group in the strip above the heat map, named (as the PCA's key).
        self.heatmap_legend = QLabel("")
        self.heatmap_legend.setWordWrap(True)
        small = self.heatmap_legend.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1.0))
        self.heatmap_legend.setFont(small)
        self.heatmap_legend.setTextFormat(Qt.TextFormat.RichText)
        heatmap_box = QWidget()
        heatmap_layout = QVBoxLayout(heatmap_box)
        heatmap_layout.setContentsMargins(0, 0, 0, 0)
        heatmap_layout.setSpacing(2)
        heatmap_layout.addWidget(self.top_heatmap, 1)
        heatmap_layout.addWidget(self.heatmap_legend)

        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.volcano)
        plots.addWidget(self.ma_plot)
        plots.setSizes([3, 2])  # the volcano, with its gene names, gets the room
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.results_view)
        right.addWidget(heatmap_box)
        right.setChildrenCollapsible(False)
        # The table first: at 1366×768 it shows a dozen genes, the heat map the rest.
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        right.setSizes([500, 500])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(plots)
        body.addWidget(right)
        body.setChildrenCollapsible(False)
        body.setStretchFactor(0, 1)
        body.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        # The counts go beside the title: the controls' row stays narrow enough for small screens.
        title_row = QHBoxLayout()
        title_row.addWidget(self.result_title, 1)
        title_row.addWidget(self.count_label)
        layout.addLayout(title_row)
        layout.addLayout(controls)
        layout.addWidget(body, 1)

    # ------------------------------------------------------------------------------------------
    # A result

    def clear(self) -> None:
        """No result: empty plots, table and heat map."""
        self.prepared = None
        self.result = None
        self.current_table = None
        self.result_title.setText(NO_RESULT)
        self.results_model.set_frame(None)
        self.volcano.set_points(np.zeros(0), np.zeros(0), [], np.zeros(0))
        self.ma_plot.set_points(np.zeros(0), np.zeros(0), [], np.zeros(0))
        self.top_heatmap.set_matrix(np.zeros((0, 0)), [], [])
        self.heatmap_legend.setText("")
        self.ma_plot.getPlotItem().setTitle("MA plot", color="#333", size="10pt")
        self.count_label.setText("")
        self.group_combo.clear()
        self.group_combo.hide()
        self.group_label.hide()

    def show_result(self, prepared, result) -> None:
        """Show ``result`` (a ``DEResult`` of ``prepared``'s data): its first group when it has
        several."""
        self.prepared = prepared
        self.result = result
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItems(list(result.groups))
        self.group_combo.blockSignals(False)
        self.group_combo.setVisible(bool(result.groups))
        self.group_label.setVisible(bool(result.groups))
        notes = " ".join(result.notes)
        self.result_title.setText(f"<b>{result.title()}</b> {notes}")
        self.ma_plot.getPlotItem().setLabel(
            "bottom",
            "mean log expression"
            if result.base_mean_log
            else "log10 base mean (normalised counts)",
        )
        self._show_group(self.group_combo.currentText() if result.groups else None)

    def shown_group(self) -> str:
        """The group shown of a one-vs-rest result (``""`` for a case-vs-control one)."""
        return self.group_combo.currentText()

    def tested_group(self) -> str | None:
        """The group the comparison shown tests: the case, or the group shown in one-vs-rest."""
        if self.result is None:
            return None
        return self.result.case if self.result.case is not None else self.shown_group()

    def rows_shown(self) -> pd.DataFrame | None:
        """The table's rows as shown (filter and sort order), the columns exported."""
        if self.current_table is None:
            return None
        positions = self.results_model.visible_positions()
        return self.current_table.iloc[positions][EXPORT_COLUMNS].reset_index(drop=True)

    def set_has_result(self, has_result: bool) -> None:
        self.export_button.setEnabled(has_result)

    def _on_group_changed(self, group: str) -> None:
        if self.result is not None and group:
            self._show_group(group)
            self.view_changed.emit()

    def set_prepared(self, prepared) -> None:
        """The data of the result shown arrived after it (a project reopened): draw the heat
        map of the top genes, which needs them."""
        self.prepared = prepared
        self._draw_top_heatmap()

    def _show_group(self, group: str | None) -> None:
        table = self.result.for_group(group).reset_index(drop=True)
        table = table.assign(significant=self._significant(table))
        self.current_table = table
        self._selected_position = None
        self.results_model.set_frame(table)
        if self.results_model.sort_column()[0] is None:
            self.results_view.sortByColumn(
                self.results_model.column_index("padj"), Qt.SortOrder.AscendingOrder
            )
        fc = table["log2fc"].to_numpy(dtype=np.float64)
        base = table["base_mean"].to_numpy(dtype=np.float64)
        genes = table["gene"].astype(str).tolist()
        p, adjusted = self._volcano_p(table)
        with np.errstate(divide="ignore", invalid="ignore"):
            y_volcano = -np.log10(np.clip(p, 1e-300, 1.0))
            x_ma = base if self.result.base_mean_log else np.log10(np.where(base > 0, base, np.nan))
        categories = significance_categories(table, self.padj_spin.value(), self.fc_spin.value())
        tested, reference = self._comparison()
        self.volcano.set_points(fc, y_volcano, genes, categories)
        self.ma_plot.set_points(x_ma, fc, genes, categories)
        fold = f"log2 fold change ({short(tested)} / {short(reference)})"
        self.volcano.getPlotItem().setLabel("bottom", fold)
        self.volcano.getPlotItem().setLabel(
            "left", "−log10 adjusted p" if adjusted else "−log10 p-value"
        )
        # The MA plot's y axis is short: the comparison goes in its title.
        self.ma_plot.getPlotItem().setTitle(
            f"MA plot: {short(tested)} / {short(reference)}", color="#333", size="10pt"
        )
        self.volcano.getPlotItem().enableAutoRange()
        self.ma_plot.getPlotItem().enableAutoRange()
        self.group_shown.emit(table, tested, reference)
        self._on_thresholds_changed()

    def _comparison(self) -> tuple[str, str]:
        """The tested group and its reference as shown: case and control, or the group chosen
        in one-vs-rest and "rest"."""
        result = self.result
        if result is None:
            return "", ""
        if result.case is not None:
            return str(result.case), str(result.control) if result.control is not None else "rest"
        return self.group_combo.currentText(), "rest"

    @staticmethod
    def _volcano_p(table: pd.DataFrame) -> tuple[np.ndarray, bool]:
        """The volcano's p-values: the adjusted ones (what the threshold tests), or the raw ones
        when no gene has an adjusted p; and whether they are adjusted."""
        adjusted = table["padj"].to_numpy(dtype=np.float64)
        if np.isfinite(adjusted).any():
            return adjusted, True
        return table["pvalue"].to_numpy(dtype=np.float64), False

    # ------------------------------------------------------------------------------------------
    # Thresholds

    def _significant(self, table: pd.DataFrame) -> np.ndarray:
        from core.expression.de import significant

        return significant(table, self.padj_spin.value(), self.fc_spin.value())

    def _on_thresholds_changed(self, *_args) -> None:
        table = self.current_table
        if table is None:
            return
        mask = self._significant(table)
        table = table.assign(significant=mask)
        self.current_table = table
        self.results_model.set_frame(table)
        categories = significance_categories(table, self.padj_spin.value(), self.fc_spin.value())
        self.volcano.set_categories(categories)
        self.ma_plot.set_categories(categories)
        fc = self.fc_spin.value()
        vertical = [-fc, fc] if fc > 0 else [0.0]
        # No line without adjusted p-values: then no gene passes the threshold.
        adjusted = self._volcano_p(table)[1]
        horizontal = [float(-np.log10(self.padj_spin.value()))] if adjusted else []
        self.volcano.set_lines(vertical, horizontal)
        self.volcano.set_top_labels(self._top_genes(table, categories))
        self.ma_plot.set_lines([], vertical)
        up = int((mask & (table["log2fc"].to_numpy() > 0)).sum())
        self.count_label.setText(
            f"{int(mask.sum())} significant ({up} up, {int(mask.sum()) - up} down) of {len(table)}"
        )
        self._apply_table_filter()
        self._draw_top_heatmap()
        self.select_gene(self._selected_position)
        self.view_changed.emit()

    @staticmethod
    def _top_genes(table: pd.DataFrame, categories: np.ndarray) -> list[int]:
        """Table positions of the most significant genes among those passing the thresholds
        (smallest adjusted p, then largest |log2 FC|), at most TOP_LABELS."""
        passing = np.flatnonzero(np.asarray(categories) != 0)
        if not passing.size:
            return []
        chosen = table.iloc[passing]
        order = np.lexsort(
            (-np.abs(chosen["log2fc"].to_numpy(dtype=np.float64)),
             chosen["padj"].to_numpy(dtype=np.float64))
        )  # fmt: skip
        return [int(passing[i]) for i in order[:TOP_LABELS]]

    def _apply_table_filter(self, *_args) -> None:
        if self.only_significant.isChecked():
            self.results_model.set_filter(RowFilter(ranges=(("significant", 1.0, None),)))
        else:
            self.results_model.set_filter(None)
        shown = self.results_model.rowCount()
        if self.current_table is not None and shown != len(self.current_table):
            self.count_label.setText(self.count_label.text().split(";")[0] + f"; {shown} shown")

    # ------------------------------------------------------------------------------------------
    # Heat map of the top genes

    def _heatmap_samples(self) -> tuple[list[str], list[str]]:
        """Samples of the comparison, ordered by group, and their group labels."""
        data = self.prepared.data
        labels = data.samples[self.result.condition].astype(str)
        labels = labels[data.samples[self.result.condition].notna()]
        if self.result.case is not None and self.result.control is not None:
            labels = labels[labels.isin([self.result.case, self.result.control])]
        # The tested group first (case, or the group shown in one-vs-rest), then the others.
        first = self.tested_group()
        key = pd.Series(
            np.where(labels.to_numpy() == first, "", labels.to_numpy()), index=labels.index
        )
        order = labels.loc[key.sort_values(kind="stable").index]
        return list(order.index), list(order.to_numpy())

    def _sample_word(self) -> str:
        return "cells" if self.prepared.data.single_cell else "samples"

    def _on_heatmap_rows_changed(self, _rows: int) -> None:
        if self.current_table is not None:
            self._draw_top_heatmap()

    def _group_colours(self) -> dict[str, tuple[int, int, int]]:
        """A colour per level of the comparison's condition, the same as in the QC tab's PCA."""
        labels = self.prepared.data.samples[self.result.condition].dropna().astype(str)
        return {level: colour_for(i) for i, level in enumerate(sorted(set(labels)))}

    def _draw_top_heatmap(self) -> None:
        table = self.current_table
        if table is None or self.prepared is None:
            return
        ordered = table.sort_values("padj", kind="stable")
        significant = ordered[ordered["significant"]]
        fit = self.top_heatmap.rows_that_fit()
        count = min(TOP_HEATMAP_GENES, max(MIN_HEATMAP_GENES, fit)) if fit else 20
        genes = list((significant if len(significant) else ordered)["gene"].head(count))
        samples, groups = self._heatmap_samples()
        values = self.prepared.log_values.loc[samples, genes].to_numpy().T
        mean = values.mean(axis=1, keepdims=True)
        sd = values.std(axis=1, keepdims=True)
        z = np.divide(values - mean, sd, out=np.zeros_like(values), where=sd > 0)
        colours = self._group_colours()
        self.top_heatmap.set_matrix(
            np.clip(z, -3, 3),
            genes,
            samples if len(samples) <= 30 else [],
            levels=(-3, 3),
            column_groups=groups,
            group_colours=colours,
        )
        self.heatmap_legend.setText(
            colour_key([(g, colours.get(g, (200, 200, 200))) for g in dict.fromkeys(groups)])
        )
        self.top_heatmap.plot.setLabel(
            "bottom", f"{len(samples)} {self._sample_word()}, grouped by {self.result.condition}"
        )
        # A short title: pyqtgraph will not shrink a title, and a long one pushes the colour bar
        # out of a narrow panel.
        self.top_heatmap.plot.setTitle(
            f"Top {len(genes)} genes (z-score per gene)", color="#333", size="10pt"
        )
        self.top_heatmap.setToolTip(
            f"z-score of log2 expression per gene; samples grouped by {self.result.condition}"
        )

    # ------------------------------------------------------------------------------------------
    # Linked selection

    def select_gene(self, position: int | None) -> None:
        """Highlight the gene at table ``position`` in both plots and select its row."""
        self._selected_position = position
        self.volcano.show_gene(position)
        self.ma_plot.show_gene(position)
        if position is None:
            return
        row = self.results_model.view_row(position)
        if row < 0:
            return
        index = self.results_model.index(row, 0)
        selection = self.results_view.selectionModel()
        if selection.currentIndex().row() != row:
            selection.setCurrentIndex(
                index,
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        self.results_view.scrollTo(index)

    def _on_result_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        position = self.results_model.source_row(current.row())
        if position != self._selected_position:
            self.select_gene(position)

    def selected_gene(self) -> str | None:
        if self._selected_position is None or self.current_table is None:
            return None
        return str(self.current_table["gene"].iloc[self._selected_position])

    def chosen_genes(self) -> list[str]:
        """The genes of the rows selected in the table (in table order), else the gene picked
        in a plot: what the project and the campaign call the chosen genes."""
        table = self.current_table
        if table is None:
            return []
        rows = self.results_view.selectionModel().selectedRows()
        positions = sorted({self.results_model.source_row(index.row()) for index in rows})
        genes = [self.gene_at(position) for position in positions]
        chosen = [gene for gene in genes if gene is not None]
        if not chosen and self.selected_gene() is not None:
            chosen = [self.selected_gene()]
        return chosen

    def choose_genes(self, genes: list[str], current: str | None = None) -> list[str]:
        """Select the rows of ``genes`` in the table, ``current`` (or the first) as the gene
        picked in the plots; returns the genes not in the group shown."""
        table = self.current_table
        if table is None:
            return list(genes)
        where = {str(gene): i for i, gene in enumerate(table["gene"].astype(str))}
        found = [where[gene] for gene in genes if gene in where]
        missing = [gene for gene in genes if gene not in where]
        if current in where:
            self.select_gene(where[current])
        elif found:
            self.select_gene(found[0])
        selection = self.results_view.selectionModel()
        selection.clearSelection()  # the current row stays
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for position in found:
            row = self.results_model.view_row(position)
            if row >= 0:
                selection.select(self.results_model.index(row, 0), flags)
        return missing

    # ------------------------------------------------------------------------------------------
    # A gene's menu: links to the other areas

    def gene_at(self, position: int | None) -> str | None:
        """The gene at table ``position`` of the group shown."""
        table = self.current_table
        if table is None or position is None or not 0 <= position < len(table):
            return None
        return str(table["gene"].iloc[position])

    def gene_menu(self, position: int) -> QMenu | None:
        """The menu of the gene at table ``position`` (selected first): "Look up target in
        Proteins"; None when there is no such gene."""
        gene = self.gene_at(position)
        if gene is None:
            return None
        self.select_gene(position)
        menu = QMenu(self)
        action = menu.addAction(f"Look up target in Proteins ({gene})")
        action.setToolTip(
            f"Switch to Proteins and look {gene} up: its UniProt entry, PDB structures and "
            "AlphaFold model"
        )
        action.triggered.connect(lambda _checked=False: self.target_lookup_requested.emit(gene))
        return menu

    def _show_gene_menu(self, position: int, global_pos: QPoint) -> None:
        menu = self.gene_menu(position)
        if menu is not None:
            # popup, not exec: no nested event loop inside pyqtgraph's mouse handling.
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(global_pos)
            self.shown_gene_menu = menu

    def _on_table_menu_requested(self, point: QPoint) -> None:
        index = self.results_view.indexAt(point)
        if index.isValid():
            position = self.results_model.source_row(index.row())
            self._show_gene_menu(position, self.results_view.viewport().mapToGlobal(point))
