"""QED exactly as RDKit's ``QED.qed`` computes it, with its alert matching pre-screened.

``QED.properties`` matches QED's 116 structural-alert SMARTS (``QED.StructuralAlerts``) against
every molecule, most of its cost. :func:`qed_properties` does everything ``QED.properties`` does,
in the same order on the same hydrogen-free copy, but matches only the alerts a screen has not
ruled out (``alert_candidates``, from the library's combined pattern screen in
:mod:`core.chem.alerts`): the alert count, and so the QED value, is the same, only cheaper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
    copy = Chem.RemoveHs(mol)
    return copy_properties(copy, qed_alert_count(copy, alert_candidates))


def copy_properties(copy: Chem.Mol, alerts: int) -> QED.QEDproperties:
    """QED's properties of ``copy``, ``Chem.RemoveHs`` of the molecule as ``QED.properties``
    makes it, with ``alerts`` as the alert count (see :func:`qed_alert_count`)."""
    # Each value computed by the call QED.properties makes (RDKit 2024.03 to 2026.09), two of
    # them with a step less: an acceptor pattern that does not match has no matches to count
    # (QED asks HasSubstructMatch first), and DeleteSubstructs returns a new molecule, leaving
    # its input as it was (QED hands it a copy).
    return QED.QEDproperties(
        MW=rdmd._CalcMolWt(copy),
        ALOGP=Crippen.MolLogP(copy),
        HBA=sum(len(copy.GetSubstructMatches(pattern)) for pattern in QED.Acceptors),
        HBD=rdmd.CalcNumHBD(copy),
        PSA=MolSurf.TPSA(copy),
        ROTB=rdmd.CalcNumRotatableBonds(copy, rdmd.NumRotatableBondsOptions.Strict),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(copy, QED.AliphaticRings))),
        ALERTS=alerts,
    )


def qed_alert_count(
    copy: Chem.Mol,
    alert_candidates: Iterable[int] | None = None,
    known: Mapping[int, bool] | None = None,
) -> int:
    """How many of :data:`QED_ALERTS` match ``copy`` (``Chem.RemoveHs`` of the molecule).

    ``alert_candidates`` as for :func:`qed_properties`; ``known``: alerts whose answer is known
    already (the same query matched by the structural-alert pass), by index, not matched again.
    """
    candidates = range(len(QED_ALERTS)) if alert_candidates is None else alert_candidates
    known = known or {}
    count = 0
    for i in candidates:
        answer = known.get(i)
        if answer is None:
            answer = copy.HasSubstructMatch(QED_ALERTS[i])
        count += bool(answer)
    return count


def qed_value(properties: QED.QEDproperties) -> float:
    """``QED.qed`` (mean weights) of properties as :func:`qed_properties` gives them."""
    return QED.qed(None, qedProperties=properties)


__all__ = ["QED_ALERTS", "copy_properties", "qed_alert_count", "qed_properties", "qed_value"]
