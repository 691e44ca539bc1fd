"""Update with new data: the dialog that asks for the tables and a name, and the job that runs
``core.models.update.update_model`` in the model host (issue 15, part 6).

The dialog only gathers an :class:`UpdateRequest`; :class:`ModelUpdater` submits it to the engine's
long lane as a torch job and turns the handle's signals into a status line and the folder of the
new model, so the Models list can select it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.jobs import LONG_LANE

if TYPE_CHECKING:
    from core.models.update import UpdateReport
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle

TABLE_FILTER = "Assay tables (*.csv *.tsv *.txt *.xlsx *.sdf);;All files (*)"
DIALOG_WIDTH = 460


@dataclass(slots=True, frozen=True)
class UpdateRequest:
    """What to update with what: the model, the table it was trained on, the new measurements,
    the new model's folder, and whether to train from scratch as well to compare."""

    model_dir: Path
    old_table: Path
    new_table: Path
    output: Path
    compare: bool = False
    target_columns: tuple[str, ...] = ()
    """The measured columns when they are not named as the model's targets (empty: its
    targets): an ``IC50 (nM)`` column for a model of ``pIC50``."""
    calibration_folds: int = 3
    """Refits for the out-of-fold predictions the updated model is calibrated on (0: none)."""


def free_model_folder(name: str) -> Path:
    """A registry folder for ``name`` that does not exist yet (a time stamp added if needed)."""
    from core.models.registry import model_dir, safe_model_name

    base = safe_model_name(name)[:90]
    folder = model_dir(base)
    if folder.exists():
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = model_dir(f"{base}-{stamp}")
        n = 2
        while folder.exists():
            folder = model_dir(f"{base}-{stamp}-{n}")
            n += 1
    return folder


class UpdateDialog(QDialog):
    """Ask for the table a model was trained on, the new measurements and the new model's name.

    An updated model's own ``training_data.csv`` is offered as its old table. A shipped model
    needs the table it was trained on too: the card's data hash checks it, whoever made it.
    """

    def __init__(
        self, model_dir: Path, model_name: str, shipped: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        from core.models.update import TRAINING_DATA_FILE

        self.model_dir = Path(model_dir)
        self.setWindowTitle(f"Update {model_name} with new data")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        intro = QLabel(
            f"Fine-tune <b>{model_name}</b> further on new measurements, starting from its "
            "weights. Molecules already measured keep their old value; a new molecule whose "
            "scaffold the model has seen joins that scaffold's part, so held-out molecules stay "
            "held out."
            + (" A shipped model needs the table it was trained on as well." if shipped else "")
        )
        intro.setWordWrap(True)
        own = self.model_dir / TRAINING_DATA_FILE
        self.old_edit = QLineEdit(str(own) if own.is_file() else "")
        self.old_edit.setPlaceholderText("the table this model was trained on")
        self.old_edit.setToolTip(
            "Checked against the model card's data hash: only the very data it was trained on "
            "rebuild its split"
        )
        self.new_edit = QLineEdit()
        self.new_edit.setPlaceholderText("new measurements, same columns")
        self.name_edit = QLineEdit(f"{model_name}-updated")
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("the model's target names")
        self.target_edit.setToolTip(
            "The measured column(s) of both tables, comma-separated, when they are not named as "
            "the model's targets: e.g. 'IC50 (nM)' for a model of pIC50 (converted as when "
            "training)"
        )
        from core.models.update import CALIBRATION_FOLDS

        self.calibration_combo = QComboBox()
        self.calibration_combo.addItem("None (faster; no calibrated intervals)", 0)
        for folds in (2, 3, 5):
            self.calibration_combo.addItem(f"{folds} refits", folds)
        self.calibration_combo.setCurrentIndex(
            max(0, self.calibration_combo.findData(CALIBRATION_FOLDS))
        )
        self.calibration_combo.setToolTip(
            "The updated model is calibrated again on out-of-fold predictions of its training "
            "part: K refits on K-1 folds (a classifier: up to K extra fine-tunes and D-MPNN fits)"
        )
        self.compare_check = QCheckBox("Also retrain from scratch to compare (slower)")
        self.compare_check.setToolTip(
            "Fine-tune the pretrained model on the same split as well and report both: time "
            "and test metric side by side (the scratch model is not kept)"
        )
        self.problem_label = QLabel("")
        self.problem_label.setStyleSheet("color: #b00020;")
        self.problem_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow(
            "Trained on:", self._with_browse(self.old_edit, "Table the model was trained on")
        )
        form.addRow("New data:", self._with_browse(self.new_edit, "New measurements"))
        form.addRow("Measured as:", self.target_edit)
        form.addRow("Calibration:", self.calibration_combo)
        form.addRow("Save as:", self.name_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.update_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.update_button.setText("Update")
        self.buttons.accepted.connect(self._on_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.compare_check)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.buttons)
        self.setFixedWidth(DIALOG_WIDTH)
        for edit in (self.old_edit, self.new_edit, self.name_edit):
            edit.textChanged.connect(self._on_changed)
        self._request: UpdateRequest | None = None
        self._on_changed()

    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, title))
        layout.addWidget(browse)
        return row

    def _browse(self, edit: QLineEdit, title: str) -> None:
        start = str(Path(edit.text()).parent) if edit.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, title, start, TABLE_FILTER)
        if path:
            edit.setText(path)

    def problem(self) -> str:
        """Why Update cannot be pressed yet (``""`` when it can)."""
        from core.models.registry import safe_model_name

        old, new = self.old_edit.text().strip(), self.new_edit.text().strip()
        if not old or not new:
            return "Choose the table the model was trained on and the new measurements."
        for text, what in ((old, "trained-on table"), (new, "new data")):
            if not Path(text).is_file():
                return f"The {what} file does not exist: {text}"
        if Path(old).resolve() == Path(new).resolve():
            return "The new measurements must be another file than the trained-on table."
        try:
            safe_model_name(self.name_edit.text())
        except ValueError:
            return "Give the updated model a name."
        return ""

    def _on_changed(self) -> None:
        problem = self.problem()
        # An empty form is not an error: say nothing until something was typed.
        typed = self.new_edit.text() or self.old_edit.isModified()
        self.problem_label.setText(problem if typed else "")
        self.update_button.setEnabled(not problem)

    def request(self) -> UpdateRequest:
        """The request of the form (a fresh registry folder for the name); raises
        ``ValueError`` with the problem when the form is not complete."""
        if problem := self.problem():
            raise ValueError(problem)
        return UpdateRequest(
            model_dir=self.model_dir,
            old_table=Path(self.old_edit.text().strip()),
            new_table=Path(self.new_edit.text().strip()),
            output=free_model_folder(self.name_edit.text()),
            compare=self.compare_check.isChecked(),
            target_columns=tuple(
                name.strip() for name in self.target_edit.text().split(",") if name.strip()
            ),
            calibration_folds=int(self.calibration_combo.currentData()),
        )

    def accepted_request(self) -> UpdateRequest | None:
        """The request made when Update was pressed (``None`` before)."""
        return self._request

    def _on_accept(self) -> None:
        try:
            self._request = self.request()
        except ValueError as exc:
            self.problem_label.setText(str(exc))
            return
        self.accept()


