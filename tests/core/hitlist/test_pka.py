"""The rule-based basic pKa estimate used by CNS MPO: right band for common groups."""

from __future__ import annotations

import math

import pytest
from rdkit import Chem

from core.hitlist.pka import basic_pka_from_smiles, estimate_basic_pka

# (SMILES, measured pKa of the conjugate acid); the estimate must be within 1.2 units.
MEASURED = [
    ("C1CCNCC1", 11.1),  # piperidine
    ("C1COCCN1", 8.4),  # morpholine
    ("NCc1ccccc1", 9.3),  # benzylamine
    ("CCN(CC)CC", 10.7),  # triethylamine
    ("c1ccncc1", 5.2),  # pyridine
    ("c1c[nH]cn1", 7.0),  # imidazole
    ("Nc1ccccc1", 4.6),  # aniline
    ("NC(=N)c1ccccc1", 11.6),  # benzamidine
    ("NCC(N)=O", 8.0),  # glycinamide
]


@pytest.mark.parametrize(("smiles", "measured"), MEASURED)
def test_estimates_within_a_unit_or_so(smiles, measured):
    assert estimate_basic_pka(Chem.MolFromSmiles(smiles)) == pytest.approx(measured, abs=1.2)


def test_molecules_without_a_basic_centre_give_nan():
    for smiles in ("c1ccccc1", "CC(N)=O", "CS(=O)(=O)NC", "OC(=O)c1ccccc1"):
        assert math.isnan(estimate_basic_pka(Chem.MolFromSmiles(smiles))), smiles


def test_the_most_basic_centre_wins_and_bad_input_is_nan():
    # Pyridine and a piperidine in one molecule: the amine decides.
    values = basic_pka_from_smiles(["c1ccncc1CCN1CCCCC1", "", "not smiles", None])
    assert values[0] > 9
    assert all(math.isnan(v) for v in values[1:])
