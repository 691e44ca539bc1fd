"""core.chem.library_values: a library row's values equal RDKit's own, repeated molecules included."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import rdkit
from rdkit import Chem, RDLogger

import core.chem.library_values as library_values
from core.chem.alerts import _alert_screen
from core.chem.descriptors import profile_values
from core.chem.library_values import clear_cache, row_values
from core.chem.properties import compute_properties
from core.chem.standardize import Standardizer

NCI_SMI = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"


@pytest.fixture(scope="module")
def standardised() -> list[Chem.Mol]:
    """Every 10th NCI molecule RDKit ships (salts, metals, charges), standardised as a library
    load standardises them."""
    RDLogger.DisableLog("rdApp.*")
    standardizer = Standardizer()
    mols = []
    try:
        for line in NCI_SMI.read_text().splitlines()[5::10]:
            mol = Chem.MolFromSmiles(line.split()[0]) if line.strip() else None
            if mol is None:
                continue
            try:
                mols.append(standardizer.standardize(mol))
            except Exception:  # RDKit rejects a few after standardising; not this test's subject
                continue
    finally:
        RDLogger.EnableLog("rdApp.*")
    assert len(mols) > 450
    return mols


@pytest.fixture(autouse=True)
def empty_cache():
    clear_cache()
    _alert_screen()  # screened from the first molecule
    yield
    clear_cache()


def plain_values(mol: Chem.Mol) -> tuple[str, dict]:
    """The values the plain way: RDKit's InChIKey, compute_properties and profile_values."""
    mol = Chem.Mol(mol)
    properties = compute_properties(mol)
    return Chem.MolToInchiKey(mol), {**properties, **profile_values(mol, properties)}


def test_equal_to_the_plain_way(standardised):
    for mol in standardised:
        expected = plain_values(mol)
        assert row_values(Chem.Mol(mol), Chem.MolToSmiles(mol)) == expected
        assert row_values(Chem.Mol(mol)) == expected


def test_repeated_molecules_in_another_atom_order_equal_the_plain_way(standardised):
    rng = random.Random(11)
    alerts = 0
    for mol in standardised:
        key = Chem.MolToSmiles(mol)
        first = row_values(Chem.Mol(mol), key)
        order = list(range(mol.GetNumAtoms()))
        rng.shuffle(order)
        shuffled = Chem.RenumberAtoms(mol, order)
        assert Chem.MolToSmiles(shuffled) == key
        # From the cache, yet exactly what RDKit gives for this atom order (MW, cLogP, TPSA and
        # QED computed again: their sums can differ in the last bit between orders).
        assert row_values(Chem.Mol(shuffled), key) == plain_values(shuffled), key
        alerts += bool(first[1]["alerts"])
    assert alerts > 50


def test_repeated_molecule_is_described_once(monkeypatch):
    mol = Chem.MolFromSmiles("O=C1C=CC(=O)C=C1")
    first = row_values(Chem.Mol(mol), "O=C1C=CC(=O)C=C1")
    monkeypatch.setattr(library_values, "match_alerts", _fail)
    monkeypatch.setattr(Chem, "MolToInchiKey", _fail)
    assert row_values(Chem.Mol(mol), "O=C1C=CC(=O)C=C1") == first


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(library_values, "CACHE_SIZE", 3)
    for smiles in ["C", "CC", "CCC", "CCCC", "CCCCC"]:
        row_values(Chem.MolFromSmiles(smiles), smiles)
    assert list(library_values._cache) == ["CCC", "CCCC", "CCCCC"]


def test_explicit_hydrogens_go_the_plain_way():
    mol = Chem.AddHs(Chem.MolFromSmiles("O=C1C=CC(=O)C=C1"))
    assert row_values(Chem.Mol(mol), "x") == plain_values(mol)
    assert not library_values._cache


def _fail(*args, **kwargs):
    raise AssertionError("computed again")
