"""The inference engine: long-lived threads that run jobs from queues and own loaded models.

Panels submit plain functions from ``core`` (see :mod:`core.jobs`) and get a
:class:`ui.jobs.handle.JobHandle` back, whose signals (progress, partial, finished, failed,
cancelled) concern that job only: the panel connects to its own handle. The engine's own signals,
keyed by job id, are for whoever watches every job (the Jobs panel, the status bar). Signals are
emitted from the engine thread and reach the GUI thread through Qt's queued connections; the engine
forwards them to the handles there, so no widget and no handle is touched from an engine thread.

Shaped like Qt's Mandelbrot example: a ``QThread`` with a queue, an abort flag per job, and
``wait()`` on stop. Cancellation is a ``threading.Event`` that jobs poll between batches: a queued
Qt signal would only arrive after the job had finished.

Two lanes, each a thread with its own queue, run jobs in submission order: ``"main"`` for the
short jobs a click asks for (score, search, cluster, predict, export…) and ``"long"`` for jobs
that run for minutes or hours (training a model, loading a large library, folding a protein), so
that a training run does not hold every other request back. Jobs of one lane run one at a time.

Torch jobs (``needs_torch=True``) run in the engine's :class:`core.modelhost.ModelHost`: one
worker process that keeps its loaded models, so this process never imports torch. The lane's
thread waits for the job there and relays its progress, partial results and cancel, so a panel
sees no difference. A job that takes ``model_host`` (scoring) runs here and sends its torch parts
to the host itself.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.compute import DeviceInfo, ModelCache
from core.jobs import (
    CANCELLED,
    DONE_STATES,
    FAILED,
    FINISHED,
    LANES,
    MAIN_LANE,
    QUEUED,
    RUNNING,
    Job,
    JobCancelled,
    ThrottledProgress,
)
from core.modelhost import ModelHost, describe_device, function_reference
from ui.jobs.handle import JobHandle

log = logging.getLogger(__name__)

# Exceptions whose message is written for users (file problems, bad parameters); anything else is
# a bug and shows its type too.
USER_ERRORS = (ValueError, OSError, KeyError, MemoryError)


class _EngineThread(QThread):
    def __init__(self, engine: InferenceEngine, lane: str) -> None:
        super().__init__()
        self.setObjectName("DrugDeskEngine" if lane == MAIN_LANE else f"DrugDeskEngine-{lane}")
        self._engine = engine
        self._lane = lane

    def run(self) -> None:
        self._engine._run_loop(self._lane)


class InferenceEngine(QObject):
    """Runs jobs one at a time per lane, each lane on its own thread; emits signals keyed by
    job id."""

    job_submitted = Signal(int, str)  # job id, title
    job_started = Signal(int)
    progress = Signal(int, float, str)  # job id, fraction (negative = unknown), message
    partial = Signal(int, object)  # job id, what the job passed to report_partial
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str)  # job id, message for the user
    cancelled = Signal(int)
    device_changed = Signal(object)  # DeviceInfo

    def __init__(self, device_preference: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queues: dict[str, queue.Queue[Job | None]] = {lane: queue.Queue() for lane in LANES}
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._device_preference = device_preference
        self.inference_precision = "auto"
        """How models predict in the jobs the window asks for (Preferences → Compute):
        :data:`core.compute.PRECISION_CHOICES`; callers read it when they build a job."""
        self._device: DeviceInfo | None = None
        self._host: ModelHost | None = None
        # For the jobs that run here and take a model_cache; torch models live in the host.
        self.model_cache = ModelCache()
        self._threads = {lane: _EngineThread(self, lane) for lane in LANES}
        # The handles of jobs not yet ended; read and changed on the GUI thread only (submit and
        # the routing slots below), so a handle is never destroyed on an engine thread.
        self._handles: dict[int, JobHandle] = {}
        self.job_started.connect(self._route_started)
        self.progress.connect(self._route_progress)
        self.partial.connect(self._route_partial)
        self.finished.connect(self._route_finished)
        self.failed.connect(self._route_failed)
        self.cancelled.connect(self._route_cancelled)

    # ------------------------------------------------------------------------------------------
    # Life cycle

    def start(self) -> None:
        for thread in self._threads.values():
            if not thread.isRunning():
                thread.start()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Cancel everything, end the threads and wait for them; returns whether they ended in
        time."""
        self.cancel_all()
        for lane_queue in self._queues.values():
            lane_queue.put(None)
        start = time.monotonic()
        deadline = start + timeout_ms / 1000
        # Torch jobs stop at their next check in the host; one that does not (minutes inside a
        # C++ call) ends when the host's process does, which its lane's thread then reports.
        self._wait_threads(start + 0.6 * timeout_ms / 1000)
        with self._lock:
            host, self._host = self._host, None
        if host is not None:
            host.close()
        ended = self._wait_threads(deadline)
        if not ended:
            for lane, thread in self._threads.items():
                if thread.isRunning():
                    log.error("Engine thread (%s lane) did not stop within %d ms", lane, timeout_ms)
        return ended

    def _wait_threads(self, deadline: float) -> bool:
        for thread in self._threads.values():
            if thread.isRunning():
                thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))
        return not self.is_running()

    def is_running(self) -> bool:
        return any(thread.isRunning() for thread in self._threads.values())

    # ------------------------------------------------------------------------------------------
    # Jobs

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        title: str = "",
        key: str | None = None,
        needs_torch: bool = False,
        lane: str = MAIN_LANE,
        **kwargs: Any,
    ) -> JobHandle:
        """Queue ``fn(*args, progress=..., is_cancelled=..., **kwargs)``; returns its handle.

        Connect to the handle's signals (delivered on the GUI thread) to hear of this job only.
        A function that takes ``report_partial`` gets a callback for results so far (a preview,
        an epoch), which arrive as the handle's ``partial`` signal.

        ``key``: a newer job with the same key supersedes (cancels) older ones, so results that
        nobody wants any more are dropped. ``needs_torch``: the job runs in the model host's
        worker process (:mod:`core.modelhost`), so ``fn`` must be a module-level function and its
        inputs and result must pickle; it receives ``device=`` and ``model_cache=`` (the host's)
        when it takes them. A function that takes ``model_host`` runs here and is given the host.
        ``lane``: :data:`LONG_LANE` for jobs of minutes or more, so short ones need not wait.

        Raises
        ------
        ValueError
            For an unknown lane.
        core.modelhost.ModelHostError
            For a torch job whose function the worker could not import (a lambda, a method).
        """
        if lane not in self._queues:
            raise ValueError(f"unknown engine lane {lane!r} (lanes: {', '.join(LANES)})")
        if needs_torch and "model_host" not in _parameters(fn):
            function_reference(fn)  # raises now, not later in a lane
        job = Job(
            id=next(self._ids),
            title=title or getattr(fn, "__name__", "job"),
            fn=fn,
            args=args,
            kwargs=kwargs,
            key=key,
            needs_torch=needs_torch,
            lane=lane,
        )
        if key is not None:
            for other in self.jobs():
                if other.key == key and other.state not in DONE_STATES:
                    self.cancel(other.id)
        if QThread.currentThread() is not self.thread():
            # The handle is the engine's child and its signals are the GUI thread's.
            raise RuntimeError("InferenceEngine.submit must be called on the GUI thread")
        handle = JobHandle(job.id, job.title, self.cancel, parent=self)
        self._handles[job.id] = handle
        with self._lock:
            self._jobs[job.id] = job
        self.job_submitted.emit(job.id, job.title)
        self._queues[lane].put(job)
        return handle

    def cancel(self, job_id: int) -> bool:
        """Ask a job to stop: a queued job never starts, a running one stops at its next check."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state in DONE_STATES:
                return False
            job.cancel_event.set()
            was_queued = job.state == QUEUED
            if was_queued:
                job.state = CANCELLED
                job.ended_at = time.monotonic()
        if was_queued:
            self.cancelled.emit(job_id)
        return True

    def cancel_all(self) -> None:
        for job in self.jobs():
            self.cancel(job.id)

    def job(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def active_jobs(self) -> list[Job]:
        return [job for job in self.jobs() if job.state not in DONE_STATES]

    def forget_finished(self) -> None:
        with self._lock:
            for job_id in [i for i, j in self._jobs.items() if j.state in DONE_STATES]:
                del self._jobs[job_id]

    # ------------------------------------------------------------------------------------------
    # Device

    @property
    def device(self) -> DeviceInfo | None:
        """The chosen device, once a torch job (or :meth:`detect_device`) has run."""
        return self._device

    def set_device_preference(self, preference: str) -> None:
        """Takes effect for the next torch job (the host's worker is replaced once its running
        jobs end: models are loaded per device)."""
        if preference != self._device_preference:
            self._device_preference = preference
            self.model_cache.clear()
            with self._lock:
                host = self._host
            if host is not None:
                host.set_device_preference(preference)

    def detect_device(self) -> JobHandle:
        """Queue a job that imports torch in the model host and chooses the device (for Help >
        About); :attr:`device_changed` follows."""
        return self.submit(describe_device, title="Detect compute device", needs_torch=True)

    @property
    def model_host(self) -> ModelHost:
        """The worker process torch jobs run in (started at its first job)."""
        with self._lock:
            if self._host is None:
                self._host = ModelHost(self._device_preference, on_device=self._on_host_device)
            return self._host

    def _on_host_device(self, info: DeviceInfo) -> None:
        # From the host's reader thread, before the job's result: the job's finished signal
        # finds engine.device set.
        self._device = info
        fallback = f" ({info.fallback_reason})" if info.fallback_reason else ""
        log.info("Compute device: %s%s", info.description, fallback)
        self.device_changed.emit(info)

    # ------------------------------------------------------------------------------------------
    # Engine thread

    def _run_loop(self, lane: str = MAIN_LANE) -> None:
        while True:
            job = self._queues[lane].get()
            if job is None:
                return
            with self._lock:
                if job.state != QUEUED:
                    continue  # cancelled while queued; already reported
                job.state = RUNNING
                job.started_at = time.monotonic()
            self.job_started.emit(job.id)
            self._run_job(job)

    def _run_job(self, job: Job) -> None:
        def report(fraction: float, message: str = "") -> None:
            job.fraction, job.message = fraction, message
            self.progress.emit(job.id, fraction, message)

        def report_partial(value: object) -> None:
            self.partial.emit(job.id, value)

        kwargs = dict(job.kwargs)
        progress = ThrottledProgress(report, interval=0.1)
        try:
            parameters = _parameters(job.fn)
            if job.needs_torch and "model_host" not in parameters:
                result = self.model_host.run(
                    job.fn,
                    job.args,
                    kwargs,
                    progress=progress,
                    is_cancelled=job.cancel_event.is_set,
                    report_partial=report_partial
                    if "report_partial" in parameters and "report_partial" not in kwargs
                    else None,
                )
            else:
                kwargs["progress"] = progress
                kwargs["is_cancelled"] = job.cancel_event.is_set
                if "report_partial" in parameters and "report_partial" not in kwargs:
                    kwargs["report_partial"] = report_partial
                if "device" in parameters and "device" not in kwargs and self._device is not None:
                    kwargs["device"] = self._device.device
                if "model_cache" in parameters:
                    kwargs["model_cache"] = self.model_cache
                if "model_host" in parameters and "model_host" not in kwargs:
                    kwargs["model_host"] = self.model_host
                result = job.fn(*job.args, **kwargs)
            if job.cancel_event.is_set():
                raise JobCancelled()
        except JobCancelled:
            self._end(job, CANCELLED)
            self.cancelled.emit(job.id)
        except BaseException as exc:  # SystemExit from a library too: the lane must live on
            message = str(exc) if isinstance(exc, USER_ERRORS) and str(exc) else _describe(exc)
            log.error("Job %d (%s) failed:\n%s", job.id, job.title, traceback.format_exc())
            job.error = message
            self._end(job, FAILED)
            self.failed.emit(job.id, message)
        else:
            self._end(job, FINISHED)
            self.finished.emit(job.id, result)

    def _end(self, job: Job, state: str) -> None:
        with self._lock:
            job.state = state
            job.ended_at = time.monotonic()
            # Drop references to inputs (a million-row table) once the job is over.
            job.args, job.kwargs = (), {}

    # ------------------------------------------------------------------------------------------
    # Forwarding to the handles (GUI thread: these slots belong to the engine, which lives there)

    @Slot(int)
    def _route_started(self, job_id: int) -> None:
        handle = self._handles.get(job_id)
        if handle is not None and not handle.is_done():
            handle.state = RUNNING

    @Slot(int, float, str)
    def _route_progress(self, job_id: int, fraction: float, message: str) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.progress.emit(fraction, message)

    @Slot(int, object)
    def _route_partial(self, job_id: int, value: object) -> None:
        handle = self._handles.get(job_id)
        if handle is not None:
            handle.partial.emit(value)

    @Slot(int, object)
    def _route_finished(self, job_id: int, result: object) -> None:
        handle = self._handles.pop(job_id, None)
        if handle is not None:
            handle._emit_finished(result)

    @Slot(int, str)
    def _route_failed(self, job_id: int, message: str) -> None:
        handle = self._handles.pop(job_id, None)
        if handle is not None:
            handle._emit_failed(message)

    @Slot(int)
    def _route_cancelled(self, job_id: int) -> None:
        handle = self._handles.pop(job_id, None)
        if handle is not None:
            handle._emit_cancelled()


def _parameters(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
