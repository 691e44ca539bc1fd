"""The 2D interaction diagram (core.protein.interaction_diagram) of the demo complex's inhibitor:
well-formed SVG, a label in full per residue and kind, atoms highlighted in their kind's colour."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from core.protein.contacts import HBOND, HYDROPHOBIC, KIND_COLORS, ligand_contacts
from core.protein.interaction_diagram import diagram_labels, interaction_diagram_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo():
    from core.protein.demo import demo_ligand, load_demo_complex
    from core.protein.ligand import ligand_molecule

    structure = load_demo_complex()
    ligand = demo_ligand(structure)
    mol = ligand_molecule(structure, ligand).mol
    return mol, ligand_contacts(structure, ligand, mol)


def test_labels_group_a_residues_contacts_of_one_kind(demo):
    _mol, contacts = demo
    labels = diagram_labels(contacts)
    texts = [label.text for label in labels]
    # Asp25 A binds both hydroxyls: one label with the shortest distance to each.
    (asp,) = [label for label in labels if label.residue_label == "ASP 25 A"]
    assert asp.kind == HBOND and len(asp.atoms) == 2
    assert asp.text.startswith("ASP 25 A ") and asp.text.endswith(" Å H-bond")
    assert "ILE 50 A 3.2 Å H-bond" in texts
    assert len(texts) == len(set(texts))
    hydrophobic = [label for label in labels if label.kind == HYDROPHOBIC]
    assert len(hydrophobic) == len({c.residue for c in contacts if c.kind == HYDROPHOBIC})


def test_the_svg_holds_every_label_and_the_legend(demo):
    mol, contacts = demo
    svg = interaction_diagram_svg(mol, contacts, title="XK2 A401 in 1HVR")
    assert svg.startswith("<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(svg.encode("utf-8"))
    texts = [element.text or "" for element in root.iter(f"{SVG}text")]
    labels = diagram_labels(contacts)
    for label in labels:
        assert label.text in texts
    assert "XK2 A401 in 1HVR" in texts
    assert {"H-bond", "salt bridge", "π-stacking", "hydrophobic"} <= set(texts)
    # Each label's box is outlined in its kind's colour; H-bond atoms are tinted blue.
    blue = "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in KIND_COLORS[HBOND]))
    boxes = [r for r in root.iter(f"{SVG}rect") if r.get("rx") == "5"]
    assert len(boxes) == len(labels)
    assert sum(r.get("stroke") == blue for r in boxes) == sum(lb.kind == HBOND for lb in labels)
    dashed = [line for line in root.iter(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) >= len(labels)


def test_a_molecule_without_contacts_is_drawn_alone():
    from rdkit import Chem

    svg = interaction_diagram_svg(Chem.MolFromSmiles("c1ccccc1O"), [])
    root = ET.fromstring(svg.encode("utf-8"))
    assert not [r for r in root.iter(f"{SVG}rect") if r.get("rx") == "5"]
