"""core.chem.properties must give exactly what RDKit's own descriptor functions give."""

from __future__ import annotations

import pytest
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from core.chem.properties import (
    INTEGER_PROPERTIES,
    PROPERTY_COLUMNS,
    PROPERTY_DESCRIPTIONS,
    PROPERTY_LABELS,
    compute_properties,
)


def rdkit_properties(mol: Chem.Mol) -> dict[str, float | int]:
    return {
        "mw": Descriptors.MolWt(mol),
        "clogp": Crippen.MolLogP(mol),
        "tpsa": rdMolDescriptors.CalcTPSA(mol),
        "hbd": Lipinski.NumHDonors(mol),
        "hba": Lipinski.NumHAcceptors(mol),
        "rotb": Descriptors.NumRotatableBonds(mol),
        "qed": QED.qed(mol),
    }


def _explicit_h(smiles: str) -> Chem.Mol:
    params = Chem.SmilesParserParams()
    params.removeHs = False
    mol = Chem.MolFromSmiles(smiles, params)
    assert any(atom.GetAtomicNum() == 1 for atom in mol.GetAtoms())
    return mol


CYCLOSPORIN = (
    "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)"
    "N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)"
    "C(C)C)C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C"
)
ERYTHROMYCIN = (
    "CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)"
    "O[C@H]2C[C@@]([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)C)C)"
    "O)(C)O"
)

TRICKY = {
    "quaternary ammonium": lambda: Chem.MolFromSmiles("C[N+](C)(C)CCOC(C)=O"),
    "carboxylate salt": lambda: Chem.MolFromSmiles("CC(=O)[O-].[Na+]"),
    "zwitterion": lambda: Chem.MolFromSmiles("[NH3+]CC(=O)[O-]"),
    "nitro": lambda: Chem.MolFromSmiles("O=[N+]([O-])c1ccc(O)cc1"),
    "explicit H (SMILES)": lambda: _explicit_h("[H]OC([H])([H])C([H])([H])[H]"),
    "explicit H (AddHs aspirin)": lambda: Chem.AddHs(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")),
    "explicit H (AddHs ibuprofen)": lambda: Chem.AddHs(
        Chem.MolFromSmiles("CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O")
    ),
    "explicit H (AddHs butane)": lambda: Chem.AddHs(Chem.MolFromSmiles("CCCC")),
    "stereo": lambda: Chem.MolFromSmiles("C[C@H](N)C(=O)O"),
    "double-bond stereo": lambda: Chem.MolFromSmiles("C/C=C/C(=O)OCC"),
    "deuterium": lambda: Chem.MolFromSmiles("[2H]C([2H])([2H])Oc1ccccc1"),
    "cisplatin": lambda: Chem.MolFromSmiles("[NH3][Pt]([NH3])(Cl)Cl"),
    "ferrocene": lambda: Chem.MolFromSmiles("[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1"),
    "Grignard": lambda: Chem.MolFromSmiles("CC[Mg]Br"),
    "erythromycin macrocycle": lambda: Chem.MolFromSmiles(ERYTHROMYCIN),
    "cyclosporin macrocycle": lambda: Chem.MolFromSmiles(CYCLOSPORIN),
}


def test_columns_labels_and_descriptions_agree():
    assert PROPERTY_COLUMNS == ("mw", "clogp", "tpsa", "hbd", "hba", "rotb", "qed")
    assert set(PROPERTY_LABELS) == set(PROPERTY_COLUMNS)
    assert set(PROPERTY_DESCRIPTIONS) == set(PROPERTY_COLUMNS)
    assert {"hbd", "hba", "rotb"} == INTEGER_PROPERTIES


def test_aspirin_values():
    values = compute_properties(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert list(values) == list(PROPERTY_COLUMNS)
    assert values["mw"] == pytest.approx(180.159, abs=1e-3)
    assert values["clogp"] == pytest.approx(1.3101, abs=1e-4)
    assert values["tpsa"] == pytest.approx(63.60, abs=1e-2)
    assert (values["hbd"], values["hba"], values["rotb"]) == (1, 3, 2)
    assert values["qed"] == pytest.approx(0.5501, abs=1e-4)
    for name in INTEGER_PROPERTIES:
        assert type(values[name]) is int


def test_equal_to_rdkit_over_chembl_set(chembl_mols, chembl_entries):
    mismatches = []
    for mol, (smiles, name) in zip(chembl_mols, chembl_entries, strict=True):
        ours, theirs = compute_properties(mol), rdkit_properties(mol)
        if ours != theirs:
            mismatches.append((name, smiles, ours, theirs))
    assert mismatches == []


@pytest.mark.parametrize("label", list(TRICKY))
def test_equal_to_rdkit_on_tricky_molecules(label):
    mol = TRICKY[label]()
    assert mol is not None
    assert compute_properties(mol) == rdkit_properties(mol)


def test_does_not_modify_the_molecule():
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    before = Chem.MolToMolBlock(mol)
    compute_properties(mol)
    assert Chem.MolToMolBlock(mol) == before
    assert mol.GetNumAtoms() == 21
