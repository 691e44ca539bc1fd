"""Train/valid/test splits of a molecule set: scaffold (DeepChem-style and seeded balanced), random
and stratified.

Every splitter returns a :class:`Split` of sorted integer index arrays that are disjoint and together
cover ``range(len(smiles))``. Each is registered by name in :data:`SPLITTERS` so that a benchmark or a
model card can name the split it used (``SPLITTERS["scaffold"](smiles, fractions, seed)``).

Invalid SMILES (RDKit cannot parse them) have no scaffold. The scaffold splitters put every invalid
SMILES into **train**: they cannot leak a scaffold into valid or test, a featurizer masks them out of
training anyway, and so the test part holds only molecules that can be scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.Scaffolds import MurckoScaffold

Fractions = tuple[float, float, float]
Splitter = Callable[..., "Split"]

SPLITTERS: dict[str, Splitter] = {}
"""Splitters by name: ``"scaffold"``, ``"scaffold_balanced"``, ``"random"``, ``"stratified"``."""


def register_splitter(name: str) -> Callable[[Splitter], Splitter]:
    """Decorator adding a splitter ``fn(smiles_or_labels, fractions, seed) -> Split`` by name."""

    def add(fn: Splitter) -> Splitter:
        if name in SPLITTERS:
            raise ValueError(f"a splitter named {name!r} is already registered")
        SPLITTERS[name] = fn
        return fn

    return add


@dataclass(slots=True, frozen=True)
class Split:
    """Row indices of the train, valid and test parts (sorted, disjoint, covering all rows)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """``{"train": n, "valid": n, "test": n}``, as a model card records them."""
        return {"train": len(self.train), "valid": len(self.valid), "test": len(self.test)}


def _check_fractions(fractions: Sequence[float]) -> Fractions:
    if len(fractions) != 3:
        raise ValueError(f"fractions must be three numbers (train, valid, test), got {fractions!r}")
    values = tuple(float(f) for f in fractions)
    if any(not np.isfinite(f) or f <= 0 for f in values):
        raise ValueError(f"every fraction must be > 0, got {values}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1, got {values} (sum {sum(values):g})")
    return values  # type: ignore[return-value]


def _make_split(train: list[int] | np.ndarray, valid, test, what: str) -> Split:
    parts = {
        name: np.sort(np.asarray(idx, dtype=np.int64))
        for name, idx in (("train", train), ("valid", valid), ("test", test))
    }
    empty = [name for name, idx in parts.items() if len(idx) == 0]
    if empty:
        sizes = ", ".join(f"{name} {len(idx)}" for name, idx in parts.items())
        raise ValueError(
            f"{what} leaves the {' and '.join(empty)} part empty ({sizes}); "
            "use more molecules or other fractions."
        )
    return Split(parts["train"], parts["valid"], parts["test"])


def _check_count(n: int) -> None:
    if n < 3:
        raise ValueError(f"a train/valid/test split needs at least 3 molecules, got {n}")


def murcko_scaffold(smiles: str) -> str | None:
    """The Bemis–Murcko scaffold SMILES (no chirality) of ``smiles``; ``None`` if it does not parse.

    Acyclic molecules have the empty scaffold ``""`` and so form one group together, as in DeepChem.
    """
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_groups(smiles: Sequence[str]) -> tuple[list[list[int]], list[int]]:
    """Row indices grouped by scaffold (in order of first appearance), and the invalid rows."""
    groups: dict[str, list[int]] = {}
    invalid: list[int] = []
    for i, text in enumerate(smiles):
        scaffold = murcko_scaffold(text)
        if scaffold is None:
            invalid.append(i)
        else:
            groups.setdefault(scaffold, []).append(i)
    return list(groups.values()), invalid


def _fill_groups(
    ordered: list[list[int]], n: int, fractions: Fractions
) -> tuple[list[int], list[int], list[int]]:
    # DeepChem's ScaffoldSplitter.split: a group goes to train while train stays within its share,
    # else to valid while train + valid stay within theirs, else to test. Groups are never divided.
    train_cut = fractions[0] * n
    valid_cut = (fractions[0] + fractions[1]) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) > train_cut:
            if len(train) + len(valid) + len(group) > valid_cut:
                test.extend(group)
            else:
                valid.extend(group)
        else:
            train.extend(group)
    return train, valid, test


