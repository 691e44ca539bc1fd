"""The Clinical trials area kept in a project (issue 17, part 1) and the Kaplan–Meier -> Design
link (part 3): real work on the GBSG2 demo that lifelines ships, saved with the project store,
read back and restored into a fresh panel, which shows the same table, choices, analyses, design
and simulation inputs; a file that moved is named; junk is refused line by line; ``None``
empties the area; and a round trip through the window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from core.project.areas import StoredArea
from core.project.store import ProjectState, read_project, save_project_as
from core.trials.data import load_trial_job
from core.trials.km_design import convert_time
from ui.trials.panel import START_STATUS, TrialsPanel


@pytest.fixture
def make_panel(qtbot, engine, make_area_context, recording_notifier):
    def make() -> TrialsPanel:
        panel = TrialsPanel(make_area_context(engine))
        qtbot.addWidget(panel)
        panel.resize(1400, 900)
        return panel

    return make


def _wait_analysed(qtbot, panel) -> None:
    qtbot.waitUntil(
        lambda: panel.survival is not None and panel.baseline is not None, timeout=30_000
    )
    qtbot.waitUntil(lambda: not panel.jobs.is_busy(), timeout=30_000)


def _through_project(tmp_path, snapshot, name="p.drugdesk") -> StoredArea:
    path = tmp_path / name
    save_project_as(path, ProjectState(areas={"trials": snapshot}))
    return read_project(path).areas["trials"]


def _check(panel, column: str) -> None:
    panel.covariates.findItems(column, Qt.MatchFlag.MatchExactly)[0].setCheckState(
        Qt.CheckState.Checked
    )


def _seen(panel) -> dict:
    """What the user sees of the area's choices and results."""
    return {
        "rows": panel.data_model.rowCount(),
        "roles": panel.roles(),
        "unit": panel.time_unit(),
        "covariates": panel.covariate_names(),
        "binary": panel.binary_combo.currentText(),
        "types": dict(panel.types),
        "design": panel.design_tab.inputs(),
        "answer": panel.design_tab.answer.text(),
        "simulation": panel.simulation_tab.inputs(),
        "tab": panel.tabs.currentIndex(),
    }


def test_demo_analysis_design_and_simulation_reopen_as_they_were(qtbot, make_panel, tmp_path):
    panel = make_panel()
    panel.open_demo("GBSG2")
    _wait_analysed(qtbot, panel)
    _check(panel, "age")
    panel.analyse()
    _wait_analysed(qtbot, panel)
    panel.type_column.setCurrentText("pnodes")
    panel.type_kind.setCurrentText("number")
    panel.apply_column_type()
    design = panel.design_tab
    design.endpoint.setCurrentIndex(design.endpoint.findData("survival"))
    design.hr.setValue(0.75)
    design.power.setValue(0.9)
    simulation = panel.simulation_tab
    simulation.n_sims.setValue(500)
    simulation.seed.setValue(7)
    simulation.boundary.setCurrentIndex(simulation.boundary.findData("pocock"))
    with qtbot.waitSignal(panel.state_changed, timeout=2000):
        panel.tabs.setCurrentWidget(design)

    snapshot = panel.area_state()
    campaign = snapshot.state["campaign"]
    assert campaign["datasets"] == ["GBSG2"]
    assert campaign["analyses"] == [
        "Kaplan-Meier by horTh", "Log-rank test", "Cox model adjusted for age",
        "Binary endpoint cens", "Baseline table by horTh",
    ]  # fmt: skip
    assert campaign["design"] == {
        "endpoint": "Time to event (survival)",
        "test": "Schoenfeld",
        "n_total": design.result.total,
        "power": 0.9,
        "alpha": 0.05,
        "effect": "hazard ratio 0.75, control median 12 months",
    }
    assert snapshot.tables["data"].shape == (686, 10)
    assert snapshot.state["source"] == {"demo": "GBSG2"}

    stored = _through_project(tmp_path, snapshot)
    again = make_panel()
    changes = []
    again.state_changed.connect(lambda: changes.append(1))
    assert again.restore_area_state(stored) == []
    assert _seen(again) == _seen(panel)
    assert again.frame["pnodes"].dtype == np.float64
    assert again.area_state().state["campaign"] == campaign  # while the analyses are redrawn
    _wait_analysed(qtbot, again)
    pd.testing.assert_frame_equal(again.median_model.frame(), panel.median_model.frame())
    assert again.cox_model.frame()["term"].tolist() == ["horTh=yes", "age"]
    assert again.baseline_model.frame().equals(panel.baseline_model.frame())
    assert [label.text for _, label in again.km_view.legend.items] == [
        label.text for _, label in panel.km_view.legend.items
    ]
    assert changes == []  # restoring, and redrawing, is not a change to save
    assert again.area_state().state == snapshot.state


