"""A submitted job, as the panel that submitted it sees it.

``engine.submit(...)`` returns a :class:`JobHandle`. The panel connects to *its own* handle's
signals, so no panel filters the engine's broadcast by job id (Orange3 gives each widget its own
task state the same way). Every signal of a handle is emitted on the GUI thread: the engine's
threads report to the engine, which lives on the GUI thread and forwards to the handle there, so
slots may touch widgets, and a handle is never created or destroyed on an engine thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from core.jobs import CANCELLED, DONE_STATES, FAILED, FINISHED, QUEUED


class JobHandle(QObject):
    """One job: its id and title, its state, its signals, and :meth:`cancel`.

    Signals
    -------
    progress(fraction, message)
        ``fraction`` in [0, 1], negative when unknown; throttled by the engine.
    partial(object)
        What the job handed to its ``report_partial`` callback (a preview of a large file, a
        finished epoch): its results so far.
    finished(object)
        The job's return value. Exactly one of ``finished``, ``failed`` or ``cancelled`` comes.
    failed(str)
        A message for the user (the traceback is in the log file).
    cancelled()
        The job was cancelled, or superseded by a newer job with the same key.
    """

    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self, job_id: int, title: str, cancel: Callable[[int], bool], parent: QObject | None = None
    ) -> None:
        # The engine is the parent: Qt owns the handle and deletes it on the GUI thread once its
        # last signal is out. A Python-owned QObject caught in a reference cycle (a closed panel
        # that kept its handle) would be destroyed by the cycle collector on whatever thread ran
        # it, an engine thread included. After that deletion the handle's Python attributes (id,
        # state, result, error) and cancel() still answer; its signals are gone with the job.
        super().__init__(parent)
        self.id = job_id
        self.title = title
        self.state = QUEUED
        self.result: object = None
        self.error = ""
        self._cancel = cancel

    def cancel(self) -> bool:
        """Ask the job to stop (a queued job never starts); False when it has already ended."""
        return self._cancel(self.id)

    def is_done(self) -> bool:
        return self.state in DONE_STATES

    # The engine calls these on the GUI thread; they record the outcome, then emit.
    def _emit_finished(self, result: object) -> None:
        self.state, self.result = FINISHED, result
        self.finished.emit(result)
        self.deleteLater()

    def _emit_failed(self, message: str) -> None:
        self.state, self.error = FAILED, message
        self.failed.emit(message)
        self.deleteLater()

    def _emit_cancelled(self) -> None:
        self.state = CANCELLED
        self.cancelled.emit()
        self.deleteLater()

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {self.title!r} {self.state}>"
