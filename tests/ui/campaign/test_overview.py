"""The Campaign area (issue 17, part 5): six cards in the order of the flow, each saying what the
project holds or how to start, a click opening the step's area, and the report written in the
engine."""

from __future__ import annotations

import pandas as pd
import pytest

from core.campaign import AreaRecord, LibrarySummary
from core.hitlist.desirability import Criterion, DesirabilityProfile
from core.hitlist.scoring import rank_table
from ui.campaign.overview import CampaignOverview

PROFILE = DesirabilityProfile(
    name="potent", criteria=(Criterion(column="pIC50", good=8.0, bad=5.0),)
)


class Inputs:
    def __init__(self) -> None:
        self.libraries: list[LibrarySummary] = []
        self.areas: dict[str, AreaRecord] = {}

    def __call__(self):
        return self.libraries, self.areas


@pytest.fixture
def overview(qtbot, engine, make_area_context, tmp_path):
    inputs = Inputs()
    opened: list[str] = []
    widget = CampaignOverview(
        make_area_context(engine), inputs, opened.append, lambda: tmp_path / "lung.drugdesk"
    )
    qtbot.addWidget(widget)
    widget.resize(1250, 600)
    widget.show()
    return widget, inputs, opened


def test_cards_follow_the_flow_and_say_how_to_start(overview):
    widget, _inputs, _opened = overview
    titles = [card.step.title for card in widget.cards]
    assert titles == [
        "Disease data",
        "Disease genes",
        "Targets",
        "Molecules",
        "Hit list",
        "Trial design",
    ]
    assert all("Not started" in card.body.text() for card in widget.cards)
    assert "lung.drugdesk" in widget.heading.text() and "0 of 6" in widget.heading.text()


def test_a_click_opens_the_steps_area_and_says_so(qtbot, overview, recording_notifier):
    widget, _inputs, opened = overview
    widget.cards[2].open_button.click()
    assert opened == ["proteins"]
    assert recording_notifier.statuses[-1].startswith("Campaign → Proteins")


def test_refresh_counts_what_the_areas_hold(overview):
    widget, inputs, _opened = overview
    table = pd.DataFrame(
        {"name": ["a", "b"], "canonical_smiles": ["CCO", "CCN"], "valid": [True, True]}
    )
    table["pIC50"] = [6.0, 7.5]
    table = pd.concat([table, rank_table(table, PROFILE)], axis=1)
    inputs.libraries = [LibrarySummary("hits", table, PROFILE.to_dict())]
    inputs.areas = {
        "expression": AreaRecord(
            state={
                "campaign": {"n_genes_tested": 100, "n_significant": 7, "chosen_genes": ["FTL"]}
            },
            modified="2026-12-06T02:00:00+00:00",
        )
    }
    widget.refresh()
    genes = widget.cards[1]
    assert "7 of 100 genes significant" in genes.body.text() and "FTL" in genes.body.text()
    assert "hits: 2 ranked by potent" in widget.cards[4].body.text()
    assert "3 of 6 steps started" in widget.heading.text()


def test_the_report_is_written_in_the_engine(qtbot, overview, tmp_path, recording_notifier):
    widget, _inputs, _opened = overview
    target = tmp_path / "campaign.html"
    handle = widget.write_report(target)
    qtbot.waitUntil(handle.is_done, timeout=30_000)
    assert target.is_file() and "Campaign report: lung.drugdesk" in target.read_text()
    assert any("Wrote the campaign report" in s for s in recording_notifier.statuses)


def test_a_failing_report_is_one_message(qtbot, overview, tmp_path, recording_notifier):
    widget, _inputs, _opened = overview
    handle = widget.write_report(tmp_path / "missing-folder" / "campaign.html")
    qtbot.waitUntil(handle.is_done, timeout=30_000)
    assert recording_notifier.errors and "not written" in recording_notifier.errors[-1]