def test_a_simulation_that_was_run_is_run_again_with_its_seed(qtbot, make_panel, tmp_path):
    panel = make_panel()
    simulation = panel.simulation_tab
    simulation.n_sims.setValue(300)
    simulation.seed.setValue(11)
    handle = simulation.run()
    qtbot.waitUntil(handle.is_done, timeout=60_000)
    assert simulation.result is not None
    snapshot = panel.area_state()
    assert snapshot.state["simulated"] is True

    again = make_panel()
    assert again.restore_area_state(_through_project(tmp_path, snapshot)) == []
    assert again.area_state().state["simulated"] is True  # while it runs
    qtbot.waitUntil(lambda: again.simulation_tab.result is not None, timeout=60_000)
    assert again.simulation_tab.summary.text() == simulation.summary.text()
    assert again.simulation_tab.result.summary() == simulation.result.summary()


def test_a_table_file_that_moved_is_named_and_the_projects_copy_is_shown(
    qtbot, make_panel, tmp_path
):
    path = tmp_path / "my_trial.csv"
    load_trial_job("GBSG2").frame.head(300).to_csv(path, index=False)
    panel = make_panel()
    panel.open_path(path)
    _wait_analysed(qtbot, panel)
    snapshot = panel.area_state()
    assert snapshot.state["source"]["reference"]["path"] == str(path.resolve())
    assert snapshot.state["campaign"]["datasets"] == ["my_trial.csv"]
    stored = _through_project(tmp_path, snapshot)

    # The file is there: without the project's copy of the table, it is read again.
    bare = StoredArea(stored.name, stored.format, stored.modified, stored.state, {})
    from_file = make_panel()
    assert from_file.restore_area_state(bare) == []
    _wait_analysed(qtbot, from_file)
    assert from_file.data_model.rowCount() == 300 and from_file.source_name == "my_trial.csv"

    path.unlink()
    again = make_panel()
    problems = again.restore_area_state(stored)
    assert problems == [
        f"{path.resolve()} is no longer there: the table is shown as the project saved it"
    ]
    assert again.data_model.rowCount() == 300
    _wait_analysed(qtbot, again)
    assert again.area_state().state["source"] == snapshot.state["source"]
    # Neither the file nor a copy: one line, an empty area.
    lost = make_panel()
    assert lost.restore_area_state(bare) == [
        f"{path.resolve()} is no longer there: the trial table is not restored"
    ]
    assert lost.frame is None and not lost.jobs.is_busy()


def test_junk_gives_lines_and_none_empties_the_area(qtbot, make_panel):
    panel = make_panel()
    panel.open_demo("GBSG2")
    _wait_analysed(qtbot, panel)
    junk = StoredArea(
        "trials",
        1,
        "",
        {
            "source": {"reference": {"path": 5}},
            "types": {"age": "colour", "nope": "number"},
            "roles": {"time": "no such column", "event": 3},
            "unit": 12,
            "covariates": "age",
            "design": {"endpoint": "x", "values": {"hr": "big", "alpha": float("inf")}},
            "simulation": {"values": {"looks": 2.5, "seed": -1}, "fractions": 7},
            "analysed": True,
            "tab": "Design",
            "campaign": 3,
        },
        {"data": pd.DataFrame({"age": [50, 60], "cens": [1, 0]})},
    )
    problems = panel.restore_area_state(junk)
    assert problems == [
        "the design's hr is not a number ('big')",
        "the design's alpha is out of range (inf)",
        "the simulation's looks is out of range (2.5)",
        "the simulation's seed is out of range (-1)",
        "the project names no file: the table is shown as the project saved it",
        "the time column 'no such column' is not one the table offers",
    ]
    assert panel.data_model.rowCount() == 2 and panel.survival is None
    for stored in (
        StoredArea("trials", 1, "", ["a", "list"], {"data": "not a table"}),  # type: ignore[arg-type]
        StoredArea("trials", 1, "", {"source": {"demo": "NOPE"}, "design": 4}, {}),
    ):
        lines = panel.restore_area_state(stored)
        assert all(isinstance(line, str) and line for line in lines)

    panel.open_demo("GBSG2")
    _wait_analysed(qtbot, panel)
    assert panel.restore_area_state(None) == []
    assert panel.frame is None and panel.survival is None and panel.data_model.rowCount() == 0
    assert panel.time_combo.count() == 0 and panel.median_model.rowCount() == 0
    assert panel.status.text() == START_STATUS and not panel.use_in_design_button.isEnabled()
    empty = panel.area_state()
    assert empty.tables == {}
    assert empty.state["campaign"] == {"datasets": [], "analyses": [], "design": None}
    assert empty.state["design"]["edited"] is False


