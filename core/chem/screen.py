"""Which substructure patterns a molecule cannot contain, known before any pattern is run.

Matching hundreds of SMARTS patterns against every molecule of a library (structural alerts, QED's
alert list) costs most of the time of describing it, and most patterns match nothing. Two cheap
necessary conditions rule most of them out first, as RDKit's SubstructLibrary screens its
queries:

- the pattern's ``PatternFingerprint`` bits must all be set in the molecule's (RDKit designs
  pattern fingerprints so that a substructure's bits are a subset of the molecule's);
- for each set of elements some pattern atoms are limited to, the molecule must have at least as
  many atoms of those elements.

A pattern passing both may match; one failing either cannot. Callers then match the candidates
as they would have matched every pattern, so the results are the same, only faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs

# Pattern fingerprints of this size: the screen's false-positive rate hardly improves above it.
SCREEN_BITS = 2048


def fingerprint_words(mol: Chem.Mol) -> np.ndarray:
    """The molecule's pattern fingerprint as 64-bit words."""
    fingerprint = Chem.PatternFingerprint(mol, fpSize=SCREEN_BITS)
    return np.frombuffer(DataStructs.BitVectToBinaryText(fingerprint), dtype=np.uint64)


def _atom_elements(description: list[tuple[int, str]], at: int = 0) -> frozenset[int] | None:
    """The atomic numbers a query atom can have, from ``Atom.DescribeQuery()`` parsed into
    (depth, text) lines; None when the query does not restrict the element."""
    depth, text = description[at]
    words = text.split()
    if not words:
        return None
    kind = words[0]
    if kind in ("AtomAtomicNum", "AtomType") and len(words) >= 4 and words[2] == "=":
        if words[3] != "val":  # "!= val": negated
            return None
        value = int(words[1])
        # An AtomType query's value is the atomic number, plus 1000 when aromatic.
        return frozenset({value % 1000 if kind == "AtomType" else value})
    if kind in ("AtomAnd", "AtomOr") and len(words) == 1:
        children = []
        child_depth = description[at + 1][0] if at + 1 < len(description) else depth
        for index in range(at + 1, len(description)):
            if description[index][0] <= depth:
                break
            if description[index][0] == child_depth:
                children.append(_atom_elements(description, index))
        if not children:
            return None
        if kind == "AtomAnd":
            known = [c for c in children if c is not None]
            return frozenset.intersection(*known) if known else None
        if any(c is None for c in children):
            return None
        return frozenset().union(*children)
    return None


def _element_conditions(pattern: Chem.Mol) -> dict[frozenset[int], int]:
    """For each element set some pattern atom is limited to: how many pattern atoms are limited
    to a subset of it. A match maps those atoms to distinct atoms of the molecule, all with an
    element in the set, so the molecule needs at least that many such atoms."""
    limits = []
    for atom in pattern.GetAtoms():
        if atom.HasQuery():
            lines = atom.DescribeQuery().splitlines()
            description = [(len(line) - len(line.lstrip(" ")), line.strip()) for line in lines]
            elements = _atom_elements(description) if description else None
        else:
            elements = frozenset({atom.GetAtomicNum()})
        if elements:
            limits.append(elements)
    return {limit: sum(other <= limit for other in limits) for limit in set(limits)}


class PatternScreen:
    """Necessary conditions for each of a list of patterns.

    ``patterns`` are SMARTS query molecules, each required to be present; ``None`` marks one that
    cannot be screened (it is always a candidate). Element conditions are rows of ``sets``: a
    molecule passes row ``k`` when it has at least ``needed[k]`` atoms whose element is in
    ``sets[k]`` (over ``elements``); row ``k`` belongs to pattern ``owner[k]``.
    """

    def __init__(self, patterns: Sequence[Chem.Mol | None]) -> None:
        self.bits = np.zeros((len(patterns), SCREEN_BITS // 64), dtype=np.uint64)
        self.screened = np.zeros(len(patterns), dtype=bool)
        conditions: list[tuple[int, frozenset[int], int]] = []
        for i, pattern in enumerate(patterns):
            if pattern is None:
                continue
            try:
                pattern = Chem.Mol(pattern)
                pattern.UpdatePropertyCache(strict=False)
                words = fingerprint_words(pattern)
                found = _element_conditions(pattern)
            except (RuntimeError, ValueError):
                continue
            self.bits[i] = words
            conditions += [(i, limit, count) for limit, count in found.items()]
            self.screened[i] = True
        self.elements = np.array(
            sorted({z for _i, limit, _n in conditions for z in limit}), dtype=np.int64
        )
        column = {int(z): k for k, z in enumerate(self.elements)}
        self.sets = np.zeros((len(conditions), len(self.elements)), dtype=np.int32)
        for k, (_i, limit, _n) in enumerate(conditions):
            self.sets[k, [column[z] for z in limit]] = 1
        self.needed = np.array([n for _i, _l, n in conditions], dtype=np.int32)
        self.owner = np.array([i for i, _l, _n in conditions], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.screened)

    def candidates(self, mol: Chem.Mol) -> np.ndarray:
        """Indices, ascending, of the patterns that may occur in ``mol`` (a sanitised molecule,
        matched as given)."""
        possible = ~(self.bits & ~fingerprint_words(mol)).any(axis=1)
        numbers = np.fromiter((atom.GetAtomicNum() for atom in mol.GetAtoms()), dtype=np.int64)
        counts = (numbers[:, None] == self.elements).sum(axis=0, dtype=np.int32)
        possible[self.owner[self.sets @ counts < self.needed]] = False
        possible |= ~self.screened
        return np.flatnonzero(possible)


__all__ = ["SCREEN_BITS", "PatternScreen", "fingerprint_words"]
