"""The Clinical trials panel with a real engine and the demo data lifelines ships."""

from __future__ import annotations

import pandas as pd
import pytest
from PySide6.QtCore import Qt

from app.engine import InferenceEngine
from ui.models.dataframe_model import RawValueRole
from ui.trials.panel import TrialsPanel
from ui.trials.widgets import export_plot


@pytest.fixture
def engine(qtbot):
    engine = InferenceEngine()
    engine.start()
    yield engine
    assert engine.stop(5000)


@pytest.fixture
def panel(qtbot, engine):
    widget = TrialsPanel(engine, None)
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
    assert panel.km_view.plot.getAxis("bottom").labelText == "Time (time)"
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
    assert "cannot be a number" in panel.status.text()


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
    with qtbot.waitSignal(engine.finished, timeout=30_000):
        tab.run()
    qtbot.waitUntil(lambda: tab.result is not None, timeout=5000)
    assert tab.result.n_sims == 200 and 0.5 < tab.result.prob_success < 1.0
    assert tab.looks_table()["z_bound"].round(3).tolist() == [2.797, 1.977]
    assert tab.run_button.isEnabled()
    tab.n_sims.setValue(1_000_000)
    tab.run()
    with qtbot.waitSignal(engine.cancelled, timeout=10_000):
        tab.cancel()
    assert "cancelled" in tab.summary.text()


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


class _Window:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)


def test_errors_go_to_the_window(qtbot, engine):
    window = _Window()
    panel = TrialsPanel(engine, window)
    qtbot.addWidget(panel)
    panel.analyse()  # nothing open yet
    assert window.errors == ["Open a trial table first"]
    panel.design_tab.endpoint.setCurrentIndex(1)
    panel.simulation_tab.fractions.setText("0.7, 0.4, 1")
    panel.simulation_tab.run()
    assert "increase" in window.errors[-1] and panel.simulation_tab.job_id is None
