"""SMILES augmentation: the same molecule written from other starting atoms and traversal orders.

A transformer reads a string, so a canonical SMILES teaches it one spelling per molecule; random
SMILES (Bjerrum 2017, arXiv:1703.07076) make it learn the molecule instead of the spelling.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def randomize_smiles(smiles: str, rng: np.random.Generator) -> str:
    """One random valid SMILES of the molecule, or ``smiles`` itself if RDKit cannot parse it.

    Parameters
    ----------
    smiles
        Input SMILES.
    rng
        Source of the random seed given to RDKit, so runs with the same generator repeat.
    """
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return smiles
    # MolToSmiles(doRandom=True) ignores rdBase.SeedRandomNumberGenerator (RDKit 2026.03: the same
    # seed gave other spellings), so runs did not repeat. MolToRandomSmilesVect takes its own
    # seed; 0 there means "unseeded", hence seeds from 1.
    seed = int(rng.integers(1, 2**31 - 1))
    return Chem.MolToRandomSmilesVect(mol, 1, randomSeed=seed)[0]


def augment_smiles(
    smiles: Sequence[str],
    rng: np.random.Generator,
    probability: float = 0.5,
    max_length: int | None = None,
) -> list[str]:
    """Replace each SMILES by a random spelling with ``probability``.

    Parameters
    ----------
    smiles
        Input SMILES.
    rng
        Random generator (which SMILES are replaced, and RDKit's seed).
    probability
        Chance that a SMILES is replaced.
    max_length
        A random spelling longer than this many characters is not used (the original is kept), so
        augmentation never pushes a molecule past the model's maximum length.
    """
    out = []
    for s in smiles:
        if rng.random() < probability:
            r = randomize_smiles(s, rng)
            out.append(r if max_length is None or len(r) <= max_length else s)
        else:
            out.append(s)
    return out


def enumerate_smiles(smiles: str, n: int, rng: np.random.Generator) -> list[str]:
    """Up to ``n`` distinct spellings of one molecule (the input first)."""
    seen = {smiles: None}
    for _ in range(4 * n):
        if len(seen) >= n:
            break
        seen.setdefault(randomize_smiles(smiles, rng), None)
    return list(seen)[:n]
