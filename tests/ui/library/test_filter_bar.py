"""Range sliders and the structural-alert filter, on a real library tab."""

from __future__ import annotations

import pytest

from app.engine import InferenceEngine
from app.main_window import MainWindow
from core.settings import Settings
from resources import resource_path
from ui.library.filter_bar import SLIDER_STEPS


@pytest.fixture
def panel(qtbot):
    engine = InferenceEngine()
    engine.start()
    window = MainWindow(Settings(), engine)
    qtbot.addWidget(window)
    window.show()
    panel = window.open_library(resource_path("demo/example_library.smi"))
    qtbot.waitUntil(lambda: panel.library is not None, timeout=60_000)
    yield panel
    window.close()


def test_range_sliders_span_the_column_and_set_the_bounds(qtbot, panel):
    table = panel.library.table
    row = panel.filter_bar.add_range("mw")
    low, high = table["mw"].min(), table["mw"].max()
    assert row.low_slider.isEnabled()
    row.high_slider.setValue(SLIDER_STEPS // 2)
    middle = low + (high - low) / 2
    assert float(row.maximum.text()) == pytest.approx(middle, rel=1e-3)
    panel.filter_bar.flush()
    shown = panel.visible_table()["mw"]
    assert len(shown) == int((table["mw"] <= float(row.maximum.text())).sum())
    assert shown.max() <= middle * 1.001
    # Typing a bound moves its slider; dragging back to the end opens the bound again.
    row.minimum.setText(f"{middle:.4g}")
    row.minimum.textEdited.emit(row.minimum.text())
    assert row.low_slider.value() == pytest.approx(SLIDER_STEPS // 2, abs=2)
    row.high_slider.setValue(SLIDER_STEPS)
    assert row.maximum.text() == ""
    # The sliders never cross: pushing min past max carries max along.
    row.low_slider.setValue(SLIDER_STEPS - 10)
    assert row.high_slider.value() >= row.low_slider.value()


def test_alert_filter(qtbot, panel):
    table = panel.library.table
    valid = table[table["valid"]]
    box = panel.filter_bar.alerts_box
    box.setCurrentIndex(box.findData("none"))
    assert set(panel.visible_table()["name"]) == set(table.loc[table["alerts"] == "", "name"])
    box.setCurrentIndex(box.findData("with"))
    with_alerts = set(valid.loc[valid["alerts"] != "", "name"])
    assert with_alerts and set(panel.visible_table()["name"]) == with_alerts
    box.setCurrentIndex(box.findData("no_pains"))
    names = set(panel.visible_table()["name"])
    assert not any("PAINS" in a for a in table.loc[table["name"].isin(names), "alerts"])
    panel.filter_bar.clear()
    assert len(panel.visible_table()) == len(table)
