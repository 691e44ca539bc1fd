"""The Gene expression panel: tabs Data / QC / Results / Ranking over ``core.expression``.

This module is the shell: the top bar (open the demo, a counts file, its sample sheet), the tabs
(``data_tab``, ``qc_tab``, ``results_tab``, ``ranking_tab``), the data and result they share, and
the jobs. It keeps its work in the project (``ui.workbench.KeepsState``, state key
``expression``): the files' paths with their SHA-256, the matrix itself when it is at most 50 MB
of values, the sample sheet, the comparison's settings, the result table and the choices made on
it; reopened, the result is shown as saved (not recomputed) and the data are read back from the
project's copy, or else from the file. Every computation (reading files, QC, PyDESeq2, classifiers, gene-set tests, exports)
runs on the engine thread as a job from ``core.expression``; the panel keeps the handle of each
job it submitted (one per kind: a newer load, comparison, … supersedes the older one), shows
progress, and hands the results its own handles bring to the tab that shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    from core.project.areas import AreaSnapshot, StoredArea
    from ui.jobs.handle import JobHandle
    from ui.workbench import AreaContext

__all__ = ["ALL_VS_REST", "INTEGER_COUNTS_HINT", "REST", "ExpressionPanel"]

INTEGER_COUNTS_HINT = "DESeq2 needs raw integer counts"


STATE_FORMAT = 1
NO_DATA = "No data: open a counts file or the demo."


class ExpressionPanel(QWidget):
    """Load → QC → differential expression → ranking, for bulk counts or single cells.

    Signals
    -------
    result_shown()
        A comparison's result is shown.
    state_changed()
        Something worth keeping in the project changed (``ui.workbench.KeepsState``).
    """

    result_shown = Signal()
    state_changed = Signal()
    state_key = "expression"

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
        # What the project keeps: the files' references, the data's tables (made once per data
        # set), the stored state while its data are still being read back.
        self._references: dict[str, Any] = {"counts": None, "sheet": None}
        self._data_tables: tuple[object, dict[str, pd.DataFrame]] | None = None
        self._results_cache: tuple | None = None
        self._kept: dict[str, Any] | None = None
        self._quiet = False  # restoring: what changes is the project's own state
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
        self.source_label = ElidedLabel(NO_DATA, mode="middle")
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
        # Choices the project keeps.
        self.results_tab.view_changed.connect(self._changed)
        for combo in (
            self.data_tab.condition_combo,
            self.data_tab.case_combo,
            self.data_tab.control_combo,
            self.data_tab.method_combo,
        ):
            combo.currentIndexChanged.connect(self._changed)
        self.data_tab.covariate_list.itemChanged.connect(self._changed)
        self.tabs.currentChanged.connect(self._changed)

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

    def _show_prepared(self, prepared, keep_result: bool = False) -> None:
        self.prepared = prepared
        data = prepared.data
        source = "PBMC 68k reduced (scanpy demo)" if self._counts_path is None else data.source
        self.source_label.setText(
            f"{Path(source).name if self._counts_path else source}: {data.summary()}"
        )
        self.data_tab.show_prepared(prepared)
        self.qc_tab.show_qc(prepared, self.data_tab.condition())
        if not keep_result:
            self._clear_results()
        self._update_enabled()
        self.status_label.setText(f"Loaded {data.summary()}")
        self._changed()

    def _on_loaded(self, loaded) -> None:
        self._references = dict(loaded.references)
        self._data_tables = (loaded.prepared.data, loaded.tables)
        self._show_prepared(loaded.prepared)

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
        self._changed()

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

    def _submit_load(self, title: str, on_finished=None) -> JobHandle:
        from core.expression.stored import load_with_references

        if on_finished is None:
            self._kept = None  # the user's own load supersedes what a project gave back
        return self._submit(
            "load",
            on_finished or self._on_loaded,
            load_with_references,
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
    # The project keeps the area (ui.workbench.KeepsState)

    def _changed(self, *_args) -> None:
        if not self._quiet:
            self.state_changed.emit()

    def _data_state(self) -> tuple[dict | None, dict | None, dict[str, pd.DataFrame]]:
        """The data's description, the comparison's settings and the data's tables: those of
        the data shown, else those a project gave back (data still being read, or lost)."""
        from core.expression.stored import data_meta, data_tables

        if self.prepared is None:
            kept = self._kept or {}
            return kept.get("data"), kept.get("settings"), dict(kept.get("tables", {}))
        data = self.prepared.data
        if self._data_tables is None or self._data_tables[0] is not data:
            self._data_tables = (data, data_tables(data))
        return data_meta(data), self.data_tab.settings(), dict(self._data_tables[1])

    def _has_data(self) -> bool:
        return self.prepared is not None or bool(self._kept and self._kept.get("has_data"))

    def area_state(self) -> AreaSnapshot:
        """The area as the project keeps it (tables are shared, never changed afterwards)."""
        from core.expression.de import significant
        from core.expression.stored import display_name, group_table, result_meta, results_table
        from core.project.areas import AreaSnapshot

        data, settings, tables = self._data_state()
        result = self.result
        shown = self.current_table
        if result is not None and shown is not None:
            # "results": the group shown, one row per gene (what the campaign reads); a
            # one-vs-rest result keeps every group in "all_results" as well.
            cache = self._results_cache
            if cache is None or cache[0] is not result or cache[1] is not shown:
                full = results_table(result) if result.groups else None
                cache = (result, shown, group_table(shown), full)
                self._results_cache = cache
            tables["results"] = cache[2]
            if cache[3] is not None:
                tables["all_results"] = cache[3]
        tab = self.results_tab
        padj, lfc = float(tab.padj_spin.value()), float(tab.fc_spin.value())
        chosen = tab.chosen_genes()
        has_data = self._has_data()
        table = self.current_table
        tested, reference = tab._comparison()
        if table is not None:
            n_tested = int(pd.to_numeric(table["pvalue"], errors="coerce").notna().sum())
            n_significant = int(significant(table, padj, lfc).sum())
        else:
            n_tested = n_significant = 0
        state = {
            "source": {
                "demo": has_data and self._counts_path is None,
                "counts_path": self._counts_path,
                "sheet_path": self._sheet_path,
                "orientation": self._orientation,
                "counts": self._references.get("counts"),
                "sheet": self._references.get("sheet"),
            },
            "data": data if has_data else None,
            "settings": settings,
            "result": result_meta(result) if result is not None else None,
            "view": {
                "group": tab.shown_group(),
                "padj": padj,
                "lfc": lfc,
                "only_significant": tab.only_significant.isChecked(),
                "chosen_genes": chosen,
                "selected_gene": tab.selected_gene(),
                "tab": self.tabs.currentIndex(),
            },
            "campaign": {
                "datasets": [display_name(self._counts_path)] if has_data else [],
                "contrast": f"{tested} vs {reference}" if tested else "",
                "n_genes_tested": n_tested,
                "n_significant": n_significant,
                "chosen_genes": chosen,
                "alpha": padj,
                "lfc_threshold": lfc,
            },
        }
        return AreaSnapshot(state=state, tables=tables, format=STATE_FORMAT)

    def restore_area_state(self, stored: StoredArea | None) -> list[str]:
        """Put back what a project kept (``None``: empty the area); one line per thing that
        could not be. The result is shown at once as it was saved; the data are read back in
        the engine (the project's copy, else the file) and shown when read."""
        self._quiet = True
        try:
            return self._restore(stored)
        finally:
            self._quiet = False

    def _reset(self) -> None:
        self.jobs.cancel_all()
        self.prepared = None
        self._clear_results()
        self.data_tab.clear()
        self.qc_tab.clear()
        self._counts_path = self._sheet_path = None
        self._orientation = "auto"
        self._references = {"counts": None, "sheet": None}
        self._data_tables = self._results_cache = None
        self._kept = None
        tab = self.results_tab
        for widget, value in ((tab.padj_spin, 0.05), (tab.fc_spin, 1.0)):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        tab.only_significant.blockSignals(True)
        tab.only_significant.setChecked(False)
        tab.only_significant.blockSignals(False)
        self.source_label.setText(NO_DATA)
        self.status_label.setText("")
        self.tabs.setCurrentIndex(0)
        self._update_enabled()

    def _restore(self, stored: StoredArea | None) -> list[str]:
        from core.expression.data import ExpressionInputError
        from core.expression.stored import (
            data_from_tables,
            load_with_references,
            prepare_data,
            result_from_tables,
        )

        self._reset()
        if stored is None:
            return []
        state = stored.state if isinstance(stored.state, dict) else {}
        tables = stored.tables if isinstance(stored.tables, dict) else {}
        problems: list[str] = []
        source, view = _mapping(state.get("source")), _mapping(state.get("view"))
        self._counts_path = _text(source.get("counts_path"))
        self._sheet_path = _text(source.get("sheet_path"))
        orientation = source.get("orientation")
        if orientation in ("auto", "genes_x_samples", "samples_x_genes"):
            self._orientation = orientation
        demo = source.get("demo") is True and self._counts_path is None
        self._references = {
            key: source.get(key) if isinstance(source.get(key), dict) else None
            for key in ("counts", "sheet")
        }
        kept_tables = {
            name: tables[name]
            for name in ("values", "samples")
            if isinstance(tables.get(name), pd.DataFrame)
        }
        has_data = demo or self._counts_path is not None
        if has_data:
            self._kept = {
                "has_data": True,
                "data": _mapping(state.get("data")) or None,
                "settings": _mapping(state.get("settings")) or None,
                "tables": kept_tables,
                "view": view,
                "reading": False,
            }

        if state.get("result") is not None:
            try:
                meta = state.get("result")
                groups = isinstance(meta, dict) and isinstance(meta.get("groups"), list)
                groups = groups and bool(meta["groups"])
                table = tables.get("all_results" if groups else "results")
                result = result_from_tables(table, meta)
            except ExpressionInputError as error:
                problems.append(
                    f"the differential expression results could not be restored ({error})"
                )
            else:
                self._show_saved_result(result, view)

        if has_data:
            counts = self._file_problem("counts", self._counts_path)
            sheet = self._file_problem("sheet", self._sheet_path)
            data = None
            if "values" in kept_tables:
                try:
                    data = data_from_tables(
                        kept_tables["values"], kept_tables.get("samples"), self._kept["data"]
                    )
                except ExpressionInputError as error:
                    problems.append(
                        f"the project's copy of the expression data is damaged ({error})"
                    )
            if data is not None:
                problems += [
                    f"{line}: the data and results are shown as the project saved them"
                    for line in (counts, sheet)
                    if line
                ]
                self._kept["reading"] = True
                self._submit(
                    "load", self._on_restored_data, prepare_data, data,
                    title="Read back the expression data", on_failed=self._on_load_failed,
                )  # fmt: skip
            elif counts is None or demo:
                if sheet:
                    problems.append(f"{sheet}: the sample sheet is shown as the project saved it")
                self._kept["reading"] = True
                self._submit(
                    "load", self._on_restored_data, load_with_references, self._counts_path,
                    None if sheet else self._sheet_path, self._orientation,
                    title="Read back the expression data", on_failed=self._on_load_failed,
                )  # fmt: skip
            else:
                problems.append(
                    f"{counts}: results shown as saved; open the file again to recompute"
                )
                self.source_label.setText(f"Not loaded: {counts}")
            if self._kept["reading"]:
                self.source_label.setText("Reading back the project's expression data…")
        tab = view.get("tab")
        if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)
        return problems

    def _file_problem(self, key: str, path: str | None) -> str | None:
        """What happened to a file the project names (``None``: there and unchanged)."""
        from core.project.areas import check_file_reference

        reference = self._references.get(key)
        if reference is not None:
            return check_file_reference(reference)
        if path is None or Path(path).is_file():
            return None
        return f"{path} is no longer there"

    def _show_saved_result(self, result, view: dict) -> None:
        """Show a result as a project saved it, with its thresholds, group and genes chosen."""
        from core.expression.stored import finite_or

        tab = self.results_tab
        for spin, key, default in ((tab.padj_spin, "padj", 0.05), (tab.fc_spin, "lfc", 1.0)):
            value = finite_or(view.get(key), default)
            spin.blockSignals(True)
            spin.setValue(min(max(value, spin.minimum()), spin.maximum()))
            spin.blockSignals(False)
        tab.only_significant.blockSignals(True)
        tab.only_significant.setChecked(view.get("only_significant") is True)
        tab.only_significant.blockSignals(False)
        self.result = result
        tab.show_result(self.prepared, result)
        group = view.get("group")
        if result.groups and isinstance(group, str) and group in result.groups:
            tab.group_combo.setCurrentText(group)
        genes = view.get("chosen_genes")
        genes = [g for g in genes if isinstance(g, str)] if isinstance(genes, list) else []
        current = view.get("selected_gene")
        tab.choose_genes(genes, current if isinstance(current, str) else None)
        self.tabs.setCurrentWidget(tab)
        self._update_enabled()

    def _on_restored_data(self, loaded) -> None:
        """The data of a reopened project, read back (a ``LoadedExpression`` from its file or
        demo, a ``PreparedExpression`` from the project's copy): shown beside the result as
        saved."""
        from dataclasses import replace

        from core.expression.stored import LoadedExpression, samples_table

        kept = self._kept or {}
        self._kept = None
        from_file = isinstance(loaded, LoadedExpression)
        prepared = loaded.prepared if from_file else loaded
        tables = dict(loaded.tables) if from_file else dict(kept.get("tables", {}))
        if from_file:
            self._references = {
                key: loaded.references.get(key) or self._references.get(key)
                for key in ("counts", "sheet")
            }
        samples = kept.get("tables", {}).get("samples")
        if (
            from_file
            and isinstance(samples, pd.DataFrame)
            and len(samples) == prepared.data.n_samples
        ):
            # The sheet as the project kept it (its file may have moved).
            names = [str(s) for s in prepared.data.values.index]
            stored = samples.copy()
            stored.index = pd.Index([str(s) for s in stored.index])
            if set(stored.index) == set(names) and not stored.index.has_duplicates:
                data = prepared.data.with_samples(stored.loc[names])
                prepared = replace(prepared, data=data)
                tables["samples"] = samples_table(data)
        self._data_tables = (prepared.data, tables)
        self._quiet = True
        try:
            self._show_prepared(prepared, keep_result=self.result is not None)
            missing = self.data_tab.apply_settings(kept.get("settings"))
            if self.result is not None:
                self.results_tab.set_prepared(prepared)
            view = kept.get("view", {})
            tab = view.get("tab")
            if isinstance(tab, int) and not isinstance(tab, bool) and 0 <= tab < self.tabs.count():
                self.tabs.setCurrentIndex(tab)
        finally:
            self._quiet = False
        if missing:
            self.status_label.setText("Not restored: " + "; ".join(missing))

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
        if self._kept is not None and self._kept.get("reading"):
            self._kept["reading"] = False
            message = f"The project's expression data could not be read back: {message}"
        self._error(message)

    def _on_de_failed(self, message: str) -> None:
        if INTEGER_COUNTS_HINT in message:
            self.data_tab.offer_welch(message)
            self.tabs.setCurrentWidget(self.data_tab)
        self._error(message)

    def closeEvent(self, event) -> None:
        self.cancel_jobs()
        super().closeEvent(event)


def _mapping(value: object) -> dict:
    """``value`` when a project stored a dict there, else an empty one."""
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
