"""Molecular properties, each computed exactly as RDKit's own descriptor function computes it."""

from __future__ import annotations

from collections.abc import Sequence

from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors
from rdkit.Chem import rdMolDescriptors as rdmd

from core.chem.qed import qed_properties, qed_value

PROPERTY_COLUMNS: tuple[str, ...] = ("mw", "clogp", "tpsa", "hbd", "hba", "rotb", "qed")
INTEGER_PROPERTIES = frozenset({"hbd", "hba", "rotb"})

PROPERTY_LABELS: dict[str, str] = {
    "mw": "MW",
    "clogp": "cLogP",
    "tpsa": "TPSA",
    "hbd": "HBD",
    "hba": "HBA",
    "rotb": "RotB",
    "qed": "QED",
}

PROPERTY_DESCRIPTIONS: dict[str, str] = {
    "mw": "Average molecular weight, g/mol (Descriptors.MolWt)",
    "clogp": "Wildman–Crippen logP (Crippen.MolLogP)",
    "tpsa": "Topological polar surface area, Å² (rdMolDescriptors.CalcTPSA)",
    "hbd": "Hydrogen-bond donors (Lipinski.NumHDonors)",
    "hba": "Hydrogen-bond acceptors (Lipinski.NumHAcceptors)",
    "rotb": "Rotatable bonds (Descriptors.NumRotatableBonds)",
    "qed": "Quantitative estimate of drug-likeness, 0–1 (QED.qed)",
}


PROFILE_COLUMNS: tuple[str, ...] = (
    "formula",
    "sa_score",
    "fsp3",
    "lipinski_violations",
    "alerts",
)
"""Library columns beyond :data:`PROPERTY_COLUMNS`, computed by
:func:`core.chem.descriptors.profile_values` (not by :func:`compute_properties`)."""
INTEGER_PROFILE = frozenset({"lipinski_violations"})
TEXT_PROFILE = frozenset({"formula", "alerts"})
"""Profile columns holding text (``""`` for invalid rows); the others are numbers."""

PROFILE_LABELS: dict[str, str] = {
    "formula": "Formula",
    "sa_score": "SA score",
    "fsp3": "Fsp3",
    "lipinski_violations": "Ro5 violations",
    "alerts": "Alerts",
}

PROFILE_DESCRIPTIONS: dict[str, str] = {
    "formula": "Molecular formula, Hill order (rdMolDescriptors.CalcMolFormula)",
    "sa_score": "Synthetic accessibility, 1 (easy) to 10 (hard) (RDKit Contrib sascorer, "
    "Ertl & Schuffenhauer 2009)",
    "fsp3": "Fraction of sp3 carbons (rdMolDescriptors.CalcFractionCSP3)",
    "lipinski_violations": "Lipinski rule-of-five criteria failed (MW > 500, cLogP > 5, HBD > 5, "
    "HBA > 10); the rule passes with at most one",
    "alerts": "Structural alerts from RDKit's FilterCatalog (PAINS A/B/C, Brenk, NIH), "
    "as catalog:name separated by ';'",
}


def compute_properties(
    mol: Chem.Mol, *, qed_alerts: Sequence[int] | None = None
) -> dict[str, float | int]:
    """MW, cLogP, TPSA, HBD, HBA, rotatable bonds and QED of a sanitised molecule.

    QED needs MW, logP, TPSA and HBD itself; they are computed once as ``QED.properties`` computes
    them (with the same RDKit functions as ``Descriptors.MolWt``, ``Crippen.MolLogP``,
    ``MolSurf.TPSA`` and ``rdMolDescriptors.CalcNumHBD``) and reused, which saves a second logP
    calculation per molecule.

    ``qed_alerts``: the QED alerts that may match ``mol``
    (:attr:`core.chem.alerts.ScreenedPatterns.qed`); only those are matched, which gives the same
    QED faster. Ignored for a molecule with hydrogen atoms (QED works on a copy without them).
    """
    # Atoms that are not heavy: hydrogens, or dummy atoms (for which both ways give the same).
    has_hydrogens = mol.GetNumHeavyAtoms() != mol.GetNumAtoms()
    qed_values = qed_properties(mol, None if has_hydrogens else qed_alerts)
    mw, clogp, tpsa, hbd = (
        qed_values.MW,
        qed_values.ALOGP,
        qed_values.PSA,
        qed_values.HBD,
    )
    if has_hydrogens:
        # QED.properties works on a copy without explicit Hs, which changes the last digits of
        # MW and logP (another summation order); compute them on the molecule as given.
        mw, clogp = Descriptors.MolWt(mol), Crippen.MolLogP(mol)
        tpsa, hbd = rdmd.CalcTPSA(mol), rdmd.CalcNumHBD(mol)
    return {
        "mw": mw,
        "clogp": clogp,
        "tpsa": tpsa,
        "hbd": int(hbd),
        "hba": int(rdmd.CalcNumHBA(mol)),
        "rotb": int(rdmd.CalcNumRotatableBonds(mol)),
        "qed": qed_value(qed_values),
    }
