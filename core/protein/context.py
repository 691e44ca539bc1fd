"""A library molecule in the context of a protein: one 3D conformer placed at a site's centroid.

Not docking: the conformer (ETKDGv3 + MMFF94, lowest energy) is only translated so that its
centroid sits on the chosen ligand's or pocket's centroid, for a visual comparison of size and
shape.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

from core.chem.conformers import ConformerOptions, generate_conformers


def place_conformer(
    mol_or_smiles: Chem.Mol | str,
    centre: np.ndarray | tuple[float, float, float],
    *,
    progress=None,
    is_cancelled=None,
) -> Chem.Mol:
    """The lowest-energy conformer of the molecule, with its heavy-atom centroid at ``centre``."""
    ensemble = generate_conformers(
        mol_or_smiles,
        ConformerOptions(n_conformers=3),
        progress=progress,
        is_cancelled=is_cancelled,
    )
    if ensemble.n_conformers == 0:
        raise ValueError(f"No 3D conformer could be made for this molecule: {ensemble.message}")
    mol = Chem.Mol(ensemble.mol, confId=ensemble.conformer_ids[0])
    return translate_to(mol, centre)


def translate_to(mol: Chem.Mol, centre) -> Chem.Mol:
    """A copy of ``mol`` with its first conformer only, moved so its heavy-atom centroid is
    ``centre``."""
    # Only the first conformer is moved: a copy that kept the others would leave them where they
    # were, far from the site, for whoever draws every conformer.
    mol = Chem.Mol(mol, confId=mol.GetConformer().GetId())
    conformer = mol.GetConformer()
    positions = conformer.GetPositions()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1] or list(
        range(mol.GetNumAtoms())
    )
    shift = np.asarray(centre, dtype=np.float64) - positions[heavy].mean(axis=0)
    for index, position in enumerate(positions + shift):
        conformer.SetAtomPosition(index, Point3D(*position))
    return mol
