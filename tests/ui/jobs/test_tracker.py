"""JobTracker: a panel's jobs, the newest of each kind handed on; superseded and forgotten ones
ignored; connections die with the panel."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ui.jobs.tracker import JobTracker


class Handle(QObject):
    """A job handle whose ending the test chooses."""

    progress = Signal(float, str)
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
        self.handles: list[Handle] = []

    def submit(self, fn, *args, key=None, **kwargs) -> Handle:
        self.keys.append(key)
        self.handles.append(Handle())
        return self.handles[-1]


def tracker_and_record(qtbot, prefix="tools"):
    owner = QObject()
    said: list[tuple] = []
    jobs = JobTracker(Engine(), prefix, owner)
    jobs.ended.connect(lambda kind, how: said.append(("ended", kind, how)))
    jobs.failed.connect(lambda kind, message: said.append(("failed", kind, message)))
    jobs.progress.connect(lambda kind, f, m: said.append(("progress", kind, f, m)))
    return owner, jobs, said


def test_only_the_newest_job_of_a_kind_is_handed_on(qtbot):
    _owner, jobs, said = tracker_and_record(qtbot)
    shown = []
    first = jobs.submit("rank", shown.append, print)
    second = jobs.submit("rank", shown.append, print)
    assert jobs.running("rank") is second and jobs.engine.keys == ["tools-rank", "tools-rank"]
    first.progress.emit(0.5, "old")
    first.finished.emit("old")
    first.cancelled.emit()  # superseded: not reported either
    assert shown == [] and said == [] and jobs.is_busy()
    second.progress.emit(0.5, "new")
    second.finished.emit("new")
    assert shown == ["new"] and not jobs.is_busy() and jobs.running("rank") is None
    assert said == [("progress", "rank", 0.5, "new"), ("ended", "rank", "finished")]


def test_failures_and_cancels_are_reported_with_their_kind(qtbot):
    _owner, jobs, said = tracker_and_record(qtbot)
    failures = []
    jobs.submit("score", print, print, on_failed=failures.append).failed.emit("broken folder")
    jobs.submit("cluster", print, print).cancelled.emit()
    assert failures == ["broken folder"]
    assert said == [
        ("ended", "score", "failed"),
        ("failed", "score", "broken folder"),
        ("ended", "cluster", "cancelled"),
    ]
    assert not jobs.is_busy()


def test_kinds_do_not_supersede_each_other_and_prefixes_keep_trackers_apart(qtbot):
    _owner, jobs, _said = tracker_and_record(qtbot, "tools-1")
    _other_owner, other, _ = tracker_and_record(qtbot, "tools-2")
    jobs.submit("similarity", print, print)
    jobs.submit("cluster", print, print)
    other.submit("similarity", print, print)
    assert len(set(jobs.engine.keys)) == 2 and jobs.engine.keys[0] != other.engine.keys[0]
    assert jobs.running("similarity") is not None and jobs.running("cluster") is not None


def test_cancel_all_forgetting_ignores_how_jobs_end(qtbot):
    _owner, jobs, said = tracker_and_record(qtbot)
    shown = []
    handles = [jobs.submit(kind, shown.append, print) for kind in ("fingerprints", "cluster")]
    jobs.cancel_all(forget=True)
    assert all(handle.was_cancelled for handle in handles) and not jobs.is_busy()
    handles[0].cancelled.emit()
    handles[1].finished.emit("late")
    assert shown == [] and said == []


def test_cancel_all_without_forgetting_reports_each_cancel(qtbot):
    _owner, jobs, said = tracker_and_record(qtbot)
    handle = jobs.submit("load", print, print)
    jobs.cancel_all()
    assert handle.was_cancelled and jobs.is_busy()  # until the job says it stopped
    handle.cancelled.emit()
    assert said == [("ended", "load", "cancelled")] and not jobs.is_busy()


def test_a_deleted_panel_hears_nothing_more(qtbot):
    owner, jobs, said = tracker_and_record(qtbot)
    shown = []
    handle = jobs.submit("load", shown.append, print)
    import shiboken6

    shiboken6.delete(owner)  # the panel (the tracker's parent) is gone before its job ends
    handle.finished.emit("late")
    assert shown == [] and said == []
