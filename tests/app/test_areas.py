"""The sidebar's work areas: built once on first use, broken ones contained, dock follows."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

import app.areas as areas


@pytest.fixture
def window(main_window):
    return main_window


def test_areas_are_built_once_on_first_use(window):
    assert window.area_widget("trials") is None
    trials = window.show_area("trials")
    assert window.area_stack.currentWidget() is trials
    window.show_area("libraries")
    assert window.show_area("trials") is trials
    assert window.area_list.currentItem().text() == "Trials"


def test_a_broken_area_shows_the_error_and_the_rest_works(window):
    def broken(_window):
        raise ImportError("no module named 'gemmi'")

    index = [a.key for a in areas.AREAS].index("proteins")
    original = areas.AREAS[index]
    areas.AREAS[index] = areas.Area("proteins", "Proteins", "", broken)
    try:
        page = window.show_area("proteins")
    finally:
        areas.AREAS[index] = original
    assert isinstance(page, QLabel) and "gemmi" in page.text()
    assert window.show_area("libraries") is window.central_stack


def test_molecule_dock_makes_room_outside_chemistry_and_comes_back(window, qtbot):
    assert window.molecule_dock.isVisible()
    window.show_area("expression")
    assert not window.molecule_dock.isVisible()
    window.show_area("models")
    assert window.molecule_dock.isVisible()
    # A dock the user closed stays closed.
    window.molecule_dock.hide()
    window.show_area("trials")
    window.show_area("libraries")
    assert not window.molecule_dock.isVisible()
