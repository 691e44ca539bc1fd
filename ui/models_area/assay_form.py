"""The assay form of the Models area: which table to learn from (file, SMILES column, targets,
task, units) and how to train (split, epochs, ensemble, learning rate, batch, seed, baseline,
name).

Reading a table's columns runs in the engine (a small job keyed ``models-cols``: a newer file
supersedes an older one); the form fills when its own job's answer arrives. Once a file and a
target are chosen, a second job (``models-record``, :func:`core.models.datasets.preview_assay`)
reads the table as training would and the form shows its record under the data: units converted,
censored values left out, replicates merged, rows dropped, warnings, before Train is pressed.
``request()`` turns the form into what a training run needs, or says in one line what is missing.
A project keeps the form's choices (:meth:`AssayForm.form_state`, with the table as a file
reference) and puts them back (:meth:`AssayForm.restore_form_state`) once the table's columns are
read again.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from PySide6.QtCore import Qt, QTimer, Signal
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
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.fileio import atomic_output
from core.models.training import TrainSettings

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
UNIT_CHOICES = [
    ("auto", "detect"),
    ("p", "p-values"),
    ("nM", "nM"),
    ("uM", "µM"),
    ("mM", "mM"),
    ("M", "M"),
]
"""The units chooser: what a regression target's bare numbers are (``load_assay_table(units=)``)."""
CENSORED_TEXT = "left out of training and metrics, counted below"
ERROR_STYLE = "color: #b00020;"
WARNING_STYLE = "color: #8a5300;"
DEMO_SIZE = 120
DEMO_TARGET, DEMO_TASK = "Act", "regression"  # the demo's potency, as the shipped model
HASHED_BYTES = 256 * 1024**2
"""A table up to this size is kept in a project with its SHA-256 (checked when it reopens)."""


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


def _record_job(path: str, smiles_column, targets, task, units, *, progress, is_cancelled):
    from core.models.datasets import preview_assay

    progress(-1.0, f"Reading {Path(path).name} as training would")
    return preview_assay(
        path, smiles_column, targets, task, units, progress=progress, is_cancelled=is_cancelled
    )


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """What the form asks a training run to do. ``units``: what a regression target's bare
    numbers are (``auto``, ``p``, ``nM``…), for ``load_assay_table(units=)``."""

    path: str
    smiles_column: str | None  # None: an SDF's structures
    targets: tuple[str, ...]
    task: str
    output: Path
    settings: TrainSettings
    units: str = "auto"


