"""GUI responsiveness while the engine loads a large library.

A 10 ms ``QTimer`` on the GUI thread records the time between its ticks. Two phases in one run:

* **baseline**: the event loop with nothing else to do (``--idle-seconds``, default 10 s);
* **loading**: the real ``app.engine.InferenceEngine`` runs ``core.chem.library.load_library`` on a
  ``.smi`` file of ``--n`` MOSES SMILES (default 100,000), from submission until the ``finished``
  signal has been handled. The engine's ``progress`` signal drives a ``QProgressBar`` and a
  ``QLabel`` in a shown window, so signal delivery and repaints are paid for as in the app.

A gap well above 10 ms is time when the GUI thread could not run: the GIL held by the engine
thread or the pool's result thread, a slot that took long, or the processor taken by workers.
Goal: longest gap < 50 ms.

Run from the repository root (``QT_QPA_PLATFORM=offscreen`` is set when no platform is chosen)::

    nice python benchmarks/bench_gui_heartbeat.py
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common

GOAL_MS = 50.0
TICK_MS = 10


@dataclass(slots=True)
class GapStats:
    label: str
    duration_s: float
    ticks: int
    mean_ms: float
    p99_ms: float
    max_ms: float
    over_goal: int
    max_at: str
    other_cores: float = float("nan")
    long_gaps: list[tuple[float, float, float]] = field(default_factory=list)
    """(time of the tick before, gap ms, ms the GUI thread waited for a processor) of each gap over
    the goal."""
    gc_summary: str = "not recorded"
    gc_in_long_gaps: list[float] = field(default_factory=list)
    """Milliseconds of garbage collection that began inside each gap of ``long_gaps``."""

    @classmethod
    def from_ticks(
        cls, label: str, ticks: list[float], waits: list[float], describe_at
    ) -> GapStats:
        gaps = [1000.0 * (b - a) for a, b in itertools.pairwise(ticks)]
        if not gaps:
            raise RuntimeError(f"{label}: the heartbeat never ticked twice")
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        return cls(
            label=label,
            duration_s=ticks[-1] - ticks[0],
            ticks=len(ticks),
            mean_ms=sum(gaps) / len(gaps),
            p99_ms=_common.percentile(gaps, 99),
            max_ms=gaps[worst],
            over_goal=sum(gap > GOAL_MS for gap in gaps),
            max_at=describe_at(ticks[worst], ticks[worst + 1]),
            long_gaps=[
                (ticks[i], gap, 1000.0 * (waits[i + 1] - waits[i]))
                for i, gap in enumerate(gaps)
                if gap > GOAL_MS
            ],
        )


class RunQueueWait:
    """Seconds the calling thread has spent runnable but waiting for a processor (Linux).

    ``/proc/thread-self/schedstat``, opened in the GUI thread, says how long that thread waited on
    a run queue. Over a long gap, that wait is time the processor was busy with other threads or
    processes; the rest of the gap is the thread blocked (waiting for the GIL) or busy (a slot).
    """

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    def read(self) -> float:
        if self._fd is None:
            return float("nan")
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class GcPauses:
    """Every collection of Python's garbage collector in this process: start, seconds, generation.

    A collection holds the GIL, so a long one stops the GUI thread whichever thread triggered it.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.pauses.append((self._started, now - self._started, info["generation"]))

    def close(self) -> None:
        gc.callbacks.remove(self._on_gc)

    def summary(self) -> str:
        if not self.pauses:
            return "none"
        counts = [sum(1 for *_, g in self.pauses if g == gen) for gen in range(3)]
        longest = max(self.pauses, key=lambda pause: pause[1])
        total = sum(seconds for _, seconds, _ in self.pauses)
        return (
            f"{counts[0]} / {counts[1]} / {counts[2]} (generation 0 / 1 / 2), "
            f"{1000 * total:.0f} ms in all, longest {1000 * longest[1]:.1f} ms (generation "
            f"{longest[2]})"
        )

    def inside(self, start: float, end: float) -> float:
        """Seconds of collection that began between ``start`` and ``end``."""
        return sum(seconds for begun, seconds, _ in self.pauses if start <= begun <= end)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="molecules to load")
    parser.add_argument(
        "--workers", type=int, default=0, help="load_library processes (default 0: one per core)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=10.0, help="length of the no-job baseline"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up when loading takes longer (s)"
    )
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="do not call gc.freeze() after start-up (app.gui.run_gui calls it, so by default "
        "this benchmark does too)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    info = _common.machine_info()
    try:
        smiles = _common.moses_smiles(args.n)
    except _common.MissingDataError as exc:
        print(f"bench_gui_heartbeat: {exc}", file=sys.stderr)
        return 2

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QVBoxLayout, QWidget

    from app.engine import InferenceEngine
    from core.chem.library import LoadOptions, load_library

    app = QApplication.instance() or QApplication([sys.argv[0]])

    window = QWidget()
    layout = QVBoxLayout(window)
    bar = QProgressBar()
    bar.setRange(0, 1000)
    label = QLabel("idle")
    layout.addWidget(bar)
    layout.addWidget(label)
    window.resize(400, 80)
    window.show()

    ticks: list[float] = []
    waits: list[float] = []
    run_queue = RunQueueWait()  # opened here, on the GUI thread

    def on_tick() -> None:
        ticks.append(time.perf_counter())
        waits.append(run_queue.read())

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(TICK_MS)
    heartbeat.timeout.connect(on_tick)

    # Progress messages with their arrival time, to say what was happening during the worst gap.
    events: list[tuple[float, str]] = []
    slot_seconds = [0.0]
    state: dict[str, object] = {}

    def on_progress(job_id: int, fraction: float, message: str) -> None:
        start = time.perf_counter()
        if fraction >= 0:
            bar.setValue(round(1000 * fraction))
        label.setText(message)
        events.append((start, message))
        slot_seconds[0] += time.perf_counter() - start

    def describe_at(before: float, after: float) -> str:
        t0 = state.get("submitted_at")
        if t0 is None:
            return f"{before - ticks[0]:.2f} s into the idle phase"
        last = [message for t, message in events if t <= after]
        context = f"after progress “{last[-1]}”" if last else "before the first progress signal"
        return f"{before - t0:.2f} s after submission, {context}"

    engine = InferenceEngine(device_preference="cpu")
    engine.progress.connect(on_progress)
    engine.start()
    loop = QEventLoop()

    def on_finished(job_id: int, result: object) -> None:
        state["finished_at"] = time.perf_counter()
        state["result"] = result
        events.append((state["finished_at"], "finished signal handled"))
        # A few more ticks so that a stall right after ``finished`` is seen too.
        QTimer.singleShot(200, loop.quit)

    def on_failed(job_id: int, message: str) -> None:
        state["error"] = message
        loop.quit()

    engine.finished.connect(on_finished)
    engine.failed.connect(on_failed)
    if args.gc_freeze:
        # As app.gui.run_gui does once the window exists: start-up objects leave the GC's walks.
        gc.freeze()

    try:
        # Phase 1: nothing running.
        print(f"baseline: idle heartbeat for {args.idle_seconds:.0f} s …", file=sys.stderr)
        other = _common.OtherLoad()
        heartbeat.start()
        QTimer.singleShot(round(1000 * args.idle_seconds), loop.quit)
        loop.exec()
        heartbeat.stop()
        idle = GapStats.from_ticks("no job (baseline)", ticks, waits, describe_at)
        idle.other_cores = other.cores()
        ticks.clear()
        waits.clear()

        # Phase 2: a library load in the engine.
        with tempfile.TemporaryDirectory(prefix="drugdesk-bench-") as tmp:
            path = _common.write_smi(smiles, Path(tmp) / f"moses_{args.n}.smi")
            del smiles
            workers = args.workers or os.cpu_count() or 1
            print(f"loading {args.n:,} molecules with {workers} workers …", file=sys.stderr)
            app.processEvents()
            other = _common.OtherLoad()
            gc_pauses = GcPauses()
            heartbeat.start()
            state["submitted_at"] = time.perf_counter()
            engine.submit(
                load_library,
                path,
                LoadOptions(workers=workers),
                title=f"Load {path.name}",
            )
            QTimer.singleShot(round(1000 * args.timeout), loop.quit)
            loop.exec()
            heartbeat.stop()
            gc_pauses.close()
        if "error" in state:
            print(f"bench_gui_heartbeat: the load failed: {state['error']}", file=sys.stderr)
            return 1
        if "finished_at" not in state:
            print(f"bench_gui_heartbeat: no result within {args.timeout:.0f} s", file=sys.stderr)
            return 1
        loading = GapStats.from_ticks(f"loading {args.n:,} molecules", ticks, waits, describe_at)
        loading.other_cores = other.cores()
        loading.gc_summary = gc_pauses.summary()
        loading.gc_in_long_gaps = [
            1000 * gc_pauses.inside(at, at + gap / 1000) for at, gap, _ in loading.long_gaps
        ]
        load_seconds = state["finished_at"] - state["submitted_at"]
        n_rows = state["result"].n_records
    finally:
        engine.stop()
        window.close()
        run_queue.close()

    progress_signals = sum(1 for _, message in events if message != "finished signal handled")
    print(
        markdown(
            args,
            info,
            workers,
            [idle, loading],
            load_seconds,
            n_rows,
            progress_signals,
            slot_seconds[0],
            state["submitted_at"],
        )
    )
    return 0


