"""SMILES augmentation: every random spelling is the same molecule, seeded runs repeat, and the
counts and length limit hold."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from core.models.augment import augment_smiles, enumerate_smiles, randomize_smiles

DRUGS = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",  # caffeine
    "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",  # (S)-ibuprofen: stereo must survive
    "C[C@H](N)Cc1ccccc1",  # (S)-amphetamine
    "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O",  # glucose: five stereocentres
    "C/C=C/C(=O)O",  # crotonic acid: a double-bond geometry
    "CC(=O)[O-].[Na+]",  # a salt: two fragments
    "c1ccc2c(c1)[nH]c1ccccc12",  # carbazole: fused aromatic rings
]


def canonical(smiles: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    assert mol is not None, smiles
    return Chem.MolToSmiles(mol)  # isomeric: stereo is part of the identity


def test_random_spellings_are_the_same_molecule_and_differ_from_the_input():
    rng = np.random.default_rng(0)
    for smiles in DRUGS:
        spellings = [randomize_smiles(smiles, rng) for _ in range(10)]
        assert {canonical(s) for s in spellings} == {canonical(smiles)}, smiles
        assert len(set(spellings)) > 1, smiles  # random, not one fixed spelling


def test_unreadable_smiles_come_back_unchanged():
    rng = np.random.default_rng(0)
    for text in ("not a smiles", "C1CC", ""):
        assert randomize_smiles(text, rng) == text
    assert augment_smiles(["C1CC", "CCO"], rng, probability=1.0)[0] == "C1CC"


def test_same_seed_same_spellings_other_seed_other_spellings():
    def run(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return augment_smiles(DRUGS * 5, rng, probability=0.5) + enumerate_smiles(DRUGS[0], 8, rng)

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize("probability", [0.0, 0.5, 1.0])
def test_augment_keeps_count_and_order_and_replaces_about_the_asked_share(probability):
    smiles = DRUGS * 50  # 400 molecules
    out = augment_smiles(smiles, np.random.default_rng(3), probability=probability)
    assert len(out) == len(smiles)
    assert [canonical(s) for s in out] == [canonical(s) for s in smiles]  # row i is molecule i
    changed = np.mean([a != b for a, b in zip(out, smiles, strict=True)])
    if probability == 0.0:
        assert out == smiles
    elif probability == 1.0:
        assert changed > 0.9  # a random spelling may happen to equal the input
    else:
        assert 0.35 < changed < 0.6


def test_a_spelling_longer_than_max_length_is_not_used():
    smiles = DRUGS * 20
    limit = 30
    out = augment_smiles(smiles, np.random.default_rng(5), probability=1.0, max_length=limit)
    for original, new in zip(smiles, out, strict=True):
        assert new == original or len(new) <= limit
    # Short molecules still get random spellings; long ones keep theirs when every spelling is long.
    assert any(new != original for original, new in zip(smiles, out, strict=True))
    glucose = DRUGS[4]
    assert len(glucose) > 40
    assert augment_smiles([glucose], np.random.default_rng(0), 1.0, max_length=20) == [glucose]


def test_enumerate_gives_distinct_spellings_input_first():
    rng = np.random.default_rng(1)
    spellings = enumerate_smiles(DRUGS[0], 10, rng)
    assert spellings[0] == DRUGS[0]
    assert len(spellings) == 10 and len(set(spellings)) == 10
    assert {canonical(s) for s in spellings} == {canonical(DRUGS[0])}
    # Methane has one spelling: the list is shorter than asked, never padded with repeats.
    assert enumerate_smiles("C", 5, rng) == ["C"]
    ethanol = enumerate_smiles("CCO", 50, rng)
    assert ethanol[0] == "CCO" and len(ethanol) == len(set(ethanol)) < 50
    assert enumerate_smiles(DRUGS[1], 1, rng) == [DRUGS[1]]


def test_seeded_spellings_repeat_in_another_process():
    """Training runs in a worker process: a seed must give the same spellings there too."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys, numpy as np\n"
        "from core.models.augment import augment_smiles\n"
        "smiles = json.loads(sys.argv[1])\n"
        "print(json.dumps(augment_smiles(smiles, np.random.default_rng(11), probability=1.0)))\n"
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(DRUGS)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    here = augment_smiles(DRUGS, np.random.default_rng(11), probability=1.0)
    assert json.loads(result.stdout) == here