class AssayForm(QWidget):
    """The assay table and the training settings, in a scrolling form.

    Signals
    -------
    changed()
        The table's columns or the ticked targets changed (what the Train button depends on).
    choices_changed()
        Any choice of the form changed (a project keeps them).
    """

    changed = Signal()
    choices_changed = Signal()

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        # The columns job whose answer the form still wants (a newer file replaces it).
        self._columns_job: JobHandle | None = None
        self.columns = None  # core.models.datasets.AssayColumns of the chosen file
        # The record of the file and targets on show (core.models.assay_values.AssayRecord), and
        # the job reading it; a newer choice replaces both.
        self.record = None
        self._record_job: JobHandle | None = None
        # Ticking a target also sets the task: one short wait lets both changes make one job.
        self._record_timer = QTimer(self)
        self._record_timer.setSingleShot(True)
        self._record_timer.setInterval(150)
        self._record_timer.timeout.connect(self.refresh_record)
        # A project's table as a file reference, and the choices waiting for its columns.
        self.file_reference: dict[str, Any] | None = None
        self._pending_choices: dict[str, Any] | None = None
        self.restoring = False  # True while a project's choices go back (not the user's change)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.units_combo.setEnabled(self.task() == "regression")
        for signal in (
            self.changed,
            self.smiles_combo.currentIndexChanged,
            self.task_combo.currentIndexChanged,
            self.units_combo.currentIndexChanged,
            self.split_combo.currentIndexChanged,
            self.epochs_spin.valueChanged,
            self.ensemble_spin.valueChanged,
            self.calibration_combo.currentIndexChanged,
            self.lr_spin.valueChanged,
            self.batch_spin.valueChanged,
            self.seed_spin.valueChanged,
            self.dmpnn_check.toggled,
            self.baseline_check.toggled,
            self.name_edit.editingFinished,
        ):
            signal.connect(self.choices_changed)

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
        self.units_combo = QComboBox()
        for key, title in UNIT_CHOICES:
            self.units_combo.addItem(title, key)
        self.units_combo.setToolTip(
            "Regression: what the target's numbers are. detect: a unit in the cells ('10 µM'), "
            "a unit column ('IC50 units', 'Standard Units') or the column name ('IC50 (nM)', "
            "'pIC50'); otherwise numbers are used as they are. Concentrations become "
            "pXC50 = -log10(molar)."
        )
        self.units_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.smiles_combo.currentIndexChanged.connect(self._on_choice_changed)
        censored = QLabel(CENSORED_TEXT)
        censored.setWordWrap(True)
        censored.setToolTip(
            "Values such as '>10 µM' or '<1 nM' only bound the potency: no trainer here can use a "
            "bound, and using 10 µM as the value would teach one the molecule never showed. They "
            "are kept aside and listed in the record."
        )
        self.data_label = QLabel("Open an assay table to train a model.")
        self.data_label.setWordWrap(True)
        # What training will do with the table, read by the record job (empty until a target).
        self.record_label = QLabel()
        self.record_label.setWordWrap(True)
        self.record_label.setTextFormat(Qt.TextFormat.PlainText)
        self.record_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.record_label.hide()
        layout = QFormLayout(group)
        layout.addRow(file_row)
        layout.addRow("SMILES column", self.smiles_combo)
        layout.addRow("Targets", self.targets_list)
        layout.addRow("Task", self.task_combo)
        layout.addRow("Values are", self.units_combo)
        layout.addRow("Censored", censored)
        layout.addRow(self.data_label)
        layout.addRow(self.record_label)
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
        # Calibrated intervals need predictions that were not fitted on the rows they are
        # judged on: an ensemble of 3 or more is cross-fitted for free; a smaller one can refit
        # the transformer K times (K x the training time) instead of a forest's stand-in.
        self.calibration_combo = QComboBox()
        self.calibration_combo.addItem("Automatic", 0)
        for folds in range(2, 11):
            self.calibration_combo.addItem(f"{folds} refits", folds)
        self._set_calibration_folds(defaults.calibration_folds)
        self.calibration_combo.setToolTip(
            "Out-of-fold predictions for the calibrated intervals. Automatic: an ensemble of 3 or "
            "more is cross-fitted (no extra training); a smaller regression ensemble uses a "
            "random forest's out-of-fold errors as a stand-in. 2-10: refit the transformer that "
            "many times on K-1 folds of the training part (costs K times the training)"
        )
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
        # The families fitted on the same split; the model predicts with the one (or the
        # weighted mix) that does best on the validation part.
        self.transformer_check = QCheckBox("Transformer")
        self.transformer_check.setChecked(True)
        self.transformer_check.setEnabled(False)  # the model folder is built around it
        self.transformer_check.setToolTip("The SMILES transformer: always fitted")
        self.dmpnn_check = QCheckBox("D-MPNN")
        self.dmpnn_check.setChecked(True)
        self.dmpnn_check.setToolTip(
            "Also fit chemprop's D-MPNN (a graph network) on the same split"
        )
        self.baseline_check = QCheckBox("Forest")
        self.baseline_check.setToolTip("Also fit a random forest on ECFP4 on the same split")
        self.baseline_check.setChecked(True)
        families = QWidget()
        families.setToolTip(
            "Families fitted on the same split; the model predicts with the best on the "
            "validation molecules, or a weighted mean of them when that is better there"
        )
        # One above the other: side by side they would widen the form past its 311 px.
        column = QVBoxLayout(families)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        for check in (self.transformer_check, self.dmpnn_check, self.baseline_check):
            column.addWidget(check)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("default: file and target names")
        layout = QFormLayout(group)
        layout.addRow("Split", self.split_combo)
        layout.addRow("Epochs", self.epochs_spin)
        layout.addRow("Ensemble size", self.ensemble_spin)
        layout.addRow("Calibration", self.calibration_combo)
        layout.addRow("Learning rate", self.lr_spin)
        layout.addRow("Batch size", self.batch_spin)
        layout.addRow("Seed", self.seed_spin)
        layout.addRow("Families", families)
        layout.addRow("Name", self.name_edit)
        return group

    # ------------------------------------------------------------------------------------------
    # State

    def set_busy(self, busy: bool) -> None:
        """While a model trains, no other file can be opened."""
        for widget in (self.browse_button, self.demo_button, self.file_edit):
            widget.setEnabled(not busy)

    def checked_targets(self) -> list[str]:
        return [
            self.targets_list.item(i).text()
            for i in range(self.targets_list.count())
            if self.targets_list.item(i).checkState() == Qt.CheckState.Checked
        ]

    def is_ready(self) -> bool:
        """A table is open and at least one target is ticked."""
        return self.columns is not None and bool(self.checked_targets())

    def not_ready_reason(self) -> str:
        return (
            "Open an assay table and tick a target column first"
            if self.columns is None
            else "Tick at least one target column"
        )

    def task(self) -> str:
        return self.task_combo.currentText()

    def units(self) -> str:
        """What the target's bare numbers are: ``auto``, ``p``, ``nM``, ``uM``, ``mM`` or ``M``."""
        return self.units_combo.currentData()

    def set_units(self, units: str) -> None:
        """Choose the units (a key of :data:`UNIT_CHOICES`), for scripts and tests."""
        index = self.units_combo.findData(units)
        if index < 0:
            raise ValueError(f"units must be one of {', '.join(k for k, _ in UNIT_CHOICES)}")
        self.units_combo.setCurrentIndex(index)

    def families(self) -> tuple[str, ...]:
        """The model families ticked (``transformer`` always; ``dmpnn``, ``rf``)."""
        ticked = (
            ("transformer", True),
            ("dmpnn", self.dmpnn_check.isChecked()),
            ("rf", self.baseline_check.isChecked()),
        )
        return tuple(name for name, on in ticked if on)

    def settings(self) -> TrainSettings:
        return TrainSettings(
            split=self.split_combo.currentData(),
            seed=self.seed_spin.value(),
            epochs=self.epochs_spin.value(),
            n_models=self.ensemble_spin.value(),
            calibration_folds=self.calibration_combo.currentData(),
            baseline=self.baseline_check.isChecked(),
            families=self.families(),
            batch_size=self.batch_spin.value(),
            learning_rate=self.lr_spin.value(),
        )

    def request(self) -> TrainRequest:
        """What to train, from the form; raises ``ValueError`` with one line for the user when
        something is missing (no table, no target, the SMILES column ticked, a bad name)."""
        if self.columns is None:
            raise ValueError("Open an assay table first.")
        targets = self.checked_targets()
        if not targets:
            raise ValueError("Tick at least one target column.")
        smiles_column = self.smiles_combo.currentData()
        if smiles_column in targets:
            raise ValueError(f"'{smiles_column}' is the SMILES column, not a target.")
        return TrainRequest(
            path=self.columns.path,
            smiles_column=smiles_column,
            targets=tuple(targets),
            task=self.task(),
            output=self._output_dir(),
            settings=self.settings(),
            units=self.units() if self.task() == "regression" else "auto",
        )

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

    def _default_name(self) -> str:
        from core.models.registry import safe_model_name

        stem = Path(self.file_edit.text()).stem or "model"
        targets = "-".join(self.checked_targets()[:2]) or "target"
        try:
            return safe_model_name(f"{stem}-{targets}")[:80]
        except ValueError:
            return "model"

    # ------------------------------------------------------------------------------------------
    # Opening a table

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
        self._pending_choices = None  # the user's file: a project's choices are not for it
        return self._read_columns(path)

    def _read_columns(self, path: str | Path) -> JobHandle | None:
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
        self._pending_choices = None
        return self._write_demo()

    def _write_demo(self) -> JobHandle:
        path = _demo_path()
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
        self.restoring = self._pending_choices is not None
        try:
            self._set_columns(columns)
            self._apply_pending_choices()
        finally:
            self.restoring = False

    def _on_columns_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._columns_job:
            return
        self._columns_job = None
        self._pending_choices = None
        self.columns = None
        self.file_reference = None
        self.smiles_combo.clear()
        self.targets_list.clear()
        self._show_record(None)
        self.data_label.setStyleSheet(ERROR_STYLE)
        self.data_label.setText(message)
        self.changed.emit()

    def _on_demo_opened(self, handle: JobHandle, columns) -> None:
        if handle is not self._columns_job:
            return
        self._columns_job = None
        self.restoring = self._pending_choices is not None
        try:
            self._show_demo(columns)
        finally:
            self.restoring = False

    def _show_demo(self, columns) -> None:
        self._set_columns(columns)
        if DEMO_TARGET not in columns.columns:
            return
        self.set_targets([DEMO_TARGET])
        self.task_combo.setCurrentText(DEMO_TASK)
        self.set_units("p")  # Act is a pIC50: said, so the record checks the range
        self.data_label.setText(
            f"Demo: {DEMO_SIZE} CHEMBL2321810 compounds. Target {DEMO_TARGET} (pIC50), "
            f"{DEMO_TASK}; tick 'active' (pIC50 ≥ 7) instead for a classifier."
        )
        self._apply_pending_choices()

    def _set_columns(self, columns) -> None:
        self.columns = columns
        self.file_reference = _table_reference(columns.path)
        self._show_record(None)  # another file: nothing ticked yet
        self.file_edit.setText(columns.path)
        self.smiles_combo.blockSignals(True)
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
        self.smiles_combo.blockSignals(False)
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
        self.changed.emit()

    # ------------------------------------------------------------------------------------------
    # Targets and task

    def set_targets(self, names: list[str]) -> None:
        """Tick exactly these target columns (for scripts and tests)."""
        for i in range(self.targets_list.count()):
            item = self.targets_list.item(i)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked
            )

    def _on_targets_changed(self, _item=None) -> None:
        targets = self.checked_targets()
        if targets and self.columns is not None:
            distinct = [self.columns.distinct_values.get(t, 0) for t in targets]
            numeric = all(t in self.columns.numeric_columns for t in targets)
            task = (
                "classification" if all(d <= 2 for d in distinct) or not numeric else "regression"
            )
            self.task_combo.setCurrentText(task)
        if not self.name_edit.isModified():
            self.name_edit.setText(self._default_name())
        self._record_timer.start()
        self.changed.emit()

    def _on_task_changed(self, task: str) -> None:
        # A stratified split needs one classification target: offer it only then.
        index = self.split_combo.findData("stratified")
        item = self.split_combo.model().item(index)
        if item is not None:
            item.setEnabled(task == "classification")
        if task != "classification" and self.split_combo.currentData() == "stratified":
            self.split_combo.setCurrentIndex(0)
        # Units are a regression's: a classifier reads class labels.
        self.units_combo.setEnabled(task == "regression")
        self._on_choice_changed()

    def _on_choice_changed(self, _index=None) -> None:
        self._record_timer.start()

    # ------------------------------------------------------------------------------------------
    # Projects

    def form_state(self) -> dict[str, Any]:
        """The form's choices as plain JSON: the table (a file reference), its columns and
        targets, task, units, and the training settings."""
        state: dict[str, Any] = {
            "file": dict(self.file_reference) if self.file_reference else None,
            "smiles_column": self.smiles_combo.currentData() if self.columns else None,
            "targets": self.checked_targets(),
            "task": self.task(),
            "units": self.units(),
            "split": self.split_combo.currentData(),
            "epochs": self.epochs_spin.value(),
            "ensemble": self.ensemble_spin.value(),
            "calibration_folds": self.calibration_combo.currentData(),
            "learning_rate": self.lr_spin.value(),
            "batch_size": self.batch_spin.value(),
            "seed": self.seed_spin.value(),
            "families": list(self.families()),
            "name": self.name_edit.text() if self.name_edit.isModified() else "",
        }
        if self.file_reference is None and self.file_edit.text().strip():
            state["file"] = {"path": self.file_edit.text().strip()}  # not read (moved, damaged)
        if self._pending_choices is not None:  # a project's table is still being read
            pending = self._pending_choices
            state.update({k: v for k, v in pending.items() if k != "file" and v is not None})
            state["file"] = pending.get("file") or state["file"]
        return state

    def restore_form_state(self, state: Any) -> list[str]:
        """Put a project's choices back (``None``: the empty form). The table is read again in
        the engine and its columns and targets chosen when they arrive; returns a line per
        choice that cannot be restored (the table moved or changed)."""
        from core.project.areas import check_file_reference

        self.reset()
        if state is None:
            return []
        if not isinstance(state, Mapping):
            return ["the Models area's assay form could not be read"]
        self._restore_settings(state)
        reference = state.get("file")
        if not isinstance(reference, Mapping) or not isinstance(reference.get("path"), str):
            return []
        path = Path(reference["path"])
        self._pending_choices = {
            key: state.get(key) for key in ("smiles_column", "targets", "task", "units", "name")
        }
        self._pending_choices["file"] = dict(reference)
        problem = check_file_reference(reference)
        if path == _demo_path() and not path.is_file():  # written again, as the demo button does
            self._write_demo()
            return []
        if problem is not None and not path.is_file():
            self._pending_choices = None
            self.file_edit.setText(str(path))
            self.data_label.setStyleSheet(ERROR_STYLE)
            self.data_label.setText(f"{problem}: open the assay table again.")
            return [f"Models: the assay table {problem}"]
        self._read_columns(path)
        return (
            []
            if problem is None
            else [f"Models: the assay table {problem}; its columns read again"]
        )

    def reset(self) -> None:
        """The empty form of a new project: no table, the default settings."""
        self._columns_job = None
        self._record_job = None
        self._pending_choices = None
        self._record_timer.stop()
        self.columns = None
        self.file_reference = None
        self.file_edit.clear()
        self.smiles_combo.clear()
        self.targets_list.clear()
        self._show_record(None)
        self.data_label.setStyleSheet("")
        self.data_label.setText("Open an assay table to train a model.")
        defaults = TrainSettings()
        self.task_combo.setCurrentIndex(0)
        self.units_combo.setCurrentIndex(0)
        self.split_combo.setCurrentIndex(0)
        self.epochs_spin.setValue(20)
        self.ensemble_spin.setValue(defaults.n_models)
        self._set_calibration_folds(defaults.calibration_folds)
        self.lr_spin.setValue(defaults.learning_rate)
        self.batch_spin.setValue(defaults.batch_size)
        self.seed_spin.setValue(0)
        self.dmpnn_check.setChecked(True)
        self.baseline_check.setChecked(True)
        self.name_edit.clear()
        self.name_edit.setModified(False)
        self.changed.emit()

    def _set_calibration_folds(self, folds: int) -> None:
        """Choose ``folds`` refits (0: automatic); a number not offered leaves the choice."""
        index = self.calibration_combo.findData(int(folds))
        if index >= 0:
            self.calibration_combo.setCurrentIndex(index)

    def _restore_settings(self, state: Mapping[str, Any]) -> None:
        def number(key: str, kind=int):
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, kind | int):
                return None
            return value if math.isfinite(value) and abs(value) < 1e9 else None

        for key, spin in (("epochs", self.epochs_spin), ("ensemble", self.ensemble_spin),
                          ("batch_size", self.batch_spin), ("seed", self.seed_spin)):  # fmt: skip
            value = number(key)
            if value is not None:
                spin.setValue(int(value))
        folds = number("calibration_folds")
        if folds is not None:
            self._set_calibration_folds(int(folds))
        rate = number("learning_rate", float)
        if rate is not None:
            self.lr_spin.setValue(float(rate))
        split = state.get("split")
        if isinstance(split, str) and self.split_combo.findData(split) >= 0:
            self.split_combo.setCurrentIndex(self.split_combo.findData(split))
        families = state.get("families")
        if isinstance(families, list):
            self.dmpnn_check.setChecked("dmpnn" in families)
            self.baseline_check.setChecked("rf" in families)

    def _apply_pending_choices(self) -> None:
        """Choose the columns, targets, task and units a project kept, now that its table's
        columns are read (what the table no longer has is left unchosen)."""
        pending, self._pending_choices = self._pending_choices, None
        if pending is None or self.columns is None:
            return
        smiles = pending.get("smiles_column")
        if isinstance(smiles, str) and self.smiles_combo.findData(smiles) >= 0:
            self.smiles_combo.setCurrentIndex(self.smiles_combo.findData(smiles))
        targets = pending.get("targets")
        if isinstance(targets, list):
            self.set_targets([t for t in targets if isinstance(t, str)])
        task = pending.get("task")
        if task in TASKS:
            self.task_combo.setCurrentText(task)
        units = pending.get("units")
        if isinstance(units, str) and self.units_combo.findData(units) >= 0:
            self.set_units(units)
        name = pending.get("name")
        if isinstance(name, str) and name:
            self.name_edit.setText(name[:200])
            self.name_edit.setModified(True)
        self.choices_changed.emit()

    # ------------------------------------------------------------------------------------------
    # The record: what training will do with the table

    def refresh_record(self) -> JobHandle | None:
        """Read the chosen file and targets as training would (in the engine) and show the
        record when it arrives; returns the job's handle (None, and the record cleared, while no
        file or target is chosen)."""
        self._record_timer.stop()
        targets = self.checked_targets()
        if self.columns is None or not targets:
            self._record_job = None
            self._show_record(None)
            return None
        smiles_column = self.smiles_combo.currentData()
        if smiles_column in targets:
            self._record_job = None
            self._show_record(None)
            return None
        self.record_label.setStyleSheet("")
        self.record_label.setText("Reading the table as training would…")
        self.record_label.show()
        handle = self.engine.submit(
            _record_job,
            self.columns.path,
            smiles_column,
            tuple(targets),
            self.task(),
            self.units(),
            title=f"Check {Path(self.columns.path).name}",
            key="models-record",
        )
        self._record_job = handle
        handle.finished.connect(partial(self._on_record_read, handle))
        handle.failed.connect(partial(self._on_record_failed, handle))
        return handle

    def _on_record_read(self, handle: JobHandle, record) -> None:
        if handle is not self._record_job:
            return  # the choices changed since
        self._record_job = None
        self._show_record(record)

    def _on_record_failed(self, handle: JobHandle, message: str) -> None:
        if handle is not self._record_job:
            return
        self._record_job = None
        self._show_record(None)
        self.record_label.setStyleSheet(ERROR_STYLE)
        self.record_label.setText(message)
        self.record_label.show()

    def _show_record(self, record) -> None:
        self.record = record
        if record is None:
            self.record_label.clear()
            self.record_label.hide()
            return
        style = ERROR_STYLE if record.problem else WARNING_STYLE if record.warnings else ""
        self.record_label.setStyleSheet(style)
        self.record_label.setText(record.text())
        self.record_label.setToolTip(_record_tooltip(record))
        self.record_label.show()


def _record_tooltip(record) -> str:
    """The first censored values and replicates, for a chemist who wants to see which."""
    lines = []
    for value in record.censored[:8]:
        lines.append(f"row {value.row + 1}: {value.smiles[:40]} {value.text} (censored)")
    for group in record.replicates[:8]:
        values = ", ".join(f"{v:.2f}" for v in group.values)
        lines.append(f"{group.smiles[:40]}: {values} -> {group.merged:.2f}")
    return "\n".join(lines)


def _demo_path() -> Path:
    from core import paths

    return paths.data_dir() / "demo" / "chembl2321810_potency.csv"


def _table_reference(path: str | Path) -> dict[str, Any] | None:
    """The assay table as a project keeps it: a file reference with its SHA-256 (path and size
    only for a very large table), None when it cannot be read."""
    from core.project.areas import file_reference

    path = Path(path)
    try:
        if path.stat().st_size > HASHED_BYTES:
            return {"path": str(path.resolve()), "size": path.stat().st_size}
        return file_reference(path)
    except OSError:
        return None
