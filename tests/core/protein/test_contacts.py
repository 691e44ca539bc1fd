"""Ligand–protein contacts (core.protein.contacts): small complexes written here with one residue
placed at a known distance from a ligand (3-hydroxy-4-methylbenzoic acid), each kind found when
close and not when too far; then the demo complex 1HVR and a molecule placed in its pocket."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from core.protein.contacts import (
    HBOND,
    HYDROPHOBIC,
    PI_STACKING,
    SALT_BRIDGE,
    ligand_contacts,
    molecule_contacts,
    summarize,
)
from core.protein.structure import parse_structure


def _ring(centre, radius: float, axis_u, axis_v, n: int = 6) -> list[np.ndarray]:
    angles = np.radians(np.arange(n) * 360.0 / n)
    return [
        np.asarray(centre)
        + radius * (np.cos(a) * np.asarray(axis_u) + np.sin(a) * np.asarray(axis_v))
        for a in angles
    ]


def _polar(radius: float, degrees: float, z: float = 0.0) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([radius * np.cos(a), radius * np.sin(a), z])


X, Y, Z = np.eye(3)
# The ligand: a benzene ring in the xy-plane at the origin; COOH on C1 (0°), OH on C3 (120°),
# CH3 on C4 (180°).
RING = _ring((0, 0, 0), 1.39, X, Y)
C7 = _polar(2.89, 0)
O8 = C7 + 1.25 * _polar(1, 60)
O9 = C7 + 1.25 * _polar(1, -60)
O10 = _polar(2.75, 120)
C11 = _polar(2.89, 180)
LIGAND = [(f"C{i + 1}", "C", xyz) for i, xyz in enumerate(RING)] + [
    ("C7", "C", C7),
    ("O8", "O", O8),
    ("O9", "O", O9),
    ("O10", "O", O10),
    ("C11", "C", C11),
]


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _line(record, serial, name, resname, chain, resnum, xyz, element) -> str:
    padded = f" {name:<3}" if len(name) < 4 else name
    return (
        f"{record:<6}{serial:5d} {padded} {resname:>3} {chain}{resnum:4d}    "
        f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}  1.00 20.00          {element:>2}"
    )


def _complex(*residues):
    """PDB text of the ligand (LIG L900) and ``residues``: ``(name, chain, number, atoms)``."""
    lines, serial = [], 1
    for resname, chain, number, atoms in residues:
        for name, element, xyz in atoms:
            lines.append(_line("ATOM", serial, name, resname, chain, number, xyz, element))
            serial += 1
    lines.append("TER")
    for name, element, xyz in LIGAND:
        lines.append(_line("HETATM", serial, name, "LIG", "L", 900, xyz, element))
        serial += 1
    lines.append("END")
    structure = parse_structure("\n".join(lines) + "\n", name="contacts.pdb")
    (ligand,) = structure.ligands
    return structure, ligand


def _serine(number: int, distance: float):
    """SER with OG ``distance`` Å out from the ligand's hydroxyl O, CB beyond it."""
    out = _unit(O10)
    og = O10 + distance * out
    return ("SER", "A", number, [("CB", "C", og + 1.42 * out), ("OG", "O", og)])


def _lysine(number: int, distance: float):
    out = _unit(O8 - C7)
    nz = O8 + distance * out
    return ("LYS", "A", number, [("CE", "C", nz + 1.49 * out), ("NZ", "N", nz)])


def _phenylalanine(number: int, centre, axis_u, axis_v):
    names = ["CG", "CD1", "CE1", "CZ", "CE2", "CD2"]
    ring = _ring(centre, 1.39, axis_u, axis_v)
    cb = ring[0] + 1.51 * _unit(ring[0] - np.asarray(centre))
    return ("PHE", "A", number, [("CB", "C", cb), *zip(names, ["C"] * 6, ring, strict=True)])


def _leucine(number: int, distance: float):
    """LEU with CD1 ``distance`` Å out from the ligand's methyl, CD2 a little farther."""
    out = _unit(C11)
    cd1 = C11 + distance * out
    cg = cd1 + 1.53 * out
    cd2 = cg + 1.53 * _unit(out + Z)
    cb = cg + 1.53 * _unit(out - Z)
    return ("LEU", "A", number, [("CB", "C", cb), ("CG", "C", cg), ("CD1", "C", cd1),
                                  ("CD2", "C", cd2)])  # fmt: skip


def _of(contacts, kind):
    return [c for c in contacts if c.kind == kind]


def test_a_hydrogen_bond_at_2_8_angstrom_is_found_and_one_at_3_9_is_not():
    structure, ligand = _complex(_serine(20, 2.8))
    (bond,) = _of(ligand_contacts(structure, ligand), HBOND)
    assert bond.residue_label == "SER 20 A"
    assert bond.protein_atom == "OG" and bond.ligand_atom == "O10"
    assert bond.distance == pytest.approx(2.8, abs=0.01)
    assert bond.describe() == "SER 20 A 2.8 Å H-bond"

    structure, ligand = _complex(_serine(20, 3.9))
    assert _of(ligand_contacts(structure, ligand), HBOND) == []


def test_a_salt_bridge_with_lysine_within_4_angstrom_and_not_at_4_6():
    structure, ligand = _complex(_lysine(10, 3.0))
    contacts = ligand_contacts(structure, ligand)
    (bridge,) = _of(contacts, SALT_BRIDGE)
    assert bridge.residue_label == "LYS 10 A" and bridge.protein_atom == "NZ"
    assert bridge.distance == pytest.approx(3.0, abs=0.01)
    assert bridge.ligand_atom == "O8" and set(bridge.ligand_atoms) == {7, 8}  # the carboxylate
    assert bridge.detail == "−"
    # The same two atoms are not listed again as a hydrogen bond.
    assert not any(c.residue == bridge.residue for c in _of(contacts, HBOND))

    structure, ligand = _complex(_lysine(10, 4.6))
    assert _of(ligand_contacts(structure, ligand), SALT_BRIDGE) == []


