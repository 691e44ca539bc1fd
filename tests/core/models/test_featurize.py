"""Featurizers give RDKit's own bits, and mark the rows RDKit cannot parse."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from core.jobs import JobCancelled
from core.models.featurize import FEATURIZERS, featurize, get_featurizer, register_featurizer


def _on_bits(bitvect) -> list[int]:
    return list(bitvect.GetOnBits())


def test_ecfp4_equals_rdkit_morgan_radius_2(chembl_entries):
    smiles = [s for s, _ in chembl_entries[:50]]
    features = featurize(smiles, "ecfp4")
    assert features.matrix.shape == (50, 2048) and features.matrix.dtype == np.uint8
    assert features.valid.all()
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    for row, text in zip(features.matrix, smiles, strict=True):
        expected = _on_bits(generator.GetFingerprint(Chem.MolFromSmiles(text)))
        assert np.flatnonzero(row).tolist() == expected


def test_maccs_equals_rdkit_keys(chembl_entries):
    smiles = [s for s, _ in chembl_entries[:20]]
    features = featurize(smiles, "maccs")
    assert features.matrix.shape == (20, 167) and features.matrix.dtype == np.uint8
    for row, text in zip(features.matrix, smiles, strict=True):
        keys = MACCSkeys.GenMACCSKeys(Chem.MolFromSmiles(text))
        assert np.flatnonzero(row).tolist() == _on_bits(keys)
        assert DataStructs.BitVectToText(keys) == "".join(str(b) for b in row)


def test_invalid_smiles_are_masked_and_left_zero():
    features = featurize(["CCO", "C1CC", "", "not smiles", "c1ccccc1"], "ecfp4")
    assert features.valid.tolist() == [True, False, False, False, True]
    assert features.n_invalid == 3
    assert not features.matrix[~features.valid].any()
    assert features.matrix[features.valid].any(axis=1).all()


def test_registry_and_errors():
    assert {"ecfp4", "maccs"} <= set(FEATURIZERS)
    assert get_featurizer("ecfp4").n_bits == 2048
    with pytest.raises(ValueError, match=r"unknown featurizer 'nope'; known: .*ecfp4"):
        featurize(["CCO"], "nope")
    with pytest.raises(ValueError, match="already registered"):
        register_featurizer("ecfp4", 2048)(lambda mol: np.zeros(2048, np.uint8))


def test_cancel_stops_featurizing():
    with pytest.raises(JobCancelled):
        featurize(["CCO"] * 10, "ecfp4", is_cancelled=lambda: True)
