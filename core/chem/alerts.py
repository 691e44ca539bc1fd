"""Structural alerts: substructures that flag assay interference, reactivity or toxicity.

The alerts are RDKit's own FilterCatalog entries (PAINS families A, B and C, Brenk and NIH), matched
by RDKit itself: an alert is reported exactly when ``FilterCatalog.GetMatches`` returns its entry.
The catalog is built once per process (about 25 ms).

``GetMatches`` runs all 765 SMARTS patterns on every molecule (4–7 ms for a drug-like one, most of
a library's loading time). :class:`core.chem.screen.PatternScreen` rules most of them out first
(pattern fingerprints and element counts), and only the remaining entries are matched
(``FilterCatalogEntry.HasFilterMatch``, the call ``GetMatches`` makes for each entry), so the
alerts found are the same; the screen only skips work. It applies to entries that are one SMARTS
pattern required at least once (all 765 in RDKit 2026.03), read from the entry's serialisation;
any other entry (exclusion lists, hierarchies, a pattern RDKit no longer serialises as expected)
is always matched.

The same screen also covers QED's 116 alert patterns (:data:`core.chem.qed.QED_ALERTS`), so that a
library row screens its molecule once for both (:func:`screen_patterns`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from core.chem.qed import QED_ALERTS
from core.chem.screen import PatternScreen

ALERT_CATALOGS: tuple[str, ...] = ("PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH")
"""The catalogs searched, in the order alerts are reported (names as in
``FilterCatalogParams.FilterCatalogs``)."""

CATALOG_DESCRIPTIONS: dict[str, str] = {
    "PAINS_A": "Pan-assay interference compounds, family A (Baell & Holloway, J Med Chem 2010)",
    "PAINS_B": "Pan-assay interference compounds, family B (Baell & Holloway, J Med Chem 2010)",
    "PAINS_C": "Pan-assay interference compounds, family C (Baell & Holloway, J Med Chem 2010)",
    "BRENK": "Unwanted groups: toxic, reactive or poor pharmacokinetics (Brenk et al., "
    "ChemMedChem 2008)",
    "NIH": "Problematic functional groups: reactive or assay artefacts (Jadhav et al., "
    "J Med Chem 2010)",
}

# Each entry carries its family in the "FilterSet" property, spelt differently from the enum.
_FILTER_SETS: dict[str, str] = {
    "PAINS_A": "PAINS_A",
    "PAINS_B": "PAINS_B",
    "PAINS_C": "PAINS_C",
    "Brenk": "BRENK",
    "BRENK": "BRENK",
    "NIH": "NIH",
}


@dataclass(slots=True, frozen=True)
class Alert:
    """One structural alert found in a molecule.

    Attributes
    ----------
    catalog
        The catalog that holds the alert, one of :data:`ALERT_CATALOGS`.
    name
        The catalog entry's description, as RDKit names it (``"ene_rhod_A(235)"``, ``"catechol"``).
    atoms
        Indices (in the molecule searched) of the atoms RDKit's
        ``FilterCatalogEntry.GetFilterMatches`` reports, sorted ascending. RDKit reports the first
        place a pattern matches, not every place: a molecule with two catechols has the atoms of
        one of them here.
    """

    catalog: str
    name: str
    atoms: tuple[int, ...]

    @property
    def label(self) -> str:
        """``catalog:name``, as written in the ``alerts`` column."""
        return f"{self.catalog}:{self.name}"


_catalog: FilterCatalog | None = None
_screen: tuple[tuple, PatternScreen] | None = None
_qed_twins: np.ndarray | None = None
_qed_twin_list: list[int] = []
"""For each QED alert, the catalog entry that is the same query matched the same way (one
pattern, at least once), or -1."""
_catalog_lock = threading.Lock()


def alert_catalog() -> FilterCatalog:
    """The FilterCatalog with every catalog of :data:`ALERT_CATALOGS`, built once per process.

    The GUI thread (the property card) and the engine thread (library loading) may ask for it at
    the same time; the lock keeps them from building it twice.
    """
    global _catalog
    if _catalog is None:
        with _catalog_lock:
            if _catalog is None:
                params = FilterCatalogParams()
                for name in ALERT_CATALOGS:
                    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
                _catalog = FilterCatalog(params)
    return _catalog


# RDKit's MolPickler writes this 4-byte magic first; a serialised SmartsMatcher holds one pickle.
_PICKLE_MAGIC = b"\xef\xbe\xad\xde"


def _entry_pattern(entry) -> Chem.Mol | None:
    """The SMARTS pattern of an entry that is one SmartsMatcher required at least once, read
    from the entry's serialisation (RDKit's Python API has no getter); None for anything else."""
    data = entry.Serialize()
    start = data.find(_PICKLE_MAGIC)
    if start < 0:
        return None  # not a pattern
    try:
        # Boost's text archive writes the pickle's length, a space, then the pickle (recursive
        # SMARTS are pickled inside it, so the magic may recur within those bytes).
        length = int(data[:start].rstrip(b" ").rsplit(b" ", 1)[1])
        if _PICKLE_MAGIC in data[start + length :]:
            return None  # several patterns (exclusion lists, hierarchies)
        counts = data[start + length :].split(maxsplit=2)
        min_count = int(counts[0])
        pattern = Chem.Mol(data[start : start + length])
    except (ValueError, IndexError, RuntimeError):
        return None
    if min_count < 1 or pattern.GetNumAtoms() == 0:
        return None  # an entry matching when a pattern is absent cannot be screened
    return pattern


def _alert_screen() -> tuple[tuple, PatternScreen]:
    """The catalog's entries, in the order GetMatches reports them, and the screen of their
    patterns followed by QED's alert patterns."""
    global _screen, _qed_twins, _qed_twin_list
    if _screen is None:
        catalog = alert_catalog()
        with _catalog_lock:
            if _screen is None:
                entries = tuple(catalog.GetEntryWithIdx(i) for i in range(catalog.GetNumEntries()))
                patterns = [_entry_pattern(e) for e in entries]
                _qed_twins = _twins(entries, patterns)
                _qed_twin_list = _qed_twins.tolist()
                _screen = (entries, PatternScreen([*patterns, *QED_ALERTS]))
    return _screen