# ----------------------------------------------------------------------------------------------
# Kaplan–Meier -> Design


def test_use_in_design_fills_the_design_from_the_curves(qtbot, make_panel, recording_notifier):
    panel = make_panel()
    panel.open_demo("GBSG2")
    _wait_analysed(qtbot, panel)
    design = panel.design_tab
    assert design.time_unit() == "months" and design.accrual.value() == 24.0
    with qtbot.waitSignal(panel.state_changed, timeout=2000):
        message = panel.use_in_design()
    assert panel.tabs.currentWidget() is design
    assert design.endpoint.currentData() == "survival" and design.time_unit() == "days"
    assert design.median.value() == 1528.0  # horTh=no, the control arm, in days
    assert design.event_rate.value() == round(299 / 686, 3)
    # No entry dates: accrual and follow-up keep their length, now said in days.
    assert design.accrual.value() == pytest.approx(convert_time(24, "months", "days"), abs=0.01)
    assert design.follow_up.value() == pytest.approx(365.25, abs=0.01)
    assert message == (
        "Design filled from Kaplan–Meier: control median 1528 days (no); event rate 0.436 "
        "(299 events / 686 patients); accrual left at 730.5 days: the table has no entry dates."
    )
    assert panel.status.text() == message and recording_notifier.statuses[-1] == message
    result = design.result
    assert result.details["p_event"] == 0.436
    assert "control median 1528 days" in design.answer.text()
    assert "an event rate of 43.6% (given)" in design.answer.text()
    assert result.total == pytest.approx(result.events / 0.436, abs=2)
    assert design.edited and panel.area_state().state["campaign"]["design"]["effect"] == (
        "hazard ratio 0.7, control median 1528 days"
    )


def test_entry_dates_give_the_accrual_period(qtbot, make_panel, tmp_path):
    frame = load_trial_job("GBSG2").frame.head(200).copy()
    start = pd.Timestamp("2019-01-01")
    frame["randomisation_date"] = [
        (start + pd.Timedelta(days=int(d))).strftime("%Y-%m-%d") for d in np.linspace(0, 547, 200)
    ]
    path = tmp_path / "dated_trial.csv"
    frame.to_csv(path, index=False)
    panel = make_panel()
    panel.open_path(path)
    _wait_analysed(qtbot, panel)
    panel.set_time_unit("days")  # "time" names no unit: the user says it
    message = panel.use_in_design()
    assert panel.design_tab.accrual.value() == 547.0
    assert "accrual 547 days (first to last randomisation_date)" in message


def test_use_in_design_without_a_result_says_so(make_panel, recording_notifier):
    panel = make_panel()
    assert panel.use_in_design() is None
    assert recording_notifier.errors == [
        "Analyse a table first: the design takes the Kaplan–Meier result"
    ]


# ----------------------------------------------------------------------------------------------
# Through the window


def test_the_window_saves_and_reopens_the_area(qtbot, make_window, tmp_path):
    window = make_window()
    path = tmp_path / "campaign.drugdesk"
    with qtbot.waitSignal(window.project.project_changed, timeout=30_000):
        assert window.project.save_as(path) is not None
    area = window.show_area("trials")
    area.open_demo("GBSG2")
    _wait_analysed(qtbot, area)
    area.use_in_design()
    assert window.project.is_dirty()
    assert window.project.flush()
    kept = read_project(path).areas["trials"]
    assert (
        kept.state["campaign"]["design"]["effect"] == "hazard ratio 0.7, control median 1528 days"
    )

    other = make_window()
    with qtbot.waitSignal(other.project.project_changed, timeout=30_000):
        other.project.open_project(path)
    qtbot.waitUntil(lambda: other.project.path == path, timeout=30_000)
    again = other.show_area("trials")
    assert again is not area and _seen(again) == _seen(area)
    _wait_analysed(qtbot, again)
    assert again.median_model.frame()["median"].tolist() == [1528.0, 2018.0]
    assert not other.project.is_dirty()
