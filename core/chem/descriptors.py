"""The property card of one molecule: descriptors, drug-likeness rules and structural alerts.

Every number is computed by RDKit's own function (named in :data:`CARD_DESCRIPTIONS`); the
synthetic accessibility score is RDKit's Contrib ``SA_Score/sascorer.py`` (Ertl & Schuffenhauer,
J Cheminform 2009). The rules are plain functions of those numbers, so the library table can
apply them to values it has already computed.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType

from rdkit import Chem, RDConfig
from rdkit.Chem import Crippen, Descriptors, rdqueries
from rdkit.Chem import rdMolDescriptors as rdmd

from core.chem.alerts import Alert, alerts_text, find_alerts
from core.chem.properties import (
    PROFILE_DESCRIPTIONS,
    PROFILE_LABELS,
    PROPERTY_DESCRIPTIONS,
    PROPERTY_LABELS,
    compute_properties,
)

# ----------------------------------------------------------------------------------------------
# Rules


@dataclass(slots=True, frozen=True)
class RuleResult:
    """The verdict of one drug-likeness rule.

    Attributes
    ----------
    name
        ``"Lipinski"``, ``"Veber"`` or ``"Ghose"``.
    passed
        Whether the molecule passes under the rule's convention (see the rule's function).
    violations
        One text per criterion the molecule fails, naming the value and the limit
        (``"MW 612.7 > 500"``); empty when every criterion holds.
    """

    name: str
    passed: bool
    violations: tuple[str, ...]


RULE_DESCRIPTIONS: dict[str, str] = {
    "Lipinski": "Lipinski's rule of five: MW ≤ 500, cLogP ≤ 5, HBD ≤ 5, HBA ≤ 10; "
    "passes with at most one violation",
    "Veber": "Veber's oral bioavailability rule: rotatable bonds ≤ 10 and TPSA ≤ 140 Å²",
    "Ghose": "Ghose's drug-like ranges: 160 ≤ MW ≤ 480, −0.4 ≤ cLogP ≤ 5.6, "
    "40 ≤ molar refractivity ≤ 130, 20 ≤ atoms (hydrogens included) ≤ 70",
}


def lipinski_rule(mw: float, clogp: float, hbd: int, hba: int) -> RuleResult:
    """Lipinski's rule of five (Lipinski et al., Adv Drug Deliv Rev 1997).

    Criteria: MW ≤ 500, cLogP ≤ 5, HBD ≤ 5, HBA ≤ 10, with the usual convention that a molecule
    **passes with at most one violation** (the paper flags poor absorption "when two or more
    parameters are out of range"); ``len(violations)`` is the ``lipinski_violations`` column.
    HBD and HBA are the counts the card shows (``Lipinski.NumHDonors`` and
    ``Lipinski.NumHAcceptors``, RDKit's pattern-based definitions), not the NH + OH and N + O
    counts of the paper (``rdMolDescriptors.CalcNumLipinskiHBD``/``HBA``).
    """
    violations = []
    if mw > 500:
        violations.append(f"MW {mw:.1f} > 500")
    if clogp > 5:
        violations.append(f"cLogP {clogp:.2f} > 5")
    if hbd > 5:
        violations.append(f"HBD {hbd} > 5")
    if hba > 10:
        violations.append(f"HBA {hba} > 10")
    return RuleResult("Lipinski", len(violations) <= 1, tuple(violations))


def veber_rule(rotb: int, tpsa: float) -> RuleResult:
    """Veber's rule (Veber et al., J Med Chem 2002): rotatable bonds ≤ 10 and TPSA ≤ 140 Å².

    Both criteria must hold to pass.
    """
    violations = []
    if rotb > 10:
        violations.append(f"RotB {rotb} > 10")
    if tpsa > 140:
        violations.append(f"TPSA {tpsa:.1f} > 140")
    return RuleResult("Veber", not violations, tuple(violations))


def ghose_rule(mw: float, clogp: float, molar_refractivity: float, atoms: int) -> RuleResult:
    """Ghose's drug-like ranges (Ghose et al., J Comb Chem 1999).

    160 ≤ MW ≤ 480, −0.4 ≤ cLogP ≤ 5.6, 40 ≤ molar refractivity ≤ 130 and 20 ≤ atoms ≤ 70,
    where ``atoms`` counts **every atom, hydrogens included**, as the paper does (an aspirin
    has 21). All four must hold to pass.
    """
    violations = []
    for label, value, low, high, digits in (
        ("MW", mw, 160, 480, 1),
        ("cLogP", clogp, -0.4, 5.6, 2),
        ("MR", molar_refractivity, 40, 130, 1),
        ("Atoms", atoms, 20, 70, 0),
    ):
        if value < low:
            violations.append(f"{label} {value:.{digits}f} < {low:g}")
        elif value > high:
            violations.append(f"{label} {value:.{digits}f} > {high:g}")
    return RuleResult("Ghose", not violations, tuple(violations))


# ----------------------------------------------------------------------------------------------
# Synthetic accessibility

_sascorer: ModuleType | None = None
_sascorer_lock = threading.Lock()


def _load_sascorer() -> ModuleType:
    """RDKit's Contrib ``sascorer`` module, imported once, with its fragment scores read.

    Contrib is not a package, so the module is loaded from its file. Reading the fragment scores
    (``fpscores.pkl.gz``, shipped beside it) takes about 0.3 s; it happens on first use, under a
    lock, so that two threads never read them at once.
    """
    global _sascorer
    if _sascorer is None:
        with _sascorer_lock:
            if _sascorer is None:
                path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
                spec = importlib.util.spec_from_file_location("rdkit_contrib_sascorer", path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"RDKit's SA score module is missing: {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                module.readFragmentScores()
                _sascorer = module
    return _sascorer


def warm_up() -> None:
    """Read now what describing a first molecule reads on first use: the SA-score fragment table
    (0.5 s) and the structural-alert catalog (0.05 s). The window calls this in a background
    thread after it shows, so that the first molecule drawn does not freeze it."""
    from core.chem.alerts import alert_catalog

    _load_sascorer()
    alert_catalog()


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score, 1 (easy) to 10 (hard): ``sascorer.calculateScore(mol)``.

    The same arithmetic as RDKit's Contrib ``calculateScore``, in the same order (so the same
    float, to the last bit), with one step done faster: its stereocentre count,
    ``len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))``, walks every atom in Python
    twice (half the score's time); :func:`chiral_center_count` asks RDKit for the same atoms in
    two calls. Like ``calculateScore``, it updates the molecule's stereo perception.

    Raises ``ValueError`` for a molecule without atoms (``calculateScore`` returns ``None``).
    """
    n_atoms = mol.GetNumAtoms()
    if not n_atoms:
        raise ValueError("the SA score needs a molecule with atoms")
    sascorer = _load_sascorer()
    fragment_scores = sascorer._fscores
    # Fragment score.
    counts = sascorer.mfpgen.GetSparseCountFingerprint(mol).GetNonzeroElements()
    score1 = 0.0
    nf = 0
    for key, count in counts.items():
        nf += count
        score1 += fragment_scores.get(key, -4) * count
    score1 /= nf
    # Features score.
    n_chiral = chiral_center_count(mol)
    ring_info = mol.GetRingInfo()
    n_bridgeheads, n_spiro = sascorer.numBridgeheadsAndSpiro(mol, ring_info)
    n_macrocycles = sum(1 for ring in ring_info.AtomRings() if len(ring) > 8)
    size_penalty = n_atoms**1.005 - n_atoms
    stereo_penalty = math.log10(n_chiral + 1)
    spiro_penalty = math.log10(n_spiro + 1)
    bridge_penalty = math.log10(n_bridgeheads + 1)
    macrocycle_penalty = math.log10(2) if n_macrocycles > 0 else 0.0
    score2 = (
        0.0 - size_penalty - stereo_penalty - spiro_penalty - bridge_penalty - macrocycle_penalty
    )
    # Fingerprint density correction.
    score3 = 0.0
    n_bits = len(counts)
    if n_atoms > n_bits:
        score3 = math.log(float(n_atoms) / n_bits) * 0.5
    score = score1 + score2 + score3
    # From the raw value to 1..10, smoothed at the 10 end.
    low, high = -4.0, 2.5
    score = 11.0 - (score - low + 1) / (high - low) * 9.0
    if score > 8.0:
        score = 8.0 + math.log(score + 1.0 - 9.0)
    if score > 10.0:
        score = 10.0
    elif score < 1.0:
        score = 1.0
    return float(score)


_CHIRALITY_POSSIBLE = rdqueries.HasPropQueryAtom("_ChiralityPossible")
_STEREOCENTER = rdqueries.HasPropQueryAtom("_CIPCode")
_STEREOCENTER.ExpandQuery(_CHIRALITY_POSSIBLE, Chem.CompositeQueryType.COMPOSITE_OR)


def chiral_center_count(mol: Chem.Mol) -> int:
    """``len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))``, with the same effect on
    the molecule.

    With RDKit's legacy stereo perception (the default), ``FindMolChiralCenters`` clears
    ``_ChiralityPossible`` on every atom, calls ``AssignStereochemistry(mol, force=True,
    flagPossibleStereoCenters=True, cleanIt=True)`` and lists the atoms with a ``_CIPCode`` or
    ``_ChiralityPossible`` property, each through a Python loop over the atoms; here RDKit finds
    those atoms itself (atom property queries). With the new perception, RDKit's function.
    """
    if not Chem.GetUseLegacyStereoPerception():
        return len(Chem.FindMolChiralCenters(mol, includeUnassigned=True))
    for atom in mol.GetAtomsMatchingQuery(_CHIRALITY_POSSIBLE):
        atom.ClearProp("_ChiralityPossible")
    Chem.AssignStereochemistry(mol, force=True, flagPossibleStereoCenters=True, cleanIt=True)
    return len(mol.GetAtomsMatchingQuery(_STEREOCENTER))


# ----------------------------------------------------------------------------------------------
# The card


@dataclass(slots=True, frozen=True)
class MoleculeCard:
    """Everything the property card shows about one molecule.

    Field names shared with the library table (``mw``, ``clogp``, ``tpsa``, ``hbd``, ``hba``,
    ``rotb``, ``qed``, ``formula``, ``sa_score``, ``fsp3``, ``lipinski_violations``) hold the same
    values as its columns. :data:`CARD_DESCRIPTIONS` says which RDKit function gives each.
    """

    formula: str
    mw: float
    exact_mass: float
    clogp: float
    tpsa: float
    hbd: int
    hba: int
    rotb: int
    rings: int
    aromatic_rings: int
    fsp3: float
    qed: float
    sa_score: float
    molar_refractivity: float
    atoms: int
    """All atoms, implicit hydrogens included (the count Ghose's rule uses)."""
    heavy_atoms: int
    lipinski: RuleResult
    veber: RuleResult
    ghose: RuleResult
    alerts: tuple[Alert, ...]

    @property
    def rules(self) -> tuple[RuleResult, RuleResult, RuleResult]:
        return (self.lipinski, self.veber, self.ghose)

    @property
    def lipinski_violations(self) -> int:
        return len(self.lipinski.violations)

    @property
    def alerts_text(self) -> str:
        """The ``alerts`` column value: ``;``-separated ``catalog:name``."""
        return alerts_text(self.alerts)


CARD_VALUES: tuple[str, ...] = (
    "formula",
    "mw",
    "exact_mass",
    "clogp",
    "tpsa",
    "hbd",
    "hba",
    "rotb",
    "rings",
    "aromatic_rings",
    "fsp3",
    "qed",
    "sa_score",
)
"""The :class:`MoleculeCard` values the card lists, in order."""

CARD_LABELS: dict[str, str] = {
    **PROPERTY_LABELS,
    **PROFILE_LABELS,
    "formula": "Formula",
    "exact_mass": "Exact mass",
    "rotb": "Rot. bonds",
    "rings": "Rings",
    "aromatic_rings": "Arom. rings",
    "molar_refractivity": "MR",
    "atoms": "Atoms",
    "heavy_atoms": "Heavy atoms",
}

CARD_DESCRIPTIONS: dict[str, str] = {
    **PROPERTY_DESCRIPTIONS,
    **PROFILE_DESCRIPTIONS,
    "exact_mass": "Monoisotopic mass, Da (Descriptors.ExactMolWt)",
    "rings": "Rings in RDKit's smallest set of smallest rings (rdMolDescriptors.CalcNumRings)",
    "aromatic_rings": "Aromatic rings (rdMolDescriptors.CalcNumAromaticRings)",
    "molar_refractivity": "Wildman–Crippen molar refractivity (Crippen.MolMR)",
    "atoms": "All atoms, hydrogens included (Mol.GetNumAtoms(onlyExplicit=False))",
    "heavy_atoms": "Non-hydrogen atoms (Mol.GetNumHeavyAtoms)",
}

INTEGER_CARD_VALUES = frozenset(
    {"hbd", "hba", "rotb", "rings", "aromatic_rings", "atoms", "heavy_atoms"}
)


def describe(mol: Chem.Mol, *, alerts: bool = True) -> MoleculeCard:
    """Compute the property card of a sanitised molecule.

    Parameters
    ----------
    mol
        A sanitised RDKit molecule with at least one atom (explicit hydrogens are allowed and are
        counted as RDKit's functions count them).
    alerts
        Search the structural alert catalogs (about 4 ms of the 6 ms a drug-like molecule takes);
        with ``False`` the card's ``alerts`` is empty.

    Returns
    -------
    MoleculeCard
        MW, cLogP, TPSA, HBD, HBA, rotatable bonds and QED as
        :func:`core.chem.properties.compute_properties` gives them (exactly RDKit's functions),
        plus the formula, exact mass, rings, Fsp3, SA score, molar refractivity, atom counts, the
        three rules and the alerts.

    Raises
    ------
    ValueError
        When the molecule has no atoms.
    """
    if mol.GetNumAtoms() == 0:
        raise ValueError("empty molecule (no atoms)")
    properties = compute_properties(mol)
    mr = Crippen.MolMR(mol)
    atoms = mol.GetNumAtoms(onlyExplicit=False)
    return MoleculeCard(
        formula=rdmd.CalcMolFormula(mol),
        mw=properties["mw"],
        exact_mass=Descriptors.ExactMolWt(mol),
        clogp=properties["clogp"],
        tpsa=properties["tpsa"],
        hbd=properties["hbd"],
        hba=properties["hba"],
        rotb=properties["rotb"],
        rings=rdmd.CalcNumRings(mol),
        aromatic_rings=rdmd.CalcNumAromaticRings(mol),
        fsp3=rdmd.CalcFractionCSP3(mol),
        qed=properties["qed"],
        sa_score=sa_score(mol),
        molar_refractivity=mr,
        atoms=atoms,
        heavy_atoms=mol.GetNumHeavyAtoms(),
        lipinski=_lipinski(properties),
        veber=veber_rule(properties["rotb"], properties["tpsa"]),
        ghose=ghose_rule(properties["mw"], properties["clogp"], mr, atoms),
        # One molecule (the Molecule panel): never wait for the library-sized alert screen.
        alerts=tuple(find_alerts(mol, screen=False)) if alerts else (),
    )


def _lipinski(properties: Mapping[str, float | int]) -> RuleResult:
    return lipinski_rule(
        properties["mw"], properties["clogp"], int(properties["hbd"]), int(properties["hba"])
    )


def profile_values(mol: Chem.Mol, properties: Mapping[str, float | int]) -> dict[str, object]:
    """The library's :data:`~core.chem.properties.PROFILE_COLUMNS` for one molecule.

    Parameters
    ----------
    mol
        The sanitised molecule ``properties`` were computed from.
    properties
        :func:`~core.chem.properties.compute_properties` of ``mol``: the Lipinski count reuses its
        MW, cLogP, HBD and HBA instead of computing them again.

    Returns
    -------
    dict
        ``formula`` (str), ``sa_score`` and ``fsp3`` (float), ``lipinski_violations`` (int) and
        ``alerts`` (str, ``""`` when none), equal to :func:`describe`'s values.
    """
    return {
        "formula": rdmd.CalcMolFormula(mol),
        "sa_score": sa_score(mol),
        "fsp3": rdmd.CalcFractionCSP3(mol),
        "lipinski_violations": len(_lipinski(properties).violations),
        "alerts": alerts_text(find_alerts(mol, with_atoms=False)),
    }


__all__ = [
    "CARD_DESCRIPTIONS",
    "CARD_LABELS",
    "CARD_VALUES",
    "INTEGER_CARD_VALUES",
    "RULE_DESCRIPTIONS",
    "MoleculeCard",
    "RuleResult",
    "describe",
    "ghose_rule",
    "lipinski_rule",
    "profile_values",
    "sa_score",
    "veber_rule",
]
