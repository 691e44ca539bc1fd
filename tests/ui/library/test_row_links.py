"""A library row's links into other areas ("Place in pocket", "Show 3D" in the row's menu) and a
molecule sent from another area searched in the current library ("Find similar in library"), in
the Libraries area on its own: links go to ``AreaContext.links`` (a recorder here)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

from core.settings import Settings
from resources import resource_path
from ui.library.area import LibrariesArea

EXAMPLE = resource_path("demo/example_library.smi")


class LinksRecorder:
    """A stand-in of ``ui.workbench.AreaLinks``: keeps ``(link, *arguments)`` of each call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, link: str):
        if link.startswith("_"):
            raise AttributeError(link)
        return lambda *args: self.calls.append((link, *args))


@pytest.fixture
def links():
    return LinksRecorder()


@pytest.fixture
def area(qtbot, engine, make_area_context, links, tmp_path):
    settings = Settings()
    window_ini = str(tmp_path / "window.ini")
    area = LibrariesArea(
        dataclasses.replace(make_area_context(engine), links=links),
        settings=lambda: settings,
        window_settings=lambda: QSettings(window_ini, QSettings.Format.IniFormat),
    )
    qtbot.addWidget(area)
    area.show()
    yield area
    area.close_all_tabs()
    area.shutdown()


def test_a_rows_menu_places_it_in_the_pocket_or_shows_it_in_3d(area, links):
    panel = area.open_library(EXAMPLE)
    assert area.wait_for_loads()
    menu = QMenu()
    panel.add_row_links(menu, 1)
    texts = [action.text() for action in menu.actions() if not action.isSeparator()]
    assert texts == ["Place in pocket", "Show 3D"]
    for action in menu.actions():
        action.trigger()
    ibuprofen = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    assert links.calls == [
        ("place_in_pocket", ibuprofen, "ibuprofen"),
        ("show_in_3d", ibuprofen, "ibuprofen", (panel, 1)),
    ]


def test_a_sent_molecule_is_searched_in_the_current_library(area, qtbot):
    assert not area.find_similar("CC(C)Cc1ccc(C(C)C(=O)OC)cc1", "LIG A1 (1ABC)")  # no library
    panel = area.open_library(EXAMPLE)
    assert area.wait_for_loads()
    assert area.find_similar("CC(C)Cc1ccc(C(C)C(=O)OC)cc1", "LIG A1 (1ABC)")
    tools = panel.side_panel
    assert tools.isVisible() and tools.currentWidget().isAncestorOf(tools.find_tab)
    qtbot.waitUntil(lambda: "similarity" in panel.library.table.columns, timeout=60_000)
    status = tools.find_tab.find_status.text()
    assert "similar to LIG A1 (1ABC)" in status
    # The nearest molecule is ibuprofen, the methyl ester's acid; it is sorted first.
    first = panel.model.source_row(0)
    assert panel.library.table["name"].iat[first] == "ibuprofen"
