"""Why the app leaves Python's cycle collection automatic: a GUI-thread-only collector, measured.

Python's collector runs in whichever thread allocates when a threshold is crossed, often an engine
thread; a cycle holding a Qt object owned by Python is then destroyed on that thread, which Qt
does not allow. One cure, pyqtgraph's ``GarbageCollector``: turn automatic collection off and
collect on a GUI-thread timer. :class:`GuiThreadCollector` below is that, keeping Python's own
thresholds and its rule for full collections. This measures, in one process, the same
engine-thread job twice: first with Python's automatic collection (the baseline), then under the
timer collector. The job makes what jobs make: short-lived records with reference
cycles and a growing list of results that live on. A 10 ms timer on the GUI thread records the
gaps between its ticks; ``gc.callbacks`` record each collection, its generation, its duration and
the thread it ran on.

Adopting it would need no collection on the engine thread (it has none) and the GUI's p99 and
longest gap no worse than the baseline's (they are several times worse: the timer's collections
walk everything the engine made since the last tick, while the GUI waits). The app instead keeps
Qt objects out of the collector's reach (parents for every widget of a tab; see
``tests/app/test_qt_ownership.py``).

Run from the repository root (``QT_QPA_PLATFORM=offscreen`` is set when no platform is chosen)::

    python benchmarks/bench_gc_policy.py
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import threading
import time
from dataclasses import dataclass

import _common
from PySide6.QtCore import QObject, QTimer

TICK_MS = 10

# How often the GUI thread looks at the collector's counts (ms): short enough that garbage made
# by a busy engine thread is collected in small, quick steps.
CHECK_INTERVAL_MS = 100
# Python's rule (Modules/gcmodule.c): a full collection waits until the objects promoted to the
# oldest generation since the last one exceed this share of those that survived it.
FULL_COLLECTION_RATIO = 0.25


class GuiThreadCollector(QObject):
    """The alternative measured here. While started, automatic collection is off and :meth:`collect_due` runs on a timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled = gc.isenabled()
        self._long_lived_total = 0  # objects in the oldest generation after the last full one
        self._long_lived_pending = 0  # objects promoted there since

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._long_lived_total = len(gc.get_objects(generation=2))
        self._long_lived_pending = 0
        self._timer.start()

    def stop(self) -> None:
        """Collect what is left, here, and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def is_active(self) -> bool:
        return self._timer.isActive()

    def collect_due(self) -> int:
        """Collect what Python's automatic collection would collect now; returns the number of
        unreachable objects found."""
        count0, count1, count2 = gc.get_count()
        threshold0, threshold1, threshold2 = self._thresholds
        if count0 <= threshold0:
            return 0
        if count1 <= threshold1:
            return gc.collect(0)
        full_due = self._long_lived_pending > self._long_lived_total * FULL_COLLECTION_RATIO
        if count2 > threshold2 and full_due:
            found = gc.collect(2)
            self._long_lived_total = max(
                0, self._long_lived_total + self._long_lived_pending - found
            )
            self._long_lived_pending = 0
            return found
        young = len(gc.get_objects(generation=0)) + len(gc.get_objects(generation=1))
        found = gc.collect(1)
        self._long_lived_pending += max(0, young - found)  # the survivors moved to the oldest
        return found


@dataclass
class Phase:
    label: str
    job_s: float
    ticks: int
    p99_ms: float
    max_ms: float
    collections: dict[int, int]  # generation -> count
    gc_ms: float
    longest_gc_ms: float
    off_gui_thread: int  # collections that ran on another thread than the GUI's


class _Record:
    """A parsed record with a back-reference: a cycle, as parent/child objects make."""

    __slots__ = ("__weakref__", "fields", "parent")

    def __init__(self, index: int, parent: dict) -> None:
        self.fields = {"index": index, "name": f"m{index}", "extra": [index, str(index)]}
        self.parent = parent
        parent.setdefault("children", []).append(self)


def engine_job(n: int, results: list) -> None:
    """Records in batches of 1,000: each batch a cycle, dropped; a summary of each kept."""
    for start in range(0, n, 1_000):
        batch: dict = {}
        for index in range(start, start + 1_000):
            _Record(index, batch)
        results.append({"start": start, "names": [f"m{i}" for i in range(start, start + 50)]})
        del batch
        if start % 50_000 == 0:
            time.sleep(0)


def run_phase(label: str, app, use_policy: bool, n: int) -> Phase:
    from PySide6.QtCore import QEventLoop, Qt

    gui_thread = threading.get_ident()
    collections: dict[int, int] = {0: 0, 1: 0, 2: 0}
    durations: list[float] = []
    off_gui = 0
    started_at: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        nonlocal off_gui
        if phase == "start":
            started_at.append(time.perf_counter())
            return
        durations.append(1000 * (time.perf_counter() - started_at.pop()))
        collections[info["generation"]] += 1
        if threading.get_ident() != gui_thread:
            off_gui += 1

    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(TICK_MS)
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    collector = GuiThreadCollector() if use_policy else None
    results: list = []
    done = threading.Event()
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if done.is_set() else None)

    def job() -> None:
        try:
            engine_job(n, results)
        finally:
            done.set()

    gc.collect()
    gc.callbacks.append(on_gc)
    if collector is not None:
        collector.start()
    heartbeat.start()
    poll.start()
    began = time.perf_counter()
    threading.Thread(target=job, name="engine").start()
    loop.exec()
    job_s = time.perf_counter() - began
    heartbeat.stop()
    poll.stop()
    if collector is not None:
        collector.stop()
    gc.callbacks.remove(on_gc)
    gaps = [1000 * (b - a) for a, b in itertools.pairwise(ticks)]
    return Phase(
        label=label,
        job_s=job_s,
        ticks=len(ticks),
        p99_ms=_common.percentile(gaps, 99),
        max_ms=max(gaps),
        collections=collections,
        gc_ms=sum(durations),
        longest_gc_ms=max(durations, default=0.0),
        off_gui_thread=off_gui,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="records the job makes")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    info = _common.machine_info()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    gc.freeze()  # as app.gui.run_gui does after start-up
    other = _common.OtherLoad()
    phases = [
        run_phase("automatic collection (baseline)", app, False, args.n),
        run_phase("GuiThreadCollector (timer on the GUI thread)", app, True, args.n),
    ]
    base, policy = phases
    print("### Cycle collection: automatic vs on a GUI-thread timer\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- Job on an engine thread: {args.n:,} records with reference cycles (batches of "
        "1,000), a summary per batch kept; 10 ms PreciseTimer on the GUI thread; "
        f"`gc.freeze()` first; other processes used {other.cores():.2f} cores\n"
    )
    print(
        "| collection | job s | ticks | p99 gap ms | longest gap ms | collections (gen 0/1/2) "
        "| GC ms in all | longest GC ms | on the engine thread |"
    )
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for phase in phases:
        counts = "/".join(str(phase.collections[g]) for g in (0, 1, 2))
        print(
            f"| {phase.label} | {phase.job_s:.1f} | {phase.ticks:,} | {phase.p99_ms:.1f} | "
            f"{phase.max_ms:.1f} | {counts} | {phase.gc_ms:.0f} | {phase.longest_gc_ms:.1f} | "
            f"{phase.off_gui_thread} |"
        )
    print(
        f"\n- Timer collector vs automatic: p99 gap {policy.p99_ms / base.p99_ms:.2f}×, longest gap "
        f"{policy.max_ms / base.max_ms:.2f}×, job time {policy.job_s / base.job_s:.2f}×; "
        f"collections on the engine thread {base.off_gui_thread} → {policy.off_gui_thread}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
