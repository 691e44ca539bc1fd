"""File > Compute properties on the cluster… (issue 18): the job runs on the scheduler named in
Preferences, shows in the Jobs panel, and writes the same table as ``drugdesk props`` here; with
no scheduler set, or the input as output, the user is told and nothing runs."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from app.cli import main


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

    out = tmp_path / "out.csv"
    handle = window.cluster.compute_props(source, out)
    assert handle.title == "Properties of lib.smi on local:1"
    qtbot.waitUntil(handle.is_done, timeout=120_000)
    assert handle.state == "finished", handle.error
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(here))
    assert "Written to out.csv by 1 workers" in window.notifications.text()
