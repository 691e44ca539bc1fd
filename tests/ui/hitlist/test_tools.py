"""Hit-list tools on a real library tab: rank, re-rank live, search, cluster, chart links."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from core.hitlist.desirability import Criterion, DesirabilityProfile, save_profile
from core.jobs import LONG_LANE
from ui.hitlist.tools import HitListTools


@pytest.fixture
def setup(main_window, example_panel):
    tools = example_panel.side_panel
    assert isinstance(tools, HitListTools)
    return main_window, example_panel, tools


def finished(qtbot, handle):
    """Wait until the panel's job ``handle`` has finished (and the panel has shown its result)."""
    qtbot.waitUntil(handle.is_done, timeout=60_000)
    assert handle.state == "finished", handle.error


def test_score_ranks_and_sorts_the_table(qtbot, setup):
    _window, panel, tools = setup
    finished(qtbot, tools.score())
    table = panel.library.table
    assert {"score", "rank", "d_mw"} <= set(table.columns)
    shown = panel.visible_table()
    ranks = shown["rank"].dropna().astype(int).tolist()
    assert ranks == list(range(1, len(ranks) + 1))  # sorted, best first
    assert shown["rank"].isna().sum() == 4  # 2 invalid + 2 repeats, listed last
    assert "Ranked" in tools.rank_status.text()


def test_profile_change_reranks_without_a_job(qtbot, setup):
    _window, panel, tools = setup
    tools.set_profile(DesirabilityProfile("light", (Criterion("mw", good=150, bad=400),)))
    assert tools.rerank()
    shown = panel.visible_table()
    assert shown["mw"].iloc[0] == pytest.approx(shown.loc[shown["rank"].notna(), "mw"].min())
    # Editing a criterion in the form re-ranks after a short pause.
    tools.rank_tab.criteria_list.setCurrentRow(0)
    tools.rank_tab.editor.good.setValue(400)
    tools.rank_tab.editor.bad.setValue(150)  # now heavier is better
    qtbot.waitUntil(
        lambda: (
            panel.visible_table()["mw"].iloc[0]
            == pytest.approx(panel.library.table.loc[panel.library.table["valid"], "mw"].max())
        ),
        timeout=5000,
    )
    assert tools.preset_box.currentData() == "custom"


def test_cns_needs_a_job_for_pka_then_ranks(qtbot, setup):
    _window, panel, tools = setup
    tools.preset_box.setCurrentIndex(tools.preset_box.findData("cns"))
    qtbot.waitUntil(lambda: "Press Score" in tools.rank_status.text(), timeout=3000)
    finished(qtbot, tools.score())
    assert "basic_pka" in panel.library.table.columns


