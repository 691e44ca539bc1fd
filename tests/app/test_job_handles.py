"""engine.submit returns a JobHandle: the submitting panel hears of its own job only, on the GUI
thread, with partial results, and nothing routes by job id (issue 16, part 1)."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from app.engine import InferenceEngine
from core.jobs import CANCELLED, FAILED, FINISHED, check_cancelled
from ui.jobs.handle import JobHandle


def add(a, b, *, progress, is_cancelled):
    progress(0.5, "halfway")
    return a + b


def boom(*, progress, is_cancelled):
    raise ValueError("column 'smiles' not found")


def epochs(n, *, progress, is_cancelled, report_partial):
    for i in range(n):
        check_cancelled(is_cancelled)
        report_partial({"epoch": i + 1})
        progress((i + 1) / n, f"epoch {i + 1}")
    return "trained"


def wait_for(event, *, progress, is_cancelled):
    while not event.is_set():
        check_cancelled(is_cancelled)
        time.sleep(0.01)
    return "released"


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    assert engine.stop(5000)


def test_a_handle_brings_its_own_result_on_the_gui_thread(engine, qtbot):
    gui = QThread.currentThread()
    seen = []
    handle = engine.submit(add, 2, 3, title="add")
    other = engine.submit(add, 10, 10, title="other")
    assert isinstance(handle, JobHandle) and handle.title == "add"
    handle.progress.connect(lambda f, m: seen.append(("progress", f, m)))
    handle.finished.connect(lambda r: seen.append(("finished", r, QThread.currentThread() is gui)))
    with qtbot.waitSignal(other.finished, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: handle.is_done(), timeout=10_000)
    assert ("finished", 5, True) in seen  # its own result, delivered on the GUI thread
    assert not any(item[0] == "finished" and item[1] == 20 for item in seen)
    assert handle.state == FINISHED and handle.result == 5
    assert engine._handles == {}  # released once the job ended


def test_failure_and_partial_results_reach_the_handle_in_order(engine, qtbot):
    failing = engine.submit(boom, title="boom")
    with qtbot.waitSignal(failing.failed, timeout=10_000) as failed:
        pass
    assert failed.args == ["column 'smiles' not found"]
    assert failing.state == FAILED and failing.error == "column 'smiles' not found"

    events = []
    training = engine.submit(epochs, 3, title="train")
    training.partial.connect(lambda value: events.append(value["epoch"]))
    training.finished.connect(lambda result: events.append(result))
    qtbot.waitUntil(lambda: training.is_done(), timeout=10_000)
    assert events == [1, 2, 3, "trained"]


def test_cancel_through_the_handle_and_superseded_jobs(engine, qtbot):
    release = threading.Event()
    running = engine.submit(wait_for, release, title="blocker")
    queued = engine.submit(add, 1, 1, title="queued")
    cancelled = []
    queued.cancelled.connect(lambda: cancelled.append("queued"))
    assert queued.cancel()
    assert cancelled == ["queued"] and queued.state == CANCELLED
    assert not queued.cancel()  # already over

    first = engine.submit(add, 1, 2, key="search")
    first.cancelled.connect(lambda: cancelled.append("superseded"))
    second = engine.submit(add, 3, 4, key="search")
    release.set()
    qtbot.waitUntil(lambda: second.is_done() and running.is_done(), timeout=10_000)
    assert "superseded" in cancelled and first.state == CANCELLED
    assert second.result == 7
