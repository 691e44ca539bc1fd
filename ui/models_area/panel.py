"""The Models area: train the SMILES transformer (with the random-forest baseline) on an assay
table, watch it learn, compare it on held-out molecules, keep it in the registry, apply it to a
library and see which atoms drive a prediction.

Everything heavy runs in the engine (``core.models.training.train_from_file``,
``core.models.apply.predict_library``, ``core.models.explain.explain_smiles``). The panel
connects to the handle of each job it submits; the training job hands every finished epoch to
``report_partial``, which reaches the panel on the GUI thread as the handle's ``partial`` signal,
so no widget is touched from the worker.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.fileio import atomic_output
from core.jobs import LONG_LANE
from core.models.training import EpochPoint, TrainReport, TrainSettings
from ui.models_area.explain_view import ExplainView
from ui.models_area.metrics_view import METRIC_TITLES, MetricsView
from ui.models_area.plots import MODEL_TITLES, EvaluationPlots, TrainingCurves

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle

SPLITS = [
    ("scaffold", "Scaffold"),
    ("scaffold_balanced", "Scaffold, balanced"),
    ("random", "Random"),
    ("stratified", "Stratified by class"),
]
TASKS = ["classification", "regression"]
ERROR_STYLE = "color: #b00020;"
DEMO_SIZE = 120
DEMO_TARGET, DEMO_TASK = "Act", "regression"  # the demo's potency, as the shipped model
PATH_ROLE = Qt.ItemDataRole.UserRole
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1


def _is_finetuned(entry: Any) -> bool:
    card = getattr(entry, "card", None)
    return card is not None and card.kind == "transformer" and card.task in TASKS


def _main_metric(card: Any) -> str:
    """``test ROC-AUC 0.81 (RF 0.78)`` from a card's metrics, or ``""``."""
    test = (card.metrics or {}).get("test") or {}
    name = "roc_auc" if card.task == "classification" else "rmse"
    mine = (test.get("transformer") or {}).get(name)
    if mine is None:
        return ""
    text = f"test {METRIC_TITLES[name]} {mine:.3f}"
    baseline = (test.get("rf_ecfp4") or {}).get(name)
    if baseline is not None:
        text += f" (RF {baseline:.3f})"
    return text


