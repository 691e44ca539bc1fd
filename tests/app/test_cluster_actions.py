"""File > On the cluster (issue 18): properties, score and search of a file run on the scheduler
named in Preferences as engine jobs (the Jobs panel shows them, with Cancel); properties equal
``drugdesk props`` here; a finished job's notification opens its output as a library tab; a
failed or cancelled one says that nothing was written; with no scheduler set, or the input as
output, the user is told and nothing runs."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from app.cli import main
from app.cluster_actions import NO_SCHEDULER
from core.chem.cluster_search import SearchRequest
from core.jobs import CLUSTER_LANE, LONG_LANE
from ui.dialogs.cluster_files import TOP_K


def test_properties_on_the_cluster_from_the_window(qtbot, main_window, tmp_path):
    window = main_window
    source = tmp_path / "lib.smi"
    source.write_text("CCO ethanol\nc1ccccc1O phenol\nbad_smiles x\nCCN ethylamine\n")
    here = tmp_path / "here.csv"
    assert main(["props", str(source), "-o", str(here)]) == 0

    assert window.cluster.compute_props(source, tmp_path / "out.csv") is None
    assert "No Dask scheduler is set" in window.notifications.text()

    window.settings = replace(window.settings, dask_scheduler="local:1")
    assert window.cluster.compute_props(source, source) is None
    assert "is the input file" in window.notifications.text()

    dialog = window.cluster.choose_props_files()
    dialog.input_edit.setText(str(source))
    assert dialog.output() == tmp_path / "lib_props.csv"  # suggested beside the input
    out = tmp_path / "out.csv"
    dialog.output_edit.setText(str(out))
    assert not dialog.ship_box.isVisibleTo(dialog)  # local:1 sees this computer's files
    dialog.accept()
    handle = window.cluster.last_job
    assert handle.title == "Properties of lib.smi on local:1"
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    assert handle.state == "finished", handle.error
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(here))
    assert "Written to out.csv by 1 workers" in window.notifications.text()


# ----------------------------------------------------------------------------------------------
# File > On the cluster > Score a file… and Search a file…: one cluster of two workers for the
# module, named in Preferences by its tcp:// address.

LIBRARY = [
    "CCO ethanol",
    "c1ccccc1O phenol",
    "CC(=O)Nc1ccc(O)cc1 paracetamol",
    "not_a_smiles broken",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C caffeine",
    "O=C(O)c1ccccc1OC(C)=O aspirin",
    "Oc1ccc(Cl)cc1 chlorophenol",
    "CCO ethanol_again",
]


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "vendor.smi"
    path.write_text("\n".join(LIBRARY) + "\n")
    return path


def _hold_until(event, *, progress, is_cancelled):
    while not event.wait(0.05) and not is_cancelled():
        pass


def _finish(qtbot, window):
    handle = window.cluster.last_job
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    return handle


def _open_output(qtbot, window):
    """Press the notification's Open and wait for the library tab to load."""
    button = window.notifications.action_button
    assert button.isVisible() and button.text() == "Open"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    def loaded():
        panel = window.current_panel()
        return panel is not None and panel.library is not None

    qtbot.waitUntil(loaded, timeout=60_000)
    return window.current_panel().library


def test_without_a_scheduler_the_dialogs_do_not_open(main_window):
    window = main_window
    assert window.cluster.choose_score() is None
    assert window.notifications.text() == NO_SCHEDULER
    window.notifications.dismiss()
    assert window.cluster.choose_search() is None
    assert window.notifications.text() == NO_SCHEDULER
    window.notifications.dismiss()
    assert window.cluster.choose_props_files() is None
    assert window.notifications.text() == NO_SCHEDULER
    assert window.cluster.dialog is None
    titles = [a.text() for a in window.cluster.menu.actions() if a.text()]
    assert titles == [
        "No Dask scheduler set (Preferences)",
        "Compute &properties of a file…",
        "&Score a file…",
        "S&earch a file…",
    ]


