"""The inference engine: ordering, progress, cancel, failure, shutdown."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from app.engine import InferenceEngine
from core.jobs import CANCELLED, FAILED, FINISHED, JobCancelled, check_cancelled
from core.modelhost import ModelHostError


def add(a, b, *, progress, is_cancelled):
    progress(1.0, "added")
    return a + b


def slow_steps(n, delay, *, progress, is_cancelled):
    for i in range(n):
        check_cancelled(is_cancelled)
        time.sleep(delay)
        progress((i + 1) / n, f"step {i + 1}")
    return n


def counted_steps(n, delay, done, *, progress, is_cancelled):
    """``slow_steps`` that appends each finished step's number to ``done``."""
    for i in range(n):
        check_cancelled(is_cancelled)
        time.sleep(delay)
        done.append(i)
        progress((i + 1) / n, f"step {i + 1}")
    return n


def boom(*, progress, is_cancelled):
    raise RuntimeError("kaput")


def bad_input(*, progress, is_cancelled):
    raise ValueError("column 'smiles' not found")


def wants_device(*, progress, is_cancelled, device="none", model_cache=None):
    return device, model_cache is not None


# Torch jobs run in the model host's worker process, which imports them from this module.


def process_id(*, progress, is_cancelled):
    return os.getpid()


def host_epochs(n, *, progress, is_cancelled, report_partial):
    for i in range(n):
        check_cancelled(is_cancelled)
        report_partial(i + 1)
        progress((i + 1) / n, f"epoch {i + 1}")
    return "trained"


def host_until_cancelled(*, progress, is_cancelled, report_partial):
    i = 0
    while True:
        check_cancelled(is_cancelled)
        report_partial(i)
        i += 1
        time.sleep(0.01)


def host_exits(code, *, progress, is_cancelled):
    os._exit(code)


def uses_the_host(*, progress, is_cancelled, model_host):
    """Runs in the engine (as scoring does) and sends its torch part to the host."""
    return os.getpid(), model_host.run(process_id)


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    assert engine.stop(5000)


def test_jobs_run_in_submission_order(engine, qtbot):
    results = []
    engine.finished.connect(lambda job_id, result: results.append((job_id, result)))
    ids = [engine.submit(add, i, 10, title=f"add {i}").id for i in range(5)]
    qtbot.waitUntil(lambda: len(results) == 5, timeout=5000)
    assert results == [(job_id, i + 10) for i, job_id in enumerate(ids)]
    assert all(engine.job(i).state == FINISHED for i in ids)


def test_progress_is_reported_and_throttled(engine, qtbot):
    reports = []
    engine.progress.connect(lambda job_id, fraction, message: reports.append((fraction, message)))
    with qtbot.waitSignal(engine.finished, timeout=10_000):
        engine.submit(slow_steps, 200, 0.002)
    assert reports, "no progress reported"
    assert reports[-1] == (1.0, "step 200")
    # 200 steps over ~0.4 s with a 0.1 s throttle: a handful of reports, not 200.
    assert len(reports) < 50
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions)


def test_cancel_stops_a_running_job_at_its_next_check(engine, qtbot):
    # Functional, not timed: the job stops at the check after the cancel, far from its 10,000
    # steps (100 s); the signal's timeout only bounds a wait on a busy machine.
    done: list[int] = []
    job_id = engine.submit(counted_steps, 10_000, 0.01, done).id
    qtbot.waitUntil(lambda: len(done) >= 3, timeout=10_000)
    with qtbot.waitSignal(engine.cancelled, timeout=10_000) as blocker:
        at_cancel = len(done)
        engine.cancel(job_id)
    assert blocker.args == [job_id]
    assert engine.job(job_id).state == CANCELLED
    # At most the step under way when cancel() was called (and one racing the count) finished.
    assert len(done) <= at_cancel + 2
    after = len(done)
    qtbot.wait(100)
    assert len(done) == after  # nothing runs after the job reported cancelled


def test_cancelling_a_queued_job_means_it_never_runs(engine, qtbot):
    ran = []
    blocker_id = engine.submit(slow_steps, 30, 0.01).id
    queued_id = engine.submit(lambda *, progress, is_cancelled: ran.append(1)).id
    assert engine.cancel(queued_id)
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        pass
    assert blocker.args[0] == blocker_id
    qtbot.wait(100)
    assert ran == []
    assert engine.job(queued_id).state == CANCELLED


def test_failed_job_reports_and_the_next_job_runs(engine, qtbot):
    failures, results = [], []
    engine.failed.connect(lambda job_id, message: failures.append((job_id, message)))
    engine.finished.connect(lambda job_id, result: results.append(result))
    failing = engine.submit(boom).id
    user_error = engine.submit(bad_input).id
    engine.submit(add, 1, 2)
    qtbot.waitUntil(lambda: results == [3], timeout=5000)
    assert failures == [
        (failing, "RuntimeError: kaput"),
        (user_error, "column 'smiles' not found"),
    ]
    assert engine.job(failing).state == FAILED
    assert engine.is_running()


def test_a_job_raising_job_cancelled_ends_cancelled(engine, qtbot):
    def gives_up(*, progress, is_cancelled):
        raise JobCancelled()

    with qtbot.waitSignal(engine.cancelled, timeout=5000):
        engine.submit(gives_up)


def test_newer_job_with_same_key_supersedes_older(engine, qtbot):
    cancelled = []
    engine.cancelled.connect(cancelled.append)
    first = engine.submit(slow_steps, 1000, 0.01, key="similarity").id
    with qtbot.waitSignal(engine.finished, timeout=5000) as blocker:
        second = engine.submit(add, 2, 3, key="similarity").id
    assert blocker.args == [second, 5]
    assert first in cancelled


