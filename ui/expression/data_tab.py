"""The Data tab of the Gene expression panel: what was read, and the comparison to run.

The tab shows the samples of the data the panel loaded and lets the user choose the condition
column, case and control, the method and the DESeq2 covariates; it builds the
:class:`core.expression.de.DEOptions`. The run itself is the panel's job: the tab asks for it.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.expression.widgets import table_view
from ui.tables.dataframe_model import DataFrameModel

ALL_VS_REST = "All groups, each vs rest"
REST = "Rest (all other samples)"
CONTROL_WORDS = re.compile(
    r"^(control|ctrl|ctl|normal|healthy|untreated|vehicle|wt|wild.?type)$", re.I
)


class DataTab(QWidget):
    """The samples read and the comparison's settings.

    Signals
    -------
    run_requested()
        The user asked for the comparison (Run, or the offer of Welch's t-test).
    condition_changed(str)
        The condition column chosen (the QC tab colours its PCA by it).
    """

    run_requested = Signal()
    condition_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prepared = None  # core.expression.qc.PreparedExpression, as the panel shows it
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
        self.run_button.clicked.connect(self.run_requested)

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
        self.samples_view = table_view(self.samples_model)
        right = QVBoxLayout()
        right.addWidget(self.summary_label)
        right.addWidget(self.samples_view, 1)
        right_widget = QWidget()
        right_widget.setLayout(right)

        layout = QHBoxLayout(self)
        layout.addWidget(settings)
        layout.addWidget(right_widget, 1)

    # ------------------------------------------------------------------------------------------
    # The data

    def show_prepared(self, prepared) -> None:
        """Show what was read and choose a comparison for it: the likeliest condition column,
        case and control, and the method the values suit."""
        self.prepared = prepared
        data = prepared.data
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

    def clear(self) -> None:
        """No data: no samples, no comparison to choose."""
        self.prepared = None
        self.samples_model.set_frame(None)
        for combo in (self.condition_combo, self.case_combo, self.control_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.covariate_list.clear()
        self.offer_bar.hide()
        self.method_hint.hide()

    def settings(self) -> dict:
        """The comparison chosen, as a project keeps it (JSON): condition, case and control
        (``None``: all groups / the rest), method, covariates checked."""
        return {
            "condition": self.condition_combo.currentText(),
            "case": self.case_combo.currentData(),
            "control": self.control_combo.currentData(),
            "method": self.method_combo.currentData(),
            "covariates": [
                self.covariate_list.item(i).text()
                for i in range(self.covariate_list.count())
                if self.covariate_list.item(i).checkState() == Qt.CheckState.Checked
            ],
        }

    def apply_settings(self, settings: object) -> list[str]:
        """Choose what :meth:`settings` gave (read from a project: anything may be off); returns
        one line per choice that the data shown do not offer."""
        if not isinstance(settings, dict):
            return []
        missing = []
        condition = settings.get("condition")
        if isinstance(condition, str) and condition:
            if self.condition_combo.findText(condition) >= 0:
                self.condition_combo.setCurrentText(condition)
            else:
                missing.append(f"the condition column {condition!r} is not in the data")
        for combo, key in ((self.case_combo, "case"), (self.control_combo, "control")):
            value = settings.get(key)
            if value is None or isinstance(value, str):
                # Index 0 is "all groups" / "the rest", whose data is None.
                index = 0 if value is None else combo.findData(value)
                if index >= 0 and combo.count():
                    combo.setCurrentIndex(index)
                else:
                    missing.append(f"the level {value!r} is not in the data")
        method = self.method_combo.findData(settings.get("method"))
        if method >= 0:
            self.method_combo.setCurrentIndex(method)
        covariates = settings.get("covariates")
        chosen = (
            {c for c in covariates if isinstance(c, str)} if isinstance(covariates, list) else set()
        )
        for i in range(self.covariate_list.count()):
            item = self.covariate_list.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in chosen else Qt.CheckState.Unchecked
            )
        return missing

    def condition(self) -> str:
        """The condition column chosen (``""`` when the data have none)."""
        return self.condition_combo.currentText()

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
        self.condition_changed.emit(condition)

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
    # The comparison

    def de_options(self):
        """The comparison chosen, as :class:`core.expression.de.DEOptions` (raises ValueError
        when the choice is not a valid comparison)."""
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

    def set_loaded(self, loaded: bool) -> None:
        self.run_button.setEnabled(loaded)

    def offer_welch(self, message: str) -> None:
        """Say why DESeq2 refused the data, and offer Welch's t-test instead."""
        self.offer_label.setText(message)
        self.offer_bar.show()

    def hide_offer(self) -> None:
        self.offer_bar.hide()

    def _on_use_welch_clicked(self) -> None:
        self.offer_bar.hide()
        self.method_combo.setCurrentIndex(self.method_combo.findData("welch"))
        self.run_requested.emit()
