"""The computed columns of one library row, with the work shared and repeated molecules done once.

:func:`row_values` gives what ``Chem.MolToInchiKey``, :func:`core.chem.properties.compute_properties`
and :func:`core.chem.descriptors.profile_values` give for a standardised molecule, with less work:

- the molecule is screened once for the structural-alert catalog and QED's own alerts
  (:func:`core.chem.alerts.screen_patterns`), and each matches only the patterns left; QED's
  alerts that are the same query as a catalog entry (82 of 116) take the alert pass's answer;
- a molecule met before in this process (the same canonical SMILES: a duplicate, or another salt
  of the same parent) reuses every value that does not depend on the order of its atoms (InChIKey,
  counts, formula, Fsp3, alerts, QED's alert and ring counts). MW, cLogP and TPSA are sums over
  the atoms in their order, whose last bit can differ between two orders of the same molecule,
  and the SA score counts stereocentres with RDKit's legacy perception, which can count
  differently in another atom order (5.90 against 5.98 for brucine without stereo marks): they
  (and QED, which uses MW, cLogP and TPSA) are computed again, so that the row stays exactly what
  RDKit computes for this record.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem import QED, Crippen, MolSurf
from rdkit.Chem import rdMolDescriptors as rdmd

from core.chem.alerts import alerts_text, match_alerts, qed_twin_answers, screen_patterns
from core.chem.descriptors import lipinski_rule, profile_values, sa_score
from core.chem.properties import compute_properties
from core.chem.qed import copy_properties, qed_alert_count, qed_value

CACHE_SIZE = 100_000
"""Molecules remembered per process (about 40 MB); the oldest are forgotten first."""


@dataclass(slots=True, frozen=True)
class _OrderFree:
    """The values of a molecule that do not depend on the order of its atoms."""

    inchikey: str
    hbd: int
    hba: int
    rotb: int
    formula: str
    fsp3: float
    alerts: str
    qed_hba: int
    qed_rotb: int
    qed_arom: int
    qed_alerts: int


_cache: dict[str, _OrderFree] = {}
# Rows are described on the engine's thread and, for a typed SMILES, on the window's: one writer
# at a time, so that two never evict the same oldest entry.
_cache_lock = threading.Lock()


def _default_rotors_are_strict() -> bool:
    """Whether ``CalcNumRotatableBonds(mol)`` (the library's ``rotb``, RDKit's default
    definition) counts as the ``Strict`` definition QED uses, so that QED's count can be reused.
    The default is one of the three definitions, chosen when RDKit is built; each probe tells
    Strict from one of the other two."""
    options = rdmd.NumRotatableBondsOptions
    for smiles in ("CC(=O)NC", "c1ccccc1-c1ccccc1"):  # NonStrict counts 1 / StrictLinkages 0
        probe = Chem.MolFromSmiles(smiles)
        if rdmd.CalcNumRotatableBonds(probe) != rdmd.CalcNumRotatableBonds(probe, options.Strict):
            return False
    return True


_STRICT_ROTORS = _default_rotors_are_strict()


def clear_cache() -> None:
    """Forget the molecules met so far (tests; memory)."""
    with _cache_lock:
        _cache.clear()


def row_values(mol: Chem.Mol, key: str | None = None) -> tuple[str, dict[str, object]]:
    """InChIKey and the property and profile columns of a standardised, sanitised molecule.

    Parameters
    ----------
    mol
        The molecule as standardised (its stereo perception may be updated, as the SA score's
        ``FindMolChiralCenters`` does).
    key
        The molecule's canonical SMILES as written in the table, or None to compute without the
        cache. Molecules with hydrogen atoms never use it.

    Returns
    -------
    tuple
        ``(inchikey, values)``: ``values`` holds :data:`~core.chem.properties.PROPERTY_COLUMNS`
        and :data:`~core.chem.properties.PROFILE_COLUMNS`, equal to ``compute_properties`` and
        ``profile_values``.
    """
    if mol.GetNumHeavyAtoms() != mol.GetNumAtoms():
        # Hydrogen (or dummy) atoms: QED's copy without them differs from the molecule; the
        # plain way, which handles that.
        inchikey = Chem.MolToInchiKey(mol) or ""
        properties = compute_properties(mol)
        return inchikey, {**properties, **profile_values(mol, properties)}
    known = _cache.get(key) if key is not None else None
    if known is None:
        return _first_time(mol, key)
    # As QED.properties computes them: on its hydrogen-free copy (the same atoms, re-sanitised).
    copy = Chem.RemoveHs(mol)
    mw, clogp, tpsa = rdmd._CalcMolWt(copy), Crippen.MolLogP(copy), MolSurf.TPSA(copy)
    score = sa_score(mol)
    qed = qed_value(
        QED.QEDproperties(
            MW=mw,
            ALOGP=clogp,
            HBA=known.qed_hba,
            HBD=known.hbd,
            PSA=tpsa,
            ROTB=known.qed_rotb,
            AROM=known.qed_arom,
            ALERTS=known.qed_alerts,
        )
    )
    return known.inchikey, _values(mw, clogp, tpsa, qed, score, known)


def _first_time(mol: Chem.Mol, key: str | None) -> tuple[str, dict[str, object]]:
    # In the order of the plain way: the SA score updates the molecule's stereo perception.
    inchikey = Chem.MolToInchiKey(mol) or ""
    screened = screen_patterns(mol)
    # QED's hydrogen-free copy, as QED.properties makes it; its alerts are counted below, where
    # those that are also catalog entries take the alert pass's answer.
    copy = Chem.RemoveHs(mol)
    qed_values = copy_properties(copy, 0)
    hba = int(rdmd.CalcNumHBA(mol))
    # QED's copy has the same atoms and bonds (no hydrogens to remove).
    rotb = int(qed_values.ROTB if _STRICT_ROTORS else rdmd.CalcNumRotatableBonds(mol))
    formula = rdmd.CalcMolFormula(mol)
    score = sa_score(mol)
    fsp3 = rdmd.CalcFractionCSP3(mol)
    alerts, matched = match_alerts(mol, screened)
    qed_values = qed_values._replace(
        ALERTS=qed_alert_count(
            copy,
            screened.qed if screened is not None else None,
            qed_twin_answers(screened, matched),
        )
    )
    known = _OrderFree(
        inchikey=inchikey,
        hbd=int(qed_values.HBD),
        hba=hba,
        rotb=rotb,
        formula=formula,
        fsp3=fsp3,
        alerts=alerts_text(alerts),
        qed_hba=qed_values.HBA,
        qed_rotb=qed_values.ROTB,
        qed_arom=qed_values.AROM,
        qed_alerts=qed_values.ALERTS,
    )
    if key is not None:
        with _cache_lock:
            while len(_cache) >= CACHE_SIZE:
                del _cache[next(iter(_cache))]
            _cache[key] = known
    qed = qed_value(qed_values)
    values = _values(qed_values.MW, qed_values.ALOGP, qed_values.PSA, qed, score, known)
    return inchikey, values


def _values(
    mw: float, clogp: float, tpsa: float, qed: float, score: float, known: _OrderFree
) -> dict[str, object]:
    return {
        "mw": mw,
        "clogp": clogp,
        "tpsa": tpsa,
        "hbd": known.hbd,
        "hba": known.hba,
        "rotb": known.rotb,
        "qed": qed,
        "formula": known.formula,
        "sa_score": score,
        "fsp3": known.fsp3,
        "lipinski_violations": len(lipinski_rule(mw, clogp, known.hbd, known.hba).violations),
        "alerts": known.alerts,
    }


__all__ = ["CACHE_SIZE", "clear_cache", "row_values"]
