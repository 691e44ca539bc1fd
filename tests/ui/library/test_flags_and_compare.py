"""Flags, tags and notes edited in the library table (undoable, never dropped by scoring, filterable)
and the side-by-side comparison of selected molecules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtTest import QTest

from core.chem.library import assemble_library, process_records
from core.chem.readers import RawRecord
from ui.library.panel import LibraryPanel
from ui.tables.dataframe_model import STAR_OFF, STAR_ON, ColumnSpec, DataFrameModel

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "not a smiles"]


@pytest.fixture
def panel(qtbot):
    records = [RawRecord(index=i, name=f"m{i}", text=s) for i, s in enumerate(SMILES)]
    panel = LibraryPanel("test.smi", picture_size=(60, 40))
    qtbot.addWidget(panel)
    panel.resize(1200, 600)
    panel.show()
    panel.set_library(assemble_library([process_records(records)]))
    return panel


def column(panel: LibraryPanel, key: str) -> int:
    return [spec.key for spec in panel.model.columns()].index(key)


def select_rows(panel: LibraryPanel, rows: list[int]) -> None:
    selection = QItemSelection()
    last = panel.model.columnCount() - 1
    for row in rows:
        selection.select(panel.model.index(row, 0), panel.model.index(row, last))
    panel.view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def test_clicking_the_star_flags_and_undo_unflags(qtbot, panel):
    star = column(panel, "flag")
    index = panel.model.index(1, star)
    assert panel.model.data(index) == STAR_OFF
    rect = panel.view.visualRect(index)
    with qtbot.waitSignal(panel.annotations_changed):
        QTest.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.library.table["flag"].tolist() == [False, True, False, False, False]
    assert panel.model.data(index) == STAR_ON
    panel.undo_stack.undo()
    assert not panel.library.table["flag"].any()
    assert panel.model.data(index) == STAR_OFF
    panel.undo_stack.redo()
    assert panel.library.table.at[1, "flag"]


def test_notes_and_tags_are_edited_in_the_table_and_undone(panel):
    notes = panel.model.index(2, column(panel, "notes"))
    assert panel.model.flags(notes) & Qt.ItemFlag.ItemIsEditable
    name = panel.model.index(2, column(panel, "name"))
    assert not panel.model.flags(name) & Qt.ItemFlag.ItemIsEditable
    assert not panel.model.setData(name, "renamed")
    assert panel.model.setData(notes, "ordered 5 mg")
    assert panel.library.table.at[2, "notes"] == "ordered 5 mg"
    assert panel.model.data(notes) == "ordered 5 mg"
    assert panel.undo_stack.count() == 1
    panel.undo_stack.undo()
    assert panel.library.table.at[2, "notes"] == ""
    select_rows(panel, [0, 2])
    panel.tag_selected("keep, follow-up")
    panel.tag_selected("keep")  # no repeats
    assert panel.library.table["tags"].tolist()[:3] == ["keep, follow-up", "", "keep, follow-up"]


def test_ctrl_d_flags_the_selection_and_flagged_only_filters(qtbot, panel):
    select_rows(panel, [0, 3])
    panel.view.setFocus()
    QTest.keyClick(panel.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert panel.library.table["flag"].tolist() == [True, False, False, True, False]
    panel.filter_bar.flagged_box.setChecked(True)
    assert panel.visible_table()["name"].tolist() == ["m0", "m3"]
    # Unflagging in the flagged-only view hides the row; Ctrl+D on all-flagged unflags them.
    select_rows(panel, [0])
    panel.flag_selected()
    assert panel.visible_table()["name"].tolist() == ["m3"]
    panel.filter_bar.clear()
    assert panel.model.rowCount() == 5


def test_scoring_never_replaces_the_users_marks(panel):
    panel.set_marks("notes", [0], ["mine"])
    panel.set_marks("flag", [1, 2], [True])
    names = panel.add_columns(
        pd.DataFrame(
            {
                "score": [0.2, 0.9, 0.5, np.nan, np.nan],
                "rank": pd.array([3, 1, 2, None, None], dtype="Int64"),
                "notes": ["model note"] * 5,
            }
        )
    )
    assert "notes (computed)" in names
    table = panel.library.table
    assert table["notes"].tolist()[0] == "mine"
    assert table["flag"].tolist() == [False, True, True, False, False]
    keys = [spec.key for spec in panel.model.columns()]
    # Rank and score sit right after the star, before tags and notes.
    assert keys[1:7] == ["name", "flag", "rank", "score", "tags", "notes"]


def test_compare_shows_selected_molecules_side_by_side(qtbot, panel):
    panel.set_marks("flag", [0], [True])
    select_rows(panel, [0])
    assert panel.compare_selected() is None
    assert "Select 2 to 6" in panel.hint_label.text()
    select_rows(panel, [0, 1, 2])
    dialog = panel.compare_selected()
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.table.columnCount() == 3
    assert dialog.table.horizontalHeaderItem(0).text().startswith("m0")
    differing = dialog.differing_titles()
    assert "MW" in differing or any("weight" in t.lower() for t in differing)
    assert "★" in differing
    assert "Valid" not in differing  # all three are valid
    for column in range(3):  # each molecule drawn: a picture of real size, not blank
        label = dialog.table.cellWidget(0, column)
        picture = label.pixmap().toImage()
        assert not label.pixmap().isNull() and label.text() == ""
        assert picture.width() >= 100 and picture.height() >= 80
        step_x, step_y = picture.width() // 20, picture.height() // 20
        colours = {
            picture.pixel(x, y)
            for x in range(0, picture.width(), step_x)
            for y in range(0, picture.height(), step_y)
        }
        assert len(colours) > 3, column  # background alone is one colour
    dialog.only_different.setChecked(True)
    hidden = [dialog.table.isRowHidden(r) for r in range(1, dialog.table.rowCount())]
    assert any(hidden) and not all(hidden)


def test_model_without_handler_writes_editable_cells_into_the_frame(qtmodeltester):
    frame = pd.DataFrame({"name": ["a", "b"], "ok": [False, True], "note": ["", "x"]})
    model = DataFrameModel(frame)
    model.set_columns(
        [
            ColumnSpec("name"),
            ColumnSpec("ok", kind="bool", editable=True),
            ColumnSpec("note", editable=True),
        ]
    )
    qtmodeltester.check(model)
    assert model.setData(model.index(0, 1), True)
    assert model.setData(model.index(0, 2), "new")
    assert frame["ok"].tolist() == [True, True]
    assert frame["note"].tolist() == ["new", "x"]
    assert model.data(model.index(0, 1), Qt.ItemDataRole.CheckStateRole) is None
    with pytest.raises(ValueError, match="editable"):
        ColumnSpec("x", kind="float", editable=True)
