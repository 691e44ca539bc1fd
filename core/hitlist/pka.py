"""A rule-based estimate of the most basic centre's pKa (of the conjugate acid), for CNS MPO.

No pKa model ships with the installed packages, and CNS MPO only needs to know whether the most
basic centre is below 8, above 10, or in between. Typical values by kind of group (aqueous, from
textbook tables) are adjusted for the substituents that move them most:

==========================  ======  ==========================================================
group                        pKa    examples (measured)
==========================  ======  ==========================================================
guanidine                    12.5   guanidine 13.6, arginine side chain 12.5
amidine (open chain)         11.5   benzamidine 11.6
primary/secondary amine      10.5   ethylamine 10.7, piperidine 11.1, diethylamine 11.0
tertiary amine                9.8   triethylamine 10.7, N-methylpiperidine 10.1
imidazole-like (5-ring n)     6.8   imidazole 7.0, benzimidazole 5.5
pyridine-like (6-ring n)      5.2   pyridine 5.2
aniline                       4.6   aniline 4.6, N,N-dimethylaniline 5.1
==========================  ======  ==========================================================

For amines: −1.0 when benzylic (benzylamine 9.3); −3.0 per singly bonded O/F/Cl/S two bonds
away (N–C–X) and −1.7 per such atom three bonds away (morpholine 8.4); −2.0 for a carbonyl
carbon two bonds away (glycinamide 8.0; its carbonyl oxygen is not counted again). Expect errors of a unit or more; the CNS MPO preset says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rdkit import Chem

_ALIPHATIC_AMINE = Chem.MolFromSmarts(
    "[NX3;+0;!a;!$(N[a]);!$(N[#6,#16,#15]=[#8,#16,#7]);!$(N[#7,#8]);!$(N-[#6]=[#6]);"
    "!$(N-C#N);!$(N-[#6]=[#7])]"
)
_GUANIDINE = Chem.MolFromSmarts(
    "[NX3;!$(NC=O)][CX3;!a](=[NX2;!a;!$(N[#8,#7]);!$(NC=O)])[NX3;!$(NC=O)]"
)
_AMIDINE = Chem.MolFromSmarts("[NX3;!$(NC=O)][CX3;!a](=[NX2;!a;!$(N[#8,#7]);!$(NC=O)])[#6]")
_IMIDAZOLE = Chem.MolFromSmarts("[nX2;r5;+0;$(n:c:[nX3]),$(n:c:c:[nX3])]")
_PYRIDINE = Chem.MolFromSmarts("[nX2;r6;+0]")
_ANILINE = Chem.MolFromSmarts("[NX3;+0;!a;$(N-c);!$(N[#6,#16,#15]=[#8,#16,#7]);!$(N[#7,#8])]")
_WITHDRAWING = {8, 9, 16, 17}  # O, F, S, Cl

_BASE_VALUES: Sequence[tuple[Chem.Mol, float]] = (
    (_GUANIDINE, 12.5),
    (_AMIDINE, 11.5),
    (_IMIDAZOLE, 6.8),
    (_PYRIDINE, 5.2),
    (_ANILINE, 4.6),
)


def _amine_pka(mol: Chem.Mol, index: int, distances) -> float:
    atom = mol.GetAtomWithIdx(index)
    tertiary = atom.GetTotalNumHs() == 0
    pka = 9.8 if tertiary else 10.5
    neighbours = [n for n in atom.GetNeighbors()]
    if any(
        any(m.GetIsAromatic() for m in n.GetNeighbors()) for n in neighbours if n.GetSymbol() == "C"
    ):
        pka -= 1.0
    for other in mol.GetAtoms():
        distance = distances[index][other.GetIdx()]
        single_bonded = all(b.GetBondType() == Chem.BondType.SINGLE for b in other.GetBonds())
        if other.GetAtomicNum() in _WITHDRAWING and single_bonded:
            if distance == 2:
                pka -= 3.0
            elif distance == 3:
                pka -= 1.7
        elif (
            distance == 2
            and other.GetAtomicNum() == 6
            and any(
                bond.GetBondType() == Chem.BondType.DOUBLE
                and bond.GetOtherAtom(other).GetAtomicNum() == 8
                for bond in other.GetBonds()
            )
        ):
            pka -= 2.0
    return pka


def estimate_basic_pka(mol: Chem.Mol | None) -> float:
    """Estimated pKa of the most basic centre's conjugate acid; NaN when there is none."""
    if mol is None:
        return math.nan
    best = -math.inf
    for pattern, value in _BASE_VALUES:
        if mol.HasSubstructMatch(pattern):
            best = max(best, value)
    amines = mol.GetSubstructMatches(_ALIPHATIC_AMINE)
    if amines:
        distances = Chem.GetDistanceMatrix(mol)
        for (index,) in amines:
            best = max(best, _amine_pka(mol, index, distances))
    return best if math.isfinite(best) else math.nan


def basic_pka_from_smiles(smiles: Sequence[str]) -> list[float]:
    """:func:`estimate_basic_pka` for each SMILES (NaN for empty or unreadable ones)."""
    values = []
    for text in smiles:
        mol = Chem.MolFromSmiles(text) if isinstance(text, str) and text else None
        values.append(estimate_basic_pka(mol))
    return values
