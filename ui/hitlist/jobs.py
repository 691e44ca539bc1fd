"""The jobs of one hit-list tool tab: the newest of each kind, listened to through its handle."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ui.jobs.handle import JobHandle


class ToolJobs:
    """Submits a tab's jobs and keeps the newest handle of each kind ("score", "similarity"…).

    A newer job of a kind supersedes the older one (the engine's ``key``), so only the newest is
    shown: a superseded job's result, failure or cancellation is ignored, and so is every job's
    after :meth:`cancel_all`.

    Parameters
    ----------
    engine
        What runs the jobs (``submit(fn, *args, key=..., **kwargs) -> JobHandle``).
    on_failed
        Called with ``(kind, message)`` when the newest job of a kind fails.
    on_cancelled
        Called with ``kind`` when the newest job of a kind is cancelled (not superseded).
    """

    def __init__(
        self,
        engine,
        on_failed: Callable[[str, str], None],
        on_cancelled: Callable[[str], None],
    ) -> None:
        self.engine = engine
        self._on_failed = on_failed
        self._on_cancelled = on_cancelled
        self._running: dict[str, JobHandle] = {}

    def submit(
        self, kind: str, show: Callable[[object], None], fn: Callable, *args, **kwargs
    ) -> JobHandle:
        """Run ``fn`` in the engine as this tab's job of ``kind``; ``show`` gets its result.

        The job's key is the kind and this tab, so a newer job of the same kind supersedes
        (cancels) an older one still running; only the newest of each kind is listened to.
        """
        # The job of this kind still running is superseded: forgotten first, since the engine
        # cancels it within submit() when it is still queued, and that is not worth reporting.
        self._running.pop(kind, None)
        handle = self.engine.submit(fn, *args, key=f"{kind}-{id(self)}", **kwargs)
        self._running[kind] = handle
        handle.finished.connect(partial(self._finished, kind, handle, show))
        handle.failed.connect(partial(self._failed, kind, handle))
        handle.cancelled.connect(partial(self._cancelled, kind, handle))
        return handle

    def running(self, kind: str) -> JobHandle | None:
        """The newest job of ``kind`` while it runs, else None."""
        return self._running.get(kind)

    def is_busy(self) -> bool:
        """True while a job of this tab is still running."""
        return bool(self._running)

    def cancel_all(self) -> None:
        """Cancel every job of this tab (it is closing); their outcome is ignored."""
        running, self._running = list(self._running.values()), {}
        for handle in running:
            handle.cancel()

    def _ended(self, kind: str, handle: JobHandle) -> bool:
        """Forget ``handle`` if it is the newest job of ``kind``; False when it is not
        (superseded by a newer one, or the tab was shut down): then it shows nothing."""
        if self._running.get(kind) is not handle:
            return False
        del self._running[kind]
        return True

    def _finished(
        self, kind: str, handle: JobHandle, show: Callable[[object], None], result: object
    ) -> None:
        if self._ended(kind, handle):
            show(result)

    def _failed(self, kind: str, handle: JobHandle, message: str) -> None:
        if self._ended(kind, handle):
            self._on_failed(kind, message)

    def _cancelled(self, kind: str, handle: JobHandle) -> None:
        if self._ended(kind, handle):
            self._on_cancelled(kind)
