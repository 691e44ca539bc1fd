"""The Gene expression panel: tabs Data / QC / Results / Ranking over ``core.expression``.

This module is the shell: the top bar (open the demo, a counts file, its sample sheet), the tabs
(``data_tab``, ``qc_tab``, ``results_tab``, ``ranking_tab``), the data and result they share, and
the jobs. Every computation (reading files, QC, PyDESeq2, classifiers, gene-set tests, exports)
runs on the engine thread as a job from ``core.expression``; the panel keeps the handle of each
job it submitted (one per kind: a newer load, comparison, … supersedes the older one), shows
progress, and hands the results its own handles bring to the tab that shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ui.expression.data_tab import ALL_VS_REST, REST, DataTab
from ui.expression.qc_tab import QCTab
from ui.expression.ranking_tab import RankingTab
from ui.expression.results_tab import ResultsTab
from ui.jobs.tracker import FAILED, JobTracker
from ui.widgets.elided_label import ElidedLabel

if TYPE_CHECKING:
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext

__all__ = ["ALL_VS_REST", "INTEGER_COUNTS_HINT", "REST", "ExpressionPanel"]

INTEGER_COUNTS_HINT = "DESeq2 needs raw integer counts"


class ExpressionPanel(QWidget):
    """Load → QC → differential expression → ranking, for bulk counts or single cells."""

    result_shown = Signal()

    def __init__(self, context: AreaContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = context.engine
        self.notifier = context.notifier
        self.links = context.links  # into the other areas (a gene's target in Proteins)
        self.prepared = None  # core.expression.qc.PreparedExpression
        self.result = None  # core.expression.de.DEResult
        # The running job of each kind ("load", "de", "classifier", "gmt", "export").
        self.jobs = JobTracker(self.engine, "expression", self)
        self.jobs.progress.connect(self._on_job_progress)
        self.jobs.ended.connect(self._on_job_ended)
        self._counts_path: str | None = None
        self._sheet_path: str | None = None
        self._orientation = "auto"
        self._build()
        self._update_enabled()

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

        self.data_tab = DataTab()
        self.qc_tab = QCTab()
        self.results_tab = ResultsTab()
        self.ranking_tab = RankingTab()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.data_tab, "Data")
        self.tabs.addTab(self.qc_tab, "QC")
        self.tabs.addTab(self.results_tab, "Results")
        self.tabs.addTab(self.ranking_tab, "Ranking")
        self.data_tab.run_requested.connect(self.run_de)
        self.data_tab.condition_changed.connect(self._on_condition_changed)
        self.results_tab.group_shown.connect(self._on_group_shown)
        self.results_tab.export_requested.connect(self._on_export_clicked)
        self.results_tab.target_lookup_requested.connect(self.look_up_target)
        self.ranking_tab.classifier_requested.connect(self.run_classifier)
        self.ranking_tab.gene_sets_requested.connect(self._on_open_gmt_clicked)

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

    # ------------------------------------------------------------------------------------------
    # What the tabs show

    @property
    def current_table(self) -> pd.DataFrame | None:
        """The result table of the group shown, with the thresholds' ``significant`` column."""
        return self.results_tab.current_table

    def selected_gene(self) -> str | None:
        """The gene selected in the Results tab's plots and table."""
        return self.results_tab.selected_gene()

    def _show_prepared(self, prepared) -> None:
        self.prepared = prepared
        data = prepared.data
        source = "PBMC 68k reduced (scanpy demo)" if self._counts_path is None else data.source
        self.source_label.setText(
            f"{Path(source).name if self._counts_path else source}: {data.summary()}"
        )
        self.data_tab.show_prepared(prepared)
        self.qc_tab.show_qc(prepared, self.data_tab.condition())
        self._clear_results()
        self._update_enabled()
        self.status_label.setText(f"Loaded {data.summary()}")

    def _on_condition_changed(self, condition: str) -> None:
        self.qc_tab.draw_pca(self.prepared, condition)

    def _clear_results(self) -> None:
        self.result = None
        self.results_tab.clear()
        self.ranking_tab.clear()

    def _show_result(self, result) -> None:
        self.result = result
        self.results_tab.show_result(self.prepared, result)
        self.tabs.setCurrentWidget(self.results_tab)
        self._update_enabled()
        self.result_shown.emit()
        self.status_label.setText("Differential expression done")

    def look_up_target(self, gene: str) -> None:
        """Look ``gene`` up in Proteins (its UniProt entry, structures and AlphaFold model)."""
        if self.links is None:
            self._error(f"Look up {gene} in Proteins: Fetch there, typing {gene}.")
            return
        self.status_label.setText(f"Looking up {gene} in Proteins…")
        self.links.look_up_target(gene)

    def _on_group_shown(self, table: pd.DataFrame, tested: str, reference: str) -> None:
        self.ranking_tab.show_ranking(table, tested, reference, self.result.condition)

    def _update_enabled(self) -> None:
        loaded = self.prepared is not None
        has_result = self.current_table is not None
        table_file = self._counts_path is not None and not self._counts_path.endswith(".h5ad")
        self.sheet_button.setEnabled(table_file)
        self.transpose_button.setEnabled(loaded and table_file)
        self.data_tab.set_loaded(loaded)
        self.results_tab.set_has_result(has_result)
        self.ranking_tab.set_has_result(has_result)
        self.cancel_button.setEnabled(self.jobs.is_busy())
        self.progress_bar.setVisible(self.jobs.is_busy())

    def _error(self, message: str) -> None:
        self.notifier.show_error(message)
        self.status_label.setText(message)

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
            self._show_prepared,
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

    # ------------------------------------------------------------------------------------------
    # Differential expression, ranking, export

    def run_de(self) -> JobHandle | None:
        """Run the comparison chosen on the Data tab."""
        from core.expression.de import run_de

        if self.prepared is None:
            self._error("Load data first.")
            return None
        if not self.data_tab.condition():
            self._error("The data have no condition column: load a sample sheet first.")
            return None
        try:
            options = self.data_tab.de_options()
        except ValueError as exc:
            self._error(str(exc))
            return None
        self.data_tab.hide_offer()
        return self._submit(
            "de",
            self._show_result,
            run_de,
            self.prepared.data,
            options,
            title="Differential expression",
            on_failed=self._on_de_failed,
        )

    def run_classifier(self) -> JobHandle | None:
        from core.expression.ranking import classify

        if self.result is None or self.prepared is None:
            self._error("Run a comparison first.")
            return None
        return self._submit(
            "classifier",
            self.ranking_tab.show_classifier,
            classify,
            self.prepared.data,
            self.result.condition,
            self.results_tab.tested_group(),
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
            "gmt", self.ranking_tab.show_enrichment, enrichment_from_gmt, str(gmt_path), selected, universe,
            title=f"Gene sets: {Path(gmt_path).name}",
        )  # fmt: skip

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

        table = self.results_tab.rows_shown()
        if table is None:
            return None
        if self.result is not None and self.result.groups:
            table.insert(0, "group", self.results_tab.shown_group())
        return self._submit(
            "export", self._on_export_finished, write_results, table, str(path),
            "Differential expression", title=f"Export {Path(path).name}",
        )  # fmt: skip

    # ------------------------------------------------------------------------------------------
    # Jobs

    def _submit(
        self, kind: str, on_finished, fn, *args, title: str, on_failed=None, **kwargs
    ) -> JobHandle:
        """Run ``fn`` on the engine as this panel's job of ``kind`` (see :class:`JobTracker`):
        ``on_finished(result)`` receives its result and ``on_failed(message)`` (by default the
        error strip) its failure, while it is still the newest job of its kind."""
        handle = self.jobs.submit(
            kind, on_finished, fn, *args, on_failed=on_failed or self._error, title=title, **kwargs
        )
        self.progress_bar.setValue(0)
        self.status_label.setText("Working…")
        self._update_enabled()
        return handle

    def cancel_jobs(self) -> None:
        self.jobs.cancel_all()

    def busy(self) -> bool:
        return self.jobs.is_busy()

    def _on_job_progress(self, _kind: str, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress_bar.setValue(int(fraction * 1000))
        self.status_label.setText(message)

    def _on_job_ended(self, _kind: str, how: str) -> None:
        if not self.jobs.is_busy():
            self.progress_bar.setValue(0)
        # A finished job's own slot says what it did; the line says only what went wrong.
        self.status_label.setText(
            "" if how == "finished" else ("Failed" if how == FAILED else "Cancelled")
        )
        self._update_enabled()

    def _on_export_finished(self, path) -> None:
        self.status_label.setText(f"Wrote {path}")
        self.notifier.show_status(f"Wrote {path}", 8000)

    def _on_load_failed(self, message: str) -> None:
        self._orientation = "auto"  # a forced orientation that failed is not kept
        self._error(message)

    def _on_de_failed(self, message: str) -> None:
        if INTEGER_COUNTS_HINT in message:
            self.data_tab.offer_welch(message)
            self.tabs.setCurrentWidget(self.data_tab)
        self._error(message)

    def closeEvent(self, event) -> None:
        self.cancel_jobs()
        super().closeEvent(event)
