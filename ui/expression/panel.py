"""The Gene expression panel: tabs Data / QC / Results / Ranking over ``core.expression``.

Every computation (reading files, QC, PyDESeq2, classifiers, gene-set tests, exports) runs on the
engine thread as a job from ``core.expression``; this widget keeps the handle of each job it
submitted (one per kind: a newer load, comparison, … supersedes the older one), shows progress, and
draws the results its own handles bring.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.expression.plots import (
    TOP_LABELS,
    GenePlot,
    HeatMap,
    PValueDelegate,
    bar_chart,
    colour_for,
    make_plot,
    significance_categories,
)
from ui.tables.dataframe_model import (
    ColumnSpec,
    DataFrameModel,
    RowFilter,
    configure_table_view,
)
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle

ALL_VS_REST = "All groups, each vs rest"
REST = "Rest (all other samples)"
CONTROL_WORDS = re.compile(
    r"^(control|ctrl|ctl|normal|healthy|untreated|vehicle|wt|wild.?type)$", re.I
)
# The heat map shows as many top genes as it can label legibly, within these bounds.
TOP_HEATMAP_GENES = 30
MIN_HEATMAP_GENES = 8
RANK_SCORE = "|log2 FC| × −log10(adjusted p)"
RANK_TITLE_EMPTY = (
    f"Genes ranked by {RANK_SCORE}: those that change most and most surely come first. "
    "Run a comparison on the Data tab."
)
INTEGER_COUNTS_HINT = "DESeq2 needs raw integer counts"

RESULT_COLUMNS = [
    ColumnSpec("gene", "Gene"),
    ColumnSpec("log2fc", "log2 FC", "float", 3, "log2 fold change, case over control"),
    ColumnSpec("base_mean", "Base mean", "float", 2, "mean normalised expression"),
    ColumnSpec("pvalue", "p-value", "float", 6),
    ColumnSpec("padj", "Adjusted p", "float", 6, "Benjamini–Hochberg"),
    ColumnSpec("significant", "Significant", "bool"),
]
RANK_COLUMNS = [
    ColumnSpec("rank", "Rank", "int"),
    ColumnSpec("gene", "Gene"),
    ColumnSpec("score", "Score", "float", 2, "|log2 FC| × −log10(adjusted p)"),
    ColumnSpec("log2fc", "log2 FC", "float", 3),
    ColumnSpec("padj", "Adjusted p", "float", 6),
    ColumnSpec("direction", "Direction"),
]
ENRICHMENT_COLUMNS = [
    ColumnSpec("gene_set", "Gene set"),
    ColumnSpec("overlap", "Overlap", "int"),
    ColumnSpec("size", "Size", "int"),
    ColumnSpec("fold_enrichment", "Fold", "float", 2),
    ColumnSpec("pvalue", "p-value", "float", 6),
    ColumnSpec("padj", "Adjusted p", "float", 6),
    ColumnSpec("genes", "Genes"),
]
QC_COLUMNS = [
    ColumnSpec("sample", "Sample"),
    ColumnSpec("library_size", "Library size", "float", 0),
    ColumnSpec("genes_detected", "Genes detected", "int"),
    ColumnSpec("median_correlation", "Median r", "float", 3),
    ColumnSpec("outlier", "Outlier", "bool"),
    ColumnSpec("outlier_reason", "Why"),
]


def _table_view(model: DataFrameModel, p_columns: tuple[str, ...] = ()) -> QTableView:
    view = QTableView()
    view.setModel(model)
    configure_table_view(view)
    view.horizontalHeader().setStretchLastSection(True)
    if p_columns:
        delegate = PValueDelegate(view)
        for key in p_columns:
            column = model.column_index(key)
            if column >= 0:
                view.setItemDelegateForColumn(column, delegate)
    return view


def _short(text: str, width: int = 24) -> str:
    """A group name short enough for an axis title."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _colour_key(entries) -> str:
    """Rich text naming each ``(name, (r, g, b))`` after a dot of its colour; entries wrap only
    between each other."""
    parts = []
    for name, (r, g, b) in entries:
        # Qt's rich text breaks lines at spaces, "/" and "-": keep each name whole.
        text = (
            escape(str(name)).replace(" ", "&nbsp;").replace("/", "&#8725;").replace("-", "&#8209;")
        )
        parts.append(f'<span style="color: rgb({r},{g},{b});">&#9679;</span>&nbsp;{text}')
    return " &nbsp; ".join(parts)


