"""Saves project states on a background thread, one after another, so a window never waits for
the disk. The caller hears of each save through ``on_done(ticket, error)`` (called on the writer
thread: a GUI forwards it through a queued signal)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from core.project.store import ProjectError, ProjectState, ProjectStore

log = logging.getLogger(__name__)

_STOP = object()


class ProjectWriter:
    """Owns the use of a :class:`ProjectStore` while running; :meth:`stop` gives it back."""

    def __init__(self, store: ProjectStore, on_done: Callable[[int, str], None]) -> None:
        self.store = store
        self._on_done = on_done
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="project-writer", daemon=True)
        self._thread.start()

    def submit(self, state: ProjectState, ticket: int) -> None:
        """Queue a save; ``on_done(ticket, "")`` after it, or ``on_done(ticket, message)``."""
        with self._done:
            self._pending += 1
        self._queue.put((state, ticket))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued save is done; returns False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def stop(self, timeout: float | None = 60.0) -> bool:
        """Finish the queued saves and end the thread; the store stays open for the caller."""
        self._queue.put(_STOP)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            state, ticket = item
            error = ""
            try:
                self.store.write(state)
            except ProjectError as exc:
                error = str(exc)
            except Exception as exc:  # reported, never lost: the GUI tells the user
                log.exception("Saving the project failed")
                error = f"Could not save {self.store.path}: {type(exc).__name__}: {exc}"
            try:
                self._on_done(ticket, error)
            except Exception:
                log.exception("Project save callback failed")
            with self._done:
                self._pending -= 1
                self._done.notify_all()


__all__ = ["ProjectWriter"]