def test_search_a_file_on_the_cluster_from_the_window(qtbot, main_window, scheduler, library):
    window = main_window
    window.settings = replace(window.settings, dask_scheduler=scheduler)
    window.molecule_workspace.open_smiles("c1ccccc1O", "phenol", None, True)
    dialog = window.cluster.choose_search()
    assert dialog.isVisible() and window.cluster.dialog is dialog
    assert dialog.query_edit.text() == "Oc1ccccc1"  # the Molecule panel's molecule
    assert dialog.query_name.text() == "phenol, from the Molecule panel"
    dialog.input_edit.setText(str(library))
    dialog.output_edit.setText(str(library))
    assert not dialog.ok_button.isEnabled()
    out = library.with_name("similar.csv")
    dialog.output_edit.setText(str(out))
    dialog.set_mode(TOP_K)
    dialog.top_k.setValue(3)
    # A library loading for hours (the long lane) does not hold the cluster's job back.
    loading = threading.Event()
    blocker = window.engine.submit(_hold_until, loading, title="Long load", lane=LONG_LANE)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()

    handle = _finish(qtbot, window)
    assert handle.state == "finished", handle.error
    assert window.engine.job(handle.id).lane == CLUSTER_LANE
    assert blocker.state == "running"
    loading.set()
    qtbot.waitUntil(blocker.is_done)
    assert handle.title == f"Search vendor.smi on {scheduler}"
    row = window.jobs_panel.rows[handle.id]  # the Jobs panel lists it (with Cancel while it runs)
    qtbot.waitUntil(lambda: row.state == "finished")
    text = window.notifications.text()
    assert text.startswith(f"Searched vendor.smi on {scheduler} (2 workers) in ")
    assert "3 hits among 8 records; 3 rows written to similar.csv." in text
    table = _open_output(qtbot, window).table  # described here: it has only SMILES
    assert table["name"].tolist() == ["phenol", "chlorophenol", "paracetamol"]
    assert "mw" in table.columns
    assert not window.notifications.action_button.isVisible()  # used once


def test_score_a_file_on_the_cluster_from_the_window(qtbot, main_window, scheduler, library):
    window = main_window
    window.settings = replace(window.settings, dask_scheduler=scheduler)
    dialog = window.cluster.choose_score()
    dialog.input_edit.setText(str(library))
    out = library.with_name("vendor_hits.csv")
    assert dialog.output() == out  # suggested beside the input
    dialog.profile_box.setCurrentIndex(dialog.profile_box.findData("oral"))
    dialog.accept()
    # The workers predict in the precision chosen in Preferences, as the Rank tab's score does
    # (the engine lets go of a job's arguments when it ends: asked at once, while it connects).
    job = window.engine.job(window.cluster.last_job.id)
    assert job.kwargs["precision"] == window.settings.inference_precision

    handle = _finish(qtbot, window)
    assert handle.state == "finished", handle.error
    assert handle.title == f"Score vendor.smi on {scheduler}"
    assert "6 of 8 records ranked; 8 rows written to vendor_hits.csv." in (
        window.notifications.text()
    )
    hits = pd.read_csv(out, keep_default_na=False)
    assert hits["rank"].tolist() == ["1", "2", "3", "4", "5", "6", "", ""]
    assert hits["name"].tolist()[6:] == ["ethanol_again", "broken"]
    assert hits["problem"].tolist()[6] == "repeats ethanol"
    library = _open_output(qtbot, window)  # read as written: nothing described again
    assert window.current_panel().title == "vendor_hits.csv"
    assert library.table["name"].tolist() == hits["name"].tolist()
    assert library.extra_columns[:2] == ["rank", "score"]
    assert not [c for c in library.table.columns if c.endswith("(input)")]
    written = pd.read_csv(out, float_precision="round_trip")
    np.testing.assert_array_equal(library.table["mw"].to_numpy(), written["mw"].to_numpy())


def test_a_failed_or_cancelled_cluster_job_says_nothing_was_written(
    qtbot, main_window, scheduler, library
):
    window = main_window
    window.settings = replace(window.settings, dask_scheduler=scheduler)
    out = library.parent / "no_such_folder" / "hits.csv"
    handle = window.cluster.search_file(library, out, SearchRequest("CCO", top_k=2))
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    assert handle.state == "failed"
    text = window.notifications.text()
    assert text.startswith("Searching vendor.smi on the cluster failed: ")
    assert text.endswith("Nothing was written to hits.csv.")
    assert "\n" not in text and "Traceback" not in text
    assert not out.parent.exists()

    out = library.with_name("hits.csv")
    handle = window.cluster.score_file(library, out)
    window.jobs_panel.rows[handle.id].cancel_button.click()
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    assert handle.state == "cancelled"
    assert not out.exists()
    assert "nothing was written to hits.csv" in window.statusBar().currentMessage()
