"""Killing a process that is saving a project never corrupts the file: after SIGKILL at random
moments the file passes SQLite's integrity check and holds exactly the saves that committed, each
whole (a table, its marks, the settings and a work area's state and table always from the same
save)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.project.store import ProjectState, ProjectStore, save_project_as

ROOT = Path(__file__).resolve().parents[3]

WRITER = r"""
import sys
import numpy as np
import pandas as pd
from core.chem.library import Library
from core.project.areas import AreaSnapshot
from core.project.store import LibraryState, ProjectState, ProjectStore

store = ProjectStore(sys.argv[1])
contents = store.read()
k = int(contents.settings.get("counter", -1)) + 1
print("ready", flush=True)
while True:
    n = 2000 + (k // 2) % 7 * 300
    if k % 2 == 0:  # a save with the table (the slow kind), then one with marks only
        table = pd.DataFrame({"k": np.full(n, k), "text": [f"row{i}-{k}" for i in range(n)]})
        library = Library(table=table)
    else:
        library = None
    marks = pd.DataFrame({
        "row": np.arange(0, n, 3), "flag": True, "tags": "t", "notes": f"save {k}",
    })
    results = pd.DataFrame(
        {"padj": np.full(n // 2, k / 1000.0)}, index=pd.Index([f"g{i}" for i in range(n // 2)])
    )
    area = AreaSnapshot(state={"k": k, "campaign": {"n_genes_tested": n // 2}},
                        tables={"results": results})
    store.write(ProjectState(
        [LibraryState("lib", f"title {k}", library, marks, {"k": k})], {"counter": k},
        {"expression": area},
    ))
    print(k, flush=True)
    k += 1
"""


def _check(path: Path) -> int:
    with ProjectStore(path) as store:
        assert store.integrity_errors() == []
        contents = store.read()
    counter = contents.settings["counter"]
    (stored,) = contents.libraries
    table = stored.library.table
    table_k = counter - counter % 2
    assert stored.title == f"title {counter}"
    assert stored.profile == {"k": counter}
    assert len(table) == 2000 + (table_k // 2) % 7 * 300
    assert set(table["k"]) == {table_k}
    assert table["text"].iloc[-1] == f"row{len(table) - 1}-{table_k}"
    flagged = table.index[table["flag"]].tolist()
    assert flagged == list(range(0, len(table), 3))
    assert set(table.loc[flagged, "notes"]) == {f"save {counter}"}
    # The work area of the same save, whole: its state and its table.
    area = contents.areas["expression"]
    assert area.state == {"k": counter, "campaign": {"n_genes_tested": len(table) // 2}}
    results = area.tables["results"]
    assert len(results) == len(table) // 2 and set(results["padj"]) == {counter / 1000.0}
    assert results.index[-1] == f"g{len(results) - 1}"
    return counter


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_kill_during_saves_never_corrupts(tmp_path):
    path = save_project_as(tmp_path / "kill.drugdesk", ProjectState())
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    last_seen = -1
    for _round in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            child.send_signal(signal.SIGKILL)
            output, _errors = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL
        committed = [int(line) for line in output.split()]
        assert committed, "the writer saved nothing before it was killed"
        counter = _check(path)
        # Every save reported as done is there; the one in flight may or may not be.
        assert committed[-1] <= counter <= committed[-1] + 1
        assert counter > last_seen
        last_seen = counter