_UNBOUNDED = 4294967295  # a SmartsMatcher's default maximum count (UINT_MAX)


def _twins(entries: tuple, patterns: list[Chem.Mol | None]) -> np.ndarray:
    """For each QED alert, the entry whose pattern is the same query (same SMARTS written back
    by RDKit) required at least once with no maximum, so that ``HasFilterMatch`` answers what
    ``HasSubstructMatch`` of the QED alert answers; -1 where there is none (34 of 116 in RDKit
    2026.03: 82 QED alerts are Brenk or NIH entries)."""
    by_smarts: dict[str, int] = {}
    for index, (entry, pattern) in enumerate(zip(entries, patterns, strict=True)):
        if pattern is None:
            continue
        data = entry.Serialize()
        start = data.find(_PICKLE_MAGIC)
        length = int(data[:start].rstrip(b" ").rsplit(b" ", 1)[1])
        counts = data[start + length :].split(maxsplit=2)
        if counts[:2] == [b"1", str(_UNBOUNDED).encode()]:
            by_smarts.setdefault(Chem.MolToSmarts(pattern), index)
    return np.array([by_smarts.get(Chem.MolToSmarts(q), -1) for q in QED_ALERTS], dtype=np.int64)


def qed_twin_answers(screened: ScreenedPatterns | None, matched: Iterable[int]) -> dict[int, bool]:
    """Whether each QED alert left by ``screened`` that is also a catalog entry (see
    :func:`_twins`) matches, from the entries ``matched`` by the alert pass on the same molecule
    (:func:`match_alerts`); the other QED alerts are not in the answer."""
    if screened is None or _qed_twins is None:
        return {}
    found = set(matched)
    twins = _qed_twin_list
    return {i: twins[i] in found for i in map(int, screened.qed) if twins[i] >= 0}


_SCREEN_AFTER = 50
"""Molecules matched without the screen before it is built: building it (0.7 s) costs about as
much as matching 100 molecules against every pattern."""
_unscreened = 0


@dataclass(slots=True, frozen=True)
class ScreenedPatterns:
    """What one pass of the pattern screen left for one molecule (indices, ascending)."""

    alerts: Sequence[int]
    """Catalog entries (``alert_catalog().GetEntryWithIdx``) that may match."""
    qed: Sequence[int]
    """QED alerts (:data:`core.chem.qed.QED_ALERTS`) that may match."""


def screen_patterns(mol: Chem.Mol, screen: bool = True) -> ScreenedPatterns | None:
    """The alert-catalog entries and QED alerts that may match ``mol`` (matched as given), from
    one pass of the screen; None while the screen is not built (see :func:`_candidate_entries`
    for when it is)."""
    global _unscreened
    if _screen is None:
        if screen:
            _unscreened += 1
        if not screen or _unscreened <= _SCREEN_AFTER:
            return None
    entries, patterns = _alert_screen()
    # Python ints: the callers loop over them, and looping over numpy integers is slower.
    found = patterns.candidates(mol).tolist()
    split = bisect.bisect_left(found, len(entries))
    return ScreenedPatterns(found[:split], [i - len(entries) for i in found[split:]])


