"""core.parallel: ordered results, and a worker that dies is an error, not a wait forever.

(Built-in functions as the work: spawned workers cannot import a test module.)"""

from __future__ import annotations

import multiprocessing
import os

import pytest

from core.parallel import WorkerCrashed, ordered_pool_map


def test_results_come_in_order():
    tasks = iter([-3, 1, -4, 1, -5, 9, -2, 6])
    assert list(ordered_pool_map(abs, tasks, 2, None)) == [3, 1, 4, 1, 5, 9, 2, 6]


@pytest.mark.timeout(120)  # waiting forever is the failure: pytest-timeout ends it, not a clock
def test_a_worker_that_dies_mid_work_raises_instead_of_waiting():
    # os._exit(7) ends the worker at once, as a crash in C++ code or the kernel's OOM killer would.
    with pytest.raises(WorkerCrashed, match="worker process") as crash:
        list(ordered_pool_map(os._exit, iter([7, 8, 9, 10, 11]), 2, None))
    # The tasks that were out (at most two per worker), oldest first, for the caller to retry.
    assert crash.value.unfinished == [7, 8, 9, 10]
    assert not [p for p in multiprocessing.active_children() if p.is_alive()]


def test_workers_ignore_ctrl_c_so_only_the_parent_reacts():
    import signal

    # A terminal's Ctrl+C reaches every process of the job; a worker that took it would die
    # with a traceback of its own while the parent is stopping the pool.
    dispositions = list(ordered_pool_map(signal.getsignal, iter([signal.SIGINT]), 1, None))
    assert dispositions == [signal.SIG_IGN]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the parent's is kept