class ModelUpdater(QObject):
    """Runs one update at a time through the engine (model host, long lane).

    Signals
    -------
    status(text, error)
        A line for the area's status label: under way, progress, the result, a failure.
    updated(report)
        The update ended: a ``core.models.update.UpdateReport`` (its ``output_dir`` is the new
        model's folder).
    busy_changed(busy)
        An update started or ended.
    """

    status = Signal(str, bool)
    updated = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._job: JobHandle | None = None

    def is_busy(self) -> bool:
        return self._job is not None

    def start(self, request: UpdateRequest) -> JobHandle | None:
        """Submit the update; returns its handle (None while another update runs)."""
        from core.models.update import update_model

        if self.is_busy():
            return None
        handle = self.engine.submit(
            update_model,
            request.model_dir,
            request.old_table,
            request.new_table,
            request.output,
            title=f"Update {request.model_dir.name} -> {request.output.name}",
            needs_torch=True,
            lane=LONG_LANE,  # minutes to hours: short jobs need not wait
            compare=request.compare,
            target_columns=list(request.target_columns) or None,
            calibration_folds=request.calibration_folds,
        )
        self._job = handle
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        self.busy_changed.emit(True)
        self.status.emit(
            f"Updating {request.model_dir.name} with {request.new_table.name} into "
            f"{request.output.name}…",
            False,
        )
        return handle

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _end(self) -> None:
        self._job = None
        self.busy_changed.emit(False)

    def _on_progress(self, _fraction: float, message: str) -> None:
        if message:
            self.status.emit(message, False)

    def _on_finished(self, report: UpdateReport) -> None:
        self._end()
        self.status.emit(report.summary_line(), False)
        self.updated.emit(report)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.status.emit(f"Update failed: {message}", True)

    def _on_cancelled(self) -> None:
        self._end()
        self.status.emit("Update cancelled: nothing was saved.", False)
