"""The links between areas in the window (app/area_links.py): each is one click, brings the area
it leads to to the front and says in the status bar what happened. Target lookups go to the
loopback stand-ins of tests/target_services.py."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from app.areas import AREAS


def _shown_area(window) -> str:
    return AREAS[window.area_list.currentRow()].key


def _open_demo_complex(window, qtbot):
    proteins = window.show_area("proteins")
    with qtbot.waitSignal(proteins.structure_changed, timeout=60_000):
        proteins.open_demo()
    return proteins


def test_a_gene_is_looked_up_in_proteins(main_window, qtbot, target_services):
    main_window.show_area("expression")
    main_window.links.look_up_target("FTL")
    assert _shown_area(main_window) == "proteins"
    assert "looking up the gene FTL" in main_window.statusBar().currentMessage()
    proteins = main_window.area_widget("proteins")
    qtbot.waitUntil(
        lambda: proteins.target_chooser is not None and proteins.target_chooser.isVisible(),
        timeout=20_000,
    )
    assert proteins.fetch_edit.text() == "FTL"
    assert "P02792" in proteins.target_chooser.identifiers()


def test_a_ligand_goes_to_the_molecule_panel_and_to_a_library_search(
    main_window, example_panel, qtbot
):
    proteins = _open_demo_complex(main_window, qtbot)
    proteins.site_tab.send_ligand_button.click()
    assert _shown_area(main_window) == "libraries"
    assert main_window.molecule_dock.isVisible()
    workspace = main_window.molecule_workspace
    formula = rdMolDescriptors.CalcMolFormula(Chem.MolFromSmiles(workspace.current_smiles()))
    assert formula == "C41H38N2O3"
    assert workspace.name().startswith("XK2 ")
    assert main_window.statusBar().currentMessage().startswith("Molecule panel: XK2 ")

    main_window.show_area("proteins")
    proteins.site_tab.find_similar_button.click()
    assert _shown_area(main_window) == "libraries"
    message = main_window.statusBar().currentMessage()
    assert message.startswith("Hit lists > Find: searching") and "XK2 " in message
    qtbot.waitUntil(lambda: "similarity" in example_panel.library.table.columns, timeout=60_000)
    assert "similar to XK2 " in example_panel.side_panel.find_tab.find_status.text()


def test_no_library_to_search_says_so(main_window):
    errors = []
    main_window.show_error = errors.append  # the message strip's line
    main_window.links.find_similar_in_library("c1ccccc1O", "phenol")
    assert _shown_area(main_window) == "libraries"
    assert errors and errors[-1].startswith("No library to search for molecules like phenol")


def test_a_library_row_is_placed_in_the_pocket_and_shown_in_3d(main_window, example_panel, qtbot):
    proteins = _open_demo_complex(main_window, qtbot)
    main_window.show_area("libraries")
    menu = QMenu()
    example_panel.add_row_links(menu, 1)  # ibuprofen
    place, show_3d = [action for action in menu.actions() if not action.isSeparator()]
    with qtbot.waitSignal(proteins.placed_molecule_changed, timeout=60_000) as placed:
        place.trigger()
        assert _shown_area(main_window) == "proteins"
        assert main_window.statusBar().currentMessage().startswith("Proteins: placing ibuprofen")
    assert placed.args == [True] and proteins.has_placed_molecule()

    show_3d.trigger()
    workspace = main_window.molecule_workspace
    assert workspace.tabs.currentWidget() is workspace.viewer
    assert workspace.name() == "ibuprofen"
    assert workspace.source == (example_panel, 1)  # saving updates the row
    assert "predicting conformers of ibuprofen" in main_window.statusBar().currentMessage()


def test_placing_without_a_structure_says_what_to_open(main_window, example_panel):
    errors = []
    main_window.show_error = errors.append  # the message strip's line
    main_window.links.place_in_pocket("CCO", "ethanol")
    assert _shown_area(main_window) == "proteins"
    assert errors and errors[-1].startswith("Open a structure in Proteins first")
