"""QED exactly as RDKit's ``QED.qed`` computes it, with its alert matching pre-screened.

``QED.properties`` matches QED's 116 structural-alert SMARTS (``QED.StructuralAlerts``) against
every molecule, most of its cost. :func:`qed_properties` does everything ``QED.properties`` does,
in the same order on the same hydrogen-free copy, but matches only the alerts a screen has not
ruled out (``alert_candidates``, from the library's combined pattern screen in
:mod:`core.chem.alerts`): the alert count, and so the QED value, is the same, only cheaper.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdkit import Chem
from rdkit.Chem import QED, Crippen, MolSurf
from rdkit.Chem import rdMolDescriptors as rdmd

QED_ALERTS: tuple[Chem.Mol, ...] = tuple(QED.StructuralAlerts)
"""RDKit's own QED alert patterns, in its order (indices of ``alert_candidates``)."""


def qed_properties(
    mol: Chem.Mol, alert_candidates: Iterable[int] | None = None
) -> QED.QEDproperties:
    """``QED.properties(mol)``, with the alerts matched only among ``alert_candidates``.

    Parameters
    ----------
    mol
        A sanitised molecule.
    alert_candidates
        Indices into :data:`QED_ALERTS` of the alerts that may match the hydrogen-free copy of
        ``mol`` (a pre-screen's answer: every alert that matches must be among them); None
        matches all of them, as RDKit does.
    """
    mol = Chem.RemoveHs(mol)
    if alert_candidates is None:
        alerts: Iterable[Chem.Mol] = QED_ALERTS
    else:
        alerts = [QED_ALERTS[i] for i in alert_candidates]
    # Each value computed by the call QED.properties makes (RDKit 2024.03 to 2026.09).
    return QED.QEDproperties(
        MW=rdmd._CalcMolWt(mol),
        ALOGP=Crippen.MolLogP(mol),
        HBA=sum(
            len(mol.GetSubstructMatches(pattern))
            for pattern in QED.Acceptors
            if mol.HasSubstructMatch(pattern)
        ),
        HBD=rdmd.CalcNumHBD(mol),
        PSA=MolSurf.TPSA(mol),
        ROTB=rdmd.CalcNumRotatableBonds(mol, rdmd.NumRotatableBondsOptions.Strict),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
        ALERTS=sum(1 for alert in alerts if mol.HasSubstructMatch(alert)),
    )


def qed_value(properties: QED.QEDproperties) -> float:
    """``QED.qed`` (mean weights) of properties as :func:`qed_properties` gives them."""
    return QED.qed(None, qedProperties=properties)


__all__ = ["QED_ALERTS", "qed_properties", "qed_value"]