def _scaffold_prepare(smiles: Sequence[str], fractions: Sequence[float]):
    values = _check_fractions(fractions)
    _check_count(len(smiles))
    groups, invalid = scaffold_groups(smiles)
    if len(groups) < 3:
        raise ValueError(
            f"a scaffold split needs at least 3 distinct scaffolds, found {len(groups)} among "
            f"{len(smiles) - len(invalid)} valid molecules ({len(invalid)} invalid SMILES)"
        )
    return values, groups, invalid


@register_splitter("scaffold")
def scaffold_split(
    smiles: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """DeepChem's scaffold split: scaffold groups sorted largest first fill train, valid, test.

    Groups of equal size keep DeepChem's tie-break (the group whose first molecule comes later in
    the input goes first). Molecules sharing a scaffold always land in the same part. Invalid SMILES
    go to train (see the module docstring).

    Parameters
    ----------
    smiles
        One SMILES per row.
    fractions
        Target shares of train, valid and test; each > 0, adding up to 1.
    seed
        Not used: this split is deterministic, so repeating it with "3 seeds" repeats the same split
        (only the model's seed varies, as in the MoleculeNet reference figures). Accepted so every
        splitter has the same signature; use :func:`balanced_scaffold_split` for seeded splits.

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        Fewer than 3 molecules or 3 scaffolds, bad fractions, or a part left empty.
    """
    del seed
    values, groups, invalid = _scaffold_prepare(smiles, fractions)
    ordered = sorted(groups, key=lambda g: (len(g), g[0]), reverse=True)
    train, valid, test = _fill_groups(ordered, len(smiles) - len(invalid), values)
    return _make_split(train + invalid, valid, test, "this scaffold split")


@register_splitter("scaffold_balanced")
def balanced_scaffold_split(
    smiles: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """A seeded scaffold split (chemprop's ``scaffold_balanced``), for repeats over several seeds.

    Groups larger than half the valid or half the test share ("big" groups) come first, largest
    first, so they always land in train; the seed shuffles the order of the remaining groups
    (``numpy.random.default_rng(seed)``), which changes which small scaffolds end up in valid and
    test. Each seed gives a different split, and the same seed always the same one. Groups are
    never divided; invalid SMILES go to train.

    Raises
    ------
    ValueError
        As :func:`scaffold_split`.
    """
    values, groups, invalid = _scaffold_prepare(smiles, fractions)
    n_valid_mols = len(smiles) - len(invalid)
    half_valid = values[1] * n_valid_mols / 2
    half_test = values[2] * n_valid_mols / 2
    big = [g for g in groups if len(g) > half_valid or len(g) > half_test]
    small = [g for g in groups if not (len(g) > half_valid or len(g) > half_test)]
    big.sort(key=lambda g: (len(g), g[0]), reverse=True)
    order = np.random.default_rng(seed).permutation(len(small))
    ordered = big + [small[i] for i in order]
    train, valid, test = _fill_groups(ordered, n_valid_mols, values)
    return _make_split(train + invalid, valid, test, f"this balanced scaffold split (seed {seed})")


def _cut(indices: np.ndarray, fractions: Fractions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(indices)
    n_train = round(fractions[0] * n)
    n_valid = round(fractions[1] * n)
    return indices[:n_train], indices[n_train : n_train + n_valid], indices[n_train + n_valid :]


@register_splitter("random")
def random_split(
    smiles: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Rows shuffled with ``numpy.random.default_rng(seed)`` and cut by ``fractions`` (rounded).

    Only the number of rows matters; ``smiles`` may be any sequence. Invalid SMILES are split like
    the others.
    """
    values = _check_fractions(fractions)
    n = len(smiles)
    _check_count(n)
    order = np.random.default_rng(seed).permutation(n)
    return _make_split(*_cut(order, values), what=f"a random split of {n} molecules")


@register_splitter("stratified")
def stratified_split(
    labels: Sequence[float] | np.ndarray,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> Split:
    """A random split that keeps each class's share in every part (single-task classification).

    Each class's rows are shuffled with ``numpy.random.default_rng(seed)`` and cut by ``fractions``
    separately, so train, valid and test hold (up to rounding) the same class balance.

    Parameters
    ----------
    labels
        One class label per row (e.g. 0/1); missing labels (NaN) are refused.
    """
    values = _check_fractions(fractions)
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"stratified_split needs one label per row (1-D), got shape {y.shape}")
    _check_count(len(y))
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(
            f"stratified_split needs a label for every row; {int(np.isnan(y).sum())} are missing"
        )
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        for part, chunk in zip(parts, _cut(rng.permutation(rows), values), strict=True):
            part.append(chunk)
    train, valid, test = (np.concatenate(p) for p in parts)
    return _make_split(train, valid, test, f"a stratified split of {len(y)} rows")
