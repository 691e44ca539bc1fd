"""Run a picklable function over tasks in worker processes, results in input order, cancellable."""

from __future__ import annotations

import multiprocessing
import os
import queue
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
    Cancel is checked every 0.1 s; on cancel or error the workers are stopped at once.
    """
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=initializer)
    try:
        pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        in_flight = 0
        exhausted = False
        while True:
            while not exhausted and in_flight < 2 * workers:
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                pending.put(pool.apply_async(fn, (task,)))
                in_flight += 1
            if in_flight == 0:
                break
            async_result = pending.get()
            while True:
                check_cancelled(is_cancelled)
                try:
                    result = async_result.get(timeout=0.1)
                    break
                except multiprocessing.TimeoutError:
                    continue
            in_flight -= 1
            yield result
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
