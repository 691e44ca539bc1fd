"""A library molecule placed in a protein's context: its lowest-energy conformer, moved (not
reshaped) so that its heavy-atom centroid sits on the site's centre."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from core.chem.conformers import ConformerEnsemble, ConformerOptions, generate_conformers
from core.jobs import JobCancelled
from core.protein import context
from core.protein.context import place_conformer, translate_to

# Flexible and not flat, so a wrong conformer or a rotation would show in the distances.
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"
CENTRE = (12.5, -3.25, 40.0)


def heavy_centroid(mol: Chem.Mol, conf_id: int = -1) -> np.ndarray:
    positions = mol.GetConformer(conf_id).GetPositions()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    return positions[heavy].mean(axis=0)


def distances(mol: Chem.Mol, conf_id: int = -1) -> np.ndarray:
    positions = mol.GetConformer(conf_id).GetPositions()
    return np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)


def test_the_lowest_energy_conformer_is_centred_on_the_site():
    placed = place_conformer(IBUPROFEN, np.array(CENTRE))
    assert placed.GetNumConformers() == 1
    assert placed.GetConformer().Is3D()
    np.testing.assert_allclose(heavy_centroid(placed), CENTRE, atol=1e-6)
    # Hydrogens are placed too, and it is still ibuprofen.
    assert any(a.GetAtomicNum() == 1 for a in placed.GetAtoms())
    assert Chem.MolToSmiles(Chem.RemoveHs(placed)) == Chem.MolToSmiles(
        Chem.MolFromSmiles(IBUPROFEN)
    )
    # The same shape as the lowest-energy conformer of the same (seeded) ensemble: only moved.
    ensemble = generate_conformers(IBUPROFEN, ConformerOptions(n_conformers=3))
    lowest = ensemble.conformer_ids[0]
    np.testing.assert_allclose(distances(placed), distances(ensemble.mol, lowest), atol=1e-6)
    shift = placed.GetConformer().GetPositions() - ensemble.mol.GetConformer(lowest).GetPositions()
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-6)


def test_a_molecule_object_and_a_tuple_centre_work_too():
    placed = place_conformer(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"), CENTRE)
    np.testing.assert_allclose(heavy_centroid(placed), CENTRE, atol=1e-6)


def test_translate_moves_a_copy_rigidly_and_keeps_the_first_conformer_only():
    mol = Chem.AddHs(Chem.MolFromSmiles("OCCCCN"))
    ids = list(AllChem.EmbedMultipleConfs(mol, 3, randomSeed=7))
    assert len(ids) == 3
    before = mol.GetConformer(ids[0]).GetPositions().copy()
    moved = translate_to(mol, CENTRE)
    assert moved is not mol
    np.testing.assert_array_equal(mol.GetConformer(ids[0]).GetPositions(), before)  # untouched
    # One conformer, not the first one moved and two others left where they were.
    assert moved.GetNumConformers() == 1
    np.testing.assert_allclose(heavy_centroid(moved), CENTRE, atol=1e-6)
    np.testing.assert_allclose(distances(moved), distances(mol, ids[0]), atol=1e-9)


def test_a_molecule_of_hydrogens_only_is_centred_on_all_its_atoms():
    hydrogen = Chem.AddHs(Chem.MolFromSmiles("[H][H]"))
    assert AllChem.EmbedMolecule(hydrogen, randomSeed=1) == 0
    moved = translate_to(hydrogen, CENTRE)
    np.testing.assert_allclose(moved.GetConformer().GetPositions().mean(axis=0), CENTRE, atol=1e-9)


def test_no_conformer_is_a_clear_error(monkeypatch):
    empty = ConformerEnsemble(
        mol=Chem.AddHs(Chem.MolFromSmiles("CCO")),
        energies_kcal_mol=(),
        conformer_ids=(),
        message="no conformer could be embedded in 30 s",
    )
    monkeypatch.setattr(context, "generate_conformers", lambda *args, **kwargs: empty)
    with pytest.raises(ValueError, match=r"No 3D conformer.*no conformer could be embedded"):
        place_conformer("CCO", CENTRE)


def test_bad_input_and_cancel_reach_the_caller():
    with pytest.raises(ValueError):
        place_conformer("not a smiles", CENTRE)
    with pytest.raises(JobCancelled):
        place_conformer(IBUPROFEN, CENTRE, is_cancelled=lambda: True)
