"""ToolJobs: a tab's jobs, the newest of each kind shown, superseded and closed ones ignored."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ui.hitlist.jobs import ToolJobs


class Handle(QObject):
    """A job handle whose ending the test chooses."""

    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.was_cancelled = False

    def cancel(self) -> bool:
        self.was_cancelled = True
        return True


class Engine:
    """Records what was submitted, under which key."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def submit(self, fn, *args, key=None, **kwargs) -> Handle:
        self.keys.append(key)
        return Handle()


def jobs_and_record():
    said: list[tuple] = []
    jobs = ToolJobs(
        Engine(),
        on_failed=lambda kind, message: said.append(("failed", kind, message)),
        on_cancelled=lambda kind: said.append(("cancelled", kind)),
    )
    return jobs, said


def test_only_the_newest_job_of_a_kind_is_shown():
    jobs, said = jobs_and_record()
    shown = []
    first = jobs.submit("rank", shown.append, print)
    second = jobs.submit("rank", shown.append, print)
    assert jobs.running("rank") is second and jobs.engine.keys[0] == jobs.engine.keys[1]
    first.finished.emit("old")
    first.cancelled.emit()  # superseded: not reported either
    assert shown == [] and said == [] and jobs.is_busy()
    second.finished.emit("new")
    assert shown == ["new"] and not jobs.is_busy() and jobs.running("rank") is None


def test_failures_and_cancels_of_the_newest_job_are_reported_with_its_kind():
    jobs, said = jobs_and_record()
    jobs.submit("score", print, print).failed.emit("the model folder is broken")
    jobs.submit("cluster", print, print).cancelled.emit()
    assert said == [("failed", "score", "the model folder is broken"), ("cancelled", "cluster")]
    assert not jobs.is_busy()


def test_kinds_do_not_supersede_each_other_and_tabs_do_not_share_keys():
    jobs, _said = jobs_and_record()
    other, _ = jobs_and_record()
    jobs.submit("similarity", print, print)
    jobs.submit("cluster", print, print)
    other.submit("similarity", print, print)
    assert len(set(jobs.engine.keys)) == 2
    assert jobs.engine.keys[0] != other.engine.keys[0]


def test_cancel_all_cancels_every_job_and_ignores_how_it_ends():
    jobs, said = jobs_and_record()
    shown = []
    handles = [jobs.submit(kind, shown.append, print) for kind in ("fingerprints", "cluster")]
    jobs.cancel_all()
    assert all(handle.was_cancelled for handle in handles) and not jobs.is_busy()
    handles[0].cancelled.emit()
    handles[1].finished.emit("late")
    assert shown == [] and said == []
