"""core.chem.alerts must find exactly what RDKit's own FilterCatalogs find, atoms included."""

from __future__ import annotations

import random

import pytest
from rdkit import Chem
from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

from core.chem.alerts import (
    ALERT_CATALOGS,
    CATALOG_DESCRIPTIONS,
    Alert,
    alert_atoms,
    alert_catalog,
    alerts_text,
    find_alerts,
)

RHODANINE = "O=C1NC(=S)SC1=Cc1ccccc1"

# Known PAINS and what RDKit's PAINS catalog calls them.
KNOWN_PAINS = {
    RHODANINE: ["ene_rhod_A(235)"],
    "Oc1ccc(CCN)cc1O": ["catechol_A(92)"],  # dopamine
    "O=C1C=CC(=O)C=C1": ["quinone_A(370)"],  # p-benzoquinone
    "CN(C)c1ccc(cc1)N=Nc1ccccc1": ["anil_di_alk_A(478)", "azo_A(324)"],  # methyl yellow
    "Oc1ccc(cc1)N=Nc1ccc(O)cc1": ["azo_A(324)"],
    "Nc1ccc(N)cc1": ["anil_no_alk(40)"],
    "O=C1C(=O)c2ccccc2-c2ccccc12": ["imine_one_A(321)", "quinone_D(2)"],  # phenanthrenequinone
}

TRICKY = {
    "no alerts": "CC(C)Cc1ccc(cc1)[C@@H](C)C(=O)O",
    "Brenk only": "CC(=O)Oc1ccccc1C(=O)O",
    "two catechols": "Oc1ccc(cc1O)Cc1ccc(O)c(O)c1",
    "long chain": "CCCCCCCCCCCCCCCC(=O)O",
    "salt": "CC(=O)[O-].[Na+]",
    "single atom": "C",
    "charged nitro": "O=[N+]([O-])c1ccc(O)cc1",
}


def _explicit_h(smiles: str) -> Chem.Mol:
    params = Chem.SmilesParserParams()
    params.removeHs = False
    return Chem.MolFromSmiles(smiles, params)


@pytest.fixture(scope="module")
def rdkit_catalogs() -> dict[str, FilterCatalog]:
    """RDKit's own catalogs, one per family, built independently of core.chem.alerts."""
    families = FilterCatalogParams.FilterCatalogs
    return {name: FilterCatalog(getattr(families, name)) for name in ALERT_CATALOGS}


@pytest.fixture(scope="module")
def rdkit_pains() -> FilterCatalog:
    return FilterCatalog(FilterCatalogParams.FilterCatalogs.PAINS)


def rdkit_alerts(catalogs: dict[str, FilterCatalog], mol: Chem.Mol) -> list[Alert]:
    alerts = []
    for name, catalog in catalogs.items():
        for entry in catalog.GetMatches(mol):
            atoms = {
                pair.target for match in entry.GetFilterMatches(mol) for pair in match.atomPairs
            }
            alerts.append(Alert(name, entry.GetDescription(), tuple(sorted(atoms))))
    return alerts


def test_catalog_holds_every_entry_of_the_five_catalogs(rdkit_catalogs):
    catalog = alert_catalog()
    assert catalog is alert_catalog()  # built once
    expected = sum(c.GetNumEntries() for c in rdkit_catalogs.values())
    assert catalog.GetNumEntries() == expected == 16 + 55 + 409 + 105 + 180
    assert set(CATALOG_DESCRIPTIONS) == set(ALERT_CATALOGS)


@pytest.mark.parametrize(("smiles", "names"), KNOWN_PAINS.items())
def test_known_pains(smiles, names, rdkit_pains):
    mol = Chem.MolFromSmiles(smiles)
    pains = [alert for alert in find_alerts(mol) if alert.catalog.startswith("PAINS")]
    assert [alert.name for alert in pains] == names
    assert [alert.name for alert in pains] == [
        e.GetDescription() for e in rdkit_pains.GetMatches(mol)
    ]


