"""The property card: values, rules and alerts of the molecule shown; alert atoms highlighted."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt
from rdkit import Chem
from rdkit.Chem import Descriptors

from core.chem.alerts import alert_atoms, find_alerts
from core.chem.depict import molecule_svg
from core.chem.descriptors import describe
from ui.molecules.property_card import PICTURE_SIZE, PropertyCard, drawing_smiles

RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"
CYCLOSPORIN = (
    "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)"
    "N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)"
    "C(C)C)C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C"
)


@pytest.fixture
def card(qtbot):
    widget = PropertyCard()
    qtbot.addWidget(widget)
    widget.resize(360, 700)
    widget.show()
    return widget


def shuffled(smiles: str, seed: int = 3) -> Chem.Mol:
    """The molecule with its atoms in a random order, as a structure editor might number them."""
    mol = Chem.MolFromSmiles(smiles)
    order = list(range(mol.GetNumAtoms()))
    random.Random(seed).shuffle(order)
    return Chem.RenumberAtoms(mol, order)


def click_row(qtbot, card: PropertyCard, row: int) -> None:
    item = card.alert_list.item(row)
    rect = card.alert_list.visualItemRect(item)
    qtbot.mouseClick(card.alert_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_pains_molecule_fills_the_card(card, qtbot):
    mol = shuffled(RHODANINE)
    alerts = find_alerts(mol)
    with qtbot.waitSignal(card.highlight_changed) as signal:
        card.show_molecule(mol)
    assert card.description == describe(mol)
    texts = [card.alert_list.item(i).text() for i in range(card.alert_list.count())]
    assert texts == [
        "PAINS A  ·  ene_rhod_A(235)",
        "BRENK  ·  Michael_acceptor_1",
        "BRENK  ·  Thiocarbonyl_group",
        "NIH  ·  rhodanine",
    ]
    assert card.alerts_heading.text() == "Structural alerts (4)"
    # With no alert selected, every alert's atoms are highlighted.
    assert card.highlighted_atoms == alert_atoms(alerts) == signal.args[0]
    assert card.values["mw"].text() == f"{Descriptors.MolWt(mol):.2f}"
    assert card.values["formula"].text() == "C<sub>10</sub>H<sub>7</sub>NOS<sub>2</sub>"
    assert card.values["hbd"].text() == "1"
    assert card.rule_labels["Lipinski"].text().count("✓ Lipinski") == 1
    assert not card.status_label.isVisible()
    assert card.picture.isVisible()


def test_clicking_an_alert_highlights_its_atoms(card, qtbot):
    mol = shuffled(RHODANINE)
    alerts = find_alerts(mol)
    card.show_molecule(mol)
    everything = card.highlighted_atoms
    with qtbot.waitSignal(card.highlight_changed) as signal:
        click_row(qtbot, card, 1)
    assert alerts[1].name == "Michael_acceptor_1"
    assert card.highlighted_atoms == alerts[1].atoms == signal.args[0]
    assert len(alerts[1].atoms) == 4 < len(everything)
    click_row(qtbot, card, 0)
    assert card.highlighted_atoms == alerts[0].atoms
    click_row(qtbot, card, 2)
    assert card.highlighted_atoms == alerts[2].atoms
    # The picture highlights the same atoms: drawn from the canonical SMILES, where RDKit finds
    # the alert on the canonical numbering.
    smiles = Chem.MolToSmiles(mol)
    canonical_alert = find_alerts(Chem.MolFromSmiles(smiles))[2]
    assert canonical_alert.name == alerts[2].name
    assert card.svg == molecule_svg(smiles, *PICTURE_SIZE, canonical_alert.atoms)
    # Clicking the selected alert again goes back to every alert.
    click_row(qtbot, card, 2)
    assert card.alert_list.selectedItems() == []
    assert card.highlighted_atoms == everything


def test_none_empty_and_invalid_show_placeholders(card):
    card.show_molecule(Chem.MolFromSmiles(RHODANINE))
    cases = [
        (None, "No molecule"),
        (Chem.Mol(), "Draw a structure to see its properties"),
        (
            Chem.MolFromSmiles("CC(C)(C)(C)(C)C", sanitize=False),
            "Invalid structure: Explicit valence for atom # 1 C, 6, is greater than permitted",
        ),
    ]
    for mol, message in cases:
        card.show_molecule(mol)
        assert card.description is None
        assert card.status_label.text() == message
        assert card.status_label.isVisible()
        assert card.svg is None and not card.picture.isVisible()
        assert card.highlighted_atoms == ()
        assert {label.text() for label in card.values.values()} == {"–"}
        assert card.rule_labels["Ghose"].text() == "Ghose: –"
        assert card.alert_list.count() == 1
        assert card.alert_list.item(0).flags() == Qt.ItemFlag.NoItemFlags
    card.show_smiles("C1CC")
    assert card.status_label.text() == "Invalid SMILES: RDKit cannot read it"
    card.show_smiles(None)
    assert card.status_label.text() == "No molecule"


def test_molecule_without_alerts(card):
    card.show_smiles("CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O")
    assert card.alert_list.count() == 1
    assert card.alert_list.item(0).text() == "No structural alerts"
    assert card.alert_list.item(0).flags() == Qt.ItemFlag.NoItemFlags
    assert card.highlighted_atoms == ()
    assert card.svg == molecule_svg("CC(C)Cc1ccc([C@@H](C)C(=O)O)cc1", *PICTURE_SIZE)


def test_failing_rules_name_the_values(card):
    card.show_smiles(CYCLOSPORIN)
    lipinski = card.rule_labels["Lipinski"].text()
    assert "✗ Lipinski" in lipinski and "MW 1202.6 &gt; 500; HBA 12 &gt; 10" in lipinski
    assert "✗ Veber" in card.rule_labels["Veber"].text()
    assert card.values["rotb"].text() == "15"


def test_explicit_hydrogens_are_highlighted_on_heavy_atoms(card):
    mol = Chem.AddHs(Chem.MolFromSmiles("Oc1ccc(CCN)cc1O"))
    card.show_molecule(mol)
    assert card.svg is not None
    catechol = find_alerts(mol)[0]
    assert catechol.name == "catechol_A(92)"
    assert card.highlighted_atoms == alert_atoms(find_alerts(mol))
    assert all(mol.GetAtomWithIdx(i).GetAtomicNum() > 1 for i in card.highlighted_atoms)


@pytest.mark.parametrize("smiles", [RHODANINE, CYCLOSPORIN, "[2H]C([2H])([2H])Oc1ccccc1.Cl"])
def test_drawing_smiles_maps_every_heavy_atom(smiles):
    mol = shuffled(smiles, seed=11)
    text, atom_map = drawing_smiles(mol)
    drawn = Chem.MolFromSmiles(text)
    assert sorted(atom_map) == list(range(mol.GetNumAtoms()))
    assert sorted(atom_map.values()) == list(range(drawn.GetNumAtoms()))
    for atom in mol.GetAtoms():
        assert drawn.GetAtomWithIdx(atom_map[atom.GetIdx()]).GetSymbol() == atom.GetSymbol()
    for bond in mol.GetBonds():
        begin, end = atom_map[bond.GetBeginAtomIdx()], atom_map[bond.GetEndAtomIdx()]
        assert drawn.GetBondBetweenAtoms(begin, end) is not None


@pytest.mark.parametrize("width", [240, 300, 360, 520])
def test_every_value_is_shown_whole_however_narrow_the_card(card, qtbot, width):
    card.resize(width, 700)
    card.show_molecule(Chem.MolFromSmiles(CYCLOSPORIN))  # long values: 1202.6350…
    qtbot.wait(10)
    visible = card._scroll.viewport().width()
    for key, label in card.values.items():
        right = label.mapTo(card._scroll.viewport(), label.rect().topRight()).x()
        assert right <= visible, f"{key} cut at {visible} px"
        assert label.width() >= label.sizeHint().width() or key == "formula"
    assert card._pairs_per_row == (2 if width >= card._two_pairs_width() else 1)
