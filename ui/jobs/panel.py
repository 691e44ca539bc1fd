"""The jobs panel (running, queued and recent jobs with progress and cancel) and the status-bar
indicator that summarises it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.jobs import CANCELLED, DONE_STATES, FAILED, FINISHED, QUEUED, RUNNING

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine

MAX_FINISHED_SHOWN = 20


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class JobRow(QFrame):
    """One job: title, state or message, progress bar and a cancel button."""

    cancel_requested = Signal(int)

    def __init__(self, job_id: int, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title_label = QLabel(f"<b>{title}</b>")
        self.title_label.setTextFormat(Qt.TextFormat.RichText)
        self.state_label = QLabel("Queued")
        self.state_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(10)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this job")
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.job_id))
        top = QHBoxLayout()
        top.addWidget(self.title_label, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.state_label)
        self.state = QUEUED

    def set_progress(self, fraction: float, message: str) -> None:
        if fraction < 0:
            self.progress_bar.setRange(0, 0)  # busy indicator when the total is unknown
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(fraction * 1000))
        if message:
            self.state_label.setText(message)

    def set_state(self, state: str, text: str) -> None:
        self.state = state
        self.state_label.setText(text)
        if state in DONE_STATES:
            self.cancel_button.hide()
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(1000 if state == FINISHED else self.progress_bar.value())
            colour = {FINISHED: "#1e5b2c", FAILED: "#8a1c12", CANCELLED: "#6b6b6b"}[state]
            self.state_label.setStyleSheet(f"color: {colour};")
        elif state == RUNNING:
            self.state_label.setStyleSheet("")


class JobsPanel(QWidget):
    """Lists the engine's jobs; newest first. Finished jobs stay (up to a limit) until cleared."""

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.rows: dict[int, JobRow] = {}
        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.setSpacing(4)
        self._list_layout.addStretch(1)
        self._empty = QLabel("No jobs yet. Loading a library, training or scoring runs here.")
        self._empty.setStyleSheet("color: palette(mid);")
        self._list_layout.insertWidget(0, self._empty)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self.clear_finished)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(engine.cancel_all)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_all_button)
        buttons.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        engine.job_submitted.connect(self._on_job_submitted)
        engine.job_started.connect(self._on_job_started)
        engine.progress.connect(self._on_job_progress)
        engine.finished.connect(self._on_job_finished)
        engine.failed.connect(self._on_job_failed)
        engine.cancelled.connect(self._on_job_cancelled)

    def _on_job_submitted(self, job_id: int, title: str) -> None:
        row = JobRow(job_id, title)
        row.cancel_requested.connect(self.engine.cancel)
        self.rows[job_id] = row
        self._list_layout.insertWidget(0, row)
        self._empty.hide()
        self._trim()

    def _on_job_started(self, job_id: int) -> None:
        if row := self.rows.get(job_id):
            row.set_state(RUNNING, "Running")

    def _on_job_progress(self, job_id: int, fraction: float, message: str) -> None:
        if row := self.rows.get(job_id):
            row.set_progress(fraction, message)

    def _elapsed(self, job_id: int) -> str:
        job = self.engine.job(job_id)
        return _format_seconds(job.elapsed) if job else ""

    def _on_job_finished(self, job_id: int, _result: object) -> None:
        if row := self.rows.get(job_id):
            last = row.state_label.text()
            detail = "" if last in ("Running", "") else f" {last}"  # the job's own last words
            row.set_state(FINISHED, f"Done in {self._elapsed(job_id)}.{detail}")

    def _on_job_failed(self, job_id: int, message: str) -> None:
        if row := self.rows.get(job_id):
            row.set_state(FAILED, f"Failed: {message}")

    def _on_job_cancelled(self, job_id: int) -> None:
        if row := self.rows.get(job_id):
            row.set_state(CANCELLED, "Cancelled")

    def _trim(self) -> None:
        finished = [r for r in self.rows.values() if r.state in DONE_STATES]
        for row in sorted(finished, key=lambda r: r.job_id)[
            : max(0, len(finished) - MAX_FINISHED_SHOWN)
        ]:
            self._remove(row)

    def _remove(self, row: JobRow) -> None:
        self.rows.pop(row.job_id, None)
        self._list_layout.removeWidget(row)
        row.deleteLater()

    def clear_finished(self) -> None:
        for row in [r for r in self.rows.values() if r.state in DONE_STATES]:
            self._remove(row)
        self.engine.forget_finished()
        self._empty.setVisible(not self.rows)


_INDICATOR_TIP = "Show the jobs panel"


class JobsIndicator(QWidget):
    """Status-bar summary: "2 jobs running" with the current job's progress; click shows the panel."""

    clicked = Signal()

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.button = QToolButton()
        self.button.setAutoRaise(True)
        self.button.setToolTip(_INDICATOR_TIP)
        self.button.clicked.connect(self.clicked)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(140)
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.button)
        for signal in (
            engine.job_submitted,
            engine.job_started,
            engine.finished,
            engine.failed,
            engine.cancelled,
        ):
            signal.connect(self.refresh)
        engine.progress.connect(self._on_progress)
        self.refresh()

    def _on_progress(self, job_id: int, fraction: float, _message: str) -> None:
        running = [j for j in self.engine.active_jobs() if j.state == RUNNING]
        if running and running[0].id == job_id:
            if fraction < 0:
                self.progress_bar.setRange(0, 0)
            else:
                self.progress_bar.setRange(0, 1000)
                self.progress_bar.setValue(int(fraction * 1000))

    def refresh(self, *_args) -> None:
        active = self.engine.active_jobs()
        running = sum(1 for j in active if j.state == RUNNING)
        queued = len(active) - running
        if not active:
            self.button.setText("No jobs running")
            self.button.setToolTip(_INDICATOR_TIP)
            self.progress_bar.hide()
            return
        text = f"{running} job running" if running == 1 else f"{running} jobs running"
        if queued:
            text += f", {queued} queued"
        tooltip = _INDICATOR_TIP
        if running > 1:
            # A long job (training, loading, folding) runs beside the others in its own lane.
            cores = os.cpu_count() or 1
            text += " at once"
            tooltip = (
                f"{running} jobs run at once and share this computer's {cores} processor "
                f"core{'s' if cores != 1 else ''}: each is slower than it would be alone. "
                + _INDICATOR_TIP
            )
        self.button.setText(text)
        self.button.setToolTip(tooltip)
        self.progress_bar.show()
