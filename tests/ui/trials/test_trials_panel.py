"""The Clinical trials panel with a real engine and the demo data lifelines ships."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from app.engine import InferenceEngine
from core.jobs import LONG_LANE, RUNNING, check_cancelled
from core.trials.data import load_trial_job
from ui.tables.dataframe_model import RawValueRole
from ui.trials.panel import TrialsPanel
from ui.trials.widgets import export_plot


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    assert engine.stop(5000)


@pytest.fixture
def panel(qtbot, engine, make_area_context):
    widget = TrialsPanel(make_area_context(engine))
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    return widget


def _open_gbsg2(panel, qtbot) -> None:
    panel.open_demo("GBSG2")
    qtbot.waitUntil(
        lambda: panel.survival is not None and panel.baseline is not None, timeout=20_000
    )


def test_demo_opens_detects_columns_and_analyses(panel, qtbot):
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())] == [
        "Data", "Baseline", "Survival", "Design", "Simulation",
    ]  # fmt: skip
    _open_gbsg2(panel, qtbot)
    assert (panel.time_combo.currentText(), panel.event_combo.currentText()) == ("time", "cens")
    assert panel.group_combo.currentText() == "horTh"
    assert panel.data_model.rowCount() == 686
    assert panel.baseline_model.frame().iloc[0]["Overall"] == "686"
    # KM plot: one legend entry per arm, axis labels, numbers at risk under it.
    legend = [label.text for _, label in panel.km_view.legend.items]
    assert len(legend) == 2 and legend[0].startswith("horTh=no (n=440")
    assert panel.km_view.plot.getAxis("left").labelText == "Survival probability"
    assert panel.km_view.plot.getAxis("bottom").labelText == "Follow-up time (days)"
    texts = panel.km_view.at_risk_texts()
    assert "440" in texts and "246" in texts
    medians = panel.median_model.frame()
    assert medians["median"].tolist() == [1528.0, 2018.0]
    assert panel.cox_model.frame()["term"].tolist() == ["horTh=yes"]
    assert set(panel.binary_model.frame()["measure"]) == {
        "risk difference", "risk ratio", "odds ratio",
    }  # fmt: skip


def test_covariates_enter_the_cox_model(panel, qtbot):
    _open_gbsg2(panel, qtbot)
    items = panel.covariates.findItems("age", Qt.MatchFlag.MatchExactly)
    items[0].setCheckState(Qt.CheckState.Checked)
    panel.survival = None
    panel.run_survival()
    qtbot.waitUntil(lambda: panel.survival is not None, timeout=20_000)
    assert panel.survival.cox["term"].tolist() == ["horTh=yes", "age"]


def test_cells_are_editable_and_typed(panel, qtbot):
    _open_gbsg2(panel, qtbot)
    model = panel.data_model
    column = model.column_index("age")
    index = model.index(0, column)
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(index, "71")
    assert panel.frame["age"].iloc[0] == 71
    assert model.data(model.index(0, column), RawValueRole) == 71
    errors = []
    model.edit_failed.connect(errors.append)
    assert not model.setData(model.index(0, column), "old")
    assert errors and "age" in errors[0]
    assert "integer" in model.headerData(column, Qt.Orientation.Horizontal)
    panel.type_column.setCurrentText("age")
    panel.type_kind.setCurrentText("number")
    panel.apply_column_type()
    assert panel.frame["age"].dtype == float and panel.types["age"] == "number"
    panel.type_column.setCurrentText("horTh")
    panel.type_kind.setCurrentText("number")
    panel.apply_column_type()
    assert "cannot be a number" in panel.notifier.errors[-1]


def test_bad_table_shows_a_clear_message(panel, qtbot, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"time": [1, -5, 3, 4], "status": [1, 0, 1, 1], "arm": list("abab")}).to_csv(
        path, index=False
    )
    panel.open_path(path)
    qtbot.waitUntil(lambda: "negative" in panel.status.text(), timeout=20_000)
    assert panel.survival is None


def test_design_tab_answers_and_refuses_impossible_designs(panel):
    tab = panel.design_tab
    assert tab.result.n_per_arm == (93, 93)
    assert "186 patients" in tab.answer.text()
    tab.endpoint.setCurrentIndex(2)
    assert tab.result.endpoint == "survival" and tab.result.events == 247
    assert tab.curve_table()["power"].between(0, 1).all()
    tab.power.setValue(1.0)
    assert tab.result is None and "power" in tab.answer.text()


def test_simulation_runs_in_engine_and_can_be_cancelled(panel, qtbot, engine):
    tab = panel.simulation_tab
    tab.n_sims.setValue(200)
    job = tab.run()
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert tab.job is None and tab.result is not None
    assert tab.result.n_sims == 200 and 0.5 < tab.result.prob_success < 1.0
    assert tab.looks_table()["z_bound"].round(3).tolist() == [2.797, 1.977]
    assert tab.run_button.isEnabled()
    tab.n_sims.setValue(1_000_000)
    job = tab.run()
    with qtbot.waitSignal(job.cancelled, timeout=10_000):
        tab.cancel()
    assert "cancelled" in tab.summary.text() and tab.run_button.isEnabled()


def test_plots_and_tables_export(panel, qtbot, tmp_path):
    from core.trials.data import export_table

    _open_gbsg2(panel, qtbot)
    png = export_plot(panel.km_view.ci, tmp_path / "km.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = export_plot(panel.km_view.ci, tmp_path / "km.svg")
    assert "<svg" in svg.read_text()
    table = panel.survival_table()
    assert {"km_median", "at_risk"} <= set(table["section"])
    written = export_table(table, tmp_path / "survival.xlsx")
    assert pd.read_excel(written)["section"].iloc[0] == "km_median"


def test_errors_go_to_the_notifier(qtbot, engine, make_area_context):
    panel = TrialsPanel(make_area_context(engine))
    qtbot.addWidget(panel)
    panel.analyse()  # nothing open yet
    assert panel.notifier.errors == ["Open a trial table first"]
    panel.design_tab.endpoint.setCurrentIndex(1)
    panel.simulation_tab.fractions.setText("0.7, 0.4, 1")
    panel.simulation_tab.run()
    assert "increase" in panel.notifier.errors[-1] and panel.simulation_tab.job is None


# ----------------------------------------------------------------------------------------------
# Issue 13: units on the axes, a readable design, a forest plot, and the screen budget


def test_time_unit_comes_from_the_data_and_names_the_axis(panel, qtbot, tmp_path):
    from core.trials.data import load_trial_job

    _open_gbsg2(panel, qtbot)  # GBSG2's description: "recurrence-free survival in days"
    assert panel.time_unit() == "days"
    legend = [label.text for _, label in panel.km_view.legend.items]
    assert legend[0].endswith("median 1528 days)")
    panel.unit_combo.setCurrentIndex(panel.unit_combo.findData("months"))  # the user corrects it
    assert panel.km_view.plot.getAxis("bottom").labelText == "Follow-up time (months)"
    assert "median 1528 months" in panel.km_view.legend.items[0][1].text

    panel.set_table(load_trial_job("ACTG175"), analyse=False)  # its time column is "days"
    assert panel.time_unit() == "days"
    path = tmp_path / "trial.csv"
    frame = pd.DataFrame({"os_months": [3, 5, 8, 13], "death": [1, 0, 1, 1], "arm": list("abab")})
    frame.to_csv(path, index=False)
    panel.set_table(load_trial_job(str(path)), analyse=False)
    assert panel.time_unit() == "months"
    frame.rename(columns={"os_months": "time"}).to_csv(path, index=False)
    panel.set_table(load_trial_job(str(path)), analyse=False)
    assert panel.time_unit() == ""  # nothing says: the axis says so instead of guessing
    assert panel.km_view.plot.getAxis("bottom").labelText == "Follow-up time (unit not given)"


def test_guess_time_unit():
    from ui.trials.units import guess_time_unit

    assert guess_time_unit("days") == "days"
    assert guess_time_unit("OS_Months") == "months"
    assert guess_time_unit("time", "recurrence-free survival in days (time, cens)") == "days"
    assert guess_time_unit("followup_yrs") == ""  # abbreviations are not guessed
    assert guess_time_unit("weekday") == ""  # a word containing "day" is not a unit


def test_cox_forest_plot_on_a_log_axis(panel, qtbot):
    import math

    _open_gbsg2(panel, qtbot)
    forest = panel.forest
    assert forest.terms == ["horTh=yes"]
    assert forest.getAxis("bottom").labelText == "Hazard ratio (95% CI)"
    items = panel.covariates.findItems("age", Qt.MatchFlag.MatchExactly)
    items[0].setCheckState(Qt.CheckState.Checked)
    panel.survival = None
    panel.run_survival()
    qtbot.waitUntil(lambda: panel.survival is not None, timeout=20_000)
    cox = panel.survival.cox
    assert forest.terms == ["horTh=yes", "age"]
    hr, lower, upper = cox.loc[0, ["hr", "ci_lower", "ci_upper"]]
    assert forest.interval_texts[0] == f"{hr:.2f} ({lower:.2f}–{upper:.2f})"
    assert hr < 1 < forest.table["hr"].iloc[1] + 0.1  # hormone therapy lowers the hazard
    assert "1" in forest.x_ticks and "0.5" in forest.x_ticks and "2" in forest.x_ticks
    # The square of the first term sits at log10(HR), on the top row; the reference line at 1.
    squares = [
        item for item in forest.getPlotItem().listDataItems() if item.opts.get("symbol") == "s"
    ]
    x, y = squares[0].getData()
    assert x[0] == pytest.approx(math.log10(hr)) and y[0] == 1
    lines = [i for i in forest.getPlotItem().items if type(i).__name__ == "InfiniteLine"]
    assert [line.value() for line in lines] == [0.0]
    assert "(x" not in forest.getAxis("bottom").labelString()  # no "(x0.001)" rescaling


def _design_values(tab) -> dict[str, str]:
    table = tab.table_model.frame()
    return dict(zip(table["Quantity"], table["Value"], strict=True))


def test_design_reads_as_a_sentence_and_a_table(panel):
    tab = panel.design_tab
    text = tab.answer.text()
    assert text.startswith("To detect a proportion of 30% in arm 2 (experimental) against 50%")
    assert "enrol <b>186 patients</b>: 93 in arm 1 and 93 in arm 2." in text
    assert "{" not in text  # no JSON
    assert _design_values(tab)["Patients in total"] == "186"
    tab.endpoint.setCurrentIndex(2)  # time to event, months by default
    text = tab.answer.text()
    assert "a hazard ratio of 0.7 (control median 12 months; accrual over 24 months" in text
    assert "needs <b>247 events</b>" in text and "<b>370 patients</b>" in text
    values = _design_values(tab)
    assert values["Events needed"] == "247" and values["Control median"] == "12 months"
    tab.unit.setCurrentIndex(tab.unit.findData("weeks"))
    assert tab.median.suffix() == " weeks" and "control median 12 weeks" in tab.answer.text()
    tab.simulate_button.click()  # the simulation takes the design in the same unit
    simulation = panel.simulation_tab
    assert simulation.time_unit() == "weeks"
    assert simulation.form.labelForField(simulation.accrual_rate).text() == (
        "Accrual rate (patients per week)"
    )
    assert simulation.duration_plot.getAxis("bottom").labelText == "Trial duration (weeks)"


def test_an_events_only_design_reads_without_patients():
    from core.trials.design import DesignResult
    from ui.trials.design_tab import design_sentence, design_table

    result = DesignResult(
        "survival", None, None, 0.05, 0.8, 1.0, "schoenfeld", events=247, details={"hr": 0.7}
    )
    text = design_sentence(result)
    assert text == (
        "To detect a hazard ratio of 0.7 with 80% power at a two-sided α of 0.05, the trial "
        "needs <b>247 events</b>."
    )
    assert "Patients in total" not in set(design_table(result)["Quantity"])


def test_panel_fits_the_screen_budget(panel, qtbot):
    # 1280×720 logical pixels beside the sidebar and the Molecule dock: at most 800×540, with
    # every tab, a long status line and a Cox model of many covariates.
    def fits():
        hint = panel.minimumSizeHint()
        return hint.width() <= 800 and hint.height() <= 540

    panel.show()  # measured as laid out on screen, every tab in turn
    qtbot.waitExposed(panel)
    assert fits()
    _open_gbsg2(panel, qtbot)
    for i in range(panel.covariates.count()):
        panel.covariates.item(i).setCheckState(Qt.CheckState.Checked)
    panel.survival = None
    panel.run_survival()
    qtbot.waitUntil(lambda: panel.survival is not None, timeout=20_000)
    assert len(panel.forest.terms) == 9  # the arm and 8 terms of 7 covariates
    # The forest plot was given room for its rows (the curves keep at least half).
    forest_height = panel.plots_splitter.sizes()[1]
    assert forest_height >= min(panel.forest.preferred_height(), panel.km_view.height()) - 2
    panel._set_status("a_very_long_file_name_from_a_deep_folder_" * 6 + ".csv: 686 patients")
    for index in range(panel.tabs.count()):
        panel.tabs.setCurrentIndex(index)
        assert fits(), panel.tabs.tabText(index)
    panel.design_tab.endpoint.setCurrentIndex(2)
    assert fits()


# ----------------------------------------------------------------------------------------------
# Issue 16: the panel and its Simulation tab listen to their own job handles only


def _another_areas_failure(*, progress, is_cancelled):
    raise ValueError("another area's file is broken")


def _gated(real, release):
    def job(*args, progress=None, is_cancelled=None, **kwargs):
        while not release.wait(0.01):
            check_cancelled(is_cancelled)
        return real(*args, progress=progress, is_cancelled=is_cancelled, **kwargs)

    return job


def _jobs_of_another_area(engine, qtbot) -> None:
    """A trial table read for another area (it finishes first), then a job that fails."""
    other = engine.submit(load_trial_job, "ACTG175", title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(other.finished, timeout=20_000):
        pass
    broken = engine.submit(_another_areas_failure, title="Other area", lane=LONG_LANE)
    with qtbot.waitSignal(broken.failed, timeout=20_000):
        pass


def test_jobs_of_other_areas_leave_the_panel_alone(qtbot, engine, make_area_context, monkeypatch):
    import ui.trials.panel as trials_panel

    release = threading.Event()
    monkeypatch.setattr(trials_panel, "load_trial_job", _gated(load_trial_job, release))
    panel = TrialsPanel(make_area_context(engine))
    qtbot.addWidget(panel)
    own = panel.open_demo("GBSG2")
    try:
        _jobs_of_another_area(engine, qtbot)
        assert panel.frame is None and panel.notifier.errors == []
        assert panel.status.text() == "Reading demo GBSG2…"
    finally:
        release.set()
    with qtbot.waitSignal(own.finished, timeout=20_000):
        pass
    assert panel.source_name == "GBSG2" and len(panel.frame) == 686


def test_jobs_of_other_areas_leave_the_simulation_alone(
    qtbot, engine, make_area_context, monkeypatch
):
    import ui.trials.simulation_tab as simulation_tab

    release = threading.Event()
    real = simulation_tab.simulate_trials
    monkeypatch.setattr(simulation_tab, "simulate_trials", _gated(real, release))
    panel = TrialsPanel(make_area_context(engine))
    qtbot.addWidget(panel)
    tab = panel.simulation_tab
    tab.n_sims.setValue(200)
    own = tab.run()
    try:
        _jobs_of_another_area(engine, qtbot)
        assert tab.job is own and tab.result is None and panel.notifier.errors == []
        assert tab.summary.text() == "Simulating…" and not tab.run_button.isEnabled()
    finally:
        release.set()
    with qtbot.waitSignal(own.finished, timeout=30_000):
        pass
    assert tab.result.n_sims == 200 and tab.run_button.isEnabled()


def test_a_superseded_simulation_is_dropped_quietly(panel, qtbot, monkeypatch):
    import ui.trials.simulation_tab as simulation_tab

    release = threading.Event()
    real = simulation_tab.simulate_trials
    monkeypatch.setattr(simulation_tab, "simulate_trials", _gated(real, release))
    tab = panel.simulation_tab
    tab.n_sims.setValue(100)
    first = tab.run()
    qtbot.waitUntil(lambda: first.state == RUNNING, timeout=10_000)
    tab.n_sims.setValue(200)
    latest = tab.run()  # the engine cancels the first (same key)
    with qtbot.waitSignal(first.cancelled, timeout=10_000):
        pass
    assert tab.job is latest and tab.summary.text() == "Simulating…"
    release.set()
    with qtbot.waitSignal(latest.finished, timeout=30_000):
        pass
    assert tab.result.n_sims == 200
