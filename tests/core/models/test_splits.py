"""Splits: disjoint and covering, deterministic per seed, scaffolds never divided, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from core.models.splits import (
    SPLITTERS,
    Split,
    balanced_scaffold_split,
    random_split,
    scaffold_split,
    stratified_split,
)


@pytest.fixture(scope="module")
def chembl_smiles(chembl_entries) -> list[str]:
    return [smiles for smiles, _ in chembl_entries]


def _assert_partition(split: Split, n: int) -> None:
    joined = np.concatenate([split.train, split.valid, split.test])
    assert len(joined) == n
    assert np.array_equal(np.sort(joined), np.arange(n))  # disjoint and covering
    for part in (split.train, split.valid, split.test):
        assert len(part) > 0
        assert part.dtype.kind == "i"


def _scaffold(smiles: str) -> str:
    return MurckoScaffold.MurckoScaffoldSmiles(
        mol=Chem.MolFromSmiles(smiles), includeChirality=False
    )


@pytest.mark.parametrize("splitter", [scaffold_split, balanced_scaffold_split])
def test_scaffold_splits_keep_each_scaffold_in_one_part(splitter, chembl_smiles):
    split = splitter(chembl_smiles, (0.8, 0.1, 0.1), seed=1)
    _assert_partition(split, len(chembl_smiles))
    owner: dict[str, str] = {}
    for part_name in ("train", "valid", "test"):
        for i in getattr(split, part_name):
            scaffold = _scaffold(chembl_smiles[i])
            assert owner.setdefault(scaffold, part_name) == part_name, scaffold
    sizes = split.sizes()
    assert sizes["train"] >= 0.7 * len(chembl_smiles)


def test_deepchem_scaffold_split_fills_largest_groups_first():
    # Scaffolds: benzene ×6, pyridine ×2, cyclohexane ×1, cyclopentane ×1 (10 molecules).
    benzenes = ["c1ccccc1C", "c1ccccc1CC", "c1ccccc1O", "c1ccccc1N", "c1ccccc1F", "c1ccccc1Cl"]
    smiles = [*benzenes, "c1ccncc1C", "c1ccncc1O", "C1CCCCC1O", "C1CCCC1N"]
    split = scaffold_split(smiles, (0.8, 0.1, 0.1))
    # Train takes benzene (6) + pyridine (2) = its 8. The two singletons tie on size; DeepChem's
    # tie-break puts the group whose first molecule comes later first: cyclopentane to valid.
    assert split.train.tolist() == list(range(8))
    assert split.valid.tolist() == [9]
    assert split.test.tolist() == [8]


def test_scaffold_split_ignores_seed_and_balanced_uses_it(chembl_smiles):
    assert np.array_equal(
        scaffold_split(chembl_smiles, seed=0).test, scaffold_split(chembl_smiles, seed=5).test
    )
    a = balanced_scaffold_split(chembl_smiles, seed=0)
    b = balanced_scaffold_split(chembl_smiles, seed=0)
    c = balanced_scaffold_split(chembl_smiles, seed=1)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.valid, b.valid)
    assert not np.array_equal(a.test, c.test)


def test_invalid_smiles_go_to_train():
    smiles = ["c1ccccc1C", "c1ccccc1O", "not a smiles", "c1ccncc1C", "C1CCCCC1O", "C1CCCC1N"]
    split = scaffold_split(smiles, (0.5, 0.25, 0.25))
    _assert_partition(split, len(smiles))
    assert 2 in split.train


def test_random_split_is_deterministic_per_seed():
    smiles = [f"C{'C' * i}O" for i in range(50)]
    a, b, c = (
        random_split(smiles, seed=3),
        random_split(smiles, seed=3),
        random_split(smiles, seed=4),
    )
    _assert_partition(a, 50)
    assert a.sizes() == {"train": 40, "valid": 5, "test": 5}
    assert np.array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_stratified_split_keeps_class_balance():
    labels = np.array([1] * 20 + [0] * 80, dtype=float)
    split = stratified_split(labels, (0.8, 0.1, 0.1), seed=0)
    _assert_partition(split, 100)
    assert [int(labels[p].sum()) for p in (split.train, split.valid, split.test)] == [16, 2, 2]
    assert np.array_equal(stratified_split(labels, seed=0).test, split.test)


def test_registry_names_every_splitter():
    assert {"scaffold", "scaffold_balanced", "random", "stratified"} <= set(SPLITTERS)
    assert SPLITTERS["scaffold"] is scaffold_split


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: scaffold_split(["CCO", "CCN"]), "at least 3 molecules"),
        (
            lambda: scaffold_split(["c1ccccc1C", "c1ccccc1O", "CCO", "CCN"]),
            "at least 3 distinct scaffolds",
        ),
        # three scaffolds, but the big group fills valid and leaves test empty
        (lambda: scaffold_split(["c1ccccc1"] * 10 + ["C1CCCCC1", "C1CCCC1"]), "test part empty"),
        (lambda: random_split(["C"] * 10, (0.8, 0.1)), "three numbers"),
        (lambda: random_split(["C"] * 10, (0.8, 0.3, 0.1)), "add up to 1"),
        (lambda: random_split(["C"] * 10, (1.0, 0.0, 0.0)), "> 0"),
        (lambda: random_split(["C"] * 4, (0.8, 0.1, 0.1)), "empty"),
        (lambda: stratified_split([0, 1, np.nan, 0, 1]), "missing"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
