"""Range sliders and the structural-alert filter, on a real library tab."""

from __future__ import annotations

import pytest

from ui.library.filter_bar import SLIDER_STEPS


@pytest.fixture
def panel(example_panel):
    return example_panel


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


def test_view_state_round_trip_and_what_cannot_be_restored(qtbot, panel):
    bar = panel.filter_bar
    emitted = []
    bar.filter_changed.connect(emitted.append)
    state = {
        "text": "in",
        "valid": "valid",
        "alerts": "with",
        "flagged": False,
        "ranges": [["mw", "100", ""], ["no_such_column", "1", "2"], "garbage"],
    }
    problems = bar.set_state(state)
    assert len(emitted) == 1  # one filter for the whole state, not one per widget
    assert problems == [
        "range filter on 'no_such_column', which the table lacks",
        "unreadable range filter 'garbage'",
    ]
    restored = bar.state()
    assert restored == {**state, "ranges": [["mw", "100", ""]]}
    row_filter = emitted[0]
    assert row_filter.text == "in" and row_filter.valid == "valid"
    assert row_filter.ranges == (("mw", 100.0, None),)
    assert bar.set_state({"alerts": "sometimes"}) == ["unknown alerts filter 'sometimes'"]
    assert bar.state()["alerts"] == "any"
    # A sort on a column the table lacks is reported, the rest still applied.
    lost = panel.restore_view_state({"sort": {"column": "gone"}, "filters": {"valid": "invalid"}})
    assert lost == ["sort by 'gone', which the table lacks"]
    assert set(panel.visible_table()["valid"]) == {False}


def test_a_search_result_is_kept_with_the_view_state(qtbot, panel):
    import numpy as np

    n = len(panel.library.table)
    mask = np.zeros(n, dtype=bool)
    mask[[1, 4, 9]] = True
    panel.set_row_mask(mask, "Similar to CCO: 3")
    state = panel.view_state()
    assert state["filters"]["search"]["label"] == "Similar to CCO: 3"
    panel.filter_bar.clear()
    assert panel.model.rowCount() == n
    assert panel.restore_view_state(state) == []
    assert sorted(panel.model.visible_positions().tolist()) == [1, 4, 9]
    assert panel.filter_bar.search_label.text() == "Similar to CCO: 3"
    assert panel.view_state() == state
    # Over a table of another length the rows would be wrong: reported, not applied.
    lost = panel.filter_bar.set_state(state["filters"], n_rows=n + 1)
    assert lost == ["the search result 'Similar to CCO: 3' (the table has changed since)"]
    assert panel.model.rowCount() == n
    broken = {**state["filters"], "search": {"label": "x", "rows": "not base64!", "n": n}}
    assert panel.filter_bar.set_state(broken, n_rows=n) == ["an unreadable search result"]
    short = {**state["filters"], "search": {**state["filters"]["search"], "n": n + 64}}
    assert panel.filter_bar.set_state(short) == ["an unreadable search result"]
