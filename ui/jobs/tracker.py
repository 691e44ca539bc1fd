"""A panel's jobs: the newest of each kind, listened to through its handle.

Most panels run a few kinds of job ("load", "de", "similarity"…) where only the newest of each kind
matters: a newer request supersedes an older one still running. :class:`JobTracker` submits them,
keeps the newest handle of each kind and hands on only what the newest ones bring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from ui.jobs.engine_protocol import Engine
    from ui.jobs.handle import JobHandle

# How a job ended, as :attr:`JobTracker.ended` says it.
FINISHED, FAILED, CANCELLED = "finished", "failed", "cancelled"


class JobTracker(QObject):
    """Submits a panel's jobs and keeps the newest handle of each kind.

    A newer job of a kind supersedes the older one: the engine cancels it (same key), and it is
    forgotten here first, so nothing it still reports (progress, result, failure, its
    cancellation) is handed on. The handles' signals reach this object's own methods, so Qt drops
    those connections when the panel (this tracker's parent) is deleted before a job ends;
    :meth:`cancel_all` (a panel closing) also forgets every job.

    Signals
    -------
    progress(kind, fraction, message)
        A newest job's progress (``fraction`` < 0: no fraction known).
    ended(kind, how)
        A newest job ended: ``"finished"``, ``"failed"`` or ``"cancelled"``. Sent before its result
        or failure is handed on, when :meth:`is_busy` already counts it out.
    failed(kind, message)
        A newest job failed (after ``ended``; beside the ``on_failed`` given to :meth:`submit`).
    """

    progress = Signal(str, float, str)
    ended = Signal(str, str)
    failed = Signal(str, str)

    def __init__(self, engine: Engine, key_prefix: str, parent: QObject) -> None:
        super().__init__(parent)
        self.engine = engine
        self._key_prefix = key_prefix
        # kind -> (handle, what gets its result, what gets its failure message or None)
        self._jobs: dict[str, tuple[JobHandle, Callable, Callable[[str], None] | None]] = {}

    def submit(
        self,
        kind: str,
        on_finished: Callable[[object], None],
        fn: Callable,
        *args,
        on_failed: Callable[[str], None] | None = None,
        **kwargs,
    ) -> JobHandle:
        """Run ``fn(*args, **kwargs)`` on the engine as the job of ``kind``.

        While it is still the newest job of its kind, ``on_finished`` gets its result and
        ``on_failed`` (when given) its message; :attr:`ended` says how every newest job ended.
        Keyword arguments go to ``engine.submit`` (``title``, ``lane``, ``needs_torch``…); the
        key is this tracker's prefix and the kind.
        """
        self._jobs.pop(kind, None)
        handle = self.engine.submit(fn, *args, key=f"{self._key_prefix}-{kind}", **kwargs)
        self._jobs[kind] = (handle, on_finished, on_failed)
        handle.progress.connect(self._on_progress)
        handle.finished.connect(self._on_finished)
        handle.failed.connect(self._on_failed)
        handle.cancelled.connect(self._on_cancelled)
        return handle

    def running(self, kind: str) -> JobHandle | None:
        """The newest job of ``kind`` while it runs, else None."""
        job = self._jobs.get(kind)
        return job[0] if job is not None else None

    def is_busy(self) -> bool:
        """True while a job of the panel runs."""
        return bool(self._jobs)

    def cancel(self, kind: str) -> bool:
        """Ask the newest job of ``kind`` to stop; it reports ``ended(kind, "cancelled")``."""
        handle = self.running(kind)
        return handle.cancel() if handle is not None else False

    def cancel_all(self, forget: bool = False) -> None:
        """Ask every running job to stop. ``forget``: the panel is closing, so what they still
        report is ignored (no ``ended`` either)."""
        jobs = list(self._jobs.values())
        if forget:
            self._jobs = {}
        for handle, _, _ in jobs:
            handle.cancel()

    def _current_kind(self) -> str | None:
        """The kind of the newest job whose handle sent the signal being handled; None for a
        superseded or forgotten one."""
        handle = self.sender()
        return next((kind for kind, job in self._jobs.items() if job[0] is handle), None)

    def _end(self, how: str) -> tuple[str, Callable, Callable[[str], None] | None] | None:
        kind = self._current_kind()
        if kind is None:
            return None
        _handle, on_finished, on_failed = self._jobs.pop(kind)
        self.ended.emit(kind, how)
        return kind, on_finished, on_failed

    def _on_progress(self, fraction: float, message: str) -> None:
        kind = self._current_kind()
        if kind is not None:
            self.progress.emit(kind, fraction, message)

    def _on_finished(self, result: object) -> None:
        job = self._end(FINISHED)
        if job is not None:
            job[1](result)

    def _on_failed(self, message: str) -> None:
        job = self._end(FAILED)
        if job is None:
            return
        self.failed.emit(job[0], message)
        if job[2] is not None:
            job[2](message)

    def _on_cancelled(self) -> None:
        self._end(CANCELLED)
