"""core.chem.descriptors: every value exactly as RDKit's own function gives it; the rules' verdicts
and texts; the library's profile values equal to the card's."""

from __future__ import annotations

import importlib.util
import math
import os
import random
from pathlib import Path

import pytest
from rdkit import Chem, RDConfig, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, rdMolDescriptors

from core.chem.alerts import find_alerts
from core.chem.descriptors import (
    CARD_DESCRIPTIONS,
    CARD_LABELS,
    CARD_VALUES,
    RULE_DESCRIPTIONS,
    MoleculeCard,
    RuleResult,
    chiral_center_count,
    describe,
    ghose_rule,
    lipinski_rule,
    profile_values,
    sa_score,
    veber_rule,
)
from core.chem.properties import (
    INTEGER_PROFILE,
    PROFILE_COLUMNS,
    PROFILE_DESCRIPTIONS,
    PROFILE_LABELS,
    PROPERTY_COLUMNS,
    TEXT_PROFILE,
    compute_properties,
)

CYCLOSPORIN = (
    "CC[C@H]1C(=O)N(CC(=O)N([C@H](C(=O)N[C@H](C(=O)N([C@H](C(=O)N[C@H](C(=O)N[C@@H](C(=O)"
    "N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N([C@H](C(=O)N1)[C@@H]([C@H](C)C/C=C/C)O)C)"
    "C(C)C)C)CC(C)C)C)CC(C)C)C)C)C)CC(C)C)C)C(C)C)CC(C)C)C)C"
)
ERYTHROMYCIN = (
    "CC[C@@H]1[C@@]([C@@H]([C@H](C(=O)[C@@H](C[C@@]([C@@H]([C@H]([C@@H]([C@H](C(=O)O1)C)"
    "O[C@H]2C[C@@]([C@H]([C@@H](O2)C)O)(C)OC)C)O[C@H]3[C@@H]([C@H](C[C@H](O3)C)N(C)C)O)(C)O)C)C)"
    "O)(C)O"
)
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def _explicit_h(smiles: str) -> Chem.Mol:
    params = Chem.SmilesParserParams()
    params.removeHs = False
    return Chem.MolFromSmiles(smiles, params)


TRICKY = {
    "quaternary ammonium": lambda: Chem.MolFromSmiles("C[N+](C)(C)CCOC(C)=O"),
    "carboxylate salt": lambda: Chem.MolFromSmiles("CC(=O)[O-].[Na+]"),
    "zwitterion": lambda: Chem.MolFromSmiles("[NH3+]CC(=O)[O-]"),
    "nitro": lambda: Chem.MolFromSmiles("O=[N+]([O-])c1ccc(O)cc1"),
    "explicit H (SMILES)": lambda: _explicit_h("[H]OC([H])([H])C([H])([H])[H]"),
    "explicit H (AddHs aspirin)": lambda: Chem.AddHs(Chem.MolFromSmiles(ASPIRIN)),
    "deuterium": lambda: Chem.MolFromSmiles("[2H]C([2H])([2H])Oc1ccccc1"),
    "single atom": lambda: Chem.MolFromSmiles("C"),
    "noble gas": lambda: Chem.MolFromSmiles("[Xe]"),
    "spiro and bridged": lambda: Chem.MolFromSmiles("C1CC2(C1)CC1CCC2C1"),
    "macrocycle": lambda: Chem.MolFromSmiles(CYCLOSPORIN),
    "erythromycin": lambda: Chem.MolFromSmiles(ERYTHROMYCIN),
    "rhodanine (PAINS)": lambda: Chem.MolFromSmiles("O=C1NC(=S)SC1=Cc1ccccc1"),
    "organometallic": lambda: Chem.MolFromSmiles("C[Hg]Cl"),
}