class ExpressionPanel(QWidget):
    """Load → QC → differential expression → ranking, for bulk counts or single cells."""

    result_shown = Signal()

    def __init__(self, engine: Engine, window=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.main_window = window
        self.prepared = None  # core.expression.qc.PreparedExpression
        self.result = None  # core.expression.de.DEResult
        self.current_table: pd.DataFrame | None = None
        self.classifier = None
        # The running job of each kind ("load", "de", "classifier", "gmt", "export").
        self._jobs: dict[str, JobHandle] = {}
        self._counts_path: str | None = None
        self._sheet_path: str | None = None
        self._orientation = "auto"
        self._selected_position: int | None = None
        self._build()
        self._update_enabled()

    # ------------------------------------------------------------------------------------------
    # Layout

    def _build(self) -> None:
        self.demo_button = QPushButton("Open demo")
        self.demo_button.setToolTip(
            "PBMC 68k reduced (scanpy): 700 cells × 765 genes, 10 cell types; compare cell types"
        )
        self.open_button = QPushButton("Open counts…")
        self.open_button.setToolTip("Counts matrix (.csv, .tsv, .xlsx) or AnnData (.h5ad)")
        self.sheet_button = QPushButton("Sample sheet…")
        self.sheet_button.setToolTip("Table with a 'sample' column, the condition and covariates")
        self.transpose_button = QPushButton("Transpose")
        self.transpose_button.setToolTip("Read the matrix the other way round (samples ↔ genes)")
        # A long file name is shortened in the middle (the whole of it in the tooltip).
        self.source_label = ElidedLabel("No data: open a counts file or the demo.", mode="middle")
        top = QHBoxLayout()
        for button in (
            self.demo_button,
            self.open_button,
            self.sheet_button,
            self.transpose_button,
        ):
            top.addWidget(button)
        top.addWidget(self.source_label, 1)
        self.demo_button.clicked.connect(self.open_demo)
        self.open_button.clicked.connect(self._on_open_counts_clicked)
        self.sheet_button.clicked.connect(self._on_open_sheet_clicked)
        self.transpose_button.clicked.connect(self.transpose)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_data_tab(), "Data")
        self.tabs.addTab(self._build_qc_tab(), "QC")
        self.tabs.addTab(self._build_results_tab(), "Results")
        self.tabs.addTab(self._build_ranking_tab(), "Ranking")

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.status_label = QLabel("")
        bottom = QHBoxLayout()
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.progress_bar)
        bottom.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

    def _build_data_tab(self) -> QWidget:
        self.summary_label = QLabel(
            "Open a counts matrix (genes × samples or samples × genes; CSV, TSV, XLSX) and its "
            "sample sheet, an AnnData .h5ad file, or the PBMC demo (700 cells, 10 cell types)."
        )
        self.summary_label.setWordWrap(True)
        self.condition_combo = QComboBox()
        self.condition_combo.currentTextChanged.connect(self._on_condition_changed)
        self.case_combo = QComboBox()
        self.control_combo = QComboBox()
        self.case_combo.currentIndexChanged.connect(self._on_case_changed)
        self.method_combo = QComboBox()
        self.method_combo.addItem("DESeq2 (raw counts; PyDESeq2 Wald test)", "deseq2")
        self.method_combo.addItem("Welch's t-test (normalised or log data)", "welch")
        self.method_combo.addItem("Mann–Whitney U (normalised or log data)", "mannwhitney")
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        self.covariate_list = QListWidget()
        self.covariate_list.setMaximumHeight(90)
        self.covariate_list.setToolTip("Sample-sheet columns added to the DESeq2 design")
        self.method_hint = QLabel("")
        self.method_hint.setWordWrap(True)
        self.method_hint.setStyleSheet("color: #a05a00;")
        self.run_button = QPushButton("Run differential expression")
        self.run_button.clicked.connect(self.run_de)

        self.offer_bar = QFrame()
        self.offer_bar.setStyleSheet("QFrame { background: #fff4e0; border-radius: 4px; }")
        self.offer_label = QLabel("")
        self.offer_label.setWordWrap(True)
        self.offer_button = QPushButton("Run Welch's t-test instead")
        self.offer_button.clicked.connect(self._on_use_welch_clicked)
        offer_layout = QHBoxLayout(self.offer_bar)
        offer_layout.addWidget(self.offer_label, 1)
        offer_layout.addWidget(self.offer_button)
        self.offer_bar.hide()

        form = QFormLayout()
        form.addRow("Condition column", self.condition_combo)
        form.addRow("Case (tested)", self.case_combo)
        form.addRow("Control (reference)", self.control_combo)
        form.addRow("Method", self.method_combo)
        form.addRow("Covariates", self.covariate_list)
        settings = QGroupBox("Comparison")
        settings_layout = QVBoxLayout(settings)
        settings_layout.addLayout(form)
        settings_layout.addWidget(self.method_hint)
        settings_layout.addWidget(self.run_button)
        settings_layout.addWidget(self.offer_bar)
        settings_layout.addStretch(1)
        settings.setMinimumWidth(340)

        self.samples_model = DataFrameModel()
        self.samples_view = _table_view(self.samples_model)
        right = QVBoxLayout()
        right.addWidget(self.summary_label)
        right.addWidget(self.samples_view, 1)
        right_widget = QWidget()
        right_widget.setLayout(right)

        page = QWidget()
        layout = QHBoxLayout(page)
        layout.addWidget(settings)
        layout.addWidget(right_widget, 1)
        return page

    def _build_qc_tab(self) -> QWidget:
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
        self.qc_view = _table_view(self.qc_model)
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
        page = QWidget()
        QVBoxLayout(page).addWidget(splitter)
        return page

    def _build_results_tab(self) -> QWidget:
        self.result_title = QLabel("Run a comparison on the Data tab.")
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
        self.count_label = QLabel("")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the rows shown to CSV or XLSX")
        self.export_button.clicked.connect(self._on_export_clicked)
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
        self.results_model = DataFrameModel()
        self.results_model.set_columns(RESULT_COLUMNS)
        self.results_view = _table_view(self.results_model, ("pvalue", "padj"))
        self.results_view.selectionModel().currentRowChanged.connect(self._on_result_row_changed)
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
        page = QWidget()
        layout = QVBoxLayout(page)
        # The counts go beside the title: the controls' row stays narrow enough for small screens.
        title_row = QHBoxLayout()
        title_row.addWidget(self.result_title, 1)
        title_row.addWidget(self.count_label)
        layout.addLayout(title_row)
        layout.addLayout(controls)
        layout.addWidget(body, 1)
        return page

    def _build_ranking_tab(self) -> QWidget:
        self.rank_model = DataFrameModel()
        self.rank_model.set_columns(RANK_COLUMNS)
        self.rank_view = _table_view(self.rank_model, ("padj",))
        self.rank_view.verticalHeader().hide()  # the Rank column numbers the rows
        self.rank_view.horizontalHeader().setDefaultSectionSize(84)
        self.rank_view.setColumnWidth(self.rank_model.column_index("rank"), 48)
        self.rank_view.setColumnWidth(self.rank_model.column_index("gene"), 100)
        # What the ranking compares changes with the comparison run and the group shown: a label
        # that wraps says it (a group box title would not wrap, and would widen the panel).
        self.rank_title = QLabel(RANK_TITLE_EMPTY)
        self.rank_title.setWordWrap(True)
        self.rank_title.setTextFormat(Qt.TextFormat.RichText)
        ranked = QGroupBox("Ranked genes")
        ranked_layout = QVBoxLayout(ranked)
        ranked_layout.addWidget(self.rank_title)
        ranked_layout.addWidget(self.rank_view, 1)

        self.classifier_button = QPushButton("Train classifier")
        self.classifier_button.setToolTip(
            "L1 logistic regression of case vs control on log2 expression, stratified k-fold"
        )
        self.classifier_button.clicked.connect(self.run_classifier)
        self.auroc_label = QLabel("Cross-validated AUROC: –")
        self.auroc_label.setWordWrap(True)
        self.classifier_model = DataFrameModel()
        self.classifier_model.set_columns(
            [ColumnSpec("gene", "Gene"), ColumnSpec("coefficient", "Coefficient", "float", 3)]
        )
        self.classifier_view = _table_view(self.classifier_model)
        classifier = QGroupBox("Classifier")
        c_layout = QVBoxLayout(classifier)
        row = QHBoxLayout()
        row.addWidget(self.classifier_button)
        row.addWidget(self.auroc_label, 1)
        c_layout.addLayout(row)
        c_layout.addWidget(self.classifier_view, 1)

        self.gmt_button = QPushButton("Gene sets (GMT)…")
        self.gmt_button.setToolTip(
            "Over-representation of the significant genes (hypergeometric + BH)"
        )
        self.gmt_button.clicked.connect(self._on_open_gmt_clicked)
        self.enrichment_label = QLabel("")
        self.enrichment_label.setWordWrap(True)
        self.enrichment_model = DataFrameModel()
        self.enrichment_model.set_columns(ENRICHMENT_COLUMNS)
        self.enrichment_view = _table_view(self.enrichment_model, ("pvalue", "padj"))
        sets = QGroupBox("Gene-set over-representation")
        s_layout = QVBoxLayout(sets)
        row = QHBoxLayout()
        row.addWidget(self.gmt_button)
        row.addWidget(self.enrichment_label, 1)
        s_layout.addLayout(row)
        s_layout.addWidget(self.enrichment_view, 1)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(classifier)
        right.addWidget(sets)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(ranked)
        splitter.addWidget(right)
        page = QWidget()
        QVBoxLayout(page).addWidget(splitter)
        return page

    # ------------------------------------------------------------------------------------------
    # Loading

    def open_demo(self) -> JobHandle:
        """Load scanpy's PBMC 68k reduced (cell types in ``bulk_labels``)."""
        self._counts_path, self._sheet_path, self._orientation = None, None, "auto"
        return self._submit_load("Open demo (PBMC 68k reduced)")

    def open_counts(self, path: str | Path, sheet: str | Path | None = None) -> JobHandle:
        self._counts_path = str(path)
        self._sheet_path = str(sheet) if sheet else None
        self._orientation = "auto"
        return self._submit_load(f"Open {Path(path).name}")

    def open_sheet(self, path: str | Path) -> JobHandle | None:
        if self._counts_path is None:
            self._error("Open a counts table first, then its sample sheet.")
            return None
        self._sheet_path = str(path)
        return self._submit_load(f"Open {Path(path).name}")

    def transpose(self) -> JobHandle | None:
        if self.prepared is None or self._counts_path is None:
            return None
        current = self.prepared.data.orientation
        self._orientation = "samples_x_genes" if current == "genes_x_samples" else "genes_x_samples"
        return self._submit_load("Transpose matrix")

    def _submit_load(self, title: str) -> JobHandle:
        from core.expression.qc import prepare_expression

        return self._submit(
            "load",
            self._on_load_finished,
            prepare_expression,
            self._counts_path,
            self._sheet_path,
            self._orientation,
            title=title,
            on_failed=self._on_load_failed,
        )

    def _on_open_counts_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open counts matrix",
            self._start_folder(),
            "Expression data (*.csv *.tsv *.txt *.xlsx *.h5ad);;All files (*)",
        )
        if path:
            self.open_counts(path)

    def _on_open_sheet_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open sample sheet",
            self._start_folder(),
            "Tables (*.csv *.tsv *.txt *.xlsx);;All files (*)",
        )
        if path:
            self.open_sheet(path)

    def _start_folder(self) -> str:
        return str(Path(self._counts_path).parent) if self._counts_path else str(Path.home())

    def _show_prepared(self, prepared) -> None:
        self.prepared = prepared
        self.result = None
        self.current_table = None
        data = prepared.data
        source = "PBMC 68k reduced (scanpy demo)" if self._counts_path is None else data.source
        self.source_label.setText(
            f"{Path(source).name if self._counts_path else source}: {data.summary()}"
        )
        layout = "genes in rows" if data.orientation == "genes_x_samples" else "samples in rows"
        notes = " ".join(data.notes)
        sheet = (
            "Sample sheet: " + ", ".join(map(str, data.samples.columns))
            if len(data.samples.columns)
            else "No sample sheet yet: use “Sample sheet…” to add the condition column."
        )
        self.summary_label.setText(
            f"<b>{data.summary()}</b>; file read with {layout}. {sheet}. {notes}"
        )
        samples = data.samples.reset_index(names="sample")
        self.samples_model.set_frame(samples)
        self._fill_conditions()
        self._select_default_method()
        self._show_qc()
        self._clear_results()
        self._update_enabled()

    def _fill_conditions(self) -> None:
        data = self.prepared.data
        columns = data.condition_columns()
        self.condition_combo.blockSignals(True)
        self.condition_combo.clear()
        self.condition_combo.addItems(columns)
        preferred = next(
            (c for c in ("bulk_labels", "condition", "group") if c in columns),
            columns[0] if columns else None,
        )
        if preferred is not None:
            self.condition_combo.setCurrentText(preferred)
        self.condition_combo.blockSignals(False)
        self._on_condition_changed(self.condition_combo.currentText())

    def _levels(self, condition: str) -> list[str]:
        if self.prepared is None or condition not in self.prepared.data.samples.columns:
            return []
        values = self.prepared.data.samples[condition].dropna().astype(str)
        return sorted(values.unique())

    def _on_condition_changed(self, condition: str) -> None:
        levels = self._levels(condition)
        single_cell = self.prepared is not None and self.prepared.data.single_cell
        self.case_combo.blockSignals(True)
        self.case_combo.clear()
        self.case_combo.addItem(ALL_VS_REST, None)
        for level in levels:
            self.case_combo.addItem(level, level)
        self.control_combo.clear()
        self.control_combo.addItem(REST, None)
        for level in levels:
            self.control_combo.addItem(level, level)
        control = next(
            (lv for lv in levels if CONTROL_WORDS.match(lv)), levels[0] if levels else None
        )
        case = next((lv for lv in levels if lv != control), None)
        if single_cell or len(levels) > 2 or case is None:
            self.case_combo.setCurrentIndex(0)
        else:
            self.case_combo.setCurrentIndex(self.case_combo.findData(case))
            self.control_combo.setCurrentIndex(self.control_combo.findData(control))
        self.case_combo.blockSignals(False)
        self._on_case_changed()
        self._fill_covariates(condition)
        self._draw_pca()

    def _fill_covariates(self, condition: str) -> None:
        self.covariate_list.clear()
        if self.prepared is None or self.prepared.data.single_cell:
            return
        for column in self.prepared.data.samples.columns:
            if str(column) == condition:
                continue
            item = QListWidgetItem(str(column))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.covariate_list.addItem(item)

    def _on_case_changed(self, *_args) -> None:
        all_groups = self.case_combo.currentData() is None
        self.control_combo.setEnabled(not all_groups)
        self._on_method_changed()

    def _select_default_method(self) -> None:
        method = self.prepared.data.default_method()
        self.method_combo.setCurrentIndex(self.method_combo.findData(method))

    def _on_method_changed(self, *_args) -> None:
        method = self.method_combo.currentData()
        hint = ""
        if self.prepared is not None:
            data = self.prepared.data
            if method == "deseq2" and data.kind != "counts":
                hint = (
                    f"These values are {data.kind}, not raw integer counts: DESeq2 will refuse "
                    "them. Welch's t-test suits normalised or log data."
                )
            elif method == "deseq2" and (
                self.case_combo.currentData() is None or self.control_combo.currentData() is None
            ):
                hint = "DESeq2 compares two levels; one-vs-rest runs Welch's t-test."
        self.method_hint.setText(hint)
        self.method_hint.setVisible(bool(hint))
        self.covariate_list.setEnabled(method == "deseq2")

    # ------------------------------------------------------------------------------------------
    # QC

    def _show_qc(self) -> None:
        qc = self.prepared.qc
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
        self._draw_pca()

    def _draw_pca(self) -> None:
        plot = self.pca_plot
        plot.clear()
        self.pca_legend.setText("")
        if self.prepared is None:
            return
        qc = self.prepared.qc
        x = qc.table["pc1"].to_numpy()
        y = qc.table["pc2"].to_numpy()
        ev1, ev2 = qc.explained_variance
        item = plot.getPlotItem()
        item.setLabel("bottom", f"PC1 ({ev1:.0%})")
        item.setLabel("left", f"PC2 ({ev2:.0%})")
        condition = self.condition_combo.currentText()
        samples = self.prepared.data.samples
        size = 6 if len(x) > 100 else 10
        key = []
        if condition and condition in samples.columns:
            labels = samples[condition].astype(str).to_numpy()
            for i, level in enumerate(sorted(set(labels))):
                mask = labels == level
                key.append(_colour_key([(level, colour_for(i))]))
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

    # ------------------------------------------------------------------------------------------
    # Differential expression

    def de_options(self):
        from core.expression.de import DEOptions

        covariates = tuple(
            self.covariate_list.item(i).text()
            for i in range(self.covariate_list.count())
            if self.covariate_list.item(i).checkState() == Qt.CheckState.Checked
        )
        case = self.case_combo.currentData()
        control = self.control_combo.currentData() if case is not None else None
        return DEOptions(
            condition=self.condition_combo.currentText(),
            case=case,
            control=control,
            method=self.method_combo.currentData(),
            covariates=covariates if self.method_combo.currentData() == "deseq2" else (),
        )

    def run_de(self) -> JobHandle | None:
        from core.expression.de import run_de

        if self.prepared is None:
            self._error("Load data first.")
            return None
        if not self.condition_combo.currentText():
            self._error("The data have no condition column: load a sample sheet first.")
            return None
        try:
            options = self.de_options()
        except ValueError as exc:
            self._error(str(exc))
            return None
        self.offer_bar.hide()
        return self._submit(
            "de",
            self._on_de_finished,
            run_de,
            self.prepared.data,
            options,
            title="Differential expression",
            on_failed=self._on_de_failed,
        )

    def _on_use_welch_clicked(self) -> None:
        self.offer_bar.hide()
        self.method_combo.setCurrentIndex(self.method_combo.findData("welch"))
        self.run_de()

    def _clear_results(self) -> None:
        self.result = None
        self.current_table = None
        self.result_title.setText("Run a comparison on the Data tab.")
        self.results_model.set_frame(None)
        self.rank_model.set_frame(None)
        self.classifier_model.set_frame(None)
        self.enrichment_model.set_frame(None)
        self.auroc_label.setText("Cross-validated AUROC: –")
        self.enrichment_label.setText("")
        self.volcano.set_points(np.zeros(0), np.zeros(0), [], np.zeros(0))
        self.ma_plot.set_points(np.zeros(0), np.zeros(0), [], np.zeros(0))
        self.top_heatmap.set_matrix(np.zeros((0, 0)), [], [])
        self.heatmap_legend.setText("")
        self.rank_title.setText(RANK_TITLE_EMPTY)
        self.ma_plot.getPlotItem().setTitle("MA plot", color="#333", size="10pt")
        self.count_label.setText("")
        self.group_combo.clear()
        self.group_combo.hide()
        self.group_label.hide()

    def _show_result(self, result) -> None:
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
        self.tabs.setCurrentIndex(2)
        self._update_enabled()
        self.result_shown.emit()

    def _on_group_changed(self, group: str) -> None:
        if self.result is not None and group:
            self._show_group(group)

    def _show_group(self, group: str | None) -> None:
        from core.expression.ranking import rank_genes

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
        fold = f"log2 fold change ({_short(tested)} / {_short(reference)})"
        self.volcano.getPlotItem().setLabel("bottom", fold)
        self.volcano.getPlotItem().setLabel(
            "left", "−log10 adjusted p" if adjusted else "−log10 p-value"
        )
        # The MA plot's y axis is short: the comparison goes in its title.
        self.ma_plot.getPlotItem().setTitle(
            f"MA plot: {_short(tested)} / {_short(reference)}", color="#333", size="10pt"
        )
        self.volcano.getPlotItem().enableAutoRange()
        self.ma_plot.getPlotItem().enableAutoRange()
        self.rank_model.set_frame(rank_genes(table))
        self._name_ranking(tested, reference)
        self.classifier_model.set_frame(None)
        self.auroc_label.setText("Cross-validated AUROC: –")
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

    def _name_ranking(self, tested: str, reference: str) -> None:
        condition = escape(str(self.result.condition))
        rest = " (all other samples)" if reference == "rest" else ""
        self.rank_title.setText(
            f"<b>Genes ranked: {escape(tested)} vs {escape(reference)}</b>{rest}, by "
            f"{condition}; score = {RANK_SCORE}. <i>up</i>: higher in {escape(tested)}."
        )
        self.classifier_button.setToolTip(
            f"L1 logistic regression of {tested} vs {reference} on log2 expression, "
            "stratified k-fold"
        )

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

    def _heatmap_samples(self) -> tuple[list[str], list[str]]:
        """Samples of the comparison, ordered by group, and their group labels."""
        data = self.prepared.data
        labels = data.samples[self.result.condition].astype(str)
        labels = labels[data.samples[self.result.condition].notna()]
        if self.result.case is not None and self.result.control is not None:
            labels = labels[labels.isin([self.result.case, self.result.control])]
        # The tested group first (case, or the group shown in one-vs-rest), then the others.
        first = self.result.case if self.result.case is not None else self.group_combo.currentText()
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
            _colour_key([(g, colours.get(g, (200, 200, 200))) for g in dict.fromkeys(groups)])
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

    # ------------------------------------------------------------------------------------------
    # Ranking

    def run_classifier(self) -> JobHandle | None:
        from core.expression.ranking import classify

        if self.result is None or self.prepared is None:
            self._error("Run a comparison first.")
            return None
        case = self.result.case if self.result.case is not None else self.group_combo.currentText()
        return self._submit(
            "classifier",
            self._on_classifier_finished,
            classify,
            self.prepared.data,
            self.result.condition,
            case,
            self.result.control,
            title="Classifier (L1 logistic regression)",
        )

    def _on_open_gmt_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open gene sets", self._start_folder(), "GMT (*.gmt *.txt);;All files (*)"
        )
        if path:
            self.run_enrichment(path)

    def run_enrichment(self, gmt_path: str | Path) -> JobHandle | None:
        from core.expression.ranking import enrichment_from_gmt

        if self.current_table is None:
            self._error("Run a comparison first.")
            return None
        table = self.current_table
        selected = table.loc[table["significant"], "gene"].astype(str).tolist()
        universe = table["gene"].astype(str).tolist()
        return self._submit(
            "gmt", self._on_gmt_finished, enrichment_from_gmt, str(gmt_path), selected, universe,
            title=f"Gene sets: {Path(gmt_path).name}",
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------
    # Export

    def _on_export_clicked(self) -> None:
        if self.current_table is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export results",
            str(Path(self._start_folder()) / "differential_expression.csv"),
            "CSV (*.csv);;Excel (*.xlsx);;TSV (*.tsv)",
        )
        if path:
            self.export_results(path)

    def export_results(self, path: str | Path) -> JobHandle | None:
        """Write the rows shown, in the order shown (a job)."""
        from core.expression.export import write_results

        if self.current_table is None:
            return None
        positions = self.results_model.visible_positions()
        columns = ["gene", "base_mean", "log2fc", "pvalue", "padj", "significant"]
        table = self.current_table.iloc[positions][columns].reset_index(drop=True)
        if self.result is not None and self.result.groups:
            table.insert(0, "group", self.group_combo.currentText())
        return self._submit(
            "export", self._on_export_finished, write_results, table, str(path),
            "Differential expression", title=f"Export {Path(path).name}",
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------
    # Jobs

    def _submit(
        self, kind: str, on_finished, fn, *args, title: str, on_failed=None, **kwargs
    ) -> JobHandle:
        """Run ``fn`` on the engine as this panel's job of ``kind``; ``on_finished(result)``
        receives its result (it is called only while the job is still the current one).

        A newer job of a kind supersedes the older one: the engine cancels it (same key), and it
        is forgotten here first, so nothing it still reports reaches the panel.
        """
        self._jobs.pop(kind, None)
        handle = self.engine.submit(fn, *args, title=title, key=f"expression-{kind}", **kwargs)
        self._jobs[kind] = handle
        # Bound methods: Qt drops these connections if the panel goes before the job ends.
        handle.progress.connect(self._on_job_progress)
        handle.finished.connect(on_finished)
        handle.failed.connect(on_failed or self._on_job_failed)
        handle.cancelled.connect(self._on_job_cancelled)
        self.progress_bar.setValue(0)
        self.status_label.setText("Working…")
        self._update_enabled()
        return handle

    def _own_kind(self) -> str | None:
        """The kind of the current job whose handle sent the signal being handled; None for a
        superseded one."""
        handle = self.sender()
        return next((kind for kind, own in self._jobs.items() if own is handle), None)

    def _end(self, status: str) -> bool:
        """Forget the job whose handle sent the signal (it ended); False when it was superseded,
        so the caller ignores what it brought."""
        kind = self._own_kind()
        if kind is None:
            return False
        del self._jobs[kind]
        if not self._jobs:
            self.progress_bar.setValue(0)
        self.status_label.setText(status)
        self._update_enabled()
        return True

    def cancel_jobs(self) -> None:
        for handle in list(self._jobs.values()):
            handle.cancel()

    def busy(self) -> bool:
        return bool(self._jobs)

    def _on_job_progress(self, fraction: float, message: str) -> None:
        if self._own_kind() is None:
            return
        if fraction >= 0:
            self.progress_bar.setValue(int(fraction * 1000))
        self.status_label.setText(message)

    def _on_load_finished(self, prepared) -> None:
        if self._end(""):
            self._show_prepared(prepared)
            self.status_label.setText(f"Loaded {prepared.data.summary()}")

    def _on_de_finished(self, result) -> None:
        if self._end(""):
            self._show_result(result)
            self.status_label.setText("Differential expression done")

    def _on_classifier_finished(self, result) -> None:
        if self._end(""):
            self._show_classifier(result)

    def _on_gmt_finished(self, table: pd.DataFrame) -> None:
        if self._end(""):
            self._show_enrichment(table)

    def _on_export_finished(self, path) -> None:
        if self._end(""):
            self.status_label.setText(f"Wrote {path}")
            if self.main_window is not None:
                self.main_window.statusBar().showMessage(f"Wrote {path}", 8000)

    def _on_job_failed(self, message: str) -> None:
        if self._end("Failed"):
            self._error(message)

    def _on_load_failed(self, message: str) -> None:
        if self._end("Failed"):
            self._orientation = "auto"  # a forced orientation that failed is not kept
            self._error(message)

    def _on_de_failed(self, message: str) -> None:
        if not self._end("Failed"):
            return
        if INTEGER_COUNTS_HINT in message:
            self.offer_label.setText(message)
            self.offer_bar.show()
            self.tabs.setCurrentIndex(0)
        self._error(message)

    def _on_job_cancelled(self) -> None:
        self._end("Cancelled")

    def _show_classifier(self, result) -> None:
        self.classifier = result
        folds = ", ".join(f"{a:.2f}" for a in result.fold_aurocs)
        notes = " ".join(result.notes)
        self.auroc_label.setText(
            f"Cross-validated AUROC: <b>{result.auroc:.3f}</b> ({result.n_folds} folds: {folds}). "
            f"{notes}"
        )
        self.classifier_model.set_frame(result.top_genes)

    def _show_enrichment(self, table: pd.DataFrame) -> None:
        self.enrichment_model.set_frame(table)
        n = int((table["padj"] < 0.05).sum()) if len(table) else 0
        self.enrichment_label.setText(f"{len(table)} gene sets tested; {n} with adjusted p < 0.05")

    def _update_enabled(self) -> None:
        loaded = self.prepared is not None
        has_result = self.current_table is not None
        table_file = self._counts_path is not None and not self._counts_path.endswith(".h5ad")
        self.sheet_button.setEnabled(table_file)
        self.transpose_button.setEnabled(loaded and table_file)
        self.run_button.setEnabled(loaded)
        self.export_button.setEnabled(has_result)
        self.classifier_button.setEnabled(has_result)
        self.gmt_button.setEnabled(has_result)
        self.cancel_button.setEnabled(bool(self._jobs))
        self.progress_bar.setVisible(bool(self._jobs))

    def _error(self, message: str) -> None:
        if self.main_window is not None and hasattr(self.main_window, "show_error"):
            self.main_window.show_error(message)
        self.status_label.setText(message)

    def closeEvent(self, event) -> None:
        self.cancel_jobs()
        super().closeEvent(event)
