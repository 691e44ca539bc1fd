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
    assert window.show_area("libraries") is window.libraries


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


def test_proteins_show_the_molecule_dock_only_while_a_molecule_is_placed(window, qtbot):
    from rdkit import Chem
    from rdkit.Chem import AllChem

    assert window.molecule_dock.isVisible()
    proteins = window.show_area("proteins")
    # No molecule placed: the 3D view gets the width.
    assert not window.molecule_dock.isVisible()
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    proteins.show_context_molecule(mol)  # what a finished "Place library molecule" job does
    assert proteins.has_placed_molecule()
    assert window.molecule_dock.isVisible()
    proteins.remove_context_molecule()
    assert not window.molecule_dock.isVisible()
    window.show_area("libraries")
    assert window.molecule_dock.isVisible()
