"""Run a picklable function over tasks in worker processes, results in input order, cancellable."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from rdkit import RDLogger

from core.jobs import CancelCheck, check_cancelled

T = TypeVar("T")
R = TypeVar("R")


def worker_init() -> None:
    """Lower the worker's priority and silence RDKit's per-molecule warnings."""
    # Leave the GUI (and the engine thread that feeds us) the processor when both compete.
    try:
        os.nice(5)
    except (OSError, AttributeError):
        pass
    RDLogger.DisableLog("rdApp.*")


def _ignore_interrupts_then(initializer: Callable[[], None] | None) -> None:
    """Worker start: ignore Ctrl+C, then run ``initializer``. A terminal sends SIGINT to every
    process of the job; only the parent should react (it stops the pool), not each worker with a
    traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer()


def _start_pool(context, workers: int, initializer: Callable[[], None] | None):
    """A pool whose workers ignore SIGINT from their first instruction: they inherit an ignored
    SIGINT (Python keeps it ignored), so Ctrl+C while they import is not a traceback either."""
    # Only the main thread may change handlers (the window's engine thread leaves them be); a
    # handler set outside Python reads as None and cannot be put back, so it is left alone too.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
        if previous is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return context.Pool(workers, initializer=_ignore_interrupts_then, initargs=(initializer,))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


class WorkerCrashed(OSError):
    """A worker process ended in the middle of the work (killed for memory, or a crash in C++
    code on some input). A pool would replace it silently and wait forever for its task.

    ``unfinished``: the tasks sent to the workers whose results had not come back, in order (the
    one that killed the worker is among them); the caller may run them again, more carefully.
    """

    def __init__(self, message: str, unfinished: list | None = None) -> None:
        super().__init__(message)
        self.unfinished = list(unfinished or [])


def _workers_replaced(pool, started: set[int]) -> int | None:
    """The exit code of a worker that ended since ``started`` (their pids) was taken, if one did.

    ``Pool._pool`` (its worker processes) is not public API but has been stable for a decade;
    without it the check is skipped (the job can still be cancelled)."""
    processes = getattr(pool, "_pool", None)
    if not isinstance(processes, list):
        return None
    for process in processes:
        if process.pid not in started:  # a replacement: one of ours ended
            return -1
        code = process.exitcode
        if code is not None:
            return code
    return None


def available_workers(requested: int | None = None) -> int:
    return max(1, requested or os.cpu_count() or 1)


def ordered_pool_map(
    fn: Callable[[T], R],
    tasks: Iterator[T],
    workers: int,
    is_cancelled: CancelCheck | None,
    initializer: Callable[[], None] = worker_init,
) -> Iterator[R]:
    """Apply ``fn`` to each task in ``workers`` processes, yielding results in order.

    At most ``2 * workers`` tasks are in flight, so a million-record input is never all in memory
    at once. "spawn" gives clean workers: forking a process that runs Qt threads is unsafe.
    Cancel is checked every 0.1 s; on cancel or error the workers are stopped at once. A worker
    that dies raises :class:`WorkerCrashed` within about 0.1 s, naming how many results came
    back before and carrying the tasks still out.
    """
    context = multiprocessing.get_context("spawn")
    pool = _start_pool(context, workers, initializer)
    started = {process.pid for process in getattr(pool, "_pool", [])}
    delivered = 0
    try:
        pending: deque[tuple[T, Any]] = deque()  # (task, its AsyncResult), oldest first
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * workers:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                pending.append((task, pool.apply_async(fn, (task,))))
            if not pending:
                break
            async_result = pending[0][1]
            while True:
                check_cancelled(is_cancelled)
                try:
                    result = async_result.get(timeout=0.1)
                    break
                except multiprocessing.TimeoutError:
                    code = _workers_replaced(pool, started)
                    if code is not None:
                        how = "crashed or was killed" if code < 0 else f"exited with code {code}"
                        raise WorkerCrashed(
                            f"a worker process {how} after {delivered:,} of the tasks had "
                            "finished (out of memory, or a crash on some input)",
                            unfinished=[task for task, _ in pending],
                        ) from None
            pending.popleft()
            delivered += 1
            yield result
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