def test_rhodanine_alerts_and_atoms():
    mol = Chem.MolFromSmiles(RHODANINE)
    assert find_alerts(mol) == [
        Alert("PAINS_A", "ene_rhod_A(235)", (0, 1, 2, 3, 4, 5, 6, 7)),
        Alert("BRENK", "Michael_acceptor_1", (0, 1, 6, 7)),
        Alert("BRENK", "Thiocarbonyl_group", (3, 4)),
        Alert("NIH", "rhodanine", (0, 1, 2, 3, 4, 5, 6, 7)),
    ]
    assert alerts_text(find_alerts(mol)) == (
        "PAINS_A:ene_rhod_A(235);BRENK:Michael_acceptor_1;BRENK:Thiocarbonyl_group;NIH:rhodanine"
    )


def _all_test_mols(chembl_mols) -> list[Chem.Mol]:
    return [
        *chembl_mols,
        *(Chem.MolFromSmiles(s) for s in KNOWN_PAINS),
        *(Chem.MolFromSmiles(s) for s in TRICKY.values()),
        _explicit_h("[H]OC([H])([H])c1ccc(O[H])c(O[H])c1"),
        Chem.AddHs(Chem.MolFromSmiles(RHODANINE)),
    ]


def test_equal_to_rdkit_catalogs_names_and_atoms(chembl_mols, rdkit_catalogs, rdkit_pains):
    mols = _all_test_mols(chembl_mols)
    hits = 0
    for mol in mols:
        found = find_alerts(mol)
        assert found == rdkit_alerts(rdkit_catalogs, mol), Chem.MolToSmiles(mol)
        # PAINS exactly as RDKit's combined PAINS catalog finds them.
        assert [a.name for a in found if a.catalog.startswith("PAINS")] == [
            e.GetDescription() for e in rdkit_pains.GetMatches(mol)
        ]
        hits += bool(found)
    # The set must exercise the comparison: the CHEMBL series has alerts in a few molecules.
    assert hits >= 17 + len(KNOWN_PAINS)


def test_without_atoms_same_alerts(chembl_mols):
    for mol in [*chembl_mols[:200], *(Chem.MolFromSmiles(s) for s in KNOWN_PAINS)]:
        with_atoms = find_alerts(mol)
        without = find_alerts(mol, with_atoms=False)
        assert [(a.catalog, a.name) for a in without] == [(a.catalog, a.name) for a in with_atoms]
        assert all(a.atoms == () for a in without)


def test_order_is_by_catalog_and_independent_of_atom_order():
    rank = {name: i for i, name in enumerate(ALERT_CATALOGS)}
    rng = random.Random(7)
    for smiles in [*KNOWN_PAINS, *TRICKY.values()]:
        mol = Chem.MolFromSmiles(smiles)
        alerts = find_alerts(mol)
        assert [rank[a.catalog] for a in alerts] == sorted(rank[a.catalog] for a in alerts)
        order = list(range(mol.GetNumAtoms()))
        for _ in range(3):
            rng.shuffle(order)
            shuffled = Chem.RenumberAtoms(mol, order)
            assert alerts_text(find_alerts(shuffled)) == alerts_text(alerts)


def test_alerts_text():
    assert alerts_text([]) == ""
    assert alerts_text(find_alerts(Chem.MolFromSmiles(TRICKY["no alerts"]))) == ""
    a = Alert("PAINS_A", "azo_A(324)", (9, 10))
    b = Alert("BRENK", "diazo_group", (9, 10))
    assert alerts_text([a, b, a]) == "PAINS_A:azo_A(324);BRENK:diazo_group"
    assert a.label == "PAINS_A:azo_A(324)"


def test_alert_atoms_is_the_sorted_union():
    alerts = [Alert("BRENK", "x", (5, 1)), Alert("NIH", "y", (3, 1, 8))]
    assert alert_atoms(alerts) == (1, 3, 5, 8)
    assert alert_atoms([]) == ()


def test_first_match_only_for_repeated_groups():
    # RDKit reports one place per pattern: one catechol of the two.
    mol = Chem.MolFromSmiles(TRICKY["two catechols"])
    catechol = next(a for a in find_alerts(mol) if a.name == "catechol_A(92)")
    assert catechol.atoms == (0, 1, 2, 3, 4, 5, 6, 7)


