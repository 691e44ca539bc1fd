"""A million-row library in the window: longest GUI-thread stall per operation, and memory.

The table is built from the first ``--unique`` MOSES molecules described by the real pipeline
(``process_records``: standardise, properties, alerts), tiled to ``--rows`` rows with distinct
names (loading a million molecules takes over an hour on 2 cores; what the window does with the
rows does not depend on which molecules they are). A 10 ms ``QTimer`` on the GUI thread records
the time between ticks while each operation runs as a user would trigger it: open, sort by a
number and by text, range and text filters, scrolling with structure pictures, and re-ranking by a
profile (an engine job above 100k rows) until the new columns are shown. Goal: no gap > 100 ms.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_scale.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import _common

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pandas as pd

from core.chem.library import DUPLICATE_COLUMN, Library, process_records
from core.chem.readers import RawRecord


def build_table(unique: int, rows: int) -> pd.DataFrame:
    smiles = _common.moses_smiles(unique)
    described = process_records([RawRecord(i, f"m{i}", s) for i, s in enumerate(smiles)])
    described.pop("extra", None)
    described.pop("index", None)
    base = pd.DataFrame(described)
    repeats = -(-rows // len(base))
    table = pd.concat([base] * repeats, ignore_index=True).iloc[:rows].reset_index(drop=True)
    table["name"] = [f"mol{i}" for i in range(len(table))]
    table[DUPLICATE_COLUMN] = ""
    return table


class WindowBench:
    """A library panel with the hit-list tools, shown, and a 10 ms GUI-thread heartbeat: what
    the window-level benchmarks share. ``measure`` runs an action as a user would trigger it and
    returns the longest gap between heartbeat ticks (ms) until the panel is idle again."""

    def __init__(self, title: str, model_entries=lambda: []) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer
        from PySide6.QtWidgets import QApplication

        from app.engine import InferenceEngine
        from ui.hitlist.tools import HitListTools
        from ui.library.panel import LibraryPanel

        self.app = QApplication.instance() or QApplication([])
        self.engine = InferenceEngine()
        self.engine.start()
        self.panel = LibraryPanel(title)
        self.tools = HitListTools(self.panel, self.engine, model_entries=model_entries)
        self.panel.set_side_panel(self.tools)
        self.panel.resize(1500, 900)
        self.panel.show()
        self.ticks: list[float] = []
        self._clock = QElapsedTimer()
        self._clock.start()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(lambda: self.ticks.append(self._clock.nsecsElapsed() / 1e6))
        self._timer.start()

    def settle(self, ms: int = 300) -> None:
        from PySide6.QtCore import QThread

        end = time.perf_counter() + ms / 1000
        while time.perf_counter() < end:
            self.app.processEvents()
            QThread.msleep(5)

    def wait(self, condition) -> None:
        from PySide6.QtCore import QThread

        while not condition():
            self.app.processEvents()
            QThread.msleep(5)

    def measure(self, action, wait=None) -> tuple[float, float]:
        """(wall seconds, longest gap ms) of ``action`` until sorts/filters and ``wait`` end."""
        self.settle()
        self.ticks.clear()
        self.ticks.append(self._clock.nsecsElapsed() / 1e6)  # the action starts after a tick
        start = time.perf_counter()
        action()
        self.app.processEvents()
        self.wait(lambda: not self.panel.model.is_busy())  # large ones run in a worker thread
        if wait is not None:
            self.wait(wait)
        self.settle(200)
        gaps = np.diff(self.ticks) if len(self.ticks) > 1 else np.array([0.0])
        return time.perf_counter() - start, float(gaps.max())

    def close(self) -> None:
        self._timer.stop()
        self.engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--unique", type=int, default=5_000)
    parser.add_argument(
        "--no-score", dest="score", action="store_false", help="skip the scoring step"
    )
    args = parser.parse_args()
    info = _common.machine_info()
    print("describing molecules…", file=sys.stderr)
    table = build_table(args.unique, args.rows)

    from core.models.registry import shipped_models
    from ui.tables.dataframe_model import RowFilter

    potency = [e for e in shipped_models() if e.path.name == "potency-chembl2321810"]
    bench = WindowBench("million", model_entries=lambda: potency)
    app, panel, tools = bench.app, bench.panel, bench.tools
    results = []

    def measure(label: str, action, wait=None) -> None:
        seconds, gap = bench.measure(action, wait)
        results.append((label, seconds, gap))
        print(f"{label}: longest gap {gap:.0f} ms", file=sys.stderr)

    library = Library(table=table)
    # What the window's load job does after reading, off the GUI thread (app.main_window).
    from core.project.annotations import ensure_annotations

    ensure_annotations(library)
    library.n_duplicates  # noqa: B018
    measure("open (set_library)", lambda: panel.set_library(library))
    measure("sort by MW", lambda: panel.sort_by("mw"))
    measure("sort by name (text)", lambda: panel.sort_by("name"))
    measure(
        "range filter MW 300–400",
        lambda: panel.model.set_filter(RowFilter(ranges=(("mw", 300, 400),))),
    )
    measure("text filter 'mol12'", lambda: panel.model.set_filter(RowFilter(text="mol12")))
    measure("clear filter", lambda: panel.model.set_filter(None))
    rng = np.random.default_rng(0)

    def scroll() -> None:
        for row in rng.integers(0, panel.model.rowCount(), 30):
            panel.view.scrollTo(panel.model.index(int(row), 1))
            app.processEvents()

    measure("scroll to 30 random rows (pictures drawn)", scroll)
    measure(
        "re-rank by the oral profile (engine job + new columns)",
        tools.rerank,
        wait=lambda: "Ranked by" in tools.rank_status.text(),
    )
    if potency and args.score:
        from PySide6.QtCore import Qt

        from core.hitlist.presets import CNS_MPO

        tools.model_list.item(0).setCheckState(Qt.CheckState.Checked)
        tools.set_profile(CNS_MPO)
        measure(
            f"score with CNS MPO + the shipped potency model ({args.unique:,} distinct molecules)",
            tools.score,
            wait=lambda: "Ranked" in tools.rank_status.text() and tools.score_button.isEnabled(),
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    bench.close()

    print("### A million rows in the window\n")
    print(f"- Command: `{_common.command_line()}`")
    print(_common.machine_markdown(info))
    print(
        f"- Data: {args.unique:,} MOSES molecules described by the loading pipeline, tiled to "
        f"{args.rows:,} rows; window 1500×900, offscreen platform"
    )
    print(f"- Peak memory (RSS): {rss:.2f} GiB\n")
    print("| operation | wall s | longest GUI gap ms | goal ≤ 100 ms |")
    print("|---|---:|---:|:---:|")
    for label, seconds, gap in results:
        print(f"| {label} | {seconds:.2f} | {gap:.0f} | {'yes' if gap <= 100 else 'no'} |")


if __name__ == "__main__":
    main()
