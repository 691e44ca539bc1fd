"""core.chem.qed and the shared screen: QED exactly as RDKit's QED.qed, with fewer alerts matched."""

from __future__ import annotations

from pathlib import Path

import pytest
import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import QED

from core.chem.alerts import _alert_screen, screen_patterns
from core.chem.properties import compute_properties
from core.chem.qed import QED_ALERTS, qed_alert_count, qed_properties, qed_value

NCI_SMI = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"


@pytest.fixture(scope="module")
def nci_mols() -> list[Chem.Mol]:
    """Every 10th molecule of the NCI set RDKit ships: metals, salts, charges, isotopes, odd
    rings, the kind of variety a vendor file has."""
    assert NCI_SMI.is_file(), f"RDKit's wheel no longer ships {NCI_SMI}"
    RDLogger.DisableLog("rdApp.*")
    try:
        lines = NCI_SMI.read_text().splitlines()[::10]
        mols = [Chem.MolFromSmiles(line.split()[0]) for line in lines if line.strip()]
    finally:
        RDLogger.EnableLog("rdApp.*")
    mols = [mol for mol in mols if mol is not None]
    assert len(mols) > 450
    return mols


def _screened_qed(mol: Chem.Mol) -> list[int]:
    _alert_screen()  # built now, not after the first molecules
    screened = screen_patterns(mol)
    assert screened is not None
    return list(screened.qed)


def test_qed_alerts_are_rdkits():
    assert tuple(QED.StructuralAlerts) == QED_ALERTS
    assert len(QED_ALERTS) == 116


def test_screen_keeps_every_qed_alert_that_matches(nci_mols, chembl_mols):
    kept = 0
    for mol in [*nci_mols, *chembl_mols[::5]]:
        candidates = _screened_qed(mol)
        matching = [i for i, alert in enumerate(QED_ALERTS) if mol.HasSubstructMatch(alert)]
        assert set(matching) <= set(candidates), Chem.MolToSmiles(mol)
        kept += len(candidates)
    # It must also skip work: about a third are left (39 of 116 on these molecules).
    assert kept < 0.5 * len(QED_ALERTS) * (len(nci_mols) + len(chembl_mols[::5]))


def test_screened_qed_properties_equal_rdkits(nci_mols, chembl_mols):
    alerts = 0
    for mol in [*nci_mols, *chembl_mols[::5]]:
        expected = QED.properties(mol)
        assert qed_properties(mol, _screened_qed(mol)) == expected, Chem.MolToSmiles(mol)
        assert qed_properties(mol) == expected
        assert qed_value(expected) == QED.qed(mol)
        alerts += expected.ALERTS > 0
    assert alerts > 100  # the comparison is exercised on molecules with QED alerts


def test_compute_properties_with_screened_alerts_equals_rdkit(nci_mols):
    for mol in nci_mols:
        screened = _screened_qed(mol)
        assert compute_properties(mol, qed_alerts=screened) == compute_properties(mol)
        assert compute_properties(mol, qed_alerts=screened)["qed"] == QED.qed(mol)


def test_explicit_hydrogens_ignore_the_candidates():
    mol = Chem.AddHs(Chem.MolFromSmiles("O=C1C=CC(=O)C=C1"))  # p-benzoquinone: QED alerts
    # Candidates of the molecule with hydrogens say nothing about QED's copy without them.
    assert compute_properties(mol, qed_alerts=[])["qed"] == QED.qed(mol)


def test_qed_alerts_shared_with_the_alert_pass(nci_mols):
    from core.chem import alerts

    _alert_screen()
    twins = alerts._qed_twins
    assert (twins >= 0).sum() >= 60  # 82 in RDKit 2026.03: QED's alerts are mostly Brenk's
    shared = 0
    for mol in nci_mols:
        if mol.GetNumHeavyAtoms() != mol.GetNumAtoms():
            continue  # library rows with hydrogens go the plain way
        screened = screen_patterns(mol)
        _found, matched = alerts.match_alerts(mol, screened)
        known = alerts.qed_twin_answers(screened, matched)
        copy = Chem.RemoveHs(mol)
        for i, answer in known.items():
            assert answer == copy.HasSubstructMatch(QED_ALERTS[i]), (Chem.MolToSmiles(mol), i)
        assert qed_alert_count(copy, screened.qed, known) == QED.properties(mol).ALERTS
        shared += sum(known.values())
    assert shared > 50  # matches taken from the alert pass, not only misses