def test_pi_stacking_parallel_and_t_shaped_within_5_5_angstrom():
    structure, ligand = _complex(_phenylalanine(30, (1.0, 0.0, 3.8), X, Y))
    (stack,) = _of(ligand_contacts(structure, ligand), PI_STACKING)
    assert stack.residue_label == "PHE 30 A" and stack.detail == "parallel"
    assert stack.distance == pytest.approx(np.hypot(1.0, 3.8), abs=0.01)
    assert set(stack.ligand_atoms) == set(range(6)) and stack.protein_atom == "ring"

    structure, ligand = _complex(_phenylalanine(30, (0.0, 0.0, 5.0), X, Z))
    (stack,) = _of(ligand_contacts(structure, ligand), PI_STACKING)
    assert stack.detail == "T-shaped" and stack.distance == pytest.approx(5.0, abs=0.01)

    structure, ligand = _complex(_phenylalanine(30, (0.0, 0.0, 6.0), X, Y))
    assert _of(ligand_contacts(structure, ligand), PI_STACKING) == []
    # Parallel planes but slid 3 Å sideways: no stacking.
    structure, ligand = _complex(_phenylalanine(30, (3.0, 0.0, 3.6), X, Y))
    assert _of(ligand_contacts(structure, ligand), PI_STACKING) == []


def test_one_hydrophobic_contact_per_residue_the_closest_and_none_beyond_4_angstrom():
    structure, ligand = _complex(_leucine(40, 3.7))
    (contact,) = _of(ligand_contacts(structure, ligand), HYDROPHOBIC)
    assert contact.residue_label == "LEU 40 A"
    assert contact.protein_atom == "CD1" and contact.ligand_atom == "C11"
    assert contact.distance == pytest.approx(3.7, abs=0.01)

    structure, ligand = _complex(_leucine(40, 4.5))
    assert _of(ligand_contacts(structure, ligand), HYDROPHOBIC) == []


def test_polar_carbons_make_no_hydrophobic_contact():
    # Serine's CB (bonded to OG) 3.5 Å from the methyl: not a hydrophobic contact.
    out = _unit(C11)
    cb = C11 + 3.5 * out
    structure, ligand = _complex(("SER", "A", 5, [("CB", "C", cb), ("OG", "O", cb + 1.42 * out)]))
    assert _of(ligand_contacts(structure, ligand), HYDROPHOBIC) == []


def test_all_kinds_together_and_the_summary():
    structure, ligand = _complex(
        _serine(20, 2.9),
        _lysine(10, 3.2),
        _phenylalanine(30, (0.5, 0.0, -3.7), X, Y),
        _leucine(40, 3.8),
    )
    contacts = ligand_contacts(structure, ligand)
    kinds = [c.kind for c in contacts]
    # Sorted by kind: H-bonds, salt bridges, π-stacking, hydrophobic.
    assert kinds == sorted(kinds, key=[HBOND, SALT_BRIDGE, PI_STACKING, HYDROPHOBIC].index)
    assert {c.residue_label for c in _of(contacts, HBOND)} == {"SER 20 A"}
    assert {c.residue_label for c in _of(contacts, SALT_BRIDGE)} == {"LYS 10 A"}
    assert {c.residue_label for c in _of(contacts, PI_STACKING)} == {"PHE 30 A"}
    assert "LEU 40 A" in {c.residue_label for c in _of(contacts, HYDROPHOBIC)}
    text = summarize(contacts)
    assert text.startswith("1 H-bond, 1 salt bridge, 1 π-stacking, ")
    assert summarize([]) == "no contacts"


def test_a_placed_molecule_with_hydrogens_has_the_ligands_contacts():
    from core.protein.ligand import ligand_molecule

    structure, ligand = _complex(_serine(20, 2.8), _lysine(10, 3.0), _leucine(40, 3.7))
    expected = ligand_contacts(structure, ligand)
    mol = Chem.AddHs(ligand_molecule(structure, ligand).mol, addCoords=True)
    placed = molecule_contacts(structure, mol, exclude_residues={ligand.residue})
    assert [(c.kind, c.residue_label, c.distance) for c in placed] == [
        (c.kind, c.residue_label, c.distance) for c in expected
    ]
    assert placed[0].ligand_atom == "O10"  # element and 1-based index
    with pytest.raises(ValueError, match="no 3D coordinates"):
        molecule_contacts(structure, Chem.MolFromSmiles("CCO"))


def test_the_demo_inhibitor_binds_the_catalytic_aspartates_and_the_flap_isoleucines():
    from core.protein.demo import demo_ligand, load_demo_complex

    structure = load_demo_complex()
    ligand = demo_ligand(structure)
    contacts = ligand_contacts(structure, ligand)
    hbonds = {c.residue_label for c in _of(contacts, HBOND)}
    # XK263's diol to Asp25 of both chains; its urea carbonyl to the flaps' Ile50 NH.
    assert {"ASP 25 A", "ASP 25 B", "ILE 50 A", "ILE 50 B"} <= hbonds
    flap = [c for c in _of(contacts, HBOND) if c.residue_label.startswith("ILE 50")]
    assert {c.protein_atom for c in flap} == {"N"}
    assert all(2.5 <= c.distance <= 3.5 for c in _of(contacts, HBOND))
    hydrophobic = _of(contacts, HYDROPHOBIC)
    assert len(hydrophobic) == len({c.residue for c in hydrophobic}) >= 8
    assert all(c.distance <= 4.0 for c in hydrophobic)
