"""The Models area in the main window, built from ``window.area_context``: it explains and
predicts for the library tab the user looks at, follows that tab when another becomes current,
and reports through the window's notifier."""

from __future__ import annotations

import pytest


@pytest.fixture
def window(main_window):
    return main_window


def _select(models, name: str):
    items = [models.models_list.item(i) for i in range(models.models_list.count())]
    (item,) = [item for item in items if name in item.text()]
    models.models_list.setCurrentItem(item)
    return models.selected_entry()


def _wait_job(qtbot, handle, timeout=60_000):
    qtbot.waitUntil(handle.is_done, timeout=timeout)


def test_the_area_works_on_the_current_library_tab(qtbot, window, example_panel, tmp_path):
    example_panel.view.selectRow(0)  # aspirin
    aspirin = example_panel.current_row()["canonical_smiles"]
    models = window.show_area("models")
    # Shown: the library's current row is explained with the model selected at start.
    assert models.selected_entry() is not None
    qtbot.waitUntil(
        lambda: getattr(models.explain_tab.explanation, "smiles", None) == aspirin,
        timeout=60_000,
    )
    entry = _select(models, "potency")
    assert entry.shipped and tuple(entry.card.target_columns) == ("Act",)
    # The library's row changes while the area is shown: the new row is explained.
    example_panel.view.selectRow(1)
    ibuprofen = example_panel.current_row()["canonical_smiles"]
    qtbot.waitUntil(
        lambda: getattr(models.explain_tab.explanation, "smiles", None) == ibuprofen,
        timeout=60_000,
    )
    assert models.explain_tab.explanation.target == "Act"

    # Apply: the predictions become a column of that library tab.
    job = models.apply_to_library()
    assert job is not None
    _wait_job(qtbot, job)
    table = example_panel.table()
    assert {"Act", "Act_std"} <= set(table.columns)
    valid = table["valid"].astype(bool)
    assert table.loc[valid, "Act"].notna().all() and table.loc[~valid, "Act"].isna().all()
    n = int(valid.sum())
    # The example library's marketed drugs are nothing like the potency model's series: every
    # prediction is outside its domain, the status says so and the table greys them.
    assert table.loc[valid, "Act_in_domain"].eq(False).all()
    assert models.training.status_label.text() == (
        f"Added Act, Act_std to the library ({n} molecules; {n} of {n} outside the model's "
        "domain (greyed: their nearest training molecule is less similar than the card's "
        "threshold); no calibrated intervals: the model stores no calibration)."
    )
    # The shipped model stores no calibration: no empty interval columns clutter the library.
    assert not {"Act_lower", "Act_upper"} & set(table.columns)
    from PySide6.QtCore import Qt

    from ui.tables.dataframe_model import OUT_OF_DOMAIN_COLOR

    model = example_panel.model
    row = model.view_row(int(valid.to_numpy().nonzero()[0][0]))
    cell = model.index(row, model.column_index("Act"))
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole) == OUT_OF_DOMAIN_COLOR
    assert "Outside the model's domain" in model.data(cell, Qt.ItemDataRole.ToolTipRole)

    # Another library tab becomes current: the area follows it, not the old one.
    other = tmp_path / "other.smi"
    other.write_text("c1ccncc1 pyridine\nCCO ethanol\n")
    second = window.open_library(other)
    qtbot.waitUntil(lambda: second.library is not None, timeout=60_000)
    assert window.current_library() is second
    models = window.show_area("models")
    second.view.selectRow(1)
    ethanol = second.current_row()["canonical_smiles"]
    qtbot.waitUntil(
        lambda: getattr(models.explain_tab.explanation, "smiles", None) == ethanol,
        timeout=60_000,
    )
    example_panel.view.selectRow(2)  # a library tab that is not current: nothing to explain
    assert models.explain_tab._explain_job is None
    assert models.explain_tab.explanation.smiles == ethanol


def test_refusals_go_to_the_windows_notifier(qtbot, window, monkeypatch):
    models = window.show_area("models")
    _select(models, "potency")
    assert window.current_library() is None
    errors = []
    monkeypatch.setattr(window, "show_error", errors.append)  # the window is the notifier
    assert models.apply_to_library() is None
    assert models.explain_library_row() is None
    assert errors == [
        "Open a compound library first: predictions go into its table.",
        "Select a molecule in a library first (Libraries area).",
    ]