def markdown(
    args, info, workers, phases, load_seconds, n_rows, signals, slot_seconds, submitted_at
) -> str:
    idle, loading = phases
    lines = [
        "### GUI heartbeat during a library load",
        "",
        f"- Command: `{_common.command_line()}`",
        _common.machine_markdown(info),
        f"- {TICK_MS} ms PreciseTimer on the GUI thread, `QT_QPA_PLATFORM="
        f"{os.environ.get('QT_QPA_PLATFORM')}`; job: `load_library` of {n_rows:,} MOSES SMILES "
        f"(.smi) with {workers} workers in `app.engine.InferenceEngine`, "
        f"{load_seconds:.1f} s from submission to `finished` ({n_rows / load_seconds:,.0f} "
        "molecules/s)",
        f"- `gc.freeze()` after start-up (as `app.gui.run_gui`): "
        f"{'yes' if args.gc_freeze else 'no (--no-gc-freeze)'}; Python GC collections during "
        f"the load: {loading.gc_summary}\n"
        f"- Progress: {signals} signals delivered to a QProgressBar + QLabel slot, "
        f"{1000 * slot_seconds:.1f} ms spent in the slot in all",
        "",
        f"| phase | seconds | ticks | mean gap ms | p99 gap ms | longest gap ms "
        f"| gaps > {GOAL_MS:.0f} ms | other processes' cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase in phases:
        lines.append(
            f"| {phase.label} | {phase.duration_s:.1f} | {phase.ticks:,} | {phase.mean_ms:.1f} | "
            f"{phase.p99_ms:.1f} | {phase.max_ms:.1f} | {phase.over_goal} | "
            f"{phase.other_cores:.2f} |"
        )
    verdict = "meets" if loading.max_ms < GOAL_MS else "misses"
    lines += [
        "",
        f"- Longest gap while loading: {loading.max_ms:.1f} ms, {loading.max_at}; "
        f"{loading.max_ms / idle.max_ms:.1f}× the idle longest gap, p99 "
        f"{loading.p99_ms / idle.p99_ms:.2f}× idle; {verdict} the {GOAL_MS:.0f} ms goal",
        f"- Longest idle gap: {idle.max_ms:.1f} ms ({idle.max_at})",
    ]
    if loading.long_gaps:
        parts = []
        for (at, gap, cpu_wait), in_gc in list(
            zip(loading.long_gaps, loading.gc_in_long_gaps, strict=True)
        )[:20]:
            parts.append(
                f"{gap:.0f} ms at {at - submitted_at:.1f} s (waiting for a processor "
                f"{cpu_wait:.0f} ms, GC {in_gc:.0f} ms)"
            )
        more = len(loading.long_gaps) - 20
        lines.append(
            f"- Gaps over {GOAL_MS:.0f} ms while loading (time after submission; of the gap, "
            "how long the GUI thread waited on a run queue and how long garbage collection "
            "ran; the rest is the GIL held elsewhere or work on the GUI thread): "
            + ", ".join(parts)
            + (f" and {more} more" if more > 0 else "")
        )
    lines += [
        f"- Load average (1 min) at the end: {os.getloadavg()[0]:.2f}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