def _candidate_entries(
    mol: Chem.Mol, screen: bool = True, screened: ScreenedPatterns | None = None
) -> list:
    """The catalog entries that may match ``mol``, in catalog order: all of them until the
    screen is built (after :data:`_SCREEN_AFTER` molecules of this process, and never for
    ``screen=False``, so that one molecule shown in the window does not wait 0.7 s for it)."""
    if screened is None:
        screened = screen_patterns(mol, screen)
    if screened is None:
        catalog = alert_catalog()
        return [catalog.GetEntryWithIdx(i) for i in range(catalog.GetNumEntries())]
    entries, _patterns = _alert_screen()
    return [entries[i] for i in screened.alerts]


def _catalog_of(entry) -> str:
    filter_set = entry.GetProp("FilterSet")
    try:
        return _FILTER_SETS[filter_set]
    except KeyError:
        # A new RDKit spelling must not silently file alerts under the wrong catalog.
        raise ValueError(f"unknown FilterCatalog family {filter_set!r}") from None


def find_alerts(
    mol: Chem.Mol,
    *,
    with_atoms: bool = True,
    screen: bool = True,
    screened: ScreenedPatterns | None = None,
) -> list[Alert]:
    """The structural alerts of a sanitised molecule, with the atoms each one matches.

    Parameters
    ----------
    mol
        A sanitised RDKit molecule, matched as given (explicit hydrogen atoms included).
    with_atoms
        Find the matched atoms (``Alert.atoms``). Finding them runs each matching pattern a
        second time (about a tenth of the cost for CHEMBL molecules, which match Brenk and NIH
        alerts often); the library table, which only lists names, skips it and gets ``()``.
    screen
        Let this call count towards building the pattern screen (for many molecules); ``False``
        for a single molecule on the GUI thread (the screen is used if it exists, never built).
    screened
        :func:`screen_patterns` of ``mol``, when the caller has it already (a library row screens
        once for the alerts and QED).

    Returns
    -------
    list[Alert]
        One alert per catalog entry that RDKit's ``FilterCatalog.GetMatches`` returns, ordered by
        catalog (as in :data:`ALERT_CATALOGS`) and then by the entry's place in RDKit's catalog;
        an empty list when nothing matches. The order does not depend on the atom order of
        ``mol``.
    """
    return _match(mol, with_atoms, screen, screened)[0]


def match_alerts(mol: Chem.Mol, screened: ScreenedPatterns | None) -> tuple[list[Alert], list[int]]:
    """``find_alerts(mol, with_atoms=False, screened=screened)``, and the indices of the catalog
    entries that matched (for :func:`qed_twin_answers`)."""
    return _match(mol, False, True, screened)


def _match(
    mol: Chem.Mol, with_atoms: bool, screen: bool, screened: ScreenedPatterns | None
) -> tuple[list[Alert], list[int]]:
    if screened is None:
        screened = screen_patterns(mol, screen)
    if screened is None:
        catalog = alert_catalog()
        indices: Iterable[int] = range(catalog.GetNumEntries())
        entry_at = catalog.GetEntryWithIdx
    else:
        indices = screened.alerts
        entry_at = _alert_screen()[0].__getitem__
    matched: dict[tuple[str, str], set[int]] = {}
    matched_indices = [int(i) for i in indices if entry_at(int(i)).HasFilterMatch(mol)]
    for index in matched_indices:
        entry = entry_at(index)
        key = (_catalog_of(entry), entry.GetDescription())
        atoms = matched.setdefault(key, set())
        if not with_atoms:
            continue
        for match in entry.GetFilterMatches(mol):
            atoms.update(pair.target for pair in match.atomPairs)
    rank = {name: i for i, name in enumerate(ALERT_CATALOGS)}
    # sorted() is stable: within a catalog, RDKit's entry order is kept.
    keys = sorted(matched, key=lambda key: rank[key[0]])
    alerts = [Alert(catalog, name, tuple(sorted(matched[catalog, name]))) for catalog, name in keys]
    return alerts, matched_indices


def alerts_text(alerts: Iterable[Alert]) -> str:
    """The ``;``-separated ``catalog:name`` of each alert, once each, in the given order.

    ``""`` when there are none; this is the ``alerts`` column of the library table.
    """
    return ";".join(dict.fromkeys(alert.label for alert in alerts))


def alert_atoms(alerts: Iterable[Alert]) -> tuple[int, ...]:
    """Every atom matched by any of ``alerts``, sorted ascending."""
    return tuple(sorted({atom for alert in alerts for atom in alert.atoms}))


__all__ = [
    "ALERT_CATALOGS",
    "CATALOG_DESCRIPTIONS",
    "Alert",
    "ScreenedPatterns",
    "alert_atoms",
    "alert_catalog",
    "alerts_text",
    "find_alerts",
    "match_alerts",
    "qed_twin_answers",
    "screen_patterns",
]
