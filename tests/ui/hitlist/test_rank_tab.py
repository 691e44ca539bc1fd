"""The Rank tab on its own, beside a stand-in library panel."""

from __future__ import annotations

import pytest

from core.hitlist.desirability import Criterion, DesirabilityProfile
from ui.hitlist import rank_tab as module
from ui.hitlist.forms import ERROR_STYLE
from ui.hitlist.rank_tab import RankTab

LIGHT = DesirabilityProfile("light", (Criterion("mw", good=150, bad=400),))


@pytest.fixture
def tab(qtbot, panel, engine):
    tab = RankTab(panel, engine, model_entries=lambda: [])
    qtbot.addWidget(tab)
    yield tab
    tab.jobs.cancel_all()


def test_a_profile_ranks_the_table_at_once_and_hands_the_panel_its_columns(tab, panel):
    tab.set_profile(LIGHT)
    assert tab.rerank()
    added = panel.added[-1]
    assert added["sort_by"] == "rank"
    ranks = added["frame"]["rank"]
    assert str(ranks.dtype) == "Int64" and ranks.isna().tolist() == [False] * 5 + [True]
    best = panel.library.table.loc[ranks == 1, "name"].item()
    assert best == "salicylic acid"  # the lightest: "lower is better" on molecular weight
    assert tab.rank_status.text().startswith("Ranked by 'light': 5 ranked, 1 without a score")


def test_a_profile_needing_what_the_table_lacks_asks_for_score(tab, panel):
    tab.set_profile(DesirabilityProfile("polar", (Criterion("tpsa", good=60, bad=140),)))
    assert not tab.rerank()
    assert "Press Score to compute tpsa" in tab.rank_status.text() and not panel.added


def test_editing_marks_the_profile_custom_and_the_last_criterion_stays(tab):
    tab.set_profile(LIGHT)
    tab.add_criterion()
    assert tab.preset_box.currentData() == "custom" and len(tab.profile.criteria) == 2
    tab.remove_criterion()
    tab.criteria_list.setCurrentRow(0)
    tab.remove_criterion()
    assert len(tab.profile.criteria) == 1
    assert tab.rank_status.text() == "A profile needs at least one criterion."
    assert tab.rank_status.styleSheet() == ERROR_STYLE


def test_without_models_the_list_says_where_to_train_one(tab):
    assert tab.model_list.count() == 1
    assert "train one in the Models area" in tab.model_list.item(0).text()
    assert tab.checked_models() == ()


def test_a_large_re_rank_runs_as_the_tabs_job_and_its_failure_shows_under_rank(
    qtbot, tab, monkeypatch
):
    def broken_rank(table, profile, *, progress, is_cancelled):
        raise ValueError("the mw column holds text")

    monkeypatch.setattr(module, "LARGE_TABLE", 1)
    monkeypatch.setattr(module, "rank_table", broken_rank)
    tab.set_profile(LIGHT)
    assert tab.rerank() and tab.rank_status.text() == "Ranking…"
    job = tab.jobs.running("rank")
    qtbot.waitUntil(job.is_done, timeout=30_000)
    qtbot.waitUntil(lambda: "the mw column holds text" in tab.rank_status.text(), timeout=5_000)
    assert tab.rank_status.styleSheet() == ERROR_STYLE and not tab.jobs.is_busy()


def test_score_asks_for_the_precision_chosen_in_preferences(tab, engine, monkeypatch):
    submitted = []
    monkeypatch.setattr(tab.jobs, "submit", lambda *args, **kwargs: submitted.append(args))
    monkeypatch.setattr(engine, "inference_precision", "bfloat16", raising=False)
    tab.score()
    request = submitted[-1][4]
    assert request.precision == "bfloat16"