def write_demo_table(path: Path, n: int = DEMO_SIZE) -> Path:
    """A small real assay table: CHEMBL2321810 potencies shipped with RDKit, with an ``active``
    class (pIC50 ≥ 7) beside the measured ``Act``; written as CSV to ``path``."""
    import rdkit

    data = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    smiles = pd.read_csv(
        data / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    activity = pd.read_csv(data / "CHEMBL2321810_act.csv")
    table = smiles.merge(activity, on="Name")
    step = max(1, len(table) // n)
    table = table.iloc[::step].head(n).reset_index(drop=True)
    table["active"] = (table["Act"] >= 7.0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, "w", encoding="utf-8", newline="") as handle:
        table.to_csv(handle, index=False)
    return path


def _demo_job(path: Path, *, progress, is_cancelled):
    from core.models.datasets import assay_columns

    del is_cancelled
    progress(-1.0, "Writing the demo assay table")
    write_demo_table(path)
    return assay_columns(path)


def _columns_job(path: str, *, progress, is_cancelled):
    from core.models.datasets import assay_columns

    del is_cancelled
    progress(-1.0, f"Reading the columns of {Path(path).name}")
    return assay_columns(path)


class ModelsPanel(QWidget):
    """Train, compare, keep, apply and explain property models (the ``models`` area)."""

    def __init__(self, engine: Engine, window: Any = None) -> None:
        super().__init__()
        self.setObjectName("modelsPanel")
        self.engine = engine
        self.window_ = window
        # The handles of the jobs whose answer the panel still wants (a newer request of the same
        # kind replaces the handle, and the older answer is dropped).
        self._columns_job: JobHandle | None = None
        self._report_job: JobHandle | None = None
        self._explain_job: JobHandle | None = None
        self._train_job: JobHandle | None = None  # until trained, or a cancelled run read back
        self._train_output: Path | None = None
        self._columns = None  # core.models.datasets.AssayColumns of the chosen file
        self._report: TrainReport | None = None
        self._report_path: Path | None = None
        self._explained_model: Path | None = None
        self._library_panel = None
        self._library_smiles: str | None = None
        self._library_smiles_explained: str | None = None
        self._explained_smiles: str | None = None
        self._build()
        tabs = getattr(window, "tabs", None)
        if tabs is not None and hasattr(tabs, "currentChanged"):
            tabs.currentChanged.connect(lambda _index: self._watch_library_panel())
        self.refresh_models()
        self._update_buttons()

    # ------------------------------------------------------------------------------------------
    # Layout

    def _build(self) -> None:
        form_widget = QWidget()
        form_layout = QVBoxLayout(form_widget)
        form_layout.addWidget(self._build_data_group())
        form_layout.addWidget(self._build_settings_group())
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_widget)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for combo in form_widget.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(8)
        # As narrow as the form allows beside its scroll bar: the tabs get the rest of the width.
        scroll.setMinimumWidth(
            form_widget.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        )
        models_group = self._build_models_group()
        # The saved models stay in view below the form, whatever the window height.
        # Train, Cancel and the progress stay in view below the scrolling form.
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(scroll, 1)
        top_layout.addWidget(self._build_run_group())
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(top)
        left.addWidget(models_group)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 0)
        left.setChildrenCollapsible(False)
        left.setSizes([600, 170])

        self.tabs = QTabWidget()
        self.curves = TrainingCurves()
        self.tabs.addTab(self.curves, "Curves")
        self.metrics = MetricsView()
        self.tabs.addTab(self.metrics, "Metrics")
        self.plots = EvaluationPlots()
        self.tabs.addTab(self.plots, "Plots")
        self.explain_view = ExplainView()
        self.explain_view.molecule_chosen.connect(self.explain)
        self.explain_view.target_changed.connect(self._on_explain_target_changed)
        self.explain_view.library_row_requested.connect(self.explain_library_row)
        self.tabs.addTab(self.explain_view, "Explain")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _build_data_group(self) -> QGroupBox:
        group = QGroupBox("Assay data")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("CSV, TSV, XLSX or SDF file")
        self.file_edit.setToolTip("An assay table: SMILES (or SDF structures) and measured values")
        self.file_edit.returnPressed.connect(lambda: self.open_file(self.file_edit.text()))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._on_browse)
        self.demo_button = QPushButton("Open demo")
        self.demo_button.setToolTip(
            f"{DEMO_SIZE} CHEMBL2321810 compounds shipped with RDKit: potency 'Act' (pIC50) "
            "and 'active' (pIC50 ≥ 7)"
        )
        self.demo_button.clicked.connect(self.open_demo)
        file_row = QVBoxLayout()
        file_row.addWidget(self.file_edit)
        file_buttons = QHBoxLayout()
        file_buttons.addWidget(self.browse_button)
        file_buttons.addWidget(self.demo_button)
        file_buttons.addStretch(1)
        file_row.addLayout(file_buttons)
        self.smiles_combo = QComboBox()
        self.smiles_combo.setToolTip("The column holding SMILES (an SDF uses its structures)")
        self.targets_list = QListWidget()
        self.targets_list.setToolTip("Tick one or more measured columns to learn")
        self.targets_list.setMaximumHeight(90)
        self.targets_list.itemChanged.connect(self._on_targets_changed)
        self.task_combo = QComboBox()
        self.task_combo.addItems(TASKS)
        self.task_combo.setToolTip(
            "classification: two classes per target (0/1, active/inactive…); regression: numbers"
        )
        self.task_combo.currentTextChanged.connect(self._on_task_changed)
        self.data_label = QLabel("Open an assay table to train a model.")
        self.data_label.setWordWrap(True)
        layout = QFormLayout(group)
        layout.addRow(file_row)
        layout.addRow("SMILES column", self.smiles_combo)
        layout.addRow("Targets", self.targets_list)
        layout.addRow("Task", self.task_combo)
        layout.addRow(self.data_label)
        return group

    def _build_settings_group(self) -> QGroupBox:
        defaults = TrainSettings()
        group = QGroupBox("Training")
        self.split_combo = QComboBox()
        for key, title in SPLITS:
            self.split_combo.addItem(title, key)
        self.split_combo.setToolTip(
            "80/10/10 train/valid/test. Scaffold: Bemis-Murcko scaffolds kept apart (honest for "
            "new chemotypes); stratified: class balance kept (one classification target)"
        )
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setValue(20)
        self.epochs_spin.setToolTip("Most epochs; training stops earlier when validation stalls")
        self.ensemble_spin = QSpinBox()
        self.ensemble_spin.setRange(1, 10)
        self.ensemble_spin.setValue(defaults.n_models)
        self.ensemble_spin.setToolTip("Models with different seeds: predictions get a std")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 0.01)
        self.lr_spin.setSingleStep(0.00005)
        self.lr_spin.setValue(defaults.learning_rate)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(4, 512)
        self.batch_spin.setValue(defaults.batch_size)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        self.baseline_check = QCheckBox("Random forest (ECFP4)")
        self.baseline_check.setToolTip("Also fit a random forest on ECFP4 on the same split")
        self.baseline_check.setChecked(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("default: file and target names")
        layout = QFormLayout(group)
        layout.addRow("Split", self.split_combo)
        layout.addRow("Epochs", self.epochs_spin)
        layout.addRow("Ensemble size", self.ensemble_spin)
        layout.addRow("Learning rate", self.lr_spin)
        layout.addRow("Batch size", self.batch_spin)
        layout.addRow("Seed", self.seed_spin)
        layout.addRow("Baseline", self.baseline_check)
        layout.addRow("Name", self.name_edit)
        return group

    def _build_run_group(self) -> QWidget:
        box = QWidget()
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(lambda: self.train())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the best epochs so far are kept and evaluated")
        self.cancel_button.clicked.connect(self.cancel_training)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(10)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        return box

    def _build_models_group(self) -> QGroupBox:
        group = QGroupBox("Models")
        self.models_list = QListWidget()
        self.models_list.setMinimumHeight(70)
        self.models_list.setToolTip(
            "Your trained models and the shipped ones; the card is on the Metrics tab"
        )
        self.models_list.currentItemChanged.connect(self._on_model_selected)
        self.apply_button = QPushButton("Apply to library")
        self.apply_button.setToolTip(
            "Predict every valid molecule of the current library; columns are added to it"
        )
        self.apply_button.clicked.connect(self.apply_to_library)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._on_delete)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(lambda: self.refresh_models())
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button, 1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(group)
        layout.addWidget(self.models_list, 2)
        layout.addLayout(buttons)
        return group

    # ------------------------------------------------------------------------------------------
    # Helpers

    def _show_error(self, message: str) -> None:
        show = getattr(self.window_, "show_error", None)
        if callable(show):
            show(message)
        else:
            QMessageBox.warning(self, "Models", message)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)

    def is_training(self) -> bool:
        return self._train_job is not None

    def selected_model_path(self) -> Path | None:
        item = self.models_list.currentItem()
        return None if item is None else item.data(PATH_ROLE)

    def selected_entry(self):
        item = self.models_list.currentItem()
        return None if item is None else item.data(ENTRY_ROLE)

    def checked_targets(self) -> list[str]:
        return [
            self.targets_list.item(i).text()
            for i in range(self.targets_list.count())
            if self.targets_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _update_buttons(self) -> None:
        training = self.is_training()
        ready = self._columns is not None and bool(self.checked_targets())
        self.train_button.setEnabled(ready and not training)
        self.cancel_button.setEnabled(training)
        for widget in (self.browse_button, self.demo_button, self.file_edit):
            widget.setEnabled(not training)
        if not ready and not training:
            self.train_button.setToolTip(
                "Open an assay table and tick a target column first"
                if self._columns is None
                else "Tick at least one target column"
            )
        else:
            self.train_button.setToolTip("Fine-tune the SMILES transformer (and the baseline)")
        entry = self.selected_entry()
        finetuned = _is_finetuned(entry)
        self.apply_button.setEnabled(finetuned)
        shipped = entry is not None and getattr(entry, "shipped", False)
        self.delete_button.setEnabled(entry is not None and not shipped and not training)
        self.explain_view.library_button.setEnabled(finetuned)

    # ------------------------------------------------------------------------------------------
    # Data

    def _on_browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open assay data",
            str(Path(self.file_edit.text()).parent) if self.file_edit.text() else "",
            "Assay tables (*.csv *.tsv *.tab *.xlsx *.sdf *.sd);;All files (*)",
        )
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> JobHandle | None:
        """Read the columns of ``path`` in the engine; the form fills when they arrive.
        Returns the job's handle (None for an empty path)."""
        path = str(path).strip()
        if not path:
            return None
        self.file_edit.setText(path)
        self.data_label.setText(f"Reading the columns of {Path(path).name}…")
        self.data_label.setStyleSheet("")
        handle = self.engine.submit(
            _columns_job, path, title=f"Columns of {Path(path).name}", key="models-cols"
        )
        self._columns_job = handle
        handle.finished.connect(partial(self._on_columns_read, handle))
        handle.failed.connect(partial(self._on_columns_failed, handle))
        return handle

    def open_demo(self) -> JobHandle:
        """Write the demo assay table to the data folder and open it, with its potency column
        ``Act`` (pIC50) ticked as the target of a regression, as the shipped potency model."""
        from core import paths

        path = paths.data_dir() / "demo" / "chembl2321810_potency.csv"
        self.file_edit.setText(str(path))
        self.data_label.setText("Writing the demo table…")
        handle = self.engine.submit(
            _demo_job, path, title="Open the demo assay table", key="models-cols"
        )
        self._columns_job = handle
        handle.finished.connect(partial(self._on_demo_opened, handle))
        handle.failed.connect(partial(self._on_columns_failed, handle))
        return handle

    def _on_columns_read(self, handle: JobHandle, columns) -> None:
        if handle is not self._columns_job:
            return  # another file was asked for since
        self._columns_job = None
        self._set_columns(columns)

    def _on_columns_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._columns_job:
            return
        self._columns_job = None
        self._columns = None
        self.smiles_combo.clear()
        self.targets_list.clear()
        self.data_label.setStyleSheet(ERROR_STYLE)
        self.data_label.setText(message)
        self._update_buttons()

    def _on_demo_opened(self, handle: JobHandle, columns) -> None:
        if handle is not self._columns_job:
            return
        self._columns_job = None
        self._set_columns(columns)
        if DEMO_TARGET not in columns.columns:
            return
        self.set_targets([DEMO_TARGET])
        self.task_combo.setCurrentText(DEMO_TASK)
        self.data_label.setText(
            f"Demo: {DEMO_SIZE} CHEMBL2321810 compounds. Target {DEMO_TARGET} (pIC50), "
            f"{DEMO_TASK}; tick 'active' (pIC50 ≥ 7) instead for a classifier."
        )

    def _set_columns(self, columns) -> None:
        self._columns = columns
        self.file_edit.setText(columns.path)
        self.smiles_combo.clear()
        if columns.is_sdf:
            self.smiles_combo.addItem("(structures of the SDF)", None)
            for name in columns.columns:
                self.smiles_combo.addItem(name, name)
        else:
            for name in columns.columns:
                self.smiles_combo.addItem(name, name)
            if columns.smiles_column in columns.columns:
                self.smiles_combo.setCurrentIndex(columns.columns.index(columns.smiles_column))
        self.targets_list.blockSignals(True)
        self.targets_list.clear()
        numeric = set(columns.numeric_columns)
        ordered = [c for c in columns.columns if c in numeric] + [
            c for c in columns.columns if c not in numeric and c != columns.smiles_column
        ]
        for name in ordered:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            distinct = columns.distinct_values.get(name, 0)
            kind = "numbers" if name in numeric else "text"
            item.setToolTip(f"{kind}; {distinct} distinct values in the first rows")
            if name not in numeric:
                item.setForeground(QColor("#777"))
            self.targets_list.addItem(item)
        self.targets_list.blockSignals(False)
        self.data_label.setStyleSheet("")
        self.data_label.setText(
            f"{len(columns.columns)} columns ({len(numeric)} numeric). Tick the target(s)."
            if columns.columns
            else "No columns found."
        )
        self._update_buttons()

    def set_targets(self, names: list[str]) -> None:
        """Tick exactly these target columns (for scripts and tests)."""
        for i in range(self.targets_list.count()):
            item = self.targets_list.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked
            )

    def _on_targets_changed(self, _item=None) -> None:
        targets = self.checked_targets()
        if targets and self._columns is not None:
            distinct = [self._columns.distinct_values.get(t, 0) for t in targets]
            numeric = all(t in self._columns.numeric_columns for t in targets)
            task = (
                "classification" if all(d <= 2 for d in distinct) or not numeric else "regression"
            )
            self.task_combo.setCurrentText(task)
        if not self.name_edit.isModified():
            self.name_edit.setText(self._default_name())
        self._update_buttons()

    def _on_task_changed(self, task: str) -> None:
        # A stratified split needs one classification target: offer it only then.
        index = self.split_combo.findData("stratified")
        item = self.split_combo.model().item(index)
        if item is not None:
            item.setEnabled(task == "classification")
        if task != "classification" and self.split_combo.currentData() == "stratified":
            self.split_combo.setCurrentIndex(0)

    def _default_name(self) -> str:
        from core.models.registry import safe_model_name

        stem = Path(self.file_edit.text()).stem or "model"
        targets = "-".join(self.checked_targets()[:2]) or "target"
        try:
            return safe_model_name(f"{stem}-{targets}")[:80]
        except ValueError:
            return "model"

    def settings(self) -> TrainSettings:
        return TrainSettings(
            split=self.split_combo.currentData(),
            seed=self.seed_spin.value(),
            epochs=self.epochs_spin.value(),
            n_models=self.ensemble_spin.value(),
            baseline=self.baseline_check.isChecked(),
            batch_size=self.batch_spin.value(),
            learning_rate=self.lr_spin.value(),
        )

    # ------------------------------------------------------------------------------------------
    # Training

    def _output_dir(self) -> Path:
        from core.models.registry import model_dir, safe_model_name

        base = safe_model_name(self.name_edit.text().strip() or self._default_name())[:90]
        folder = model_dir(base)
        if folder.exists():
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            folder = model_dir(f"{base}-{stamp}")
            n = 2
            while folder.exists():
                folder = model_dir(f"{base}-{stamp}-{n}")
                n += 1
        return folder

    def train(self, pretrained_dir: str | Path | None = None) -> JobHandle | None:
        """Start training with the form's choices; returns the job's handle (None when
        refused)."""
        from core.models.training import train_from_file

        if self.is_training():
            return None
        if self._columns is None:
            self._set_status("Open an assay table first.", error=True)
            return None
        targets = self.checked_targets()
        if not targets:
            self._set_status("Tick at least one target column.", error=True)
            return None
        smiles_column = self.smiles_combo.currentData()
        if smiles_column in targets:
            self._set_status(f"'{smiles_column}' is the SMILES column, not a target.", error=True)
            return None
        try:
            output = self._output_dir()
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return None
        settings = self.settings()
        task = self.task_combo.currentText()
        self._train_output = output
        self.curves.clear("ROC-AUC" if task == "classification" else "RMSE")
        self.curves.hint.setText("Waiting for the first epoch…")
        self.curves.hint.show()
        self.tabs.setCurrentWidget(self.curves)
        self.progress_bar.setValue(0)
        self._set_status(f"Training {output.name}…")
        handle = self.engine.submit(
            train_from_file,
            self._columns.path,
            smiles_column,
            tuple(targets),
            task,
            output,
            settings,
            pretrained_dir,
            title=f"Train {output.name}",
            needs_torch=True,
            lane=LONG_LANE,  # hours on a CPU: predictions, searches and scores need not wait
            keep_on_cancel=True,  # each epoch reaches handle.partial through report_partial
        )
        self._train_job = handle
        handle.progress.connect(self._on_train_progress)
        handle.partial.connect(self._on_epoch)
        handle.finished.connect(self._on_trained)
        handle.failed.connect(self._on_train_failed)
        handle.cancelled.connect(self._on_train_cancelled)
        self._update_buttons()
        return handle

    def cancel_training(self) -> None:
        if self._train_job is not None and self._train_job.cancel():
            self._set_status("Cancelling: the best epochs so far are kept…")

    def _on_train_progress(self, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress_bar.setValue(int(1000 * min(fraction, 1.0)))
        if message:
            self.status_label.setStyleSheet("")
            self.status_label.setText(message)

    def _on_epoch(self, point: EpochPoint) -> None:
        self.curves.add_point(
            int(point.model_index),
            int(point.epoch),
            float(point.train_loss),
            float(point.valid_metric),
        )

    def _on_train_failed(self, message: str) -> None:
        self._end_training()
        self._set_status(f"Training failed: {message}", error=True)
        self._show_error(message)
        self.refresh_models()

    def _on_train_cancelled(self) -> None:
        # The job kept the best epochs and saved them; read the folder back.
        from core.models.training import load_training_report

        output = self._train_output
        if output is None:
            self._end_training()
            return
        # _train_job stays set (the form stays busy, a second Cancel does nothing) until the kept
        # model is read back.
        handle = self.engine.submit(load_training_report, output, title=f"Read {output.name}")
        handle.finished.connect(self._on_trained)
        handle.failed.connect(self._on_cancelled_report_failed)
        handle.cancelled.connect(self._end_training)

    def _on_cancelled_report_failed(self, _message: str) -> None:
        self._end_training()
        self._set_status("Cancelled before the first epoch ended: nothing was saved.")

    def _end_training(self) -> None:
        self._train_job = None
        self.progress_bar.setValue(0)
        self._update_buttons()

    def _on_trained(self, report: TrainReport) -> None:
        self._end_training()
        name = Path(report.output_dir).name
        summary = self._summary(report)
        state = "Cancelled; kept" if report.cancelled else "Trained"
        self._set_status(f"{state} {name}. {summary}")
        self.refresh_models(select=Path(report.output_dir))
        self._show_report(report, Path(report.output_dir))
        self.tabs.setCurrentIndex(1)

    @staticmethod
    def _summary(report: TrainReport) -> str:
        metrics = report.metrics
        if metrics is None or metrics.empty:
            return ""
        name = "roc_auc" if report.task == "classification" else "rmse"
        rows = metrics[(metrics["part"] == "test") & (metrics["metric"] == name)]
        if "mean" in set(rows["target"]):
            rows = rows[rows["target"] == "mean"]
        parts = []
        for row in rows.itertuples():
            if row.value is not None and not (
                isinstance(row.value, float) and math.isnan(row.value)
            ):
                parts.append(f"{MODEL_TITLES.get(row.model, row.model)} {row.value:.3f}")
        return f"Test {METRIC_TITLES[name]}: " + ", ".join(parts) if parts else ""

    # ------------------------------------------------------------------------------------------
    # Reports

    def _show_report(self, report: TrainReport | None, path: Path | None) -> None:
        self._report, self._report_path = report, path
        self.metrics.set_report(report, path.name if path else "")
        self.explain_view.set_report(report)
        if report is None:
            self.plots.set_predictions(None, "")
            self.curves.clear()
            return
        self.curves.set_curve(
            report.curve, "ROC-AUC" if report.task == "classification" else "RMSE"
        )
        self.plots.set_predictions(report.predictions, report.task)

    # ------------------------------------------------------------------------------------------
    # Registry

    def refresh_models(self, select: Path | None = None) -> None:
        """List the user's models and the shipped ones (small card files: read here)."""
        from core.models.registry import list_models, shipped_models

        current = select or self.selected_model_path()
        self.models_list.blockSignals(True)
        self.models_list.clear()
        entries = [(e, False) for e in list_models()] + [(e, True) for e in shipped_models()]
        chosen = None
        for entry, shipped in entries:
            entry_info = _Entry(entry.path, entry.card, entry.error, shipped)
            if entry.card is None:
                text = f"{entry.path.name}: unusable ({entry.error})"
            else:
                card = entry.card
                # Name on the first line, what it does on the second: the list stays narrow.
                name = f"{card.name} [shipped]" if shipped else card.name
                if card.task in TASKS:
                    targets = ", ".join(card.target_columns)
                    text = f"{name}\n{card.task} of {targets}"
                    metric = _main_metric(card)
                    if metric:
                        text += f"; {metric}"
                else:
                    text = f"{name}\npretrained ({card.task})"
            item = QListWidgetItem(text)
            item.setData(PATH_ROLE, entry.path)
            item.setData(ENTRY_ROLE, entry_info)
            item.setToolTip(f"{text}\n{entry.path}")
            if entry.card is None:
                item.setForeground(QColor("#b00020"))
            self.models_list.addItem(item)
            if current is not None and Path(entry.path) == Path(current):
                chosen = item
        self.models_list.blockSignals(False)
        if chosen is None and current is None:
            # Open on the newest trained model, so its evaluation is on show.
            trained = [
                self.models_list.item(i)
                for i in range(self.models_list.count())
                if _is_finetuned(self.models_list.item(i).data(ENTRY_ROLE))
            ]
            if trained:
                chosen = max(trained, key=lambda item: item.data(ENTRY_ROLE).card.created)
        if chosen is not None:
            self.models_list.setCurrentItem(chosen)
        self._update_buttons()

    def _on_model_selected(self, item, _previous=None) -> None:
        self._update_buttons()
        if item is None:
            self.metrics.card.setPlainText("")
            return
        entry = item.data(ENTRY_ROLE)
        path = Path(item.data(PATH_ROLE))
        if entry.card is None:
            self.metrics.card.setPlainText(entry.error or "")
            self._show_report(None, None)
            return
        self.metrics.card.setPlainText(_card_text(entry.card, path, entry.shipped))
        if not _is_finetuned(entry):
            self._show_report(None, None)
            return
        if self._report_path == path:
            return
        from core.models.training import load_training_report

        handle = self.engine.submit(
            load_training_report, path, title=f"Read {path.name}", key="models-report"
        )
        self._report_job = handle
        handle.finished.connect(partial(self._on_report_read, handle))
        handle.failed.connect(partial(self._on_report_failed, handle))

    def _on_report_read(self, handle: JobHandle, report: TrainReport) -> None:
        if handle is not self._report_job:
            return  # another model was selected since
        self._report_job = None
        path = Path(report.output_dir)
        if path == self.selected_model_path():
            self._show_report(report, path)

    def _on_report_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._report_job:
            return
        self._report_job = None
        self.metrics.label.setText(f"Cannot read this model's evaluation: {message}")

    def _on_delete(self) -> None:

        entry = self.selected_entry()
        if entry is None or entry.shipped:
            return
        answer = QMessageBox.question(
            self,
            "Delete model",
            f"Delete the model '{entry.path.name}' and its files?\n{entry.path}",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.delete_selected()

    def delete_selected(self) -> bool:
        """Delete the selected user model without asking (the button asks first)."""
        from core.models.registry import delete_model

        entry = self.selected_entry()
        if entry is None or entry.shipped:
            return False
        try:
            delete_model(entry.path.name)
        except (ValueError, OSError) as exc:
            self._show_error(str(exc))
            return False
        if self._report_path == entry.path:
            self._show_report(None, None)
        self.refresh_models()
        return True

    # ------------------------------------------------------------------------------------------
    # Apply to a library

    def _library_panel_now(self):
        current = getattr(self.window_, "current_panel", None)
        return current() if callable(current) else None

    def apply_to_library(self) -> JobHandle | None:
        from core.models.apply import predict_library

        entry = self.selected_entry()
        if not _is_finetuned(entry):
            self._show_error("Select a trained model (not a pretrained one) to apply.")
            return None
        panel = self._library_panel_now()
        library = getattr(panel, "library", None)
        if panel is None or library is None:
            self._show_error("Open a compound library first: predictions go into its table.")
            return None
        if not hasattr(panel, "add_columns"):
            self._show_error("This version of the library panel cannot take new columns.")
            return None
        table = library.table
        if "canonical_smiles" not in table.columns:
            self._show_error("The library has no canonical_smiles column to predict from.")
            return None
        valid = table["valid"] if "valid" in table.columns else None
        handle = self.engine.submit(
            predict_library,
            entry.path,
            table["canonical_smiles"].copy(),
            None if valid is None else valid.copy(),
            title=f"Predict {entry.path.name} for {getattr(library, 'name', 'the library')}",
            needs_torch=True,
        )
        # The predictions go to the library they were asked for, even if another is current by
        # the time they arrive.
        handle.finished.connect(partial(self._on_applied, panel))
        handle.failed.connect(self._on_apply_failed)
        handle.cancelled.connect(self._on_apply_cancelled)
        self._set_status(f"Predicting {len(table):,} molecules with {entry.path.name}…")
        return handle

    def _on_applied(self, panel, frame: pd.DataFrame) -> None:
        try:
            panel.add_columns(frame)
        except (RuntimeError, ValueError, KeyError) as exc:
            self._show_error(f"Could not add the predictions: {exc}")
            return
        n = int(frame.iloc[:, 0].notna().sum()) if frame.shape[1] else 0
        self._set_status(
            f"Added {', '.join(map(str, frame.columns))} to the library ({n:,} molecules)."
        )

    def _on_apply_failed(self, message: str) -> None:
        self._set_status(f"Prediction failed: {message}", error=True)
        self._show_error(message)

    def _on_apply_cancelled(self) -> None:
        self._set_status("Prediction cancelled.")

    # ------------------------------------------------------------------------------------------
    # Explanations

    def _on_explain_target_changed(self, _index: int) -> None:
        if self._explained_smiles:
            self.explain(self._explained_smiles)

    def explain(self, smiles: str) -> JobHandle | None:
        """Compute the attribution heat map of ``smiles`` for the selected model (engine job
        with key ``explain``: a newer request supersedes an older one)."""
        from core.models.explain import explain_smiles

        entry = self.selected_entry()
        if not _is_finetuned(entry):
            self.explain_view.show_message("Select a trained model to explain its predictions.")
            return None
        self._explained_smiles = smiles
        target = self.explain_view.target_index()
        waiting = " (after the training job)" if self.is_training() else ""
        self.explain_view.show_message(f"Explaining {smiles}{waiting}…")
        handle = self.engine.submit(
            explain_smiles,
            entry.path,
            smiles,
            target,
            title=f"Explain {smiles[:30]}",
            key="explain",
            needs_torch=True,
        )
        self._explain_job = handle
        handle.finished.connect(partial(self._on_explained, handle))
        handle.failed.connect(partial(self._on_explain_failed, handle))
        return handle

    def _on_explained(self, handle: JobHandle, explanation) -> None:
        if handle is not self._explain_job:
            return  # another molecule was asked for since
        self._explain_job = None
        self.explain_view.show_explanation(explanation)

    def _on_explain_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._explain_job:
            return
        self._explain_job = None
        self.explain_view.show_message(f"Cannot explain this molecule: {message}", error=True)

    def explain_library_row(self) -> JobHandle | None:
        panel = self._library_panel_now()
        row = panel.current_row() if panel is not None and hasattr(panel, "current_row") else None
        smiles = (row or {}).get("canonical_smiles") if isinstance(row, dict) else None
        if not smiles:
            self._show_error("Select a molecule in a library first (Libraries area).")
            return None
        self._library_smiles_explained = smiles
        return self.explain(str(smiles))

    def _watch_library_panel(self) -> None:
        panel = self._library_panel_now()
        if panel is self._library_panel:
            return
        if self._library_panel is not None:
            try:
                self._library_panel.current_row_changed.disconnect(self._on_library_row)
            except (RuntimeError, TypeError):
                pass
        self._library_panel = panel
        if panel is not None and hasattr(panel, "current_row_changed"):
            panel.current_row_changed.connect(self._on_library_row)

    def _on_library_row(self, row) -> None:
        smiles = row.get("canonical_smiles") if isinstance(row, dict) else None
        self._library_smiles = str(smiles) if smiles else None
        if self.isVisible() and self._library_smiles:
            self._library_smiles_explained = self._library_smiles
            self.explain(self._library_smiles)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._watch_library_panel()
        panel = self._library_panel
        if panel is not None and hasattr(panel, "current_row"):
            row = panel.current_row()
            self._library_smiles = (row or {}).get("canonical_smiles") if row else None
        if (
            self._library_smiles
            and self._library_smiles != self._library_smiles_explained
            and _is_finetuned(self.selected_entry())
        ):
            self._library_smiles_explained = self._library_smiles
            self.explain(str(self._library_smiles))


class _Entry:
    """A registry entry as the list keeps it: folder, card, error, shipped or not."""

    __slots__ = ("card", "error", "path", "shipped")

    def __init__(self, path: Path, card, error: str | None, shipped: bool) -> None:
        self.path, self.card, self.error, self.shipped = Path(path), card, error, shipped


def _metric_lines(values, indent: str = "  ") -> list[str]:
    """Nested metric dicts as readable lines: 'transformer: rmse 0.756, mae 0.597'."""
    if not isinstance(values, dict):
        return [f"{indent}{values}"]
    if all(not isinstance(v, dict) for v in values.values()):
        parts = [
            f"{k} {v:.3f}" if isinstance(v, int | float) else f"{k} {v}" for k, v in values.items()
        ]
        return [indent + ", ".join(parts)]
    lines = []
    for key, inner in values.items():
        inner_lines = _metric_lines(inner, indent + "  ")
        if len(inner_lines) == 1:
            lines.append(f"{indent}{key}: {inner_lines[0].strip()}")
        else:
            lines.append(f"{indent}{key}:")
            lines.extend(inner_lines)
    return lines


def _card_text(card, path: Path, shipped: bool) -> str:
    split = card.split or {}
    sizes = split.get("sizes") if isinstance(split, dict) else None
    split_text = (
        f"{split.get('kind', '?')} (seed {split.get('seed', '?')}), train/valid/test {sizes}"
        if isinstance(split, dict)
        else str(split)
    )
    lines = [
        f"{card.name}{' (shipped)' if shipped else ''}",
        card.description,
        f"Task: {card.task}; targets: {', '.join(card.target_columns) or '—'}",
        f"SMILES column: {card.smiles_column}",
        f"Split: {split_text}",
        f"Created: {card.created}",
    ]
    for part in ("valid", "test"):
        values = (card.metrics or {}).get(part)
        if values:
            lines.append(f"{part.capitalize()} metrics:")
            lines.extend(_metric_lines(values))
    lines.append(f"Folder: {path}")
    return "\n".join(line for line in lines if line)
