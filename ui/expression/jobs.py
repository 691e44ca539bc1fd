"""The Gene expression panel's jobs: the newest of each kind, listened to through its handle."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle


class PanelJobs(QObject):
    """Submits a panel's jobs and keeps the newest handle of each kind ("load", "de", …).

    A newer job of a kind supersedes the older one: the engine cancels it (same key), and it is
    forgotten here first, so nothing it still reports (progress, result, failure) is handed on.
    The handles' signals reach this object's own methods: Qt drops those connections when the
    panel (its parent) goes before a job ends.

    Signals
    -------
    progress(fraction, message)
        A current job's progress (``fraction`` < 0: no fraction known).
    ended(status)
        A current job ended: ``""`` (it finished), ``"Failed"`` or ``"Cancelled"``; sent before
        its result or failure is handed on, when :meth:`busy` already counts it out.
    """

    progress = Signal(float, str)
    ended = Signal(str)

    def __init__(self, engine: Engine, key_prefix: str, parent: QObject) -> None:
        super().__init__(parent)
        self.engine = engine
        self._key_prefix = key_prefix
        # kind -> (handle, what gets its result, what gets its failure message)
        self._jobs: dict[str, tuple[JobHandle, Callable, Callable[[str], None]]] = {}

    def submit(
        self,
        kind: str,
        on_finished: Callable,
        on_failed: Callable[[str], None],
        fn: Callable,
        *args,
        title: str,
        **kwargs,
    ) -> JobHandle:
        """Run ``fn(*args, **kwargs)`` on the engine as the job of ``kind``; ``on_finished``
        gets its result and ``on_failed`` its message while it is still the newest of its kind."""
        self._jobs.pop(kind, None)
        key = f"{self._key_prefix}-{kind}"
        handle = self.engine.submit(fn, *args, title=title, key=key, **kwargs)
        self._jobs[kind] = (handle, on_finished, on_failed)
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        return handle

    def busy(self) -> bool:
        """True while a job of the panel runs."""
        return bool(self._jobs)

    def cancel_all(self) -> None:
        """Ask every running job to stop; each reports ``ended("Cancelled")`` when it has."""
        for handle, _, _ in list(self._jobs.values()):
            handle.cancel()

    def _current_kind(self) -> str | None:
        """The kind of the newest job whose handle sent the signal being handled; None for a
        superseded one."""
        handle = self.sender()
        return next((kind for kind, job in self._jobs.items() if job[0] is handle), None)

    def _end(self, status: str) -> tuple[JobHandle, Callable, Callable[[str], None]] | None:
        kind = self._current_kind()
        if kind is None:
            return None
        job = self._jobs.pop(kind)
        self.ended.emit(status)
        return job

    def _on_progress(self, fraction: float, message: str) -> None:
        if self._current_kind() is not None:
            self.progress.emit(fraction, message)

    def _on_finished(self, result: object) -> None:
        job = self._end("")
        if job is not None:
            job[1](result)

    def _on_failed(self, message: str) -> None:
        job = self._end("Failed")
        if job is not None:
            job[2](message)

    def _on_cancelled(self) -> None:
        self._end("Cancelled")