def test_torch_jobs_get_the_device_and_the_model_cache(engine, qtbot):
    with qtbot.waitSignal(engine.finished, timeout=60_000) as blocker:
        engine.submit(wants_device, needs_torch=True)
    assert blocker.args[1] == ("cpu", True)
    assert engine.device is not None and engine.device.device == "cpu"


def test_stop_cancels_running_work_and_ends_the_thread(qtbot):
    engine = InferenceEngine()
    engine.start()
    done: list[int] = []
    job_id = engine.submit(counted_steps, 10_000, 0.01, done).id
    qtbot.waitUntil(lambda: len(done) >= 3, timeout=10_000)
    at_stop = len(done)
    assert engine.stop(10_000)  # True: the threads ended (the job did not run its 100 s)
    assert not engine.is_running()
    assert engine.job(job_id).state == CANCELLED
    assert len(done) <= at_stop + 2


def test_a_long_job_does_not_hold_back_the_main_lane(engine, qtbot):
    from core.jobs import LONG_LANE

    results = []
    engine.finished.connect(lambda job_id, result: results.append(job_id))
    training = engine.submit(slow_steps, 10_000, 0.01, title="train", lane=LONG_LANE).id
    qtbot.waitUntil(lambda: engine.job(training).state == "running", timeout=5000)
    quick = [engine.submit(add, i, 1, title=f"score {i}").id for i in range(3)]
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    assert results == quick  # in order, while the long job still runs
    assert engine.job(training).state == "running"
    # A second long job waits for the first (one job at a time per lane).
    second = engine.submit(add, 1, 1, lane=LONG_LANE).id
    time.sleep(0.2)
    assert engine.job(second).state == "queued"
    assert engine.cancel(training)
    qtbot.waitUntil(lambda: engine.job(second).state == FINISHED, timeout=5000)
    assert engine.job(training).state == CANCELLED
    with pytest.raises(ValueError, match="lane"):
        engine.submit(add, 1, 1, lane="express")


def test_stop_ends_both_lanes(qtbot):
    from core.jobs import LONG_LANE

    engine = InferenceEngine()
    engine.start()
    long_job = engine.submit(slow_steps, 10_000, 0.01, lane=LONG_LANE).id
    main_job = engine.submit(slow_steps, 10_000, 0.01).id
    qtbot.waitUntil(
        lambda: engine.job(long_job).state == engine.job(main_job).state == "running",
        timeout=5000,
    )
    assert engine.stop(5000)
    assert not engine.is_running()


def test_torch_jobs_run_in_the_model_host_process(engine, qtbot):
    handle = engine.submit(process_id, title="where", needs_torch=True)
    qtbot.waitUntil(handle.is_done, timeout=60_000)
    assert handle.state == FINISHED
    assert handle.result != os.getpid() and handle.result == engine.model_host.pid
    # A job taking model_host runs here and hands its torch part to the same host.
    both = engine.submit(uses_the_host, title="scoring-like", needs_torch=True)
    qtbot.waitUntil(both.is_done, timeout=60_000)
    assert both.result == (os.getpid(), handle.result)


def test_progress_partial_and_cancel_of_a_host_job_reach_its_handle(engine, qtbot):
    events, reports = [], []
    training = engine.submit(host_epochs, 3, title="train", needs_torch=True)
    training.partial.connect(events.append)
    training.progress.connect(lambda fraction, message: reports.append((fraction, message)))
    training.finished.connect(events.append)
    qtbot.waitUntil(training.is_done, timeout=60_000)
    assert events == [1, 2, 3, "trained"]
    assert reports[-1] == (1.0, "epoch 3")

    pid = engine.model_host.pid
    seen = []
    looping = engine.submit(host_until_cancelled, title="loop", needs_torch=True)
    looping.partial.connect(seen.append)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60_000)
    with qtbot.waitSignal(looping.cancelled, timeout=10_000):
        assert looping.cancel()
    assert looping.state == CANCELLED and engine.job(looping.id).state == CANCELLED
    assert engine.model_host.pid == pid  # the host's process lives on for the next job


def test_a_torch_job_must_be_a_module_level_function(engine):
    with pytest.raises(ModelHostError, match="module-level function"):
        engine.submit(lambda *, progress, is_cancelled: 1, needs_torch=True)
    assert engine.jobs() == []  # refused at submit: nothing was queued


def test_a_host_that_dies_fails_its_job_with_a_message_and_the_next_job_runs(engine, qtbot):
    first = engine.submit(process_id, needs_torch=True)
    qtbot.waitUntil(first.is_done, timeout=60_000)
    dying = engine.submit(host_exits, 3, title="crash", needs_torch=True)
    with qtbot.waitSignal(dying.failed, timeout=60_000) as failed:
        pass
    assert "exit code 3" in failed.args[0] and "run it again" in failed.args[0]
    again = engine.submit(process_id, needs_torch=True)
    qtbot.waitUntil(again.is_done, timeout=60_000)
    assert again.state == FINISHED and again.result != first.result


def test_stop_ends_the_model_host_process(qtbot):
    engine = InferenceEngine()
    engine.start()
    handle = engine.submit(process_id, needs_torch=True)
    qtbot.waitUntil(handle.is_done, timeout=60_000)
    host = engine.model_host
    assert host.is_running()
    assert engine.stop(10_000)
    assert not host.is_running()
    assert handle.result not in [p.pid for p in multiprocessing.active_children()]
