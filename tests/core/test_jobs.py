"""The job contract: cancel checks and throttled progress."""

from __future__ import annotations

import pytest

import core.jobs as jobs
from core.jobs import (
    JobCancelled,
    ThrottledProgress,
    check_cancelled,
    never_cancelled,
    no_progress,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(jobs.time, "monotonic", fake)
    return fake


def test_check_cancelled():
    check_cancelled(None)
    check_cancelled(never_cancelled)
    check_cancelled(lambda: False)
    with pytest.raises(JobCancelled):
        check_cancelled(lambda: True)


def test_no_progress_accepts_anything():
    assert no_progress(0.5) is None
    assert no_progress(-1.0, "unknown") is None
    assert never_cancelled() is False


def test_throttled_progress_forwards_first_and_final_and_drops_bursts(clock):
    seen = []
    progress = ThrottledProgress(lambda f, m: seen.append((f, m)), interval=0.1)
    progress(0.0, "start")
    for i in range(1, 50):
        clock.now += 0.001
        progress(i / 100, f"step {i}")
    assert seen == [(0.0, "start")]
    clock.now += 0.1
    progress(0.6, "later")
    clock.now += 0.01
    progress(0.7, "too soon")
    clock.now += 0.001
    progress(1.0, "done")
    assert seen == [(0.0, "start"), (0.6, "later"), (1.0, "done")]


def test_throttled_progress_forwards_after_each_interval(clock):
    seen = []
    progress = ThrottledProgress(lambda f, m: seen.append(f), interval=0.5)
    for i in range(20):
        progress(i / 20)
        clock.now += 0.25
    # Reports at t = 0, 0.5, 1.0, ... pass; the ones in between are dropped.
    assert seen == [i / 20 for i in range(0, 20, 2)]


def test_throttled_progress_unknown_fraction(clock):
    seen = []
    progress = ThrottledProgress(lambda f, m: seen.append((f, m)))
    progress(-1.0, "counting")
    progress(-1.0, "still counting")
    progress(1.0)
    assert seen == [(-1.0, "counting"), (1.0, "")]


def test_job_cancelled_is_an_exception():
    assert issubclass(JobCancelled, Exception)
