"""The Proteins area's links: a gene looked up for another area, and the chosen (or clicked)
ligand sent to the Molecule panel or used as a similarity query, through ``AreaContext.links``
(a recorder here; tests/app/test_area_links.py follows them in the window)."""

from __future__ import annotations

import dataclasses

import pytest
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from ui.protein.panel import ProteinPanel


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
def panel(qtbot, engine, make_area_context, links, finalize_later):
    panel = ProteinPanel(dataclasses.replace(make_area_context(engine), links=links))
    qtbot.addWidget(panel)
    finalize_later(panel)
    panel.resize(1100, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_the_chosen_ligand_goes_to_the_molecule_panel_and_to_a_search(demo_panel, links):
    site = demo_panel.site_tab
    assert site.send_ligand_button.isEnabled() and site.find_similar_button.isEnabled()
    site.send_ligand_button.click()
    site.find_similar_button.click()
    assert [call[0] for call in links.calls] == [
        "send_to_molecule_panel",
        "find_similar_in_library",
    ]
    (_, smiles, name), (_, query, query_name) = links.calls
    assert query == smiles and query_name == name
    assert name.startswith("XK2 ") and name.endswith("(1HVR)")
    mol = Chem.MolFromSmiles(smiles)
    assert rdMolDescriptors.CalcMolFormula(mol) == "C41H38N2O3"  # XK263, bond orders right


def test_a_clicked_ligand_atom_makes_it_the_chosen_ligand(demo_panel, links):
    structure = demo_panel.structure
    ligand = structure.ligands[0]
    demo_panel.site_tab.ligand_combo.setCurrentIndex(-1)
    assert demo_panel.site_tab.current_ligand() is None
    atom = int(structure.residue_atoms(ligand.residue)[3])
    demo_panel.structure_view.atom_picked.emit(atom)
    assert demo_panel.site_tab.current_ligand() == ligand
    demo_panel.site_tab.send_ligand_button.click()
    assert links.calls[-1][2].startswith(ligand.label)


def test_no_ligand_chosen_says_so_and_links_nothing(demo_panel, links, notifier):
    demo_panel.site_tab.ligand_combo.setCurrentIndex(-1)
    demo_panel.find_similar_to_ligand()
    assert links.calls == []
    assert notifier.errors[-1].startswith("Choose a ligand")


def test_a_gene_from_another_area_is_looked_up_as_typed_in_fetch(panel, qtbot, target_services):
    job = panel.look_up_gene("FTL")
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    qtbot.waitUntil(lambda: panel.target_chooser is not None and panel.target_chooser.isVisible())
    assert panel.fetch_edit.text() == "FTL"
    assert target_services.count("uniprot") == 1
    assert "P02792" in panel.target_chooser.identifiers()


def test_a_pocket_without_a_ligand_uses_the_molecule_placed_there(panel, qtbot, links, tmp_path):
    from core.protein.context import place_conformer
    from core.protein.synthetic import synthetic_complex_pdb

    apo = tmp_path / "apo.pdb"
    apo.write_text(
        "".join(
            line + "\n"
            for line in synthetic_complex_pdb().splitlines()
            if not line.startswith("HETATM")
        )
    )
    with qtbot.waitSignal(panel.structure_changed, timeout=60_000):
        panel.open_file(apo)
    assert panel.structure.ligands == []
    site = panel.site_tab
    assert not site.find_similar_button.isEnabled()  # nothing in the pocket yet
    panel.find_similar_to_ligand()
    assert links.calls == []
    assert "no ligand" in panel.message_label.text()

    centre = panel.structure.coords.mean(axis=0)
    panel.show_context_molecule(place_conformer("CC(=O)Nc1ccc(O)cc1", centre), "paracetamol")
    qtbot.waitUntil(site.find_similar_button.isEnabled, timeout=5_000)
    site.find_similar_button.click()
    site.send_ligand_button.click()
    (_, query, name), (_, sent, sent_name) = links.calls
    assert [call[0] for call in links.calls] == [
        "find_similar_in_library",
        "send_to_molecule_panel",
    ]
    canonical = Chem.CanonSmiles("CC(=O)Nc1ccc(O)cc1")
    assert Chem.CanonSmiles(query) == canonical == Chem.CanonSmiles(sent)
    assert name == sent_name == "paracetamol (placed in apo.pdb)"
