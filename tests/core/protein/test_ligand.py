"""A protein's ligand rebuilt as a molecule (core.protein.ligand): bond orders from the geometry
of heavy atoms only, as PDB files give them, checked against the molecule that made the
coordinates, and on the demo complex's inhibitor."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import AllChem, rdMolDescriptors

from core.protein.demo import demo_ligand, load_demo_complex
from core.protein.ligand import GEOMETRY, TEMPLATE, ligand_molecule
from core.protein.structure import parse_structure

XK263 = "O=C1N(Cc2ccc3ccccc3c2)C(Cc2ccccc2)C(O)C(O)C(Cc2ccccc2)N1Cc1ccc2ccccc2c1"


def _structure_of(smiles: str):
    """A structure holding ``smiles`` as one HETATM residue: an MMFF conformer, hydrogens
    dropped, as a crystal structure's ligand is written."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    assert AllChem.EmbedMolecule(mol, randomSeed=7) == 0
    AllChem.MMFFOptimizeMolecule(mol)
    heavy = Chem.RemoveHs(mol)
    for atom in heavy.GetAtoms():
        info = Chem.AtomPDBResidueInfo()
        info.SetResidueName("LIG")
        info.SetResidueNumber(1)
        info.SetChainId("A")
        info.SetIsHeteroAtom(True)
        info.SetName(f"{atom.GetSymbol().upper()}{atom.GetIdx() % 100}".ljust(4))
        atom.SetMonomerInfo(info)
    text = Chem.MolToPDBBlock(heavy, flavor=2)  # no CONECT records: no bond orders in the file
    return parse_structure(text, name="ligand.pdb")


def _plain(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    Chem.RemoveStereochemistry(mol)
    return Chem.MolToSmiles(mol)


@pytest.mark.parametrize(
    "smiles",
    [
        "CC(=O)Oc1ccccc1C(=O)O",  # aspirin: ester, acid, benzene
        "Cn1c(=O)c2c(ncn2C)n(C)c1=O",  # caffeine: fused aromatic rings, amides
        "N#Cc1ccc(C=C)cc1",  # nitrile, vinyl
        "Cc1ccc(S(N)(=O)=O)cc1",  # sulfonamide
        "O=[N+]([O-])c1ccc(Cl)cc1",  # nitro group
        "c1ccc2[nH]ccc2c1",  # indole: a five-ring NH
        "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
        "c1ccc(-c2ccncc2)cc1",  # pyridine
        "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # salbutamol: an amine N near 120° stays single
        "COC(=O)C1=C(C)NC(C)=C(C(=O)OC)C1c1cccc([N+](=O)[O-])c1",  # nifedipine: a flat ring,
        # not aromatic
        "Cc1nnn[nH]1",  # tetrazole: two double bonds in the ring
        "Nc1ncnc2[nH]cnc12",  # adenine
        "CC(=O)Nc1ccc(O)cc1",  # paracetamol: a secondary amide
        "C#CCO",  # alkyne
    ],
)
def test_bond_orders_from_the_geometry_give_the_molecule_back(smiles):
    structure = _structure_of(smiles)
    (ligand,) = structure.ligands
    result = ligand_molecule(structure, ligand)
    assert result.bond_orders == GEOMETRY
    assert _plain(result.smiles) == _plain(smiles)
    assert result.name == "LIG A1"
    assert result.mol.GetNumConformers() == 1  # the file's coordinates kept


def test_a_template_gives_the_bond_orders():
    structure = _structure_of("CC(=O)Oc1ccccc1C(=O)O")
    (ligand,) = structure.ligands
    result = ligand_molecule(structure, ligand, template_smiles="CC(=O)Oc1ccccc1C(=O)O")
    assert result.bond_orders == TEMPLATE
    assert _plain(result.smiles) == _plain("CC(=O)Oc1ccccc1C(=O)O")


def test_the_demo_inhibitor_is_xk263():
    structure = load_demo_complex()
    ligand = demo_ligand(structure)
    result = ligand_molecule(structure, ligand)
    assert result.bond_orders == GEOMETRY
    # XK263: a cyclic urea with two benzyl and two naphthylmethyl groups and a diol.
    assert _plain(result.smiles) == _plain(XK263)
    mol = Chem.MolFromSmiles(result.smiles)
    assert rdMolDescriptors.CalcMolFormula(mol) == "C41H38N2O3"
    assert rdMolDescriptors.CalcNumAromaticRings(mol) == 6
    centres = Chem.FindMolChiralCenters(mol, useLegacyImplementation=False)
    assert len(centres) == 4  # the four ring carbons, their configuration from the 3D atoms
    assert result.name == "XK2 A263"
