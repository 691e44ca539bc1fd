"""Built-in desirability profiles: oral drug-likeness and Pfizer's CNS MPO.

Column names are those of the library table (``core.chem.library.LIBRARY_COLUMNS``) plus
``basic_pka`` (see :func:`core.hitlist.pka.estimate_basic_pka`), which the scoring job adds when a
profile asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.hitlist.desirability import Criterion, DesirabilityProfile, ProfileError


def _at_most(column: str, limit: float, margin: float, label: str) -> Criterion:
    """Logistic 'column ≤ limit': 0.5 at the limit, 0.95 at limit − margin, 0.05 at + margin."""
    return Criterion(column, good=limit - margin, bad=limit + margin, label=label)


ORAL = DesirabilityProfile(
    name="Oral drug-likeness",
    description=(
        "Lipinski's rule of five (MW ≤ 500, cLogP ≤ 5, HBD ≤ 5, HBA ≤ 10) and Veber's rules "
        "(TPSA ≤ 140 Å², rotatable bonds ≤ 10). Each limit scores 0.5; values well inside score "
        "near 1. Combined by a geometric mean, so one clear violation pulls the score down."
    ),
    criteria=(
        _at_most("mw", 500, 50, "MW ≤ 500"),
        _at_most("clogp", 5, 1, "cLogP ≤ 5"),
        _at_most("hbd", 5, 1, "HBD ≤ 5"),
        _at_most("hba", 10, 2, "HBA ≤ 10"),
        _at_most("tpsa", 140, 20, "TPSA ≤ 140"),
        _at_most("rotb", 10, 2, "Rotatable bonds ≤ 10"),
    ),
)

CNS_MPO = DesirabilityProfile(
    name="CNS MPO (Pfizer)",
    description=(
        "Wager et al., ACS Chem. Neurosci. 2010, 1, 435: six properties each scored 0–1 by "
        "piecewise-linear functions and summed (0–6; ≥ 4 is desirable). The score here is the "
        "sum divided by 6."
    ),
    combine="arithmetic",
    criteria=(
        Criterion(
            "clogp", "piecewise", points=((3, 1), (5, 0)), label="ClogP (1 at ≤ 3, 0 at ≥ 5)"
        ),
        Criterion(
            "clogp",
            "piecewise",
            points=((2, 1), (4, 0)),
            label="ClogD ≈ Crippen cLogP (1 at ≤ 2, 0 at ≥ 4)",
        ),
        Criterion(
            "mw", "piecewise", points=((360, 1), (500, 0)), label="MW (1 at ≤ 360, 0 at ≥ 500)"
        ),
        Criterion(
            "tpsa",
            "piecewise",
            points=((20, 0), (40, 1), (90, 1), (120, 0)),
            label="TPSA (1 in 40–90, 0 at ≤ 20 or ≥ 120)",
        ),
        Criterion(
            "hbd", "piecewise", points=((0.5, 1), (3.5, 0)), label="HBD (1 at ≤ 0.5, 0 at ≥ 3.5)"
        ),
        Criterion(
            "basic_pka",
            "piecewise",
            points=((8, 1), (10, 0)),
            if_missing=1.0,
            label="pKa of the most basic centre (1 at ≤ 8, 0 at ≥ 10; 1 when none)",
        ),
    ),
    notes=(
        "ClogP is RDKit's Crippen cLogP, not BioByte ClogP.",
        "ClogD at pH 7.4 is approximated by cLogP: it overestimates ClogD of ionised bases and "
        "acids, so their ClogD term scores lower than in Pfizer's calculation.",
        "The most basic pKa is a rule-based estimate from the kind of basic group (aliphatic "
        "amine, amidine/guanidine, pyridine, imidazole, aniline), not a pKa model; expect errors "
        "of one unit or more.",
    ),
)

PRESETS: dict[str, DesirabilityProfile] = {"oral": ORAL, "cns": CNS_MPO}


def preset(name: str) -> DesirabilityProfile:
    try:
        return PRESETS[name]
    except KeyError:
        raise ProfileError(
            f"unknown profile preset {name!r}; choose one of {', '.join(PRESETS)} or a JSON file"
        ) from None


@dataclass(frozen=True, slots=True)
class PublishedScale:
    """A preset's score on the scale its paper uses, shown beside the 0–1 score.

    CNS MPO is published as the sum of its six terms (0–6, ≥ 4 desirable); the 0–1 score here
    is that sum divided by six, so the published value is ``maximum × score``.
    """

    column: str
    title: str
    maximum: float
    guide: float
    guide_text: str

    def values(self, score: np.ndarray) -> np.ndarray:
        """The published value of each 0–1 score (NaN stays NaN)."""
        return np.asarray(score, dtype=np.float64) * self.maximum

    def count_desirable(self, score: np.ndarray) -> int:
        """How many scores reach the guide (CNS MPO ≥ 4)."""
        values = self.values(score)
        return int(np.count_nonzero(values >= self.guide - 1e-9))


PUBLISHED_SCALES: dict[str, PublishedScale] = {
    "cns": PublishedScale(
        column="cns_mpo",
        title="CNS MPO (0–6)",
        maximum=6.0,
        guide=4.0,
        guide_text=(
            "Pfizer CNS MPO on its published 0–6 scale (the sum of the six terms; Wager et al. "
            "2010): ≥ 4 is desirable. The Score column is this value divided by 6."
        ),
    ),
}
"""Published scales by preset key (see :data:`PRESETS`)."""


def published_scale(profile: DesirabilityProfile) -> PublishedScale | None:
    """The published scale of ``profile`` when it scores exactly as a preset that has one (the
    preset itself, or a copy loaded from a file under another name); ``None`` once edited."""
    for key, scale in PUBLISHED_SCALES.items():
        reference = PRESETS[key]
        if profile.combine == reference.combine and profile.criteria == reference.criteria:
            return scale
    return None