def test_profile_files_and_bad_json(qtbot, setup, tmp_path):
    _window, _panel, tools = setup
    assert tools.save_profile_file(tmp_path / "p.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert not tools.load_profile_file(bad)
    assert "not valid JSON" in tools.rank_status.text()
    good = tmp_path / "good.json"
    save_profile(DesirabilityProfile("mine", (Criterion("qed", good=0.8, bad=0.3),)), good)
    assert tools.load_profile_file(good)
    assert tools.profile.name == "mine" and tools.rank_tab.criteria_list.count() == 1


def test_similarity_and_substructure_searches_narrow_the_table(qtbot, setup):
    _window, panel, tools = setup
    tools.find_tab.query_edit.setText("CC(=O)Oc1ccccc1C(=O)O")
    tools.find_tab.top_k.setValue(3)
    tools.similarity_search()
    qtbot.waitUntil(lambda: "similarity" in panel.library.table.columns, timeout=60_000)
    shown = panel.visible_table()
    assert len(shown) == 3 and shown["name"].iloc[0] == "aspirin"
    assert shown["similarity"].iloc[0] == 1.0
    tools.find_tab.smarts_edit.setText("C(=O)[OH]")
    tools.substructure_search()
    qtbot.waitUntil(lambda: "Contains" in panel.filter_bar.search_label.text(), timeout=60_000)
    names = set(panel.visible_table()["name"])
    assert {"aspirin", "ibuprofen"} <= names and "caffeine" not in names
    tools.find_tab.smarts_edit.setText("c1ccc(")
    tools.substructure_search()
    assert "not a valid SMARTS" in tools.find_tab.find_status.text()
    panel.filter_bar.clear_row_mask()
    assert len(panel.visible_table()) == panel.model.total_rows()


def test_cluster_scaffolds_and_pick(qtbot, setup):
    _window, panel, tools = setup
    tools.cluster()
    qtbot.waitUntil(lambda: "cluster" in panel.library.table.columns, timeout=60_000)
    table = panel.library.table
    assert table.loc[table["valid"], "cluster"].notna().all()
    tools.scaffolds()
    qtbot.waitUntil(lambda: "scaffold" in panel.library.table.columns, timeout=60_000)
    tools.find_tab.pick_count.setValue(5)
    tools.diverse_pick()
    qtbot.waitUntil(lambda: "pick_order" in panel.library.table.columns, timeout=60_000)
    assert len(panel.visible_table()) == 5


def test_chart_and_table_selection_are_linked(qtbot, setup):
    _window, panel, tools = setup
    chart = tools.chart
    assert len(chart._positions) == 0  # not drawn while hidden
    tools.setCurrentWidget(chart)
    qtbot.waitUntil(lambda: len(chart._positions) == panel.library.n_valid, timeout=5000)

    class Point:  # what pyqtgraph hands to a click handler
        def __init__(self, index):
            self._index = index

        def index(self):
            return self._index

    chart._on_clicked(None, [Point(3)])
    assert list(panel.selected_positions()) == [chart._positions[3]]
    panel.select_positions([1, 2])
    assert len(chart.selected.data) == 2


def test_large_tables_rerank_in_the_engine(qtbot, setup, monkeypatch):
    import ui.hitlist.rank_tab as module

    _window, panel, tools = setup
    monkeypatch.setattr(module, "LARGE_TABLE", 10)
    assert tools.rerank()
    assert "Ranking" in tools.rank_status.text()
    qtbot.waitUntil(lambda: "Ranked by" in tools.rank_status.text(), timeout=30_000)
    assert "rank" in panel.library.table.columns


def _another_areas_ranking(*, progress, is_cancelled):
    """A job of another area whose result looks like a ranking of this library."""
    return pd.DataFrame({"score": [1.0], "rank": [1]})


def _another_areas_failure(*, progress, is_cancelled):
    raise ValueError("another area's file is broken")


def test_the_tools_hear_their_own_jobs_only(qtbot, setup, monkeypatch):
    import ui.hitlist.rank_tab as module

    window, panel, tools = setup
    release = threading.Event()
    real_score = module.score_library

    def held_score(*args, model_cache=None, **kwargs):
        assert release.wait(30)
        return real_score(*args, model_cache=model_cache, **kwargs)

    monkeypatch.setattr(module, "score_library", held_score)
    find_text = tools.find_tab.find_status.text()
    try:
        job = tools.score()
        # Two jobs of other areas end while the score waits: one with a result, one failing.
        other = window.engine.submit(_another_areas_ranking, title="Other", lane=LONG_LANE)
        broken = window.engine.submit(_another_areas_failure, title="Broken", lane=LONG_LANE)
        qtbot.waitUntil(lambda: other.is_done() and broken.is_done(), timeout=10_000)
        assert other.state == "finished" and broken.state == "failed"
        assert tools.rank_status.text() == "Scoring…"
        assert tools.find_tab.find_status.text() == find_text
        assert not tools.score_button.isEnabled() and tools.is_busy()
        assert "rank" not in panel.library.table.columns
    finally:
        release.set()
    finished(qtbot, job)
    assert "Ranked" in tools.rank_status.text() and tools.score_button.isEnabled()
    assert not tools.is_busy()


def test_a_superseded_job_is_neither_shown_nor_reported_cancelled(qtbot, setup, monkeypatch):
    import ui.hitlist.rank_tab as module

    _window, _panel, tools = setup
    monkeypatch.setattr(module, "LARGE_TABLE", 10)  # re-rank in the engine
    release = threading.Event()
    real_rank = module.rank_table

    def held_rank(table, profile, **job):
        assert release.wait(30)
        return real_rank(table, profile, **job)

    monkeypatch.setattr(module, "rank_table", held_rank)
    said = []
    monkeypatch.setattr(
        module,
        "set_status",
        lambda label, text, error=False: said.append(text) or label.setText(text),
    )
    try:
        assert tools.rerank()
        first = tools.rank_tab.jobs.running("rank")
        assert tools.rerank()  # supersedes the first, running or still queued
        second = tools.rank_tab.jobs.running("rank")
        assert second is not first
    finally:
        release.set()
    qtbot.waitUntil(lambda: first.is_done() and second.is_done(), timeout=30_000)
    assert first.state == "cancelled" and second.state == "finished"
    assert not any("Cancelled" in text for text in said)
    assert "Ranked by" in tools.rank_status.text() and not tools.is_busy()


def test_closing_the_tools_cancels_their_jobs_and_ignores_them(qtbot, setup, monkeypatch):
    import ui.hitlist.find_tab as module

    _window, _panel, tools = setup
    release = threading.Event()

    def held_scaffolds(smiles, *, progress, is_cancelled):
        assert release.wait(30)
        return [""] * len(smiles)

    monkeypatch.setattr(module, "scaffold_groups", held_scaffolds)
    try:
        tools.scaffolds()
        job = tools.find_tab.jobs.running("scaffold")
        assert tools.find_tab.find_status.text() == "Finding scaffolds…"
        tools.shutdown()
        assert not tools.is_busy()
    finally:
        release.set()
    qtbot.waitUntil(job.is_done, timeout=10_000)
    assert job.state == "cancelled"
    assert (
        tools.find_tab.find_status.text() == "Finding scaffolds…"
    )  # nothing reported after closing


def test_admet_tab_lists_endpoints_of_the_current_row(qtbot, setup):
    pytest.importorskip("admet_ai")
    _window, panel, tools = setup
    from core.hitlist.admet import CATEGORIES

    panel.select_positions([0])
    tools.setCurrentWidget(tools.admet_view)
    view = tools.admet_view
    assert "physicochemical properties only" in view.title.text()
    tools.rank_tab.admet_box.setChecked(True)
    finished(qtbot, tools.score())
    assert "admet_hERG" in panel.library.table.columns
    # The open tab shows the new values of the current row at once.
    assert len(view.endpoint_items()) == 41 + 6  # the models and the six RDKit properties
    groups = [view.tree.topLevelItem(i).text(0) for i in range(view.tree.topLevelItemCount())]
    assert groups == list(CATEGORIES)
    rows = {item.text(0): item for item in view.endpoint_items()}
    absorption = rows["Human Intestinal Absorption"]
    assert absorption.parent().text(0) == "Absorption"
    tip = absorption.toolTip(0)
    assert "probability" in tip and "AUROC 0.99" in tip and "578 molecules" in tip
    assert "R² -1.21" in rows["Volume of Distribution at Steady State"].toolTip(0)
    assert "weak model" in rows["Volume of Distribution at Steady State"].toolTip(0)