@pytest.fixture(scope="module")
def approved_drugs() -> list[Chem.Mol]:
    """Every 3rd approved drug that admet-ai ships (DrugBank): metals, halogens, charges, large
    rings and natural products, with many PAINS/Brenk/NIH alerts."""
    import importlib.util
    from pathlib import Path

    import pandas as pd

    package = Path(importlib.util.find_spec("admet_ai").submodule_search_locations[0])
    smiles = pd.read_csv(package / "resources" / "data" / "drugbank_approved.csv")["smiles"]
    mols = [Chem.MolFromSmiles(s) for s in smiles.iloc[::3]]
    return [mol for mol in mols if mol is not None]


def test_screen_skips_no_alert_rdkit_finds(approved_drugs, rdkit_catalogs):
    """The pattern-fingerprint and element screen only skips work: same alerts as RDKit's plain
    FilterCatalog.GetMatches on molecules with and without explicit hydrogens."""
    mols = [*approved_drugs, *(Chem.AddHs(m) for m in approved_drugs[:150])]
    hits = 0
    for mol in mols:
        expected = [(a.catalog, a.name) for a in rdkit_alerts(rdkit_catalogs, mol)]
        found = find_alerts(mol, with_atoms=False)
        assert [(a.catalog, a.name) for a in found] == expected, Chem.MolToSmiles(mol)
        hits += bool(expected)
    assert hits > 300  # the comparison is exercised on molecules with alerts


def test_screen_covers_the_catalog_and_skips_most_patterns():
    from core.chem.alerts import _alert_screen, _candidate_entries
    from core.chem.qed import QED_ALERTS

    entries, screen = _alert_screen()
    # Every entry of RDKit 2026.03's five catalogs is one SMARTS pattern the screen can read;
    # a future RDKit that serialises entries otherwise falls back to matching them all. QED's
    # alerts follow them in the same screen.
    assert screen.screened.all() and len(screen) == len(entries) + len(QED_ALERTS)
    ibuprofen = Chem.MolFromSmiles(TRICKY["no alerts"])
    assert len(_candidate_entries(ibuprofen)) < len(entries) // 4


def test_entries_other_than_one_pattern_are_always_matched():
    from rdkit.Chem import FilterCatalog as fc

    from core.chem.alerts import _entry_pattern

    exclusion = fc.ExclusionList()
    exclusion.AddPattern(fc.SmartsMatcher("amide", "C(=O)N", 1))
    exclusion.AddPattern(fc.SmartsMatcher("ester", "C(=O)O", 1))
    assert _entry_pattern(fc.FilterCatalogEntry("neither", exclusion)) is None
    absent = fc.FilterCatalogEntry("no amide", fc.SmartsMatcher("amide", "C(=O)N", 0, 0))
    assert _entry_pattern(absent) is None  # matches when the pattern is absent: not screened
    single = fc.FilterCatalogEntry("amide", fc.SmartsMatcher("amide", "C(=O)N", 1))
    assert Chem.MolToSmarts(_entry_pattern(single)) == Chem.MolToSmarts(
        Chem.MolFromSmarts("C(=O)N")
    )


def test_the_screen_is_built_for_many_molecules_never_for_one_shown(monkeypatch):
    import core.chem.alerts as alerts

    monkeypatch.setattr(alerts, "_screen", None)
    monkeypatch.setattr(alerts, "_unscreened", 0)
    mol = Chem.MolFromSmiles(RHODANINE)
    expected = find_alerts(mol, screen=False)
    for _ in range(alerts._SCREEN_AFTER + 5):  # the Molecule panel, one molecule at a time
        assert find_alerts(mol, screen=False) == expected
    assert alerts._screen is None  # building it (0.3 s) would freeze the window
    for _ in range(alerts._SCREEN_AFTER + 1):  # a library being described
        assert find_alerts(mol) == expected
    assert alerts._screen is not None
    assert find_alerts(mol, screen=False) == expected  # once built, everyone uses it
