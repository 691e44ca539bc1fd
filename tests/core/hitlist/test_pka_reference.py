"""The rule-based basic pKa (``core.hitlist.pka``) against measured values it was NOT tuned on.

``tests/core/hitlist/test_pka.py`` checks the examples the rule's own table names (piperidine,
morpholine, triethylamine, pyridine, imidazole, aniline, benzylamine, benzamidine, glycinamide…):
passing them shows the rule was written as intended, not that it predicts. Here every molecule is
outside that table; none was used to choose the rule's values or corrections.

Sources: pKa of the conjugate acid in water at 25 °C from the CRC Handbook of Chemistry and Physics,
"Dissociation Constants of Organic Acids and Bases" (which compiles Perrin, *Dissociation Constants
of Organic Bases in Aqueous Solution*, 1965/1972); for the three drugs, the Merck Index
(lidocaine 7.86, nicotine 8.02 for its pyrrolidine nitrogen, amphetamine 9.9), rounded to 0.1.

Tolerance: 1.0 unit, what the rule's docstring promises ("expect errors of a unit or more") and
what CNS MPO's bands (8 and 10) can live with. Molecules the rule misses by more are listed as
strict xfails with the reason: they document what it does not model, and a rule that learns one
of them fails here until the molecule moves to the passing list.
"""

from __future__ import annotations

import pytest
from rdkit import Chem

from core.hitlist.pka import estimate_basic_pka

TOLERANCE = 1.0

# (name, SMILES, measured pKa of the conjugate acid)
WITHIN_A_UNIT = [
    ("methylamine", "CN", 10.66),
    ("dimethylamine", "CNC", 10.73),
    ("trimethylamine", "CN(C)C", 9.80),
    ("tert-butylamine", "CC(C)(C)N", 10.68),
    ("cyclohexylamine", "NC1CCCCC1", 10.64),
    ("pyrrolidine", "C1CCNC1", 11.31),
    ("piperazine", "C1CNCCN1", 9.73),
    ("ethanolamine", "NCCO", 9.50),
    ("4-methylmorpholine", "CN1CCOCC1", 7.38),
    ("2,2,2-trifluoroethylamine", "NCC(F)(F)F", 5.7),
    ("4-methylpyridine", "Cc1ccncc1", 5.98),
    ("quinoline", "c1ccc2ncccc2c1", 4.90),
    ("isoquinoline", "c1ccc2cnccc2c1", 5.40),
    ("1-methylimidazole", "Cn1ccnc1", 6.95),
    ("N-methylaniline", "CNc1ccccc1", 4.85),
    ("4-methylaniline", "Cc1ccc(N)cc1", 5.08),
    ("4-methoxyaniline", "COc1ccc(N)cc1", 5.34),
    ("lidocaine", "CCN(CC)CC(=O)Nc1c(C)cccc1C", 7.9),
    ("nicotine", "CN1CCC[C@H]1c1cccnc1", 8.0),
    ("amphetamine", "CC(N)Cc1ccccc1", 9.9),
]

MISSED = [
    ("aziridine", "C1CN1", 8.04, "ring strain (s-character of the lone pair) is not modelled"),
    (
        "quinuclidine",
        "C1CN2CCC1CC2",
        11.0,
        "a caged tertiary amine is as basic as a secondary one; the rule gives every tertiary 9.8",
    ),
    (
        "aminoacetonitrile",
        "NCC#N",
        5.34,
        "a nitrile two bonds from the nitrogen (about -5) is not among the corrections",
    ),
    (
        "4-aminopyridine",
        "Nc1ccncc1",
        9.17,
        "an amino group conjugated with the ring nitrogen raises it by 4; ring substituents are ignored",
    ),
    (
        "2-aminopyridine",
        "Nc1ccccn1",
        6.86,
        "an amino group conjugated with the ring nitrogen raises it; ring substituents are ignored",
    ),
    (
        "2,6-dimethylpyridine",
        "Cc1cccc(C)n1",
        6.65,
        "ring methyls raise a pyridine by about 0.7 each; ring substituents are ignored",
    ),
    (
        "2-methylimidazole",
        "Cc1ncc[nH]1",
        7.86,
        "a 2-methyl raises an imidazole by about 1; ring substituents are ignored",
    ),
    (
        "4-nitroaniline",
        "Nc1ccc(cc1)[N+](=O)[O-]",
        1.02,
        "electron-withdrawing ring substituents of anilines are ignored",
    ),
    (
        "diphenylamine",
        "c1ccc(Nc2ccccc2)cc1",
        0.79,
        "a second aryl on an aniline nitrogen (about -4) is not modelled",
    ),
]


@pytest.mark.parametrize(
    ("name", "smiles", "measured"), WITHIN_A_UNIT, ids=[n for n, _, _ in WITHIN_A_UNIT]
)
def test_estimate_is_within_a_unit_of_the_measured_value(name, smiles, measured):
    estimate = estimate_basic_pka(Chem.MolFromSmiles(smiles))
    assert estimate == pytest.approx(measured, abs=TOLERANCE), f"{name}: {estimate}"


@pytest.mark.parametrize(
    ("name", "smiles", "measured"),
    [
        pytest.param(name, smiles, measured, marks=pytest.mark.xfail(strict=True, reason=reason))
        for name, smiles, measured, reason in MISSED
    ],
    ids=[m[0] for m in MISSED],
)
def test_known_misses_of_the_rule(name, smiles, measured):
    estimate = estimate_basic_pka(Chem.MolFromSmiles(smiles))
    assert estimate == pytest.approx(measured, abs=TOLERANCE), f"{name}: {estimate}"


def test_the_reference_set_is_independent_of_the_rules_own_examples():
    """None of these molecules is one the rule's table was written from."""
    from pathlib import Path

    tuned_on = [
        "NC(N)=N", "NC(=N)c1ccccc1", "CCN", "C1CCNCC1", "CCNCC", "CCN(CC)CC", "CN1CCCCC1",
        "c1c[nH]cn1", "c1ccc2[nH]cnc2c1", "c1ccncc1", "Nc1ccccc1", "CN(C)c1ccccc1",
        "NCc1ccccc1", "C1COCCN1", "NCC(N)=O",
    ]  # fmt: skip
    canonical = {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in tuned_on}
    ours = [s for _, s, _ in WITHIN_A_UNIT] + [s for _, s, _, _ in MISSED]
    assert not canonical & {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in ours}
    # The rule's own table still lists those examples (so this list stays the right one).
    source = (Path(__file__).resolve().parents[3] / "core" / "hitlist" / "pka.py").read_text()
    for name in ("piperidine", "morpholine", "benzylamine", "glycinamide", "benzamidine"):
        assert name in source
