"""Fixtures for the core tests: real molecules shipped with RDKit and small files written per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdkit
from rdkit import Chem

CHEMBL_SMI = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
CHEMBL_COUNT = 1017
"""Compounds in ``CHEMBL2321810.smi`` (one ``SMILES name`` line each, no header)."""


@pytest.fixture(scope="session")
def chembl_path() -> Path:
    assert CHEMBL_SMI.is_file(), f"RDKit's wheel no longer ships {CHEMBL_SMI}"
    return CHEMBL_SMI


@pytest.fixture(scope="session")
def chembl_entries(chembl_path) -> list[tuple[str, str]]:
    """``(smiles, name)`` for every line of the CHEMBL set, in file order."""
    entries = []
    for line in chembl_path.read_text().splitlines():
        if line.strip():
            smiles, name = line.split(None, 1)
            entries.append((smiles, name.strip()))
    assert len(entries) == CHEMBL_COUNT
    return entries


@pytest.fixture(scope="session")
def chembl_mols(chembl_entries) -> list[Chem.Mol]:
    mols = [Chem.MolFromSmiles(smiles) for smiles, _ in chembl_entries]
    assert all(mol is not None for mol in mols)
    return mols


@pytest.fixture
def write_text(tmp_path):
    """``write_text(name, text)`` writes a file into ``tmp_path`` and returns its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        return path

    return write
