"""Structure editing functions: each edit gives the expected molecule and leaves its input alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rdkit import Chem

from core.chem import editing
from core.chem.editing import BOND_LENGTH

SINGLE, DOUBLE, TRIPLE, AROMATIC = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)


def smiles(mol: Chem.Mol) -> str:
    return editing.to_smiles(mol)


def snapshot(mol: Chem.Mol) -> str:
    """Everything an edit could change by mistake: atoms, bonds, charges, coordinates."""
    return Chem.MolToMolBlock(mol, kekulize=False)


def bond_lengths(mol: Chem.Mol) -> list[float]:
    coords = editing.positions(mol)
    return [
        float(np.linalg.norm(coords[b.GetBeginAtomIdx()] - coords[b.GetEndAtomIdx()]))
        for b in mol.GetBonds()
    ]


@pytest.fixture
def benzene() -> Chem.Mol:
    return editing.add_ring_at_point(editing.empty_molecule(), 6, (0.0, 0.0), aromatic=True)


@pytest.fixture
def methane() -> Chem.Mol:
    return editing.add_atom(editing.empty_molecule(), "C", (0.0, 0.0))


# ------------------------------------------------------------------------------ creating


def test_empty_molecule_has_no_atoms_and_a_2d_conformer():
    mol = editing.empty_molecule()
    assert mol.GetNumAtoms() == 0
    assert mol.GetNumConformers() == 1
    assert not mol.GetConformer().Is3D()
    assert editing.to_smiles(mol) == ""
    assert editing.valence_problems(mol) == {}
    assert editing.stereo_labels(mol) == {"atoms": {}, "bonds": {}}
    assert editing.nearest_atom(mol, (0, 0), 10) is None
    assert editing.nearest_bond(mol, (0, 0), 10) is None
    assert editing.positions(mol).shape == (0, 2)


def test_from_smiles_gives_kekule_form_2d_coordinates_and_bond_length():
    mol = editing.from_smiles("c1ccccc1O")
    assert mol.GetNumConformers() == 1 and not mol.GetConformer().Is3D()
    assert not any(b.GetIsAromatic() for b in mol.GetBonds())
    assert sorted(b.GetBondType() for b in mol.GetBonds()).count(DOUBLE) == 3
    assert np.median(bond_lengths(mol)) == pytest.approx(BOND_LENGTH, abs=1e-3)
    assert smiles(mol) == "Oc1ccccc1"


@pytest.mark.parametrize("text", ["", "   ", "C1CC", "not a smiles", "C(("])
def test_from_smiles_rejects_what_is_not_smiles(text):
    with pytest.raises(ValueError, match="SMILES"):
        editing.from_smiles(text)


def test_from_smiles_accepts_an_impossible_structure_and_reports_it():
    mol = editing.from_smiles("CC(C)(C)(C)(C)C")
    assert mol.GetNumAtoms() == 7
    assert editing.valence_problems(mol) == {1: "C has 6 bonds; at most 4 allowed"}
    assert smiles(mol) == "CC(C)(C)(C)(C)C"


def test_molblock_round_trip_keeps_structure_stereo_and_coordinates():
    mol = editing.from_smiles("C[C@H](N)C(=O)O")
    block = editing.to_molblock(mol)
    assert "V2000" in block
    again = editing.from_molblock(block)
    assert smiles(again) == "C[C@H](N)C(=O)O"
    assert np.allclose(editing.positions(again), editing.positions(mol), atol=1e-3)


def test_from_molblock_lays_out_3d_input_in_2d():
    mol = Chem.AddHs(Chem.MolFromSmiles("CCO"))
    from rdkit.Chem import AllChem

    AllChem.EmbedMolecule(mol, randomSeed=7)
    flat = editing.from_molblock(Chem.MolToMolBlock(mol))
    assert not flat.GetConformer().Is3D()
    assert smiles(flat) == "CCO"


@pytest.mark.parametrize("text", ["", "hello\nworld\n", "garbage M  END"])
def test_from_molblock_rejects_what_is_not_a_molblock(text):
    with pytest.raises(ValueError, match="MolBlock"):
        editing.from_molblock(text)


def test_from_text_reads_smiles_with_a_name_and_molblocks():
    assert smiles(editing.from_text("  CCO ethanol\nCCC\n")) == "CCO"
    block = editing.to_molblock(editing.from_smiles("c1ccncc1"))
    assert smiles(editing.from_text(block)) == "c1ccncc1"
    with pytest.raises(ValueError, match="no text"):
        editing.from_text("\n  \n")


def test_prepare_molecule_accepts_none_and_molecules_without_coordinates():
    assert editing.prepare_molecule(None).GetNumAtoms() == 0
    mol = editing.prepare_molecule(Chem.MolFromSmiles("c1ccccc1C(=O)O"))
    assert smiles(mol) == "O=C(O)c1ccccc1"
    assert np.median(bond_lengths(mol)) == pytest.approx(BOND_LENGTH, abs=1e-3)


# ------------------------------------------------------------------------- atoms and bonds


def test_add_atom_places_it_and_leaves_the_input_alone(methane):
    before = snapshot(methane)
    mol = editing.add_atom(methane, "N", (3.0, -1.0))
    assert snapshot(methane) == before
    assert smiles(mol) == "C.N"  # a disconnected fragment is allowed
    assert tuple(editing.positions(mol)[1]) == pytest.approx((3.0, -1.0))
    assert editing.valence_problems(mol) == {}


def test_add_atom_rejects_unknown_elements(methane):
    with pytest.raises(ValueError, match="Unknown element"):
        editing.add_atom(methane, "Xx", (0, 0))


def test_add_atom_bonded_grows_a_zigzag_chain_one_bond_length_apart(methane):
    mol = methane
    for _ in range(4):
        mol = editing.add_atom_bonded(mol, mol.GetNumAtoms() - 1)
    assert smiles(mol) == "CCCCC"
    assert bond_lengths(mol) == pytest.approx([BOND_LENGTH] * 4)
    coords = editing.positions(mol)
    # Zigzag: every bond angle is 120° and the chain runs to the right.
    for k in range(1, 4):
        u, v = coords[k - 1] - coords[k], coords[k + 1] - coords[k]
        angle = math.degrees(math.acos(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
        assert angle == pytest.approx(120, abs=0.1)
    assert np.all(np.diff(coords[:, 0]) > 0)


def test_add_atom_bonded_with_order_and_element(methane):
    mol = editing.add_atom_bonded(methane, 0, "O", DOUBLE)
    assert smiles(mol) == "C=O"
    nitrile = editing.add_atom_bonded(editing.add_atom_bonded(methane, 0), 1, "N", TRIPLE)
    assert smiles(nitrile) == "CC#N"
    # Beyond a triple bond the chain continues in a straight line.
    propyne = editing.add_atom_bonded(
        editing.add_atom_bonded(methane, 0, "C", TRIPLE), 1, "C", SINGLE
    )
    coords = editing.positions(propyne)
    (ax, ay), (bx, by) = coords[1] - coords[0], coords[2] - coords[1]
    assert ax * by - ay * bx == pytest.approx(0, abs=1e-6)


def test_add_atom_bonded_on_a_ring_points_outwards(benzene):
    mol = editing.add_atom_bonded(benzene, 0, "O")
    coords = editing.positions(mol)
    centre = coords[:6].mean(axis=0)
    assert np.linalg.norm(coords[6] - centre) > np.linalg.norm(coords[0] - centre) + 1.0
    assert smiles(mol) == "Oc1ccccc1"


def test_add_atom_bonded_at_a_given_position(methane):
    mol = editing.add_atom_bonded(methane, 0, "Cl", position=(0.0, 1.5))
    assert tuple(editing.positions(mol)[1]) == pytest.approx((0.0, 1.5))
    assert smiles(mol) == "CCl"


def test_set_element_recomputes_hydrogens_and_keeps_the_input(benzene):
    before = snapshot(benzene)
    pyridine = editing.set_element(benzene, 0, "N")
    assert smiles(pyridine) == "c1ccncc1"
    assert snapshot(benzene) == before
    ammonium = editing.set_element(editing.from_smiles("C[NH3+]"), 1, "O")
    assert smiles(ammonium) == "C[OH2+]"


def test_set_element_or_attach_replaces_when_possible_else_attaches(benzene, methane):
    assert smiles(editing.set_element_or_attach(benzene, 0, "N")) == "c1ccncc1"
    # O cannot take a ring carbon's three bonds: it becomes a substituent (phenol).
    assert smiles(editing.set_element_or_attach(benzene, 0, "O")) == "Oc1ccccc1"
    assert smiles(editing.set_element_or_attach(methane, 0, "O")) == "O"
    # Clicking an atom with its own element adds a bonded atom.
    assert smiles(editing.set_element_or_attach(methane, 0, "C")) == "CC"


def test_add_bond_between_atoms_and_on_an_existing_bond():
    two = editing.add_atom(editing.add_atom(editing.empty_molecule(), "C", (0, 0)), "O", (1.5, 0))
    assert smiles(editing.add_bond(two, 0, 1)) == "CO"
    assert smiles(editing.add_bond(two, 0, 1, DOUBLE)) == "C=O"
    bonded = editing.add_bond(two, 0, 1)
    assert smiles(editing.add_bond(bonded, 1, 0, DOUBLE)) == "C=O"
    assert editing.add_bond(bonded, 1, 0, DOUBLE).GetNumBonds() == 1
    with pytest.raises(ValueError, match="itself"):
        editing.add_bond(two, 0, 0)
    with pytest.raises(ValueError, match="No atom 5"):
        editing.add_bond(two, 0, 5)


def test_add_bond_closing_a_ring():
    chain = editing.from_smiles("CCCCCC")
    ring = editing.add_bond(chain, 0, 5)
    assert smiles(ring) == "C1CCCCC1"


def test_set_and_cycle_bond_order():
    ethane = editing.from_smiles("CC")
    before = snapshot(ethane)
    assert smiles(editing.set_bond_order(ethane, 0, TRIPLE)) == "C#C"
    steps = [ethane]
    for _ in range(3):
        steps.append(editing.cycle_bond_order(steps[-1], 0))
    assert [smiles(m) for m in steps] == ["CC", "C=C", "C#C", "CC"]
    assert snapshot(ethane) == before
    aromatic = editing.set_bond_order(ethane, 0, AROMATIC)
    assert editing.cycle_bond_order(aromatic, 0).GetBondWithIdx(0).GetBondType() == SINGLE
    with pytest.raises(ValueError, match="No bond 3"):
        editing.cycle_bond_order(ethane, 3)


def test_aromatic_bond_outside_a_ring_is_a_problem_not_a_crash():
    mol = editing.set_bond_order(editing.from_smiles("CCC"), 0, AROMATIC)
    problems = editing.valence_problems(mol)
    assert set(problems) == {0, 1}
    assert "aromatic" in problems[0]
    assert smiles(mol)  # still some SMILES, never an exception


def test_aromatic_bonds_drawn_round_a_ring_give_benzene():
    mol = editing.add_ring_at_point(editing.empty_molecule(), 6, (0, 0))
    for index in range(6):
        mol = editing.set_bond_order(mol, index, AROMATIC)
    assert editing.valence_problems(mol) == {}
    assert smiles(mol) == "c1ccccc1"


def test_wedge_and_hash_define_the_stereocentre():
    mol = editing.from_smiles("CC(N)O")
    centre = 1
    bond = mol.GetBondBetweenAtoms(centre, 0).GetIdx()
    wedged = editing.set_bond_stereo(mol, bond, "wedge", start_atom=centre)
    hashed = editing.set_bond_stereo(mol, bond, "hash", start_atom=centre)
    assert {smiles(wedged), smiles(hashed)} == {"C[C@H](N)O", "C[C@@H](N)O"}
    assert smiles(editing.set_bond_stereo(wedged, bond, "none")) == "CC(N)O"
    # The wedge starts at the stereocentre, whichever way round the bond was drawn, and the bond
    # keeps its index.
    assert mol.GetBondWithIdx(bond).GetBeginAtomIdx() == 0
    assert wedged.GetBondWithIdx(bond).GetBeginAtomIdx() == centre
    assert wedged.GetBondWithIdx(bond).GetBondDir() == Chem.BondDir.BEGINWEDGE
    assert [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in wedged.GetBonds()][1:] == [
        (b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()
    ][1:]
    assert smiles(mol) == "CC(N)O"
    with pytest.raises(ValueError, match="Unknown bond stereo"):
        editing.set_bond_stereo(mol, bond, "squiggle")
    with pytest.raises(ValueError, match="not an end"):
        editing.set_bond_stereo(mol, bond, "wedge", start_atom=3)


def test_set_charge(methane):
    plus = editing.set_charge(editing.from_smiles("CN"), 1, +1)
    assert smiles(plus) == "C[NH3+]"
    assert smiles(editing.set_charge(plus, 1, -1)) == "CN"
    assert smiles(editing.set_charge(editing.from_smiles("CC(=O)O"), 3, -1)) == "CC(=O)[O-]"
    assert smiles(editing.set_charge(methane, 0, -2)) == "[CH2-2]"
    assert smiles(methane) == "C"


def test_delete_atoms_keeps_the_rest_and_the_input(benzene):
    phenol = editing.add_atom_bonded(benzene, 0, "O")
    before = snapshot(phenol)
    assert smiles(editing.delete_atoms(phenol, [6])) == "c1ccccc1"
    # An opened ring leaves fragments; the drawn ring geometry makes the inner double bond cis.
    assert smiles(editing.delete_atoms(phenol, [0])) == "C=C/C=C\\C.O"
    assert editing.delete_atoms(phenol, range(7)).GetNumAtoms() == 0
    assert snapshot(phenol) == before


def test_delete_atoms_takes_explicit_hydrogens_along():
    mol = editing.from_smiles("CO")
    for _ in range(3):
        mol = editing.add_atom_bonded(mol, 0, "H")
    assert mol.GetNumAtoms() == 5
    assert smiles(mol) == "[H]C([H])([H])O"
    assert smiles(editing.delete_atoms(mol, [0])) == "O"


def test_delete_bond_and_orphaned_carbons():
    mol = editing.from_smiles("CCOC")
    assert smiles(editing.delete_bond(mol, 1)) == "CC.CO"
    assert smiles(editing.delete_bond(mol, 2)) == "CCO"  # the lone methyl carbon goes too
    assert smiles(editing.delete_bond(editing.from_smiles("CN"), 0)) == "N"
    assert smiles(mol) == "CCOC"


def test_move_atoms(methane):
    mol = editing.add_atom_bonded(methane, 0)
    moved = editing.move_atoms(mol, [1], (0.5, -2.0))
    assert np.allclose(editing.positions(moved)[1], editing.positions(mol)[1] + [0.5, -2.0])
    assert np.allclose(editing.positions(moved)[0], editing.positions(mol)[0])
    assert smiles(moved) == "CC"


# ---------------------------------------------------------------------------------- rings


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (3, "C1CC1"),
        (4, "C1CCC1"),
        (5, "C1CCCC1"),
        (6, "C1CCCCC1"),
        (7, "C1CCCCCC1"),
        (8, "C1CCCCCCC1"),
    ],
)
def test_ring_templates_3_to_8(size, expected):
    mol = editing.add_ring_at_point(editing.empty_molecule(), size, (1.0, 2.0))
    assert smiles(mol) == expected
    assert bond_lengths(mol) == pytest.approx([BOND_LENGTH] * size)
    assert editing.positions(mol).mean(axis=0) == pytest.approx((1.0, 2.0))


def test_benzene_template_is_aromatic(benzene):
    assert smiles(benzene) == "c1ccccc1"
    assert editing.valence_problems(benzene) == {}


def test_ring_sizes_outside_3_to_8_are_refused():
    with pytest.raises(ValueError, match="Ring size"):
        editing.add_ring_at_point(editing.empty_molecule(), 9, (0, 0))


def test_fused_benzene_on_a_benzene_bond_is_naphthalene(benzene):
    for bond in range(6):
        naphthalene = editing.fuse_ring_on_bond(benzene, bond, 6, aromatic=True)
        assert smiles(naphthalene) == "c1ccc2ccccc2c1"
        assert naphthalene.GetNumAtoms() == 10
        # The new ring lies outside the old one: no two atoms on top of each other.
        coords = editing.positions(naphthalene)
        distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
        assert distances[np.triu_indices(10, 1)].min() == pytest.approx(BOND_LENGTH, abs=1e-3)


def test_fused_ring_in_a_bay_reuses_the_atoms_already_there():
    phenanthrene = editing.from_smiles("c1ccc2c(c1)ccc1ccccc12")
    # Fusing on a bay bond: two of the new ring's corners fall on existing atoms (pyrene).
    results = [
        editing.fuse_ring_on_bond(phenanthrene, bond.GetIdx(), 6, aromatic=True)
        for bond in phenanthrene.GetBonds()
    ]
    bay = [mol for mol in results if mol.GetNumAtoms() == phenanthrene.GetNumAtoms() + 2]
    assert bay
    assert {smiles(mol) for mol in bay} == {Chem.CanonSmiles("c1cc2ccc3cccc4ccc(c1)c2c34")}


def test_ring_on_atom_of_a_chain_and_spiro_ring():
    toluene = editing.add_ring_on_atom(editing.from_smiles("CC"), 1, 6, aromatic=True)
    assert smiles(toluene) == "Cc1ccccc1"
    spiro = editing.add_ring_on_atom(editing.from_smiles("C1CCCCC1"), 0, 5)
    assert smiles(spiro) == "C1CCC2(CC1)CCCC2"
    lone = editing.add_ring_on_atom(editing.from_smiles("N"), 0, 6)
    assert smiles(lone) == "C1CCNCC1"


def test_apply_ring_template_dispatches_to_one_anchor(benzene):
    assert smiles(editing.apply_ring_template(benzene, 6, True, bond=0)) == "c1ccc2ccccc2c1"
    assert smiles(editing.apply_ring_template(benzene, 3, atom=0)) == "C1=CC=C2(C=C1)CC2"
    # ... where the spiro carbon has five bonds: drawn, and reported.
    assert list(editing.valence_problems(editing.apply_ring_template(benzene, 3, atom=0))) == [0]
    assert smiles(editing.apply_ring_template(benzene, 5, position=(9, 9))) == "C1CCCC1.c1ccccc1"
    with pytest.raises(ValueError, match="exactly one"):
        editing.apply_ring_template(benzene, 6, atom=0, bond=0)


# -------------------------------------------------------------------------------- checks


def test_pentavalent_carbon_is_reported_with_a_reason(methane):
    mol = methane
    for _ in range(5):
        mol = editing.add_atom_bonded(mol, 0)
    assert editing.valence_problems(mol) == {0: "C has 5 bonds; at most 4 allowed"}
    assert smiles(mol) == "CC(C)(C)(C)C"
    assert editing.stereo_labels(mol) == {"atoms": {}, "bonds": {}}
    assert editing.sanitized(mol) is None
    assert "M  END" in editing.to_molblock(mol)


def test_charged_atom_reasons():
    problems = editing.valence_problems(editing.from_smiles("C[N+](C)(C)(C)C.C[O-]C"))
    assert problems == {
        1: "N+ has 5 bonds; at most 4 allowed",
        7: "O- has 2 bonds; at most 1 allowed",
    }


def test_disconnected_fragments_are_fine():
    mol = editing.from_smiles("CCO.[Na+].[Cl-]")
    assert editing.valence_problems(mol) == {}
    assert smiles(mol) == "CCO.[Cl-].[Na+]"


def test_clean_layout_keeps_structure_and_stereo():
    for text in ("C[C@H](N)C(=O)O", "C/C=C/C", "C/C=C\\C", "CC=CC", "O=C1CC[C@@H](C)CC1"):
        mol = editing.from_smiles(text)
        squashed = editing.move_atoms(mol, [0], (0.1, 0.1))
        cleaned = editing.clean_layout(squashed)
        assert smiles(cleaned) == Chem.CanonSmiles(text), text
        assert np.median(bond_lengths(cleaned)) == pytest.approx(BOND_LENGTH, abs=1e-3)
    assert editing.clean_layout(editing.empty_molecule()).GetNumAtoms() == 0
    assert smiles(editing.clean_layout(editing.from_smiles("CC(C)(C)(C)(C)C"))) == "CC(C)(C)(C)(C)C"


def test_stereo_labels():
    assert editing.stereo_labels(editing.from_smiles("C[C@H](N)O")) == {
        "atoms": {1: "R"},
        "bonds": {},
    }
    assert editing.stereo_labels(editing.from_smiles("C[C@@H](N)O"))["atoms"] == {1: "S"}
    assert editing.stereo_labels(editing.from_smiles("C/C=C/C")) == {"atoms": {}, "bonds": {1: "E"}}
    assert editing.stereo_labels(editing.from_smiles("C/C=C\\C"))["bonds"] == {1: "Z"}
    assert editing.stereo_labels(editing.from_smiles("CC=CC")) == {"atoms": {}, "bonds": {}}


def test_stereo_labels_of_a_good_fragment_next_to_a_bad_one():
    mol = editing.from_smiles("C[C@H](N)O.C/C=C/C.CC(C)(C)(C)(C)C")
    labels = editing.stereo_labels(mol)
    assert labels["atoms"] == {1: "R"}
    assert list(labels["bonds"].values()) == ["E"]


def test_unspecified_double_bond_gets_stereo_once_redrawn():
    mol = editing.from_smiles("CC=CC")
    assert smiles(editing.move_atoms(mol, [0], (0.0, 0.2))) == "CC=CC"
    redrawn = editing.cycle_bond_order(
        editing.cycle_bond_order(editing.cycle_bond_order(mol, 1), 1), 1
    )
    assert smiles(redrawn) in ("C/C=C/C", "C/C=C\\C")


def test_nearest_atom_and_bond(methane):
    ethane = editing.add_atom_bonded(methane, 0, position=(1.5, 0.0))
    assert editing.nearest_atom(ethane, (1.4, 0.1), 0.3) == 1
    assert editing.nearest_atom(ethane, (0.75, 0.0), 0.3) is None
    assert editing.nearest_bond(ethane, (0.75, 0.1), 0.3) == 0
    assert editing.nearest_bond(ethane, (0.75, 1.0), 0.3) is None


def test_atomic_number_and_symbols():
    assert editing.atomic_number("cl") == 17
    assert editing.atomic_number("BR") == 35
    assert editing.element_symbols()[:3] == ["H", "He", "Li"]
    assert editing.element_symbols()[85] == "Rn"
    with pytest.raises(ValueError):
        editing.atomic_number("Qq")


def test_functions_accept_molecules_from_elsewhere():
    # A plain RDKit molecule (aromatic, no coordinates) is brought into the conventions first.
    mol = editing.add_atom_bonded(Chem.MolFromSmiles("c1ccccc1"), 0, "F")
    assert smiles(mol) == "Fc1ccccc1"
    assert mol.GetNumConformers() == 1
