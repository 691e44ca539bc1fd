"""The Ranking tab of the Gene expression panel: the genes of the group shown ranked by
|log2 FC| × −log10(adjusted p), a classifier of case vs control and gene-set over-representation.

The classifier and the gene-set test are the panel's jobs: the tab asks for them and shows what
they bring.
"""

from __future__ import annotations

from html import escape

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.expression.widgets import table_view
from ui.tables.dataframe_model import ColumnSpec, DataFrameModel

RANK_SCORE = "|log2 FC| × −log10(adjusted p)"
RANK_TITLE_EMPTY = (
    f"Genes ranked by {RANK_SCORE}: those that change most and most surely come first. "
    "Run a comparison on the Data tab."
)
NO_AUROC = "Cross-validated AUROC: –"

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


class RankingTab(QWidget):
    """Ranked genes on the left; the classifier and the gene sets on the right.

    Signals
    -------
    classifier_requested()
        The user asked to train the classifier.
    gene_sets_requested()
        The user asked to test a GMT file of gene sets.
    """

    classifier_requested = Signal()
    gene_sets_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classifier = None  # the classifier shown (core.expression.ranking.classify's)
        self.rank_model = DataFrameModel()
        self.rank_model.set_columns(RANK_COLUMNS)
        self.rank_view = table_view(self.rank_model, ("padj",))
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
        self.classifier_button.clicked.connect(self.classifier_requested)
        self.auroc_label = QLabel(NO_AUROC)
        self.auroc_label.setWordWrap(True)
        self.classifier_model = DataFrameModel()
        self.classifier_model.set_columns(
            [ColumnSpec("gene", "Gene"), ColumnSpec("coefficient", "Coefficient", "float", 3)]
        )
        self.classifier_view = table_view(self.classifier_model)
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
        self.gmt_button.clicked.connect(self.gene_sets_requested)
        self.enrichment_label = QLabel("")
        self.enrichment_label.setWordWrap(True)
        self.enrichment_model = DataFrameModel()
        self.enrichment_model.set_columns(ENRICHMENT_COLUMNS)
        self.enrichment_view = table_view(self.enrichment_model, ("pvalue", "padj"))
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
        QVBoxLayout(self).addWidget(splitter)

    def clear(self) -> None:
        """No comparison: nothing ranked, no classifier, no gene sets."""
        self.rank_model.set_frame(None)
        self.classifier_model.set_frame(None)
        self.enrichment_model.set_frame(None)
        self.auroc_label.setText(NO_AUROC)
        self.enrichment_label.setText("")
        self.rank_title.setText(RANK_TITLE_EMPTY)

    def show_ranking(
        self, table: pd.DataFrame, tested: str, reference: str, condition: str
    ) -> None:
        """Rank the genes of ``table`` (a group's result), ``tested`` against ``reference`` in
        the ``condition`` column; the classifier trained for another group is cleared."""
        from core.expression.ranking import rank_genes

        self.rank_model.set_frame(rank_genes(table))
        rest = " (all other samples)" if reference == "rest" else ""
        self.rank_title.setText(
            f"<b>Genes ranked: {escape(tested)} vs {escape(reference)}</b>{rest}, by "
            f"{escape(str(condition))}; score = {RANK_SCORE}. <i>up</i>: higher in "
            f"{escape(tested)}."
        )
        self.classifier_button.setToolTip(
            f"L1 logistic regression of {tested} vs {reference} on log2 expression, "
            "stratified k-fold"
        )
        self.classifier_model.set_frame(None)
        self.auroc_label.setText(NO_AUROC)

    def set_has_result(self, has_result: bool) -> None:
        self.classifier_button.setEnabled(has_result)
        self.gmt_button.setEnabled(has_result)

    def show_classifier(self, result) -> None:
        """The cross-validated AUROC and the genes of a ``core.expression.ranking`` classifier."""
        self.classifier = result
        folds = ", ".join(f"{a:.2f}" for a in result.fold_aurocs)
        notes = " ".join(result.notes)
        self.auroc_label.setText(
            f"Cross-validated AUROC: <b>{result.auroc:.3f}</b> ({result.n_folds} folds: {folds}). "
            f"{notes}"
        )
        self.classifier_model.set_frame(result.top_genes)

    def show_enrichment(self, table: pd.DataFrame) -> None:
        self.enrichment_model.set_frame(table)
        n = int((table["padj"] < 0.05).sum()) if len(table) else 0
        self.enrichment_label.setText(f"{len(table)} gene sets tested; {n} with adjusted p < 0.05")
