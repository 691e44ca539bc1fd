"""Train, Cancel, the progress bar and the status line of the Models area, and the training job.

Training runs in the engine's long lane (``core.models.training.train_from_file``); the job hands
every finished epoch to ``report_partial``, which reaches these controls on the GUI thread as the
handle's ``partial`` signal and leaves them as ``epoch``, so no widget is touched from the worker.
A cancelled run keeps its best epochs: the controls read the kept model back before they end.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.jobs import LONG_LANE
from core.models.training import EpochPoint, TrainReport
from ui.models_area.metrics_view import METRIC_TITLES, MODEL_TITLES

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle
    from ui.models_area.assay_form import TrainRequest

ERROR_STYLE = "color: #b00020;"


def summary_line(report: TrainReport) -> str:
    """``Test ROC-AUC: SMILES transformer 0.812, Random forest (ECFP4) 0.780`` (or ``""``)."""
    metrics = report.metrics
    if metrics is None or metrics.empty:
        return ""
    name = "roc_auc" if report.task == "classification" else "rmse"
    rows = metrics[(metrics["part"] == "test") & (metrics["metric"] == name)]
    if "mean" in set(rows["target"]):
        rows = rows[rows["target"] == "mean"]
    parts = []
    for row in rows.itertuples():
        if row.value is not None and not (isinstance(row.value, float) and math.isnan(row.value)):
            parts.append(f"{MODEL_TITLES.get(row.model, row.model)} {row.value:.3f}")
    return f"Test {METRIC_TITLES[name]}: " + ", ".join(parts) if parts else ""


class TrainingControls(QWidget):
    """Train and Cancel, the progress of the run and one status line.

    Signals
    -------
    train_requested()
        The Train button (the panel gathers the form and calls :meth:`start`).
    started(task)
        A run was submitted, for ``classification`` or ``regression``.
    epoch(point)
        A ``core.models.training.EpochPoint`` of the running job.
    trained(report)
        The run ended with a model (a cancelled run: the best epochs kept), a ``TrainReport``.
    failed(message)
        The run failed (already shown in the status line).
    busy_changed(training)
        A run started or ended.
    """

    train_requested = Signal()
    started = Signal(str)
    epoch = Signal(object)
    trained = Signal(object)
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._train_job: JobHandle | None = None  # until trained, or a cancelled run read back
        self._train_output: Path | None = None
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.train_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop; the best epochs so far are kept and evaluated")
        self.cancel_button.clicked.connect(self.cancel)
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)

    def is_training(self) -> bool:
        return self._train_job is not None

    def set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet(ERROR_STYLE if error else "")
        self.status_label.setText(text)

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Enable Train when the form is ready and nothing trains; ``reason``: why not."""
        training = self.is_training()
        self.train_button.setEnabled(ready and not training)
        self.cancel_button.setEnabled(training)
        if not ready and not training:
            self.train_button.setToolTip(reason)
        else:
            self.train_button.setToolTip(
                "Fit the families ticked on the same split and choose among them on the "
                "validation part"
            )

    # ------------------------------------------------------------------------------------------
    # The run

    def start(
        self, request: TrainRequest, pretrained_dir: str | Path | None = None
    ) -> JobHandle | None:
        """Submit the training job of ``request``; returns its handle (None while another run
        trains)."""
        from core.models.training import train_from_file

        if self.is_training():
            return None
        output = request.output
        self._train_output = output
        self.started.emit(request.task)
        self.progress_bar.setValue(0)
        self.set_status(f"Training {output.name}…")
        handle = self.engine.submit(
            train_from_file,
            request.path,
            request.smiles_column,
            request.targets,
            request.task,
            output,
            request.settings,
            pretrained_dir,
            title=f"Train {output.name}",
            needs_torch=True,
            lane=LONG_LANE,  # hours on a CPU: predictions, searches and scores need not wait
            keep_on_cancel=True,  # each epoch reaches handle.partial through report_partial
            units=request.units,  # the form's "Values are" choice, as its record was read
        )
        self._train_job = handle
        handle.progress.connect(self._on_progress)
        handle.partial.connect(self._on_epoch)
        handle.finished.connect(self._on_trained)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        self.busy_changed.emit(True)
        return handle

    def cancel(self) -> None:
        if self._train_job is not None and self._train_job.cancel():
            self.set_status("Cancelling: the best epochs so far are kept…")

    def _on_progress(self, fraction: float, message: str) -> None:
        if fraction >= 0:
            self.progress_bar.setValue(int(1000 * min(fraction, 1.0)))
        if message:
            self.set_status(message)

    def _on_epoch(self, point: EpochPoint) -> None:
        self.epoch.emit(point)

    def _on_failed(self, message: str) -> None:
        self._end()
        self.set_status(f"Training failed: {message}", error=True)
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        # The job kept the best epochs and saved them; read the folder back.
        from core.models.training import load_training_report

        output = self._train_output
        if output is None:
            self._end()
            return
        # _train_job stays set (the form stays busy, a second Cancel does nothing) until the kept
        # model is read back.
        handle = self.engine.submit(load_training_report, output, title=f"Read {output.name}")
        handle.finished.connect(self._on_trained)
        handle.failed.connect(self._on_cancelled_report_failed)
        handle.cancelled.connect(self._end)

    def _on_cancelled_report_failed(self, _message: str) -> None:
        self._end()
        self.set_status("Cancelled before the first epoch ended: nothing was saved.")

    def _end(self) -> None:
        self._train_job = None
        self.progress_bar.setValue(0)
        self.busy_changed.emit(False)

    def _on_trained(self, report: TrainReport) -> None:
        self._end()
        name = Path(report.output_dir).name
        state = "Cancelled; kept" if report.cancelled else "Trained"
        self.set_status(f"{state} {name}. {summary_line(report)}")
        self.trained.emit(report)