def _rdkit_sascorer():
    """RDKit's sascorer loaded here, independently of core.chem.descriptors."""
    path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
    spec = importlib.util.spec_from_file_location("test_sascorer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sascorer():
    return _rdkit_sascorer()


def assert_card_equals_rdkit(card: MoleculeCard, mol: Chem.Mol, sascorer) -> None:
    mol = Chem.Mol(mol)  # a fresh copy: no values cached on the molecule by describe()
    expected = {
        "formula": rdMolDescriptors.CalcMolFormula(mol),
        "mw": Descriptors.MolWt(mol),
        "exact_mass": Descriptors.ExactMolWt(mol),
        "clogp": Crippen.MolLogP(mol),
        "tpsa": rdMolDescriptors.CalcTPSA(mol),
        "hbd": Lipinski.NumHDonors(mol),
        "hba": Lipinski.NumHAcceptors(mol),
        "rotb": Descriptors.NumRotatableBonds(mol),
        "rings": rdMolDescriptors.CalcNumRings(mol),
        "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings(mol),
        "fsp3": rdMolDescriptors.CalcFractionCSP3(mol),
        "qed": QED.qed(mol),
        "sa_score": sascorer.calculateScore(mol),
        "molar_refractivity": Crippen.MolMR(mol),
        "atoms": Chem.AddHs(mol).GetNumAtoms(),
        "heavy_atoms": mol.GetNumHeavyAtoms(),
    }
    actual = {name: getattr(card, name) for name in expected}
    assert actual == expected
    assert isinstance(card.hbd, int) and isinstance(card.rotb, int)


def test_chembl_values_equal_rdkit(chembl_mols, sascorer):
    for mol in chembl_mols:
        assert_card_equals_rdkit(describe(mol, alerts=False), mol, sascorer)


@pytest.mark.parametrize("name", TRICKY)
def test_tricky_values_equal_rdkit(name, sascorer):
    mol = TRICKY[name]()
    card = describe(mol)
    assert_card_equals_rdkit(card, mol, sascorer)
    assert list(card.alerts) == find_alerts(mol)


NCI_SMI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def _atom_state(mol: Chem.Mol) -> list:
    """Every atom's chiral tag and properties, computed and private ones included."""
    return [
        (
            atom.GetChiralTag(),
            sorted(
                (name, list(value) if name == "__computedProps" else value)
                for name, value in atom.GetPropsAsDict(True, True).items()
            ),
        )
        for atom in mol.GetAtoms()
    ]


@pytest.fixture(scope="module")
def nci_mols() -> list[Chem.Mol]:
    """Every 5th molecule of RDKit's NCI set (salts, metals, charges, stereocentres), each also
    in a random atom order and with explicit hydrogens."""
    assert NCI_SMI.is_file(), f"RDKit's wheel no longer ships {NCI_SMI}"
    rng = random.Random(5)
    RDLogger.DisableLog("rdApp.*")
    try:
        mols = [
            Chem.MolFromSmiles(line.split()[0])
            for line in NCI_SMI.read_text().split("\n")[::5]
            if line.strip()
        ]
    finally:
        RDLogger.EnableLog("rdApp.*")
    found = []
    for mol in filter(None, mols):
        order = list(range(mol.GetNumAtoms()))
        rng.shuffle(order)
        found += [mol, Chem.RenumberAtoms(mol, order), Chem.AddHs(mol)]
    assert len(found) > 2900
    return found


def test_sa_score_equals_rdkit_bit_for_bit(nci_mols, sascorer):
    centres = 0
    for mol in nci_mols:
        ours, theirs = Chem.Mol(mol), Chem.Mol(mol)
        assert sa_score(ours) == sascorer.calculateScore(theirs), Chem.MolToSmiles(mol)
        # The same stereo perception left on the molecule.
        assert _atom_state(ours) == _atom_state(theirs)
        centres += len(Chem.FindMolChiralCenters(mol, includeUnassigned=True)) > 0
    assert centres > 300


def test_chiral_center_count_equals_find_mol_chiral_centers(nci_mols):
    for mol in nci_mols[::3]:
        ours, theirs = Chem.Mol(mol), Chem.Mol(mol)
        for _ in range(2):  # a second time, with the first call's properties on the atoms
            expected = len(Chem.FindMolChiralCenters(theirs, includeUnassigned=True))
            assert chiral_center_count(ours) == expected
            assert _atom_state(ours) == _atom_state(theirs)
    erythromycin = Chem.MolFromSmiles(ERYTHROMYCIN)
    assert chiral_center_count(erythromycin) == 18
    # A stale flag on an atom that is no stereocentre is not counted.
    ethanol = Chem.MolFromSmiles("CCO")
    ethanol.GetAtomWithIdx(0).SetIntProp("_ChiralityPossible", 1)
    assert chiral_center_count(ethanol) == 0


def test_card_rules_use_the_card_values():
    card = describe(Chem.MolFromSmiles(ERYTHROMYCIN))
    assert card.rules == (card.lipinski, card.veber, card.ghose)
    assert card.lipinski == lipinski_rule(card.mw, card.clogp, card.hbd, card.hba)
    assert card.veber == veber_rule(card.rotb, card.tpsa)
    assert card.ghose == ghose_rule(card.mw, card.clogp, card.molar_refractivity, card.atoms)
    assert card.lipinski_violations == len(card.lipinski.violations) == 2


def test_empty_molecule_raises():
    with pytest.raises(ValueError, match="no atoms"):
        describe(Chem.Mol())
    with pytest.raises(ValueError):
        sa_score(Chem.Mol())


# ----------------------------------------------------------------------------------------------
# Rules


def test_drug_passes_every_rule():
    card = describe(Chem.MolFromSmiles(ASPIRIN))
    assert card.rules == (
        RuleResult("Lipinski", True, ()),
        RuleResult("Veber", True, ()),
        RuleResult("Ghose", True, ()),
    )
    assert card.atoms == 21  # Ghose counts hydrogens: C9H8O4


def test_large_molecule_fails_lipinski_twice():
    card = describe(Chem.MolFromSmiles(CYCLOSPORIN))
    assert card.lipinski == RuleResult("Lipinski", False, ("MW 1202.6 > 500", "HBA 12 > 10"))
    assert card.veber == RuleResult("Veber", False, ("RotB 15 > 10", "TPSA 278.8 > 140"))
    assert card.ghose == RuleResult(
        "Ghose", False, ("MW 1202.6 > 480", "MR 328.4 > 130", "Atoms 196 > 70")
    )
    assert card.lipinski_violations == 2


def test_one_lipinski_violation_still_passes():
    card = describe(Chem.MolFromSmiles("CCCCCCCCCCCCCCCCCC(=O)O"))  # stearic acid
    assert card.lipinski == RuleResult("Lipinski", True, ("cLogP 6.33 > 5",))
    assert card.veber == RuleResult("Veber", False, ("RotB 16 > 10",))
    assert card.ghose == RuleResult("Ghose", False, ("cLogP 6.33 > 5.6",))
    sorbitol = describe(Chem.MolFromSmiles("OCC(O)C(O)C(O)C(O)CO"))
    assert sorbitol.lipinski == RuleResult("Lipinski", True, ("HBD 6 > 5",))
    assert sorbitol.ghose == RuleResult("Ghose", False, ("cLogP -3.59 < -0.4", "MR 38.2 < 40"))


def test_small_molecule_fails_ghose_low():
    assert describe(Chem.MolFromSmiles("CCO")).ghose == RuleResult(
        "Ghose", False, ("MW 46.1 < 160", "MR 12.8 < 40", "Atoms 9 < 20")
    )


def test_limits_are_inclusive():
    assert lipinski_rule(500, 5, 5, 10) == RuleResult("Lipinski", True, ())
    assert lipinski_rule(500.04, 5.001, 6, 11) == RuleResult(
        "Lipinski", False, ("MW 500.0 > 500", "cLogP 5.00 > 5", "HBD 6 > 5", "HBA 11 > 10")
    )
    assert veber_rule(10, 140) == RuleResult("Veber", True, ())
    assert veber_rule(11, 140.05) == RuleResult(
        "Veber", False, ("RotB 11 > 10", "TPSA 140.1 > 140")
    )
    assert ghose_rule(160, -0.4, 40, 20).passed and ghose_rule(480, 5.6, 130, 70).passed
    assert ghose_rule(159.9, 5.61, 130.5, 71) == RuleResult(
        "Ghose", False, ("MW 159.9 < 160", "cLogP 5.61 > 5.6", "MR 130.5 > 130", "Atoms 71 > 70")
    )


# ----------------------------------------------------------------------------------------------
# Library profile columns and labels


def test_profile_values_equal_the_card(chembl_mols):
    mols = [*chembl_mols[:100], *(make() for make in TRICKY.values())]
    for mol in mols:
        card = describe(mol)
        values = profile_values(mol, compute_properties(mol))
        assert list(values) == list(PROFILE_COLUMNS)
        assert values == {
            "formula": card.formula,
            "sa_score": card.sa_score,
            "fsp3": card.fsp3,
            "lipinski_violations": card.lipinski_violations,
            "alerts": card.alerts_text,
        }


def test_labels_and_descriptions_cover_every_value():
    for name in PROFILE_COLUMNS:
        assert PROFILE_LABELS[name] and PROFILE_DESCRIPTIONS[name]
    assert set(PROFILE_COLUMNS) > INTEGER_PROFILE | TEXT_PROFILE
    for name in (*CARD_VALUES, "molar_refractivity", "atoms", "heavy_atoms", *PROPERTY_COLUMNS):
        assert CARD_LABELS[name] and CARD_DESCRIPTIONS[name], name
    assert set(RULE_DESCRIPTIONS) == {"Lipinski", "Veber", "Ghose"}


def test_card_is_frozen():
    card = describe(Chem.MolFromSmiles(ASPIRIN))
    with pytest.raises((AttributeError, TypeError)):
        card.mw = 1.0  # type: ignore[misc]
    assert math.isfinite(card.sa_score) and 1 <= card.sa_score <= 10


def test_warm_up_reads_the_tables_a_first_molecule_needs(monkeypatch):
    import core.chem.alerts as alerts
    import core.chem.descriptors as descriptors

    # As in a fresh process: nothing read yet (other tests have filled the module caches).
    monkeypatch.setattr(descriptors, "_sascorer", None)
    monkeypatch.setattr(alerts, "_catalog", None)
    descriptors.warm_up()
    scorer, catalog = descriptors._sascorer, alerts._catalog
    assert scorer is not None and catalog is not None
    assert scorer._fscores  # the fragment table is read, not only the module imported
    assert catalog.GetNumEntries() > 100  # PAINS, Brenk and NIH alerts
    # What describing a molecule then uses is what warm-up read: nothing is read again.
    describe(Chem.MolFromSmiles(ASPIRIN))
    assert descriptors._sascorer is scorer and alerts._catalog is catalog
