"""The Libraries area on its own, with no main window: it is given an ``AreaContext`` of
stand-ins and tells the window around it what happened through its signals."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from core.settings import Settings
from resources import resource_path
from ui.library.area import LibrariesArea

EXAMPLE = resource_path("demo/example_library.smi")


class Recorder:
    """Connects to every signal of the area and keeps what each one carried."""

    NAMES = (
        "current_library_changed",
        "tab_opened",
        "tab_closed",
        "row_selected",
        "row_activated",
        "structure_saved",
        "project_requested",
        "file_opened",
        "show_requested",
        "notification",
    )

    def __init__(self, area: LibrariesArea) -> None:
        self.seen: dict[str, list[tuple]] = {name: [] for name in self.NAMES}
        for name in self.NAMES:
            getattr(area, name).connect(lambda *args, name=name: self.seen[name].append(args))


@pytest.fixture
def area(qtbot, engine, make_area_context, tmp_path):
    context = make_area_context(engine)
    settings = Settings()
    window_ini = str(tmp_path / "window.ini")
    area = LibrariesArea(
        context,
        settings=lambda: settings,
        window_settings=lambda: QSettings(window_ini, QSettings.Format.IniFormat),
    )
    qtbot.addWidget(area)
    area.show()
    yield area
    area.close_all_tabs()
    area.shutdown()


def test_an_opened_library_is_told_to_the_window_and_becomes_the_current_one(qtbot, area):
    seen = Recorder(area).seen
    assert area.stack.currentWidget() is area.start_page
    panel = area.open_library(EXAMPLE)
    assert panel is not None
    assert seen["tab_opened"] == [(panel, None)]
    assert seen["file_opened"] == [(EXAMPLE,)]  # for File > Open recent
    assert seen["show_requested"] == [()]
    assert area.stack.currentWidget() is area.tabs
    assert not area.export_action.isEnabled()  # nothing to export while it loads
    assert area.wait_for_loads()
    assert panel.library is not None and panel.library.n_records == 30
    assert area.current_library() is panel and seen["current_library_changed"] == [(panel,)]
    assert area.export_action.isEnabled()
    # Two broken records: the summary is a warning.
    assert seen["notification"] == [
        (
            "example_library.smi: "
            + panel.library.summary()
            + ". Invalid records are kept and marked; filter them with 'Invalid only'.",
            "warning",
        )
    ]
    panel.view.selectRow(1)
    assert seen["row_selected"][-1] == ("CC(C)Cc1ccc(C(C)C(=O)O)cc1", "ibuprofen", (panel, 1))
    panel.view.activated.emit(panel.model.index(2, 1))  # double-click or Enter
    smiles, name, source = seen["row_activated"][-1]
    assert source == (panel, 2)
    assert (smiles, name) == tuple(panel.library.table.loc[2, ["canonical_smiles", "name"]])


def test_project_files_go_to_the_window_and_unknown_drops_are_refused(area, recording_notifier):
    seen = Recorder(area).seen
    project = Path("/nowhere/hits.drugdesk")
    assert area.open_library(project) is None
    assert seen["project_requested"] == [(project,)]
    assert area.accepts_files([Path("notes.pdf"), Path("a.SMI")])
    assert not area.accepts_files([Path("notes.pdf")])
    area.open_files([Path("notes.pdf"), project])
    assert recording_notifier.errors == ["notes.pdf: not a compound file DrugDesk can open."]
    assert seen["project_requested"] == [(project,), (project,)]
    assert area.tabs.count() == 0 and seen["tab_opened"] == []


def test_a_closed_tab_is_told_to_the_window_and_the_start_page_comes_back(qtbot, area):
    seen = Recorder(area).seen
    panel = area.open_library(EXAMPLE, remember=False)
    assert seen["file_opened"] == []
    assert area.wait_for_loads()
    area.close_tab(area.tabs.indexOf(panel))
    assert seen["tab_closed"] == [(panel,)]
    assert seen["current_library_changed"][-1] == (None,)
    assert area.current_library() is None and area.library_panels() == []
    assert area.stack.currentWidget() is area.start_page
    assert not area.export_action.isEnabled()


def test_a_saved_structure_goes_to_its_source_row_or_to_a_new_library(area):
    seen = Recorder(area).seen
    panel, position = area.save_structure("c1ccncc1", "pyridine")
    assert panel.title == "New library" and position == 0
    assert seen["structure_saved"] == [((panel, 0),)]
    assert seen["notification"][-1][1] == "success"
    # Saved again over its source row: updated in place, not added.
    assert area.save_structure("c1ccncc1C", "picoline", source=(panel, 0)) == (panel, 0)
    assert panel.library.n_records == 1
    assert panel.library.table.at[0, "name"] == "picoline"
    assert seen["notification"][-1][0].startswith("Updated picoline in New library")
    # As a new row, with a name made up when none is given.
    assert area.save_structure("CCO", "", source=(panel, 0), as_new=True) == (panel, 1)
    assert panel.library.table.at[1, "name"] == "mol2"
    panel.undo_stack.undo()
    assert panel.library.n_records == 1


def test_the_hit_list_tools_are_shown_and_hidden_for_every_tab(area):
    first = area.open_library(EXAMPLE, remember=False)
    assert area.wait_for_loads()
    area.hit_list_action.setChecked(False)
    assert first.side_panel.isHidden()
    second = area.open_library(EXAMPLE, remember=False)  # a new tab follows the choice
    assert area.wait_for_loads()
    assert second.side_panel.isHidden()
    area.hit_list_action.setChecked(True)
    assert not first.side_panel.isHidden() and not second.side_panel.isHidden()
