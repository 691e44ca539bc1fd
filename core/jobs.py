"""The contract between long-running work and whoever runs it.

A job is a plain function ``fn(*inputs, progress=..., is_cancelled=...) -> result``. It reports
progress through a callback and polls ``is_cancelled`` between batches, raising :class:`JobCancelled`
when asked to stop. The Qt engine (``app.engine``) and the command line run the very same functions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

ProgressCallback = Callable[[float, str], None]
"""``progress(fraction, message)``: ``fraction`` in [0, 1], or a negative value when unknown."""

CancelCheck = Callable[[], bool]


class JobCancelled(Exception):
    """Raised inside a job when its ``is_cancelled`` check returns true."""


class SupportsJob(Protocol):
    def __call__(self, *args, progress: ProgressCallback, is_cancelled: CancelCheck, **kwargs): ...


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that ignores everything (for scripts and tests)."""


def never_cancelled() -> bool:
    return False


def check_cancelled(is_cancelled: CancelCheck | None) -> None:
    """Raise :class:`JobCancelled` if the job was asked to stop."""
    if is_cancelled is not None and is_cancelled():
        raise JobCancelled()


class ThrottledProgress:
    """Forward progress at most every ``interval`` seconds (always the first and the last report).

    Jobs may report after every molecule; the GUI only needs a few updates per second.
    """

    def __init__(self, callback: ProgressCallback, interval: float = 0.1) -> None:
        self._callback = callback
        self._interval = interval
        self._last = -1.0e9

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= self._interval:
            self._last = now
            self._callback(fraction, message)


# Job states, as the engine and the jobs panel name them.
QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = (
    "queued",
    "running",
    "finished",
    "failed",
    "cancelled",
)
DONE_STATES = frozenset({FINISHED, FAILED, CANCELLED})

MAIN_LANE = "main"
"""The engine lane for jobs a click asks for (seconds): scores, searches, predictions, exports."""
LONG_LANE = "long"
"""The engine lane for jobs of minutes or hours (training, loading a large file, folding), so
that they do not hold the main lane's jobs back."""
CLUSTER_LANE = "cluster"
"""The engine lane for work sent to a Dask cluster (File > On the cluster): hours that mostly
wait on other machines, which hold back neither the clicks of the main lane nor a library
loading in the long lane."""
LANES = (MAIN_LANE, LONG_LANE, CLUSTER_LANE)


@dataclass(slots=True)
class Job:
    """One submitted job as the engine keeps it: what to run, its lane and its state.

    The engine's threads change ``state``, ``fraction``, ``message`` and the times under the
    engine's lock; ``cancel_event`` is the job's ``is_cancelled``.
    """

    id: int
    title: str
    fn: Callable[..., Any]
    args: tuple
    kwargs: dict
    key: str | None = None
    needs_torch: bool = False
    lane: str = MAIN_LANE
    state: str = QUEUED
    fraction: float = 0.0
    message: str = ""
    error: str = ""
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float = 0.0
    ended_at: float = 0.0
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def elapsed(self) -> float:
        if not self.started_at:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at
