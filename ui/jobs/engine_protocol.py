"""What a panel may ask of the engine that runs its jobs.

Panels are given the engine (``app.engine.InferenceEngine``) but know it only through this
protocol, so ``ui`` never imports ``app`` (an import-linter contract in ``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import SignalInstance

from core.compute import DeviceInfo, ModelCache
from core.jobs import Job
from core.modelhost import ModelHost
from ui.jobs.handle import JobHandle


class Engine(Protocol):
    """Runs jobs off the GUI thread; ``submit`` returns the job's :class:`JobHandle`.

    Its signals, keyed by job id, concern every job: for the Jobs panel and the status bar.
    A panel listens to its own handles instead.
    """

    job_submitted: SignalInstance  # (job id, title)
    job_started: SignalInstance  # (job id)
    progress: SignalInstance  # (job id, fraction, message)
    partial: SignalInstance  # (job id, value)
    finished: SignalInstance  # (job id, result)
    failed: SignalInstance  # (job id, message)
    cancelled: SignalInstance  # (job id)
    device_changed: SignalInstance  # (DeviceInfo)
    model_cache: ModelCache

    @property
    def model_host(self) -> ModelHost:
        """The worker process every torch job runs in (``core.modelhost``)."""
        ...

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "",
        key: str | None = None,
        needs_torch: bool = False,
        lane: str = ...,
        **kwargs: Any,
    ) -> JobHandle: ...

    def cancel(self, job_id: int) -> bool: ...

    def cancel_all(self) -> None: ...

    def job(self, job_id: int) -> Job | None: ...

    def jobs(self) -> list[Job]: ...

    def active_jobs(self) -> list[Job]: ...

    def forget_finished(self) -> None: ...

    @property
    def device(self) -> DeviceInfo | None: ...
